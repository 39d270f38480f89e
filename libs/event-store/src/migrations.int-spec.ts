import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../../test/support/test-database.js';
import { migrate } from './migrations.js';

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
});
