import pg from 'pg';
import { ensureDurableCommit, sessionTimeouts, type SessionTimeouts } from '@app/event-store';

/**
 * The session's timeouts are the pool's unless given: `lead` runs its transactions on it, and
 * one left idle (a stalled process) ends the session, and the lease with it, so a standby
 * takes over instead of waiting behind it.
 */
export interface LeaderLeaseOptions extends SessionTimeouts {
  readonly connectionString: string;
  /** Lock name; every instance competing for the same role uses the same one. */
  readonly name: string;
  /** How long a standby waits between attempts. */
  readonly retryMs?: number;
  readonly onLeadership?: (leader: boolean) => void;
  readonly onError?: (err: unknown) => void;
}

/**
 * Runs `lead` only while this process holds a PostgreSQL session advisory lock, on that same
 * session: if the session dies, the lock and any open transaction die with it, and a standby
 * (any other process running the same lease) takes over. `lead` should return or throw when
 * `signal` aborts.
 *
 * @example
 * const lease = new LeaderLease({ connectionString, name: 'ledger:publisher' });
 * lease.start((client, signal) => publishLoop(client, signal));
 * await lease.stop();
 */
export class LeaderLease {
  private stopped = true;
  private running: Promise<void> | null = null;
  private client: pg.Client | null = null;
  private leader = false;
  private readonly abort = new AbortController();

  constructor(private readonly options: LeaderLeaseOptions) {}

  get isLeader(): boolean {
    return this.leader;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  start(lead: (client: pg.Client, signal: AbortSignal) => Promise<void>): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.running = this.loop(lead);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.running;
  }

  private setLeader(leader: boolean): void {
    if (this.leader !== leader) {
      this.leader = leader;
      this.options.onLeadership?.(leader);
    }
  }

  private async loop(lead: (client: pg.Client, signal: AbortSignal) => Promise<void>): Promise<void> {
    const retry = this.options.retryMs ?? 1_000;
    while (!this.stopped) {
      // sessionTimeouts: keepalive probes after 10 s idle, so that a silently partitioned
      // leader's session ends (and its lock with it) long before the OS default of two hours,
      // and a statement that gets no answer fails.
      const client = new pg.Client({ connectionString: this.options.connectionString, ...sessionTimeouts(this.options) });
      client.on('error', (err) => this.options.onError?.(err));
      this.client = client;
      try {
        await client.connect();
        // The leader commits on this session (checkpoints, manifests): durably, as the pool does.
        await ensureDurableCommit(client);
        const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [
          this.options.name,
        ]);
        if (rows[0]?.ok) {
          this.setLeader(true);
          await lead(client, this.abort.signal);
        }
      } catch (err) {
        if (!this.stopped) this.options.onError?.(err);
      } finally {
        this.setLeader(false);
        this.client = null;
        // Ending the session releases the lock for a standby.
        await client.end().catch(() => undefined);
      }
      if (!this.stopped) await sleep(retry, this.abort.signal);
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Resolves on a later turn of the event loop, after pending I/O callbacks have run. */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
