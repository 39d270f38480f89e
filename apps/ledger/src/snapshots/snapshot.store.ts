import { EventEmitter } from 'node:events';
import { type BeforeApplicationShutdown, Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type pg from 'pg';
import { LogNotifier } from '@app/event-store';
import { decodeManifest, decodeShard, manifestHash, type ManifestClaims, type SubjectEntry } from '@app/snapshots';
import { DATABASE_URL, PG_POOL } from '../database/database.module.js';

export const MANIFEST_CHANNEL = 'ledger_manifests';
const POLL_MS = 2_000;

export interface HeldManifest {
  readonly seq: number;
  readonly ver: number;
  readonly jws: string;
  readonly sha256: string;
  readonly claims: ManifestClaims;
}

/**
 * What this instance serves (class A): the latest manifest and the shards of it and of the
 * one before (verifiers mid-sync), in memory. Refreshed from PostgreSQL on NOTIFY and by
 * polling; while the database is down it keeps serving what it holds.
 */
@Injectable()
export class SnapshotStore implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('snapshots');
  private held: HeldManifest | null = null;
  private shards = new Map<string, Buffer>();
  private decoded = new Map<string, ReturnType<typeof decodeShard>>();
  private readonly emitter = new EventEmitter();
  private readonly notifier: LogNotifier;
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> | null = null;

  constructor(
    @Inject(PG_POOL) private readonly pool: pg.Pool,
    @Inject(DATABASE_URL) url: string,
  ) {
    this.emitter.setMaxListeners(0);
    this.notifier = new LogNotifier(url, () => undefined, MANIFEST_CHANNEL);
  }

  async onModuleInit(): Promise<void> {
    await this.refresh().catch((err: unknown) => this.logger.warn(`no snapshot loaded at start: ${(err as Error).message}`));
    await this.notifier.start();
    const loop = async (): Promise<void> => {
      await this.notifier.wait(POLL_MS);
      await this.refresh().catch(() => undefined);
      if (this.timer) this.timer = setTimeout(() => void loop(), 0);
    };
    this.timer = setTimeout(() => void loop(), 0);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    const t = this.timer;
    this.timer = null;
    if (t) clearTimeout(t);
    await this.notifier.stop();
  }

  get latest(): HeldManifest | null {
    return this.held;
  }

  shard(sha256: string): Buffer | undefined {
    return this.shards.get(sha256);
  }

  /**
   * A subject's entry from the held shards (the token fallback while the database is down):
   * null when the subject has nothing, undefined when the shard is not held (never a denial).
   */
  subjectEntry(subject: string, shardId: number): SubjectEntry | null | undefined {
    const entry = this.held?.claims.shards[shardId];
    if (!entry) return undefined;
    let shard = this.decoded.get(entry.sha256);
    if (!shard) {
      const bytes = this.shards.get(entry.sha256);
      if (!bytes) return undefined;
      shard = decodeShard(bytes);
      this.decoded = new Map([[entry.sha256, shard]]);
    }
    return shard.subjects.get(subject) ?? null;
  }

  /** Streams end here before the server closes, so shutdown does not wait on them. */
  onShutdown(listener: () => void): () => void {
    this.emitter.on('shutdown', listener);
    return () => this.emitter.off('shutdown', listener);
  }

  beforeApplicationShutdown(): void {
    this.emitter.emit('shutdown');
  }

  onManifest(listener: (m: HeldManifest) => void): () => void {
    this.emitter.on('manifest', listener);
    return () => this.emitter.off('manifest', listener);
  }

  /** A manifest this instance just published: its shards are in hand. */
  accept(jws: string, shards: ReadonlyMap<string, Buffer>): void {
    const claims = decodeManifest(jws).claims;
    if (this.held && claims.seq <= this.held.seq) return;
    const keep = new Map<string, Buffer>();
    for (const s of claims.shards) {
      const bytes = shards.get(s.sha256) ?? this.shards.get(s.sha256);
      // Never hold a manifest without all its shards: the next refresh loads it whole.
      if (!bytes) return;
      keep.set(s.sha256, bytes);
    }
    this.swap({ seq: claims.seq, ver: claims.ver, jws, sha256: manifestHash(jws), claims }, keep);
  }

  /** Loads a newer manifest from PostgreSQL, with the shards it does not hold yet. */
  refresh(): Promise<void> {
    this.refreshing ??= this.load().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private async load(): Promise<void> {
    const { rows } = await this.pool.query<{ seq: string; jws: string }>(
      'SELECT seq, jws FROM snapshot_manifests WHERE seq > $1 ORDER BY seq DESC LIMIT 1',
      [this.held?.seq ?? 0],
    );
    const row = rows[0];
    if (!row) return;
    const claims = decodeManifest(row.jws).claims;
    const missing = claims.shards.map((s) => s.sha256).filter((h) => !this.shards.has(h));
    const fetched = new Map<string, Buffer>();
    if (missing.length > 0) {
      const r = await this.pool.query<{ sha256: string; bytes: Buffer }>(
        'SELECT sha256, bytes FROM snapshot_shards WHERE sha256 = ANY($1::text[])',
        [missing],
      );
      for (const s of r.rows) fetched.set(s.sha256, s.bytes);
    }
    if (fetched.size < missing.length) throw new Error(`manifest ${claims.seq}: shards missing in the database`);
    const keep = new Map<string, Buffer>();
    for (const s of claims.shards) keep.set(s.sha256, fetched.get(s.sha256) ?? this.shards.get(s.sha256)!);
    this.swap({ seq: claims.seq, ver: claims.ver, jws: row.jws, sha256: manifestHash(row.jws), claims }, keep);
  }

  private swap(next: HeldManifest, shards: Map<string, Buffer>): void {
    if (this.held && next.seq <= this.held.seq) return;
    // Keep the previous manifest's shards too: a verifier may still be fetching them.
    const previous = this.held ? this.held.claims.shards.map((s) => s.sha256) : [];
    for (const h of previous) {
      const bytes = this.shards.get(h);
      if (bytes && !shards.has(h)) shards.set(h, bytes);
    }
    this.held = next;
    this.shards = shards;
    this.emitter.emit('manifest', next);
  }
}
