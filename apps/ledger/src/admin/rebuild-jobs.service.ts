import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import pg from 'pg';
import { Counter } from 'prom-client';
import type { EntitlementPolicy } from '@app/domain';
import { sessionTimeouts } from '@app/event-store';
import { rebuildBlueGreen, type RebuildProgress } from '@app/projections';
import { DATABASE_URL, PG_POOL } from '../database/database.module.js';
import { ENTITLEMENT_POLICY, ENTITLEMENTS_PROJECTION } from '../entitlements/projector.service.js';
import { ConflictError, NotFoundError } from '../http/problem.errors.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { AdminEvents } from './admin-events.js';

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed';

/** CONTRACT.md's job answer, with a few more members. */
export interface JobAnswer {
  readonly id: string;
  readonly kind: string;
  readonly target: string;
  readonly state: JobState;
  readonly phase: string | null;
  readonly processed: number;
  readonly total: number;
  /** Events per second since the job started. */
  readonly rate: number;
  /** Seconds left at that rate; null when unknown, 0 when finished. */
  readonly eta_s: number | null;
  readonly actor: string;
  readonly reason: string | null;
  readonly error: string | null;
  readonly result: Record<string, unknown> | null;
  readonly created_at: string;
  readonly started_at: string | null;
  readonly finished_at: string | null;
}

interface JobRow {
  id: string;
  kind: string;
  target: string;
  state: JobState;
  phase: string | null;
  processed: string;
  total: string;
  actor: string;
  reason: string | null;
  error: string | null;
  result: Record<string, unknown> | null;
  created_at: Date;
  started_at: Date | null;
  heartbeat_at: Date;
  finished_at: Date | null;
}

/** The projections that can be rebuilt. */
export const REBUILDABLE = [ENTITLEMENTS_PROJECTION] as const;
/** A running job whose heartbeat is older than this died with its instance. */
const ABANDONED_S = 30;
const HEARTBEAT_MS = 250;
const lockKey = (projection: string): string => `ledger:rebuild:${projection}`;
/**
 * The rebuild session's statement limit. Its statements are bounded pieces (a batch of the
 * fold, a page of the write, ANALYZE's sample of a new table), but on a busy server ANALYZE of
 * a large table or a page of large bodies can outlast the pool's 15 s, and one failed statement
 * throws the whole rebuild away. Not none either: a statement stuck behind a lock would hold
 * the rebuild lock, and the job at "running", until the instance restarts; this fails the job
 * instead, the live model untouched. The write's one long transaction is a series of such
 * statements, so this does not bound it; a transaction left idle ends at the pool's limit.
 */
const STATEMENT_TIMEOUT_MS = 10 * 60_000;

/**
 * Blue/green rebuilds as admin jobs. The job runs on the instance that accepted it, on a
 * session of its own holding an advisory lock (one rebuild per projection across instances;
 * the lock dies with the session, so a killed instance frees it). Progress is written to
 * `admin_jobs` four times a second, so any instance answers `GET /v1/admin/jobs/{id}`.
 */
@Injectable()
export class RebuildJobsService implements OnApplicationShutdown {
  private readonly logger = new Logger('rebuild');
  private readonly running = new Map<string, { abort: AbortController; done: Promise<void> }>();
  private readonly finished: Counter;

  constructor(
    @Inject(DATABASE_URL) private readonly url: string,
    @Inject(PG_POOL) private readonly pool: pg.Pool,
    @Inject(ENTITLEMENT_POLICY) private readonly policy: EntitlementPolicy,
    private readonly admin: AdminEvents,
    metrics: MetricsService,
  ) {
    this.finished = new Counter({
      name: 'ledger_rebuilds_total',
      help: 'Blue/green rebuilds run by this instance, by outcome.',
      labelNames: ['projection', 'state'],
      registers: [metrics.registry],
    });
  }

  /** Starts a rebuild; 409 while one is running anywhere. Resolves with the job id once it runs. */
  async start(projection: string, actor: string, reason: string | null): Promise<string> {
    if (!(REBUILDABLE as readonly string[]).includes(projection)) throw new NotFoundError(`no projection ${JSON.stringify(projection.slice(0, 64))}; known: ${REBUILDABLE.join(', ')}`);
    const client = new pg.Client({ connectionString: this.url, application_name: 'ledger-rebuild', ...sessionTimeouts({ statementTimeoutMs: STATEMENT_TIMEOUT_MS }) });
    // The connection ending under it (a server restart, a dead peer found by keepalive) fails
    // the statement in flight, and the job with it; unheard, the event would end the process.
    client.on('error', (err) => this.logger.warn(`rebuild session: ${err.message}`));
    await client.connect();
    let handedOver = false;
    try {
      const lock = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok', [lockKey(projection)]);
      if (!lock.rows[0]!.ok) {
        const { rows } = await this.pool.query<{ id: string }>(
          "SELECT id FROM admin_jobs WHERE kind = 'rebuild' AND target = $1 AND state IN ('queued', 'running') ORDER BY created_at DESC LIMIT 1",
          [projection],
        );
        throw new ConflictError(`a rebuild of ${projection} is already running`, { job: rows[0]?.id ?? null });
      }
      // We hold the lock, so no job of this projection is really running: earlier ones died.
      await client.query(
        `UPDATE admin_jobs SET state = 'failed', finished_at = now(), error = 'abandoned: the instance running it stopped'
          WHERE kind = 'rebuild' AND target = $1 AND state IN ('queued', 'running')`,
        [projection],
      );
      const id = `job_${randomBytes(8).toString('hex')}`;
      await client.query(
        `INSERT INTO admin_jobs (id, kind, target, state, actor, reason, started_at) VALUES ($1, 'rebuild', $2, 'running', $3, $4, now())`,
        [id, projection, actor, reason],
      );
      await this.admin.record({
        type: 'projection.rebuild_started',
        streamId: `projections:${projection}`,
        sourceEventId: `projection.rebuild_started:${id}`,
        data: { projection, job: id, reason, actor },
      });
      const abort = new AbortController();
      const done = this.run(id, projection, client, abort.signal, actor).finally(() => this.running.delete(id));
      this.running.set(id, { abort, done });
      handedOver = true;
      return id;
    } finally {
      if (!handedOver) await client.end().catch(() => undefined);
    }
  }

  async get(id: string): Promise<JobAnswer> {
    const { rows } = await this.pool.query<JobRow>('SELECT * FROM admin_jobs WHERE id = $1', [id]);
    const row = rows[0];
    if (!row) throw new NotFoundError(`no job ${JSON.stringify(id.slice(0, 64))}`);
    return this.answer(row, await this.abandoned(row));
  }

  async list(limit = 20): Promise<JobAnswer[]> {
    const { rows } = await this.pool.query<JobRow>('SELECT * FROM admin_jobs ORDER BY created_at DESC LIMIT $1', [limit]);
    return Promise.all(rows.map(async (r) => this.answer(r, await this.abandoned(r))));
  }

  async onApplicationShutdown(): Promise<void> {
    for (const job of this.running.values()) job.abort.abort(new Error('the instance is shutting down'));
    await Promise.allSettled([...this.running.values()].map((j) => j.done));
  }

  /**
   * A job marked running that nobody runs: its lock is free (the session running it died) or
   * its heartbeat stopped.
   */
  private async abandoned(row: JobRow): Promise<boolean> {
    if (row.state !== 'running' && row.state !== 'queued') return false;
    if (this.running.has(row.id)) return false;
    if (Date.now() - row.heartbeat_at.getTime() > ABANDONED_S * 1000) return true;
    // Take and release the job's lock in one statement on one session: free means nobody holds it.
    const { rows } = await this.pool.query<{ free: boolean }>(
      `SELECT CASE WHEN pg_try_advisory_lock(hashtextextended($1, 0)) THEN pg_advisory_unlock(hashtextextended($1, 0)) ELSE false END AS free`,
      [lockKey(row.target)],
    );
    if (!rows[0]!.free) return false;
    // The job may have finished (and freed the lock) since the row was read: read it again.
    const again = await this.pool.query<{ state: string }>('SELECT state FROM admin_jobs WHERE id = $1', [row.id]);
    return again.rows[0]?.state === 'running' || again.rows[0]?.state === 'queued';
  }

  private answer(row: JobRow, abandoned: boolean): JobAnswer {
    let { state, error, finished_at } = row;
    const now = Date.now();
    if (abandoned) {
      state = 'failed';
      error = 'abandoned: the instance running it stopped';
      finished_at = null;
    }
    const processed = Number(row.processed);
    const total = Number(row.total);
    const end = row.finished_at?.getTime() ?? now;
    const elapsedS = row.started_at ? Math.max((end - row.started_at.getTime()) / 1000, 0.001) : 0;
    const rate = elapsedS > 0 ? Math.round(processed / elapsedS) : 0;
    const eta_s = state === 'succeeded' ? 0 : state === 'running' && rate > 0 ? Math.max(0, Math.ceil((total - processed) / rate)) : null;
    return {
      id: row.id,
      kind: row.kind,
      target: row.target,
      state,
      phase: row.phase,
      processed,
      total,
      rate,
      eta_s,
      actor: row.actor,
      reason: row.reason,
      error,
      result: row.result,
      created_at: row.created_at.toISOString(),
      started_at: row.started_at?.toISOString() ?? null,
      finished_at: finished_at?.toISOString() ?? null,
    };
  }

  private async run(id: string, projection: string, client: pg.Client, signal: AbortSignal, actor: string): Promise<void> {
    let latest: RebuildProgress = { phase: 'folding', processed: 0, total: 0 };
    let written = Promise.resolve();
    const write = (): void => {
      const p = latest;
      written = written
        .then(() =>
          this.pool.query('UPDATE admin_jobs SET phase = $2, processed = $3, total = $4, heartbeat_at = now() WHERE id = $1', [id, p.phase, p.processed, p.total]),
        )
        .then(() => undefined, (err: unknown) => this.logger.warn(`job ${id}: progress not written: ${(err as Error).message}`));
    };
    const heartbeat = setInterval(write, HEARTBEAT_MS);
    this.logger.log(`job ${id}: rebuilding ${projection} beside the live model`);
    try {
      const result = await rebuildBlueGreen({
        client,
        policy: this.policy,
        checkpointName: projection,
        signal,
        onProgress: (p) => {
          latest = p;
        },
      });
      clearInterval(heartbeat);
      await written;
      await this.pool.query(
        `UPDATE admin_jobs SET state = 'succeeded', phase = NULL, processed = $2, total = $2, result = $3, finished_at = now(), heartbeat_at = now() WHERE id = $1`,
        [id, result.position, JSON.stringify(result)],
      );
      await this.admin
        .record({
          type: 'projection.rebuild_completed',
          streamId: `projections:${projection}`,
          sourceEventId: `projection.rebuild_completed:${id}`,
          data: { projection, job: id, ...result, actor },
        })
        .catch((err: unknown) => this.logger.warn(`job ${id}: completion not recorded: ${(err as Error).message}`));
      this.finished.inc({ projection, state: 'succeeded' });
      this.logger.log(`job ${id}: swapped in the rebuilt ${projection} at position ${result.position} (${result.subjects} subjects)`);
    } catch (err) {
      clearInterval(heartbeat);
      await written;
      const message = signal.aborted ? `aborted: ${(signal.reason as Error)?.message ?? 'stopped'}` : (err as Error).message;
      await this.pool
        .query(`UPDATE admin_jobs SET state = 'failed', error = $2, finished_at = now(), heartbeat_at = now() WHERE id = $1`, [id, message.slice(0, 1000)])
        .catch(() => undefined);
      this.finished.inc({ projection, state: 'failed' });
      this.logger.error(`job ${id}: rebuild failed, the live model is untouched: ${message}`);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
