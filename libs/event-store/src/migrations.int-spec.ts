import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { createTestDatabase, testPool, type TestDatabase } from '../../../test/support/test-database.js';
import { migrate } from './migrations.js';
import { PostgresEventStore } from './postgres-event-store.js';
import { projectRoot } from './project-root.js';

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
    // Down through …0800 (append-by-columns, which took the table away) and every one after it.
    const count = stepsFrom('1732420800000');
    const step = (direction: 'up' | 'down'): Promise<unknown> => migrate({ databaseUrl: fresh.url, direction, count });
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

  it('gives the identifier columns the C collation, under an appender that keeps appending across the change, and takes it back', () =>
    withStore(async ({ url, pool, store }) => {
      const append = async (n: number, first: number): Promise<number[]> => {
        const { events } = await store.append({
          events: Array.from({ length: n }, (_, i) => {
            const id = `c${first + i}`;
            return { streamId: `s-${i % 3}`, type: 'test.happened', source: 'mig', sourceEventId: id, subject: `org_${i % 2}`, payloadHash: createHash('sha256').update(id).digest(), data: { id } };
          }),
        });
        return events.map((e) => e.streamVersion);
      };
      const collations = async (): Promise<Record<string, string>> => {
        const { rows } = await pool.query<{ attname: string; collname: string }>(
          `SELECT a.attname, c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation
            WHERE a.attrelid = 'events'::regclass AND a.attname IN ('stream_id', 'source', 'source_event_id', 'subject', 'type')`,
        );
        return Object.fromEntries(rows.map((r) => [r.attname, r.collname]));
      };
      const heap = async (): Promise<string> => (await pool.query<{ f: string }>("SELECT pg_relation_filenode('events')::text AS f")).rows[0]!.f;

      expect(await collations()).toEqual({ stream_id: 'C', source: 'C', source_event_id: 'C', subject: 'C', type: 'default' });
      // Its statements prepared against the new indexes.
      expect(await append(4, 0)).toEqual([1, 1, 1, 2]);

      // Down, under the same appender, whose statements are planned again each time.
      await migrate({ databaseUrl: url, direction: 'down', count: stepsFrom('1732421200000') });
      expect(await collations()).toEqual({ stream_id: 'default', source: 'default', source_event_id: 'default', subject: 'default', type: 'default' });
      expect(await append(3, 4)).toEqual([3, 2, 2]);
      const before = await heap();

      await migrate({ databaseUrl: url });
      expect(await collations()).toEqual({ stream_id: 'C', source: 'C', source_event_id: 'C', subject: 'C', type: 'default' });
      // The rows stay where they are; only the indexes are built again.
      expect(await heap()).toBe(before);
      // Versions go on, and a redelivery is still found by its id.
      expect(await append(2, 7)).toEqual([4, 3]);
      const again = await store.append({
        events: [{ streamId: 's-0', type: 'test.happened', source: 'mig', sourceEventId: 'c0', subject: 'org_0', payloadHash: createHash('sha256').update('c0').digest(), data: { id: 'c0' } }],
      });
      expect(again.events[0]).toMatchObject({ position: 1, duplicate: true });

      // Parameters, whose collation is the default, are compared under the column's: the
      // indexes serve them.
      expect(await explain(pool, 'SELECT stream_version FROM events WHERE stream_id = $1 ORDER BY stream_version DESC LIMIT 1', ['s-0'])).toMatch(/using events_stream_version_key/);
      expect(await explain(pool, 'SELECT position FROM events WHERE source = $1 AND source_event_id = $2', ['mig', 'c1'])).toMatch(/using events_source_event_key/);
      expect(await explain(pool, 'SELECT position FROM events WHERE subject = $1', ['org_1'])).toMatch(/events_subject/);
      const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM events WHERE subject = $1', ['org_1']);
      expect(rows[0]!.n).toBe(4);
    }));

  it('gives the read model\'s keys the C collation, and so a rebuild\'s generation, one made before it too', () =>
    withStore(async ({ url, pool }) => {
      const collations = async (...tables: string[]): Promise<string[]> => {
        const { rows } = await pool.query<{ c: string }>(
          `SELECT t.relname || '.' || a.attname || '=' || c.collname AS c
             FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid JOIN pg_collation c ON c.oid = a.attcollation
            WHERE t.relname = ANY($1::text[]) AND a.attname IN ('key', 'subject') ORDER BY 1`,
          [tables],
        );
        return rows.map((r) => r.c);
      };
      expect(await collations('ent_subjects', 'ent_subscriptions')).toEqual(['ent_subjects.subject=C', 'ent_subscriptions.key=C', 'ent_subscriptions.subject=C']);
      // A generation made LIKE the live tables, as a rebuild makes it, has them too.
      await pool.query('CREATE TABLE ent_subjects__probe (LIKE ent_subjects INCLUDING ALL)');
      expect(await collations('ent_subjects__probe')).toEqual(['ent_subjects__probe.subject=C']);
      await pool.query('DROP TABLE ent_subjects__probe');

      // Before it: a rebuild under way, its generation made with the default, rows in both.
      await migrate({ databaseUrl: url, direction: 'down', count: stepsFrom('1732421300000') });
      await pool.query('CREATE TABLE ent_subjects__rebuild (LIKE ent_subjects INCLUDING ALL)');
      await pool.query('CREATE TABLE ent_subscriptions__rebuild (LIKE ent_subscriptions INCLUDING ALL)');
      for (const t of ['ent_subjects', 'ent_subjects__rebuild']) {
        await pool.query(`INSERT INTO ${t} (subject, sources, position) VALUES ('org_1', '[]', 1), ('org_2', '[]', 2)`);
      }
      for (const t of ['ent_subscriptions', 'ent_subscriptions__rebuild']) {
        await pool.query(`INSERT INTO ${t} (key, subject, fold) VALUES ('stripe:sub_1', 'org_1', '{}')`);
      }
      expect(await collations('ent_subjects', 'ent_subjects__rebuild')).toEqual(['ent_subjects.subject=default', 'ent_subjects__rebuild.subject=default']);

      await migrate({ databaseUrl: url });
      expect(await collations('ent_subjects', 'ent_subjects__rebuild', 'ent_subscriptions', 'ent_subscriptions__rebuild')).toEqual([
        'ent_subjects.subject=C',
        'ent_subjects__rebuild.subject=C',
        'ent_subscriptions.key=C',
        'ent_subscriptions.subject=C',
        'ent_subscriptions__rebuild.key=C',
        'ent_subscriptions__rebuild.subject=C',
      ]);
      // The rows are where they were, found through the keys' indexes with default-collation parameters.
      expect(await explain(pool, 'SELECT position FROM ent_subjects WHERE subject = ANY($1::text[])', [['org_2']])).toMatch(/ent_subjects_pkey/);
      expect(await explain(pool, 'SELECT fold FROM ent_subscriptions WHERE key = ANY($1::text[])', [['stripe:sub_1']])).toMatch(/ent_subscriptions_pkey/);
      expect(await explain(pool, 'SELECT key FROM ent_subscriptions WHERE subject = ANY($1::text[])', [['org_1']])).toMatch(/ent_subscriptions_subject/);
      const { rows } = await pool.query<{ n: number }>(
        `SELECT (SELECT count(*) FROM ent_subjects WHERE subject = ANY($1::text[]))
              + (SELECT count(*) FROM ent_subjects__rebuild WHERE subject = ANY($1::text[]))
              + (SELECT count(*) FROM ent_subscriptions WHERE key = 'stripe:sub_1' AND subject = 'org_1')::int AS n`,
        [['org_1', 'org_2']],
      );
      expect(Number(rows[0]!.n)).toBe(5);
    }));

  it('keys the subject index by subject alone, deduplicated, and finds a subject\'s events through it', () =>
    withStore(async ({ pool, store }) => {
      // 4,000 events over 8 subjects, in batches as ingest writes them.
      for (let b = 0; b < 8; b++) {
        await store.append({
          events: Array.from({ length: 500 }, (_, i) => {
            const id = `e${b}-${i}`;
            return { streamId: `s-${i % 50}`, type: 'test.happened', source: 'mig', sourceEventId: id, subject: `org_${i % 8}`, payloadHash: createHash('sha256').update(id).digest(), data: { id } };
          }),
        });
      }
      const { rows: defs } = await pool.query<{ indexdef: string }>("SELECT indexdef FROM pg_indexes WHERE tablename = 'events' AND indexname LIKE 'events_subject%'");
      expect(defs.map((d) => d.indexdef)).toEqual([expect.stringMatching(/^CREATE INDEX events_subject ON public\.events USING btree \(subject\) WITH \(deduplicate_items='?(?:true|on)'?\) WHERE \(subject IS NOT NULL\)$/)]);

      // The same keys with the position in them, as the index was before: several times larger.
      await pool.query('CREATE INDEX subject_position_probe ON events (subject, position) WHERE subject IS NOT NULL');
      const { rows: sizes } = await pool.query<{ deduplicated: string; keyed: string }>(
        "SELECT pg_relation_size('events_subject') AS deduplicated, pg_relation_size('subject_position_probe') AS keyed",
      );
      await pool.query('DROP INDEX subject_position_probe');
      expect(Number(sizes[0]!.deduplicated) * 2).toBeLessThan(Number(sizes[0]!.keyed));

      const query = 'SELECT position FROM events WHERE subject = $1 ORDER BY position';
      expect(await explain(pool, query, ['org_3'])).toMatch(/Index Scan on events_subject|Index Only Scan using events_subject|Index Scan using events_subject/);
      const { rows } = await pool.query<{ position: string }>(query, ['org_3']);
      const positions = rows.map((r) => Number(r.position));
      // i % 8 === 3 for 63 of each batch's 500 events.
      expect(positions).toHaveLength(8 * 63);
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
    }));
});

/** How many migrations undo `name` and every one after it (`name`: the file's leading timestamp). */
function stepsFrom(name: string): number {
  return readdirSync(path.join(projectRoot(), 'migrations')).filter((f) => f.endsWith('.sql') && f >= name).length;
}

/** A fresh, migrated database with a pool and an event store on it, torn down after `test`. */
async function withStore(test: (s: { url: string; pool: pg.Pool; store: PostgresEventStore }) => Promise<void>): Promise<void> {
  const fresh = await createTestDatabase();
  const pool = testPool(fresh.url);
  const store = new PostgresEventStore(pool);
  try {
    await test({ url: fresh.url, pool, store });
  } finally {
    await store.close();
    await pool.end();
    await fresh.drop();
  }
}

/**
 * The plan of `query` on a session that refuses sequential scans: on tables this small the
 * planner would choose a scan, so it is taken away to see whether an index can serve.
 */
async function explain(pool: pg.Pool, query: string, params: unknown[]): Promise<string> {
  const client = await pool.connect();
  try {
    await client.query('SET enable_seqscan = off');
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${query}`, params);
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  } finally {
    await client.query('RESET enable_seqscan');
    client.release();
  }
}
