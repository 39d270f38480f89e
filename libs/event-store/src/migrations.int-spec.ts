import { createHash } from 'node:crypto';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../../test/support/test-database.js';
import { migrate } from './migrations.js';
import { PostgresEventStore } from './postgres-event-store.js';

describe('migrate', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('several instances starting at once all succeed, and every migration is applied exactly once', async () => {
    const runs = await Promise.all([1, 2, 3, 4].map(() => migrate({ databaseUrl: db.url })));
    // The lock holder applies everything; the others wait for it and find nothing left to do.
    const applied = runs.map((names) => names.length).sort((x, y) => y - x);
    expect(applied[0]).toBeGreaterThan(0);
    expect(applied.slice(1)).toEqual([0, 0, 0]);

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string; n: string }>(
        'SELECT name, count(*) AS n FROM pgmigrations GROUP BY name ORDER BY name',
      );
      expect(rows.map((r) => r.name)).toEqual([...runs.find((r) => r.length > 0)!].sort());
      expect(rows.map((r) => Number(r.n))).toEqual(rows.map(() => 1));
    } finally {
      await client.end();
    }
    // And again, on an up-to-date database: nothing to do.
    expect(await migrate({ databaseUrl: db.url })).toEqual([]);
  });

  it('stream versions survive taking the streams table away and bringing it back', async () => {
    const fresh = await createTestDatabase();
    const pool = new pg.Pool({ connectionString: fresh.url, max: 2 });
    const append = async (s: PostgresEventStore, stream: string, id: string): Promise<number> => {
      const body = { id };
      const { events } = await s.append({
        events: [{ streamId: stream, type: 'test.happened', source: 'mig', sourceEventId: id, payloadHash: createHash('sha256').update(id).digest(), data: body }],
      });
      return events[0]!.streamVersion;
    };
    // Down through …0800 (append-by-columns, which took the table away) and the one after it.
    const step = (direction: 'up' | 'down'): Promise<unknown> => migrate({ databaseUrl: fresh.url, direction, count: 2 });
    try {
      let store = new PostgresEventStore(pool);
      expect([await append(store, 'a', 'a1'), await append(store, 'a', 'a2'), await append(store, 'b', 'b1')]).toEqual([1, 2, 1]);
      await store.close();
      await pool.end();

      // Down: the table is back, holding each stream's version.
      await step('down');
      const client = new pg.Client({ connectionString: fresh.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ stream_id: string; version: number }>('SELECT stream_id, version FROM streams ORDER BY stream_id');
        expect(rows).toEqual([{ stream_id: 'a', version: 2 }, { stream_id: 'b', version: 1 }]);
      } finally {
        await client.end();
      }

      // Up again: versions go on from the events.
      await step('up');
      const again = new pg.Pool({ connectionString: fresh.url, max: 2 });
      store = new PostgresEventStore(again);
      try {
        expect([await append(store, 'a', 'a3'), await append(store, 'c', 'c1')]).toEqual([3, 1]);
      } finally {
        await store.close();
        await again.end();
      }
    } finally {
      await fresh.drop();
    }
  });

  it('writes new raw bodies and data with lz4 where the server has it, and keeps pglz where it has not', async () => {
    const fresh = await createTestDatabase();
    const client = new pg.Client({ connectionString: fresh.url });
    await client.connect();
    try {
      const lz4 = await client.query('CREATE TEMP TABLE lz4_probe (t text COMPRESSION lz4)').then(
        () => true,
        (err: { code?: string }) => {
          if (err.code !== '0A000') throw err;
          return false;
        },
      );
      const { rows: columns } = await client.query<{ attname: string; attcompression: string }>(
        "SELECT attname, attcompression FROM pg_attribute WHERE attrelid = 'events'::regclass AND attname IN ('raw', 'data') ORDER BY attname",
      );
      expect(columns).toEqual([
        { attname: 'data', attcompression: lz4 ? 'l' : '' },
        { attname: 'raw', attcompression: lz4 ? 'l' : '' },
      ]);
      // A delivery large enough to be compressed, read back whole.
      const raw = JSON.stringify({ data: Array.from({ length: 200 }, (_, i) => ({ id: `sub_${i}`, status: 'active' })) });
      const pool = new pg.Pool({ connectionString: fresh.url, max: 1 });
      const store = new PostgresEventStore(pool);
      try {
        await store.append({
          events: [{ streamId: 's', type: 'test.happened', source: 'mig', sourceEventId: 'big', payloadHash: createHash('sha256').update(raw).digest(), data: { n: 1 }, raw }],
        });
      } finally {
        await store.close();
        await pool.end();
      }
      const { rows } = await client.query<{ method: string; raw: string }>(
        "SELECT pg_column_compression(raw) AS method, raw FROM events WHERE source_event_id = 'big'",
      );
      expect(rows).toEqual([{ method: lz4 ? 'lz4' : 'pglz', raw }]);
    } finally {
      await client.end();
      await fresh.drop();
    }
  });
});
