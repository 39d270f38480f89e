import type pg from 'pg';
import {
  ConsecutiveBreaker,
  BrokenCircuitError,
  circuitBreaker,
  handleWhen,
  type CircuitBreakerPolicy,
} from 'cockatiel';
import {
  AppendRejectedError,
  DatabaseUnavailableError,
  IdempotencyConflictError,
  WrongExpectedVersionError,
} from './event-store.errors.js';
import { isDatabaseUnavailable } from './database.js';
import type {
  AppendRequest,
  AppendResult,
  AppendedEvent,
  ExpectedVersion,
  NewEvent,
  RecordedEvent,
} from './event-store.types.js';

export const LOG_CHANNEL = 'ledger_events';

export interface EventStoreOptions {
  /** Upper bound of events written by one group transaction. */
  readonly maxEventsPerCommit?: number;
  /**
   * Group transactions in flight at once (default 2): the next group waits on the log lock
   * while the previous one commits, so the lock passes on without a round trip in between.
   */
  readonly writers?: number;
  /** Consecutive unavailability failures before appends fail fast. */
  readonly breakerThreshold?: number;
  /** How long appends fail fast before one is let through to probe the database. */
  readonly breakerHalfOpenMs?: number;
  readonly observer?: EventStoreObserver;
}

export interface EventStoreObserver {
  groupCommitted?(stats: { units: number; events: number; durationMs: number; head: number }): void;
  circuitChanged?(state: 'open' | 'half_open' | 'closed'): void;
}

interface Pending {
  readonly request: AppendRequest;
  readonly resolve: (r: AppendResult) => void;
  readonly reject: (e: unknown) => void;
}

interface KnownEvent {
  readonly hash: Buffer;
  readonly position: number;
  readonly streamVersion: number;
}

interface Row {
  readonly position: number;
  readonly event: NewEvent;
  readonly streamVersion: number;
}

type UnitOutcome = { ok: true; events: AppendedEvent[] } | { ok: false; error: Error };

const key = (source: string, id: string): string => `${source}\u0000${id}`;

/**
 * The append-only log on PostgreSQL.
 *
 * Positions are gap-free and in commit order: every appending transaction first locks the
 * single `log_head` row, takes the next positions from it and holds the lock until commit.
 * PostgreSQL makes a commit visible before it releases the transaction's locks, so the
 * next appender (and so the next position) only starts once the previous one is visible.
 * Concurrent appends of this process are queued and written together by one transaction
 * (group commit), so throughput does not collapse to one fsync per request.
 *
 * @example
 * const store = new PostgresEventStore(pool);
 * const { events } = await store.append({ events: [event], expectedVersions: { [event.streamId]: 'any' } });
 */
export class PostgresEventStore {
  private readonly queue: Pending[] = [];
  private writing = 0;
  private closed = false;
  private readonly maxEvents: number;
  private readonly writers: number;
  private readonly breaker: CircuitBreakerPolicy;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: EventStoreOptions = {},
  ) {
    this.maxEvents = options.maxEventsPerCommit ?? 5_000;
    this.writers = Math.max(1, options.writers ?? 2);
    this.breaker = circuitBreaker(
      handleWhen((e) => isDatabaseUnavailable(e)),
      {
        halfOpenAfter: options.breakerHalfOpenMs ?? 1_000,
        breaker: new ConsecutiveBreaker(options.breakerThreshold ?? 3),
      },
    );
    this.breaker.onBreak(() => options.observer?.circuitChanged?.('open'));
    this.breaker.onHalfOpen(() => options.observer?.circuitChanged?.('half_open'));
    this.breaker.onReset(() => options.observer?.circuitChanged?.('closed'));
  }

  /** True while appends fail fast because the database was found unreachable. */
  get circuitOpen(): boolean {
    return this.breaker.state === 1; // CircuitState.Open
  }

  /**
   * Appends all events of the request atomically. Resolves only after COMMIT returned.
   * A redelivered event (same source, id and payload hash) resolves to its original
   * position with `duplicate: true`.
   *
   * @throws WrongExpectedVersionError, IdempotencyConflictError, DatabaseUnavailableError
   */
  append(request: AppendRequest): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new DatabaseUnavailableError('event store closed'));
    if (request.events.length === 0) {
      return Promise.reject(new AppendRejectedError('an append needs at least one event'));
    }
    for (const e of request.events) {
      if (e.payloadHash.length !== 32) {
        return Promise.reject(new AppendRejectedError('payloadHash must be a SHA-256 digest'));
      }
    }
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.drain();
    });
  }

  /** Reads up to `limit` events after `afterPosition`, in position order. */
  readForward(afterPosition: number, limit: number): Promise<RecordedEvent[]> {
    return readEvents(this.pool, afterPosition, limit);
  }

  /** Events of one stream in version order. */
  async readStream(streamId: string): Promise<RecordedEvent[]> {
    const { rows } = await this.pool.query(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = $1 ORDER BY stream_version`,
      [streamId],
    );
    return rows.map(toRecorded);
  }

  /** The highest committed position (0 for an empty log). */
  async head(): Promise<number> {
    const { rows } = await this.pool.query<{ position: number }>('SELECT position FROM log_head');
    return rows[0]?.position ?? 0;
  }

  /** Stops accepting appends and waits for queued ones to finish. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.writing > 0 || this.queue.length > 0) {
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  private drain(): void {
    while (this.writing < this.writers && this.queue.length > 0) {
      this.writing += 1;
      const group = this.takeGroup();
      void this.commitGroup(group).finally(() => {
        this.writing -= 1;
        this.drain();
      });
    }
  }

  private takeGroup(): Pending[] {
    const group: Pending[] = [];
    let events = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (group.length > 0 && events + next.request.events.length > this.maxEvents) break;
      group.push(this.queue.shift()!);
      events += next.request.events.length;
    }
    return group;
  }

  private async commitGroup(group: Pending[]): Promise<void> {
    let written: { outcomes: UnitOutcome[]; head: number; events: number; durationMs: number };
    try {
      written = await this.breaker.execute(() => this.writeGroup(group));
    } catch (err) {
      if (err instanceof BrokenCircuitError || isDatabaseUnavailable(err)) {
        const unavailable = new DatabaseUnavailableError(err);
        for (const p of group) p.reject(unavailable);
      } else if (refusesData(err) && group.length > 1) {
        // The database refused the data of some unit; isolate it so the others commit.
        for (const p of group) await this.commitGroup([p]);
      } else if (refusesData(err)) {
        group[0]!.reject(new AppendRejectedError('the database refused the event data', err));
      } else {
        // Anything else fails every request of the group: none may be left unanswered.
        for (const p of group) p.reject(err);
      }
      return;
    }
    group.forEach((p, i) => {
      const o = written.outcomes[i]!;
      if (o.ok) p.resolve({ events: o.events, head: written.head });
      else p.reject(o.error);
    });
    try {
      this.options.observer?.groupCommitted?.({ units: group.length, events: written.events, durationMs: written.durationMs, head: written.head });
    } catch {
      // Metrics must never turn a committed append into an error.
    }
  }

  private async writeGroup(
    group: Pending[],
  ): Promise<{ outcomes: UnitOutcome[]; head: number; events: number; durationMs: number }> {
    const started = performance.now();
    const client = await this.pool.connect();
    let broken = false;
    try {
      // One round trip: BEGIN and the lock (simple protocol, no parameters).
      const begun = (await client.query('BEGIN; SELECT position FROM log_head FOR UPDATE')) as unknown as pg.QueryResult<{ position: number }>[];
      let head = begun[1]!.rows[0]!.position;
      // Read only once the lock is held: this statement's snapshot includes the previous committer.
      const { known, versions } = await this.loadState(client, group);

      const rows: Row[] = [];
      const outcomes = group.map((p) => {
        const outcome = this.planUnit(p.request, known, versions, head, rows);
        if (outcome.ok) head += outcome.events.filter((e) => !e.duplicate).length;
        return outcome;
      });

      if (rows.length > 0) await this.writeRows(client, rows, versions, head);
      await client.query('COMMIT');
      return { outcomes, head, events: rows.length, durationMs: performance.now() - started };
    } catch (err) {
      broken = isDatabaseUnavailable(err);
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /** Decides one unit against the state so far; on success it claims positions in `rows`. */
  private planUnit(
    request: AppendRequest,
    known: Map<string, KnownEvent>,
    versions: Map<string, number>,
    head: number,
    rows: Row[],
  ): UnitOutcome {
    const results: AppendedEvent[] = [];
    const claimed: Array<[string, KnownEvent]> = [];
    const local = new Map<string, KnownEvent>();
    const streamNext = new Map<string, number>();
    const newRows: Row[] = [];
    let position = head;

    for (const event of request.events) {
      const k = key(event.source, event.sourceEventId);
      const prior = local.get(k) ?? known.get(k);
      if (prior) {
        if (!prior.hash.equals(event.payloadHash)) {
          return {
            ok: false,
            error: new IdempotencyConflictError(
              event.source,
              event.sourceEventId,
              local.has(k) ? null : prior.position,
            ),
          };
        }
        results.push({
          source: event.source,
          sourceEventId: event.sourceEventId,
          position: prior.position,
          streamVersion: prior.streamVersion,
          duplicate: true,
        });
        continue;
      }
      const current = streamNext.get(event.streamId) ?? versions.get(event.streamId) ?? 0;
      if (!streamNext.has(event.streamId)) {
        const expected: ExpectedVersion =
          request.expectedVersions?.[event.streamId] ?? 'any';
        if (!matches(expected, current)) {
          return { ok: false, error: new WrongExpectedVersionError(event.streamId, expected, current) };
        }
      }
      const streamVersion = current + 1;
      streamNext.set(event.streamId, streamVersion);
      position += 1;
      const entry = { hash: event.payloadHash, position, streamVersion };
      local.set(k, entry);
      claimed.push([k, entry]);
      newRows.push({ position, event, streamVersion });
      results.push({
        source: event.source,
        sourceEventId: event.sourceEventId,
        position,
        streamVersion,
        duplicate: false,
      });
    }
    for (const [k, v] of claimed) known.set(k, v);
    for (const [s, v] of streamNext) versions.set(s, v);
    rows.push(...newRows);
    return { ok: true, events: results };
  }

  /** Recorded events with the group's dedupe keys, and its streams' versions: one statement. */
  private async loadState(
    client: pg.PoolClient,
    group: Pending[],
  ): Promise<{ known: Map<string, KnownEvent>; versions: Map<string, number> }> {
    const events = group.flatMap((p) => p.request.events);
    const streams = [...new Set(events.map((e) => e.streamId))];
    const { rows } = await client.query<{
      kind: 'event' | 'stream';
      a: string;
      b: string | null;
      payload_hash: Buffer | null;
      n1: number;
      n2: number | null;
    }>(
      `SELECT 'event' AS kind, e.source AS a, e.source_event_id AS b, e.payload_hash,
              e.position AS n1, e.stream_version AS n2
         FROM events e
         JOIN unnest($1::text[], $2::text[]) AS k(source, source_event_id)
           ON e.source = k.source AND e.source_event_id = k.source_event_id
       UNION ALL
       SELECT 'stream', stream_id, NULL, NULL, version, NULL FROM streams WHERE stream_id = ANY($3::text[])`,
      [events.map((e) => e.source), events.map((e) => e.sourceEventId), streams],
    );
    const known = new Map<string, KnownEvent>();
    const versions = new Map<string, number>();
    for (const r of rows) {
      if (r.kind === 'event') known.set(key(r.a, r.b!), { hash: r.payload_hash!, position: Number(r.n1), streamVersion: Number(r.n2) });
      else versions.set(r.a, Number(r.n1));
    }
    return { known, versions };
  }

  private async writeRows(
    client: pg.PoolClient,
    rows: Row[],
    versions: Map<string, number>,
    head: number,
  ): Promise<void> {
    const touched = [...new Set(rows.map((r) => r.event.streamId))];
    // One JSON document for all rows: cheaper to build and to parse than arrays of escaped JSON.
    // jsonb cannot hold U+0000: such characters become U+FFFD in `data` (`raw` keeps the delivery).
    const doc = JSON.stringify(
      rows.map((r) => ({
        p: r.position,
        s: r.event.streamId,
        v: r.streamVersion,
        t: r.event.type,
        o: r.event.source,
        i: r.event.sourceEventId,
        u: r.event.subject ?? null,
        h: r.event.payloadHash.toString('hex'),
        d: r.event.data,
        m: r.event.metadata ?? {},
        r: r.event.raw ?? null,
        a: r.event.occurredAt ?? null,
      })),
    );
    const safe = doc.includes('\\u0000') ? JSON.stringify(JSON.parse(doc), (_k, v: unknown) => (typeof v === 'string' ? v.replaceAll('\u0000', '\uFFFD') : v)) : doc;
    await client.query(
      `WITH ins AS (
         INSERT INTO events (position, stream_id, stream_version, type, source,
                             source_event_id, subject, payload_hash, data, metadata, raw, occurred_at)
         SELECT p, s, v, t, o, i, u, decode(h, 'hex'), d, m, r, a
           FROM jsonb_to_recordset($1::jsonb)
             AS x(p bigint, s text, v int, t text, o text, i text, u text, h text, d jsonb, m jsonb, r text, a timestamptz)
       ), st AS (
         INSERT INTO streams (stream_id, version)
         SELECT * FROM unnest($2::text[], $3::int[])
         ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version
       ), hd AS (
         UPDATE log_head SET position = $4
       )
       SELECT pg_notify('${LOG_CHANNEL}', $4::text)`,
      [safe, touched, touched.map((s) => versions.get(s)!), head],
    );
  }
}

function refusesData(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23|54)/.test(code);
}

function matches(expected: ExpectedVersion, current: number): boolean {
  if (expected === 'any') return true;
  if (expected === 'no_stream') return current === 0;
  return expected === current;
}

/** The columns `toRecorded` reads, for queries of other modules that select events. */
export const EVENT_COLUMNS =
  'position, stream_id, stream_version, type, source, source_event_id, subject, data, metadata, occurred_at, recorded_at';

/**
 * Reads up to `limit` events after `afterPosition`, in position order, on any pool or client
 * (a projector reads on the session that holds its leadership lock).
 */
export async function readEvents(db: pg.Pool | pg.ClientBase, afterPosition: number, limit: number): Promise<RecordedEvent[]> {
  const { rows } = await db.query(
    `SELECT ${EVENT_COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2`,
    [afterPosition, limit],
  );
  return rows.map(toRecorded);
}

/** A row selected with EVENT_COLUMNS, as a RecordedEvent. */
export function toRecorded(r: Record<string, unknown>): RecordedEvent {
  return {
    position: r['position'] as number,
    streamId: r['stream_id'] as string,
    streamVersion: r['stream_version'] as number,
    type: r['type'] as string,
    source: r['source'] as string,
    sourceEventId: r['source_event_id'] as string,
    subject: (r['subject'] as string | null) ?? null,
    data: r['data'],
    metadata: r['metadata'] as Record<string, unknown>,
    occurredAt: (r['occurred_at'] as Date | null) ?? null,
    recordedAt: r['recorded_at'] as Date,
  };
}
