import type pg from 'pg';
import { LeaderLease } from './leader-lease.js';
import { readEvents, rollbackAfter, type LogNotifier, type RecordedEvent } from '@app/event-store';

export interface ProjectionHandler {
  /** Applies a batch inside the projector's transaction (the checkpoint is written after it). */
  apply(db: pg.ClientBase, events: readonly RecordedEvent[]): Promise<unknown>;
}

export interface ProjectorOptions {
  readonly name: string;
  readonly connectionString: string;
  readonly handler: ProjectionHandler;
  readonly notifier: LogNotifier;
  readonly batchSize?: number;
  /** How often a standby tries to become the leader. */
  readonly standbyRetryMs?: number;
  readonly pollIntervalMs?: number;
  readonly observer?: ProjectorObserver;
}

export interface ProjectorObserver {
  leadershipChanged?(leader: boolean): void;
  batchApplied?(stats: { events: number; checkpoint: number; durationMs: number }): void;
  error?(err: unknown): void;
}

/** The checkpoint moved under us: another projector wrote it (this one lost leadership). */
export class ProjectorFencedError extends Error {
  readonly code = 'PROJECTOR_FENCED';
  constructor(name: string, expected: number, found: number) {
    super(`projection ${name}: checkpoint is ${found}, expected ${expected}; another projector is writing`);
  }
}

/** The leader session's statement limit (see the constructor). */
const PROJECTOR_STATEMENT_TIMEOUT_MS = 120_000;

/** Advisory lock key of a projection's leadership (stable across processes). */
export const leaderLockKey = (name: string): string => `ledger:projector:${name}`;

/**
 * Runs one projection: elected by a PostgreSQL session advisory lock (one active projector
 * per projection across all instances; the others stand by and take over when its session
 * dies), it reads the log from its checkpoint in batches, waking on NOTIFY, and applies
 * each batch and the new checkpoint in one transaction on the session that holds the lock.
 * If that session dies, the lock and any open transaction die with it.
 *
 * @example
 * const projector = new Projector({ name: 'entitlements', connectionString, handler, notifier });
 * projector.start();
 * // ...
 * await projector.stop();
 */
export class Projector {
  private position = 0;
  private readonly lease: LeaderLease;

  constructor(private readonly options: ProjectorOptions) {
    this.lease = new LeaderLease({
      connectionString: options.connectionString,
      name: leaderLockKey(options.name),
      // Its fence (the checkpoint row FOR UPDATE) may wait out a rebuild's swap, which holds
      // that row while it applies the last events and renames the tables in: longer than the
      // pool's 15 s on a large model, and a cancelled fence would cost the lease.
      statementTimeoutMs: PROJECTOR_STATEMENT_TIMEOUT_MS,
      retryMs: options.standbyRetryMs ?? 1_000,
      onLeadership: (leader) => options.observer?.leadershipChanged?.(leader),
      onError: (err) => options.observer?.error?.(err),
    });
  }

  get isLeader(): boolean {
    return this.lease.isLeader;
  }

  /** The checkpoint this instance last wrote or read (meaningful while leader). */
  get checkpoint(): number {
    return this.position;
  }

  start(): void {
    this.lease.start((client, signal) => this.lead(client, signal));
  }

  stop(): Promise<void> {
    return this.lease.stop();
  }

  private async lead(client: pg.Client, signal: AbortSignal): Promise<void> {
    const { name, handler, notifier } = this.options;
    const batchSize = this.options.batchSize ?? 1_000;
    const poll = this.options.pollIntervalMs ?? 1_000;
    await client.query('INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [name]);
    const { rows } = await client.query<{ position: number }>(
      'SELECT position FROM projection_checkpoints WHERE name = $1',
      [name],
    );
    this.position = Number(rows[0]!.position);

    while (!signal.aborted) {
      const notified = notifier.notifiedHead;
      const events = await readEvents(client, this.position, batchSize);
      if (events.length === 0) {
        await notifier.wait(poll, signal, Math.max(this.position, notified));
        continue;
      }
      const started = performance.now();
      const last = events[events.length - 1]!.position;
      await client.query('BEGIN');
      try {
        const fence = await client.query<{ position: string }>(
          'SELECT position FROM projection_checkpoints WHERE name = $1 FOR UPDATE',
          [name],
        );
        const found = Number(fence.rows[0]?.position ?? -1);
        if (found !== this.position) throw new ProjectorFencedError(name, this.position, found);
        await handler.apply(client, events);
        await client.query('UPDATE projection_checkpoints SET position = $2, updated_at = now() WHERE name = $1', [
          name,
          last,
        ]);
        await client.query('COMMIT');
      } catch (err) {
        await rollbackAfter(client, err);
        throw err;
      }
      this.position = last;
      this.options.observer?.batchApplied?.({
        events: events.length,
        checkpoint: last,
        durationMs: performance.now() - started,
      });
    }
  }
}
