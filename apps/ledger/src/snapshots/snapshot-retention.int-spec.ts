import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { migrate, projectRoot } from '@app/event-store';
import { KeyRing, ManifestChain, ShardSet, signManifest, subjectEntry } from '@app/snapshots';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/test-database.js';
import { scratchDir } from '../../../../test/support/scratch.js';
import { pruneSnapshots } from './snapshot-retention.js';

const T0 = new Date('2026-11-01T12:00:00Z');
const hash = (n: number): string => n.toString(16).padStart(64, '0');

describe('snapshot retention', () => {
  let db: TestDatabase;
  let client: pg.Client;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    dir = scratchDir('retention');
  });
  afterAll(async () => {
    await client?.end();
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('the migration names the shards of manifests published before it, from their signed payload', async () => {
    // Every migration before this one, as an older release left the database.
    await runner({
      databaseUrl: db.url,
      dir: join(projectRoot(), 'migrations'),
      direction: 'up',
      migrationsTable: 'pgmigrations',
      count: 5,
      log: () => undefined,
    });
    const ring = await KeyRing.open(join(dir, 'keys'), { now: T0, snapshotTtlS: 900, tokenTtlS: 600 });
    const set = new ShardSet(8);
    set.applyChanges(new Map([['org_42', subjectEntry({ plans: [{ plan: 'pro', tier: 2, valid_until: null, subscription: 'sub_1' }], features: [], unknown_plans: [] }, [])]]), 3);
    const chain = new ManifestChain({ issuer: 'http://ledger.test', ttlS: 900, shardCount: 8, last: null });
    const claims = chain.next({ ver: 3, now: T0, shards: set.manifestEntries(), classes: {} });
    const jws = await signManifest(claims, ring.signingKey());
    await client.query("INSERT INTO snapshot_manifests (seq, ver, sha256, jws) VALUES (1, 3, 'x', $1)", [jws]);

    await migrate({ databaseUrl: db.url });
    const { rows } = await client.query<{ shard_hashes: string[] }>('SELECT shard_hashes FROM snapshot_manifests WHERE seq = 1');
    expect(rows[0]!.shard_hashes).toEqual(claims.shards.map((s) => s.sha256));
    expect(rows[0]!.shard_hashes).toHaveLength(8);
    await client.query('DELETE FROM snapshot_manifests');
  });

  it('keeps the newest manifests, young ones and every shard they name; deletes the rest in bounded rounds', async () => {
    // 40 manifests; the first 30 published an hour ago, the last 10 a moment ago. Manifest n
    // names shards n and n+1 and the long-lived shard 0.
    for (let n = 1; n <= 40; n++) {
      const age = n <= 30 ? '1 hour' : '1 second';
      await client.query(
        `INSERT INTO snapshot_manifests (seq, ver, sha256, jws, shard_hashes, published_at)
         VALUES ($1, $1, $2, 'jws', $3::text[], now() - $4::interval)`,
        [n, `m${n}`, [hash(0), hash(n), hash(n + 1)], age],
      );
    }
    for (let n = 0; n <= 41; n++) {
      const age = n === 0 || n <= 30 ? '1 hour' : '1 second';
      await client.query("INSERT INTO snapshot_shards (sha256, shard, ver, bytes, created_at) VALUES ($1, 0, 0, '\\x7b7d', now() - $2::interval)", [hash(n), age]);
    }
    // An orphan shard, old: nobody names it.
    await client.query("INSERT INTO snapshot_shards (sha256, shard, ver, bytes, created_at) VALUES ($1, 0, 0, '\\x7b7d', now() - interval '1 hour')", [hash(999)]);

    // Keep the newest 12 (seq 29..40) and anything younger than a minute (seq 31..40).
    const deleted = await pruneSnapshots(client, { manifests: 12, seconds: 60, batch: 4, maxRounds: 100 });

    const manifests = await client.query<{ seq: string }>('SELECT seq FROM snapshot_manifests ORDER BY seq');
    expect(manifests.rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: 12 }, (_, i) => 29 + i));
    const shards = await client.query<{ sha256: string }>('SELECT sha256 FROM snapshot_shards ORDER BY sha256');
    // Named by a kept manifest: 0 and 29..41.
    expect(shards.rows.map((r) => r.sha256)).toEqual([0, ...Array.from({ length: 13 }, (_, i) => 29 + i)].map(hash));
    expect(deleted).toEqual({ shards: 29, manifests: 28 }); // shards 1..28 and the orphan

    // Nothing more to do on a second call.
    expect(await pruneSnapshots(client, { manifests: 12, seconds: 60, batch: 4, maxRounds: 100 })).toEqual({ shards: 0, manifests: 0 });
  });
});
