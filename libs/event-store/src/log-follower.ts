import pg from 'pg';
import { sessionTimeouts } from './database.js';
import { LOG_CHANNEL, type PostgresEventStore } from './postgres-event-store.js';
import type { RecordedEvent } from './event-store.types.js';

export interface LogFollowerOptions {
  /** Polling interval used when no notification arrives (and while LISTEN is down). */
  readonly pollIntervalMs?: number;
  readonly batchSize?: number;
  readonly onError?: (err: unknown) => void;
}

/**
 * Wakes waiters when the log head moves: a dedicated LISTEN connection, reconnected with
 * backoff, and a polling timeout as the fallback. Never skips anything: waking up only
 * makes readers read again from their own position.
 */
export class LogNotifier {
  private client: pg.Client | null = null;
  private waiters = new Set<() => void>();
  private stopped = false;
  private reconnectDelay = 100;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private lastHead = 0;

  constructor(
    private readonly connectionString: string,
    private readonly onError: (err: unknown) => void = () => undefined,
    /** The NOTIFY channel (the log's by default). */
    private readonly channel: string = LOG_CHANNEL,
  ) {}

  /** The highest head seen in a notification (a hint, not a source of truth). */
  get notifiedHead(): number {
    return this.lastHead;
  }

  get listening(): boolean {
    return this.client !== null;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.connect().catch((err) => {
      this.onError(err);
      this.scheduleReconnect();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => undefined);
    this.wakeAll();
  }

  /**
   * Resolves on the next notification, or after `timeoutMs`, whichever is first; at once if a
   * notification has already announced a head beyond `seen`. A reader passes the head it knew
   * before its last read (and its own position): a notification that came during the read
   * woke no one, as nobody waited yet, and the read may have missed what it announced.
   */
  wait(timeoutMs: number, signal?: AbortSignal, seen = Number.POSITIVE_INFINITY): Promise<void> {
    if (signal?.aborted || this.lastHead > seen) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private wakeAll(): void {
    for (const w of [...this.waiters]) w();
  }

  private async connect(): Promise<void> {
    // Only LISTEN runs here, and it ends at once: the pool's limits are a bound should it
    // ever wait, and no transaction is ever left open on this session anyway.
    const client = new pg.Client({ connectionString: this.connectionString, ...sessionTimeouts() });
    client.on('notification', (msg) => {
      const head = Number(msg.payload);
      if (Number.isFinite(head) && head > this.lastHead) this.lastHead = head;
      this.wakeAll();
    });
    client.on('error', (err) => {
      this.onError(err);
      if (this.client === client) this.client = null;
      client.end().catch(() => undefined);
      this.scheduleReconnect();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.stopped) {
      await client.end();
      return;
    }
    this.client = client;
    this.reconnectDelay = 100;
    // Anything committed while we were not listening is picked up by the readers' own read.
    this.wakeAll();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, 5_000);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect().catch((err) => {
        this.onError(err);
        this.scheduleReconnect();
      });
    }, delay);
  }
}

/**
 * Follows the log from a position, handing batches to `handle` in position order.
 * The handler decides what "done" means (e.g. a checkpoint in the same transaction);
 * the follower only advances its in-memory cursor after the handler resolves.
 *
 * @example
 * const follower = new LogFollower(store, notifier, { batchSize: 500 });
 * void follower.run(0, async (events) => project(events), abort.signal);
 */
export class LogFollower {
  constructor(
    private readonly store: PostgresEventStore,
    private readonly notifier: LogNotifier,
    private readonly options: LogFollowerOptions = {},
  ) {}

  async run(
    fromPosition: number,
    handle: (events: RecordedEvent[]) => Promise<void>,
    signal: AbortSignal,
  ): Promise<void> {
    let cursor = fromPosition;
    const batchSize = this.options.batchSize ?? 500;
    const poll = this.options.pollIntervalMs ?? 1_000;
    let backoff = 100;
    while (!signal.aborted) {
      try {
        const notified = this.notifier.notifiedHead;
        const batch = await this.store.readForward(cursor, batchSize);
        if (batch.length > 0) {
          await handle(batch);
          cursor = batch[batch.length - 1]!.position;
          backoff = 100;
          if (batch.length === batchSize) continue;
        }
        // Only a notification that came during this pass (read and handler) counts, so a head
        // we cannot see (a log reset under us) cannot spin this loop.
        await this.notifier.wait(poll, signal, Math.max(cursor, notified));
      } catch (err) {
        this.options.onError?.(err);
        await this.notifier.wait(backoff, signal);
        backoff = Math.min(backoff * 2, 5_000);
      }
    }
  }
}
