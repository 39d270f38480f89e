import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type pg from 'pg';
import { Counter, Gauge } from 'prom-client';
import { apiKeyHashes, type CriticalityClass, type EntitlementSources, type SubjectApiKeysFold } from '@app/domain';
import { gotNoAnswer, rollbackAfter } from '@app/event-store';
import { LeaderLease, sleep, yieldToEventLoop } from '@app/projections';
import {
  ManifestChain,
  ShardSet,
  decodeManifest,
  signManifest,
  subjectEntry,
  type ManifestClaims,
  type SubjectEntry,
} from '@app/snapshots';
import { LEDGER_CONFIG, type LedgerConfig } from '../config/ledger.config.js';
import { DATABASE_URL } from '../database/database.module.js';
import { ENTITLEMENTS_PROJECTION } from '../entitlements/projector.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { KeyService } from './key.service.js';
import { MANIFEST_CHANNEL, SnapshotStore } from './snapshot.store.js';
import { pruneSnapshots, SNAPSHOT_RETENTION } from './snapshot-retention.js';

/** Minimum time between two manifests: a burst of events yields a few manifests, not thousands. */
const DEBOUNCE_MS = 250;
/**
 * After a publication that took D ms, the next waits at least D × this: under a steady
 * stream of changes over many shards, publishing (re-encoding, hashing and storing every
 * touched shard) takes at most a third of the process, and the projector beside it keeps up.
 * Verifiers then get fewer, larger manifests; none is skipped that matters (each carries all).
 */
const BUSY_FACTOR = 2;
/** Longest stretch of publishing work between two turns of the event loop. */
const SLICE_MS = 10;
const SHARDS_PER_INSERT = 16;
const PRUNE_EVERY_MS = 30_000;
/**
 * The publisher session's statement limit. Its first read, and the one after a rebuild's swap,
 * takes every subject in one statement, which grows with the model (a million subjects and
 * their sources): once it outlasted the pool's 15 s, it would fail again on every attempt and
 * nothing would be published. Ten minutes is far beyond that and still ends a statement stuck
 * behind a lock.
 */
const STATEMENT_TIMEOUT_MS = 10 * 60_000;

/** What the read model holds for a changed subject; its shard entry is built from it. */
interface ChangedSubject {
  readonly sources: EntitlementSources;
  readonly api_keys: SubjectApiKeysFold | null;
}

function chunksOf<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Publishes signed snapshots of the entitlement read model: a new manifest (and the shards
 * that changed) after the projection advances, and a re-signed one (new seq, same ver) once a
 * third of the TTL has passed without news, so verifiers can tell silence from an attack.
 * One publisher across instances (advisory lock); manifests and shards are stored in
 * PostgreSQL before anyone is told of them.
 */
@Injectable()
export class SnapshotPublisher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('publisher');
  private readonly lease: LeaderLease;
  private readonly published: Counter;
  private readonly leaderGauge: Gauge;
  private readonly pruned: Counter;

  constructor(
    @Inject(LEDGER_CONFIG) private readonly config: LedgerConfig,
    @Inject(DATABASE_URL) url: string,
    private readonly keys: KeyService,
    private readonly store: SnapshotStore,
    metrics: MetricsService,
  ) {
    this.lease = new LeaderLease({
      connectionString: url,
      name: 'ledger:publisher:snapshots',
      statementTimeoutMs: STATEMENT_TIMEOUT_MS,
      onLeadership: (leader) => {
        this.leaderGauge.set(leader ? 1 : 0);
        this.logger.log(leader ? 'publishing snapshots' : 'snapshot publisher standing by');
      },
      onError: (err) => this.logger.warn(`publisher: ${(err as Error).message}`),
    });
    this.published = new Counter({ name: 'ledger_manifests_published_total', help: 'Manifests published by this instance.', labelNames: ['reason'], registers: [metrics.registry] });
    this.pruned = new Counter({ name: 'ledger_snapshots_pruned_total', help: 'Superseded manifests and shards deleted from PostgreSQL by this instance.', labelNames: ['kind'], registers: [metrics.registry] });
    this.leaderGauge = new Gauge({ name: 'ledger_publisher_leader', help: '1 while this instance publishes snapshots.', registers: [metrics.registry] });
  }

  get isLeader(): boolean {
    return this.lease.isLeader;
  }

  onApplicationBootstrap(): void {
    if (this.config.role !== 'api') this.lease.start((client, signal) => this.lead(client, signal));
  }

  onApplicationShutdown(): Promise<void> {
    return this.lease.stop();
  }

  private async lead(client: pg.Client, signal: AbortSignal): Promise<void> {
    const { shardCount, chain, shards, restored, generation: restoredGeneration } = await this.restore(client);
    let ver = shards.ver;
    let generation = restoredGeneration;
    // A set not restored from the database has shards nobody stored yet: store them all once.
    let unstored = restored ? [] : shards.manifestEntries().map((s) => s.id);
    const heartbeatMs = (this.config.snapshotTtlS * 1000) / 3;
    let prunedAt = 0;
    while (!signal.aborted) {
      const started = performance.now();
      let published = false;
      const read = await this.readChanges(client, ver, generation, shards);
      const { checkpoint, changes, classes } = read;
      const last = chain.last;
      const lastIat = last ? decodeManifest(last.jws).claims.iat * 1000 : 0;
      const swapped = generation !== null && read.generation !== generation;
      const reason = !last
        ? 'first'
        : swapped
          ? 'rebuild'
          : checkpoint > ver
            ? 'changes'
            : Date.now() - lastIat >= heartbeatMs
              ? 'heartbeat'
              : null;
      generation = read.generation;
      if (reason) {
        // In slices: the projector and HTTP share this event loop, and a publication under a
        // steady stream re-encodes most shards.
        const applied = changes.size > 0 ? await shards.applyChangesInSlices(await this.entries(changes), checkpoint, yieldToEventLoop, SLICE_MS) : [];
        const changed = [...new Set([...unstored, ...applied])];
        ver = Math.max(ver, checkpoint);
        // The JWKS rides in every manifest, signed: verifiers pinned to the current key learn
        // an announced next key from it before the key signs (docs/snapshot-format.md).
        const now = new Date();
        const claims = chain.next({ ver, now, shards: shards.manifestEntries(), classes, keys: this.keys.jwks(now).keys });
        const jws = await signManifest(claims, this.keys.signingKey());
        const newShards = new Map(changed.map((id) => {
          const s = shards.shard(id);
          return [s.sha256, { id, bytes: s.bytes, ver: s.ver }] as const;
        }));
        await this.persist(client, claims, generation, jws, newShards);
        chain.append(jws);
        unstored = [];
        // Every shard of the manifest, so the store holds all it will serve during an outage.
        this.store.accept(jws, new Map(shards.manifestEntries().map((e) => [e.sha256, shards.bytesByHash(e.sha256)!])));
        this.published.inc({ reason });
        published = true;
        if (shardCount !== claims.shard_count) throw new Error('shard count changed while publishing');
      }
      const took = performance.now() - started;
      if (published && Date.now() - prunedAt >= PRUNE_EVERY_MS) {
        await this.prune(client);
        prunedAt = Date.now();
      }
      await sleep(published ? Math.max(DEBOUNCE_MS, took * BUSY_FACTOR) : DEBOUNCE_MS, signal);
    }
  }

  /** The chain and shard set as last published (a restart continues the seq). */
  private async restore(
    client: pg.Client,
  ): Promise<{ shardCount: number; chain: ManifestChain; shards: ShardSet; restored: boolean; generation: number | null }> {
    const shardCount = this.config.snapshotShards;
    const { rows } = await client.query<{ seq: string; jws: string; generation: number }>(
      'SELECT seq, jws, generation FROM snapshot_manifests ORDER BY seq DESC LIMIT 1',
    );
    const last = rows[0] ? { seq: Number(rows[0].seq), jws: rows[0].jws } : null;
    const chain = new ManifestChain({ issuer: this.config.issuer, ttlS: this.config.snapshotTtlS, shardCount, last });
    // null: nothing published from any generation yet (a first read takes everything anyway).
    if (!last) return { shardCount, chain, shards: new ShardSet(shardCount), restored: false, generation: null };
    const claims = decodeManifest(last.jws).claims;
    if (claims.shard_count !== shardCount) {
      this.logger.warn(`shard count changed (${claims.shard_count} → ${shardCount}): republishing every subject`);
      return { shardCount, chain, shards: new ShardSet(shardCount), restored: false, generation: null };
    }
    const hashes = claims.shards.map((s) => s.sha256);
    const r = await client.query<{ sha256: string; bytes: Buffer }>('SELECT sha256, bytes FROM snapshot_shards WHERE sha256 = ANY($1::text[])', [hashes]);
    const bytes = new Map(r.rows.map((x) => [x.sha256, x.bytes]));
    const missing = hashes.filter((h) => !bytes.has(h));
    if (missing.length > 0) throw new Error(`manifest ${last.seq}: ${missing.length} shards are not stored`);
    return {
      shardCount,
      chain,
      shards: ShardSet.restore(shardCount, hashes.map((h) => bytes.get(h)!)),
      restored: true,
      generation: rows[0]!.generation,
    };
  }

  /**
   * Subjects changed since `ver`, with the checkpoint they reflect: one consistent snapshot.
   * After a blue/green swap (the projection's generation moved) every subject is compared:
   * the new model may differ anywhere, and subjects it no longer has leave their shards.
   */
  private async readChanges(
    client: pg.Client,
    ver: number,
    generation: number | null,
    shards: ShardSet,
  ): Promise<{ checkpoint: number; generation: number; changes: Map<string, ChangedSubject | null>; classes: Record<string, CriticalityClass> }> {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      const cp = await client.query<{ position: string; generation: number }>(
        'SELECT position, generation FROM projection_checkpoints WHERE name = $1',
        [ENTITLEMENTS_PROJECTION],
      );
      const checkpoint = Number(cp.rows[0]?.position ?? 0);
      const current = cp.rows[0]?.generation ?? 0;
      const everything = generation !== null && generation !== current;
      const changes = new Map<string, ChangedSubject | null>();
      let classes: Record<string, CriticalityClass> = {};
      if (everything) for (const subject of shards.subjects()) changes.set(subject, null);
      if (everything || checkpoint > ver || ver === 0) {
        const { rows } = await client.query<{ subject: string; sources: EntitlementSources; api_keys: SubjectApiKeysFold | null }>(
          'SELECT subject, sources, api_keys FROM ent_subjects WHERE position > $1',
          [everything ? 0 : ver],
        );
        for (const r of rows) changes.set(r.subject, r);
      }
      const cat = await client.query<{ classes: Record<string, CriticalityClass> | null }>("SELECT catalog->'classes' AS classes FROM ent_catalog");
      classes = cat.rows[0]?.classes ?? {};
      await client.query('COMMIT');
      return { checkpoint, generation: current, changes, classes };
    } catch (err) {
      await rollbackAfter(client, err);
      throw err;
    }
  }

  /** Shard entries of the changed subjects, built in slices that yield to the event loop. */
  private async entries(changes: ReadonlyMap<string, ChangedSubject | null>): Promise<Map<string, SubjectEntry | null>> {
    const out = new Map<string, SubjectEntry | null>();
    let sliceStart = performance.now();
    for (const [subject, row] of changes) {
      out.set(subject, row === null ? null : subjectEntry(row.sources, apiKeyHashes(row.api_keys)));
      if (performance.now() - sliceStart >= SLICE_MS) {
        await yieldToEventLoop();
        sliceStart = performance.now();
      }
    }
    return out;
  }

  /**
   * Housekeeping: a failure is logged and retried next round, never a reason to stop publishing;
   * but a session that got no answer fails the round, as any other statement on it would.
   */
  private async prune(client: pg.Client): Promise<void> {
    let deleted: { shards: number; manifests: number };
    try {
      deleted = await pruneSnapshots(client, SNAPSHOT_RETENTION);
    } catch (err) {
      // A session that got no answer is given up with the lease (the loop starts another).
      if (gotNoAnswer(err)) throw err;
      this.logger.warn(`pruning old snapshots failed (retried in ${PRUNE_EVERY_MS / 1000} s): ${(err as Error).message}`);
      return;
    }
    const { shards, manifests } = deleted;
    if (shards + manifests === 0) return;
    this.pruned.inc({ kind: 'shard' }, shards);
    this.pruned.inc({ kind: 'manifest' }, manifests);
    this.logger.debug(`pruned ${shards} shards and ${manifests} manifests`);
  }

  private async persist(
    client: pg.Client,
    claims: ManifestClaims,
    generation: number,
    jws: string,
    shards: ReadonlyMap<string, { id: number; bytes: Buffer; ver: number }>,
  ): Promise<void> {
    await client.query('BEGIN');
    try {
      // A few shards per statement, each shard's bytes a binary parameter: no hex copy of
      // every shard in one huge string, and the event loop is free between statements.
      for (const chunk of chunksOf([...shards], SHARDS_PER_INSERT)) {
        const values = chunk.map((_, i) => `($${i * 4 + 1}, $${i * 4 + 2}::int, $${i * 4 + 3}::bigint, $${i * 4 + 4}::bytea)`);
        await client.query(
          `INSERT INTO snapshot_shards (sha256, shard, ver, bytes) VALUES ${values.join(', ')}
           ON CONFLICT (sha256) DO NOTHING`,
          chunk.flatMap(([h, s]) => [h, s.id, s.ver, s.bytes]),
        );
      }
      await client.query(
        `INSERT INTO snapshot_manifests (seq, ver, generation, sha256, jws, shard_hashes)
         VALUES ($1, $2, $3, encode(sha256(convert_to($4, 'UTF8')), 'hex'), $4, $5::text[])`,
        [claims.seq, claims.ver, generation, jws, claims.shards.map((s) => s.sha256)],
      );
      await client.query(`SELECT pg_notify('${MANIFEST_CHANNEL}', $1::text)`, [String(claims.seq)]);
      await client.query('COMMIT');
    } catch (err) {
      await rollbackAfter(client, err);
      throw err;
    }
  }
}
