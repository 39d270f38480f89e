import type pg from 'pg';

export interface SnapshotRetention {
  /** The newest manifests kept whatever their age. */
  readonly manifests: number;
  /** Manifests and shards younger than this are kept. */
  readonly seconds: number;
  /** Shards deleted per statement. */
  readonly batch: number;
  /** Statements per call, at most (a backlog is worked off over several calls). */
  readonly maxRounds: number;
}

export const SNAPSHOT_RETENTION: SnapshotRetention = { manifests: 16, seconds: 600, batch: 5_000, maxRounds: 20 };

/**
 * Deletes the published snapshots nobody can still need. A manifest is kept while it is among
 * the newest `manifests` or younger than `seconds`; a shard while a kept manifest names it or
 * it is younger than `seconds`. Verifiers only fetch the shards of a manifest they were just
 * given, and every instance serves the newest manifest, so this never takes what a verifier
 * mid-sync asks for; without it, a steady stream of changes (each publication rewriting most
 * shards) would fill the disk. Returns what it deleted.
 *
 * @example
 * const { shards, manifests } = await pruneSnapshots(client, SNAPSHOT_RETENTION);
 */
export async function pruneSnapshots(db: pg.ClientBase, retention: SnapshotRetention): Promise<{ shards: number; manifests: number }> {
  let shards = 0;
  let manifests = 0;
  for (let round = 0; round < retention.maxRounds; round++) {
    const { rows } = await db.query<{ shards: number; manifests: number }>(
      `WITH newest AS (SELECT max(seq) AS seq FROM snapshot_manifests),
            kept AS (SELECT m.seq, m.shard_hashes FROM snapshot_manifests m, newest
                      WHERE m.seq > newest.seq - $1 OR m.published_at > now() - make_interval(secs => $2)),
            named AS (SELECT DISTINCT unnest(shard_hashes) AS sha256 FROM kept),
            doomed AS (SELECT s.sha256 FROM snapshot_shards s
                        WHERE s.created_at < now() - make_interval(secs => $2)
                          AND NOT EXISTS (SELECT 1 FROM named n WHERE n.sha256 = s.sha256)
                        LIMIT $3),
            gone_shards AS (DELETE FROM snapshot_shards s USING doomed d WHERE s.sha256 = d.sha256 RETURNING 1),
            gone_manifests AS (DELETE FROM snapshot_manifests m
                                WHERE NOT EXISTS (SELECT 1 FROM kept k WHERE k.seq = m.seq) RETURNING 1)
       SELECT (SELECT count(*) FROM gone_shards)::int AS shards, (SELECT count(*) FROM gone_manifests)::int AS manifests`,
      [retention.manifests, retention.seconds, retention.batch],
    );
    shards += rows[0]!.shards;
    manifests += rows[0]!.manifests;
    if (rows[0]!.shards < retention.batch) break;
  }
  return { shards, manifests };
}
