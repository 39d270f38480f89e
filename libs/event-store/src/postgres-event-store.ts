import type pg from 'pg';
import {
  ConsecutiveBreaker,
  BrokenCircuitError,
  circuitBreaker,
  handleWhen,
  type CircuitBreakerPolicy,
} from 'cockatiel';
import {
  AppendQueueFullError,
  AppendRejectedError,
  DatabaseUnavailableError,
  IdempotencyConflictError,
  WrongExpectedVersionError,
} from './event-store.errors.js';
import { isDatabaseUnavailable } from './database.js';
import { byteaArrayParam, int4ArrayParam, jsonbArrayParam, textArrayParam } from './binary-params.js';
import {
  JsonText,
  type AppendRequest,
  type AppendResult,
  type AppendedEvent,
  type ExpectedVersion,
  type NewEvent,
  type RecordedEvent,
} from './event-store.types.js';

export const LOG_CHANNEL = 'ledger_events';

export interface EventStoreOptions {
  /** Upper bound of events written by one group transaction. */
  readonly maxEventsPerCommit?: number;
  /**
   * Groups in flight at once (default 2): the next group is sent while the previous one holds
   * the log lock, and waits on the lock inside the server's append statement.
   */
  readonly writers?: number;
  /**
   * Events that may wait for a writer (default 50,000). A request that would queue more is
   * refused with AppendQueueFullError; one arriving at an empty queue is always taken, and so is
   * one marked `bypassQueueLimit`.
   */
  readonly maxQueuedEvents?: number;
  /** Consecutive unavailability failures before appends fail fast. */
  readonly breakerThreshold?: number;
  /** How long appends fail fast before one is let through to probe the database. */
  readonly breakerHalfOpenMs?: number;
  readonly observer?: EventStoreObserver;
}

export interface EventStoreObserver {
  /** `replanned`: the group was planned again under the lock (another appender moved first). */
  groupCommitted?(stats: { units: number; events: number; durationMs: number; head: number; replanned: boolean }): void;
  circuitChanged?(state: 'open' | 'half_open' | 'closed'): void;
}

interface Pending {
  readonly request: AppendRequest;
  /** Its events, counted once (the queue's count must not drift should the caller's array change). */
  readonly n: number;
  readonly resolve: (r: AppendResult) => void;
  readonly reject: (e: unknown) => void;
}

interface KnownEvent {
  readonly hash: Buffer;
  /** Absolute for a recorded event; an offset in the group for one this group adds. */
  readonly position: number;
  readonly streamVersion: number;
  readonly relative: boolean;
}

interface Row {
  /** 1..n in the group: the position is the group's base plus this. */
  readonly offset: number;
  readonly event: NewEvent;
  readonly streamVersion: number;
}

type PlannedEvent = AppendedEvent & { readonly relative: boolean };
/** A refusal's error is made once the group's base is known (it may name a position). */
type PlannedOutcome = { ok: true; events: PlannedEvent[] } | { ok: false; error: (base: number) => Error };
type UnitOutcome = { ok: true; events: AppendedEvent[] } | { ok: false; error: Error };

interface LoadedState {
  readonly known: Map<string, KnownEvent>;
  readonly versions: Map<string, number>;
  readonly head: number;
}

interface GroupPlan {
  readonly rows: Row[];
  readonly outcomes: PlannedOutcome[];
}

interface GroupWritten {
  readonly outcomes: UnitOutcome[];
  readonly head: number;
  readonly events: number;
  readonly durationMs: number;
  readonly replanned: boolean;
}

/** The casts of AppendColumns.values() from parameter `first` on. */
const columnParams = (first: number): string =>
  ['text[]', 'text[]', 'text[]', 'text[]', 'bytea[]', 'jsonb', 'jsonb', 'text[]', 'timestamptz[]'].map((t, i) => `$${first + i}::${t}`).join(', ');
const APPEND_NEW_SQL = `SELECT head, base_versions FROM ledger_append_new_events($1::text[], $2::int[], $3::int[], ${columnParams(4)}, $13::text)`;
const APPEND_SQL = `SELECT ledger_append($1::text[], $2::int[], ${columnParams(3)}, $12::text) AS head`;

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
 * The lock is held only inside one statement, so it never waits on a round trip to this
 * process, whose event loop is busy with HTTP. A group of events that all look new and state
 * no expected version but `any` (ingest, webhooks) takes one round trip: `ledger_append_new_events`
 * (migrations/…0800, …1100) looks the ids up, then under the lock reads the streams' versions
 * (each stream's highest `stream_version`) and inserts; a group of 64 streams or more reads
 * them before the lock, with the head they are current at, and under it merges in the versions
 * of what was committed since that head. Any other group has its dedupe keys and streams
 * read and its rows planned here, then `ledger_append` (…0800) inserts them. Both take the rows
 * as one array per column (AppendColumns). If another appender recorded one of the group's
 * events, or wrote one of its streams, after those reads, the insert fails on a unique key
 * (stream versions are contiguous) and the group is planned again with the lock taken first.
 *
 * @example
 * const store = new PostgresEventStore(pool);
 * const { events } = await store.append({ events: [event], expectedVersions: { [event.streamId]: 'any' } });
 */
export class PostgresEventStore {
  private readonly queue: Pending[] = [];
  /** Events of the requests in `queue`. */
  private queuedEvents = 0;
  private writing = 0;
  private closed = false;
  private readonly maxEvents: number;
  private readonly maxQueued: number;
  private readonly writers: number;
  private readonly breaker: CircuitBreakerPolicy;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: EventStoreOptions = {},
  ) {
    this.maxEvents = options.maxEventsPerCommit ?? 5_000;
    this.maxQueued = options.maxQueuedEvents ?? 50_000;
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

  /** Events waiting for a group commit (not those of the groups being written). */
  get queuedEventCount(): number {
    return this.queuedEvents;
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
   * @throws WrongExpectedVersionError, IdempotencyConflictError, DatabaseUnavailableError,
   *   AppendQueueFullError
   */
  append(request: AppendRequest): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new DatabaseUnavailableError('event store closed'));
    if (request.events.length === 0) {
      return Promise.reject(new AppendRejectedError('an append needs at least one event'));
    }
    for (const e of request.events) {
      const invalid = invalidEvent(e);
      if (invalid) return Promise.reject(new AppendRejectedError(invalid));
    }
    const n = request.events.length;
    if (!request.bypassQueueLimit && this.queuedEvents > 0 && this.queuedEvents + n > this.maxQueued) {
      return Promise.reject(new AppendQueueFullError(this.queuedEvents, this.maxQueued));
    }
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ request, n, resolve, reject });
      this.queuedEvents += n;
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
      void this.commitGroup(() => this.takeGroup()).finally(() => {
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
      if (group.length > 0 && events + next.n > this.maxEvents) break;
      group.push(this.queue.shift()!);
      events += next.n;
      this.queuedEvents -= next.n;
    }
    return group;
  }

  /**
   * One group append. `take` gives the group's requests; it is called once a connection is
   * held and the event loop has read what was ready, so the group holds everything that queued
   * while waiting for it.
   */
  private async commitGroup(take: () => Pending[]): Promise<void> {
    let group: Pending[] | null = null;
    const takeOnce = (): Pending[] => (group ??= take());
    let written: GroupWritten;
    try {
      written = await this.breaker.execute(() => this.writeGroup(takeOnce));
    } catch (err) {
      // Failed before the group was taken (no connection, circuit open): the queue gets the answer.
      const failed = takeOnce();
      if (err instanceof BrokenCircuitError || isDatabaseUnavailable(err)) {
        const unavailable = new DatabaseUnavailableError(err);
        for (const p of failed) p.reject(unavailable);
      } else if ((refusesData(err) || err instanceof AppendRejectedError) && failed.length > 1) {
        // The database refused the data of some unit, or it could not be serialised; isolate
        // it so the others commit.
        for (const p of failed) await this.commitGroup(() => [p]);
      } else if (err instanceof AppendRejectedError && failed.length === 1) {
        failed[0]!.reject(err);
      } else if (refusesData(err) && failed.length === 1) {
        failed[0]!.reject(new AppendRejectedError('the database refused the event data', err));
      } else {
        // Anything else fails every request of the group: none may be left unanswered.
        for (const p of failed) p.reject(err);
      }
      return;
    }
    const done = takeOnce();
    if (done.length === 0) return;
    done.forEach((p, i) => {
      const o = written.outcomes[i]!;
      if (o.ok) p.resolve({ events: o.events, head: written.head });
      else p.reject(o.error);
    });
    try {
      this.options.observer?.groupCommitted?.({ units: done.length, events: written.events, durationMs: written.durationMs, head: written.head, replanned: written.replanned });
    } catch {
      // Metrics must never turn a committed append into an error.
    }
  }

  private async writeGroup(take: () => Pending[]): Promise<GroupWritten> {
    const started = performance.now();
    const client = await this.pool.connect();
    // Requests whose bodies this turn of the event loop has read join this group, not the next:
    // single-event groups at 64 connections grew from about 16 to 21 events, which cut the
    // server's CPU per event by 10–15% and raised throughput by about 12% (paired runs).
    await new Promise<void>((resolve) => setImmediate(resolve));
    const tx = { open: false };
    let broken = false;
    try {
      const group = take();
      if (group.length === 0) return { outcomes: [], head: 0, events: 0, durationMs: 0, replanned: false };
      const direct = allNew(group) ? await this.appendNew(client, group) : 'recorded';
      const planned = direct === 'recorded' ? await this.appendPlanned(client, group) : direct;
      const written = planned ?? (await this.appendUnderLock(client, group, tx));
      return { ...written, durationMs: performance.now() - started, replanned: planned === null };
    } catch (err) {
      broken = isDatabaseUnavailable(err);
      // A session given up is closed, not rolled back: the server ends its transaction when
      // the session ends, and a ROLLBACK on a session that gets no answers would wait out
      // another read timeout before the group's requests get theirs.
      if (tx.open && !broken) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /**
   * The commonest case in one round trip (`ledger_append_new_events`): a group whose units
   * state no expected version but `any` and whose events all look new. `recorded` when one of
   * them is in the log already (nothing written; the group is planned against what is
   * recorded); null when another appender recorded one of them in between (nothing written;
   * planned under the lock).
   */
  private async appendNew(client: pg.PoolClient, group: Pending[]): Promise<Omit<GroupWritten, 'durationMs' | 'replanned'> | 'recorded' | null> {
    const streams: string[] = [];
    const counts: number[] = [];
    const streamIndex = new Map<string, number>();
    /** Per row: its stream's index in `streams` (from 1) and its place among that stream's rows. */
    const rowStreams: number[] = [];
    const rowPlaces: number[] = [];
    const columns = new AppendColumns();
    for (const p of group) {
      for (const event of p.request.events) {
        let si = streamIndex.get(event.streamId);
        if (si === undefined) {
          si = streams.length;
          streamIndex.set(event.streamId, si);
          streams.push(event.streamId);
          counts.push(0);
        }
        rowStreams.push(si + 1);
        rowPlaces.push((counts[si] = counts[si]! + 1));
        columns.add(event);
      }
    }
    let result: pg.QueryResult<{ head: string; base_versions: number[] }>;
    try {
      result = await client.query({
        name: 'ledger_append_new_events',
        text: APPEND_NEW_SQL,
        values: [textArrayParam(streams), int4ArrayParam(rowStreams), int4ArrayParam(rowPlaces), ...columns.values(), LOG_CHANNEL],
      });
    } catch (err) {
      // Only an id recorded after the look-up can collide: the stream versions are brought up to
      // date under the lock.
      if (isUniqueViolation(err)) return null;
      throw err;
    }
    const row = result.rows[0];
    if (!row) return 'recorded';
    const head = Number(row.head);
    const base = head - columns.length;
    let i = 0;
    const outcomes: UnitOutcome[] = group.map((p) => ({
      ok: true,
      events: p.request.events.map((e) => {
        const streamVersion = row.base_versions[rowStreams[i]! - 1]! + rowPlaces[i]!;
        i += 1;
        return { source: e.source, sourceEventId: e.sourceEventId, position: base + i, streamVersion, duplicate: false };
      }),
    }));
    return { outcomes, head, events: columns.length };
  }

  /**
   * Any other group, with the log lock held only inside one statement: read the group's
   * dedupe keys and streams, plan it, and hand the rows to `ledger_append`. Null when another
   * appender wrote one of its streams or recorded one of its events in between (the insert
   * then fails on a unique key and writes nothing): the caller plans again under the lock.
   */
  private async appendPlanned(client: pg.PoolClient, group: Pending[]): Promise<Omit<GroupWritten, 'durationMs' | 'replanned'> | null> {
    const state = await this.loadState(client, group);
    const plan = this.planGroup(group, state);
    if (plan.rows.length === 0) return { outcomes: plan.outcomes.map((o) => settle(o, 0)), head: state.head, events: 0 };
    let head: number;
    try {
      head = await this.callAppend(client, plan);
    } catch (err) {
      if (isUniqueViolation(err)) return null;
      throw err;
    }
    const base = head - plan.rows.length;
    return { outcomes: plan.outcomes.map((o) => settle(o, base)), head, events: plan.rows.length };
  }

  /** The fallback: the lock first, then the reads, the plan and the append in its transaction. */
  private async appendUnderLock(
    client: pg.PoolClient,
    group: Pending[],
    tx: { open: boolean },
  ): Promise<Omit<GroupWritten, 'durationMs' | 'replanned'>> {
    tx.open = true;
    await client.query('BEGIN; SELECT position FROM log_head FOR UPDATE');
    // Read only once the lock is held: this statement's snapshot includes the previous committer.
    const state = await this.loadState(client, group);
    const plan = this.planGroup(group, state);
    const head = plan.rows.length > 0 ? await this.callAppend(client, plan) : state.head;
    await client.query('COMMIT');
    tx.open = false;
    const base = head - plan.rows.length;
    return { outcomes: plan.outcomes.map((o) => settle(o, base)), head, events: plan.rows.length };
  }

  /** Plans every unit of the group in order against the state read and the units before it. */
  private planGroup(group: Pending[], state: LoadedState): GroupPlan {
    const versions = state.versions;
    const rows: Row[] = [];
    const outcomes = group.map((p) => this.planUnit(p.request, state.known, versions, rows));
    return { rows, outcomes };
  }

  /** Runs ledger_append: the new head. */
  private async callAppend(client: pg.PoolClient, plan: GroupPlan): Promise<number> {
    const columns = new AppendColumns();
    for (const r of plan.rows) columns.add(r.event);
    const { rows } = await client.query<{ head: number }>({
      name: 'ledger_append',
      text: APPEND_SQL,
      values: [textArrayParam(plan.rows.map((r) => r.event.streamId)), int4ArrayParam(plan.rows.map((r) => r.streamVersion)), ...columns.values(), LOG_CHANNEL],
    });
    return Number(rows[0]!.head);
  }

  /**
   * Decides one unit against the state so far; on success it claims the next offsets in
   * `rows`. Positions of events new in this group are offsets (1..n) until the group's base
   * is known.
   */
  private planUnit(
    request: AppendRequest,
    known: Map<string, KnownEvent>,
    versions: Map<string, number>,
    rows: Row[],
  ): PlannedOutcome {
    const results: PlannedEvent[] = [];
    const claimed: Array<[string, KnownEvent]> = [];
    const local = new Map<string, KnownEvent>();
    const streamNext = new Map<string, number>();
    const newRows: Row[] = [];
    let offset = rows.length;

    for (const event of request.events) {
      const k = key(event.source, event.sourceEventId);
      const prior = local.get(k) ?? known.get(k);
      if (prior) {
        if (!prior.hash.equals(event.payloadHash)) {
          const inUnit = local.has(k);
          return {
            ok: false,
            error: (base) =>
              new IdempotencyConflictError(
                event.source,
                event.sourceEventId,
                inUnit ? null : prior.position + (prior.relative ? base : 0),
              ),
          };
        }
        results.push({
          source: event.source,
          sourceEventId: event.sourceEventId,
          position: prior.position,
          streamVersion: prior.streamVersion,
          duplicate: true,
          relative: prior.relative,
        });
        continue;
      }
      const current = streamNext.get(event.streamId) ?? versions.get(event.streamId) ?? 0;
      if (!streamNext.has(event.streamId)) {
        // Own keys only: a stream called "constructor" states nothing.
        const stated = request.expectedVersions;
        const expected: ExpectedVersion = (stated && Object.hasOwn(stated, event.streamId) ? stated[event.streamId] : undefined) ?? 'any';
        if (!matches(expected, current)) {
          return { ok: false, error: () => new WrongExpectedVersionError(event.streamId, expected, current) };
        }
      }
      const streamVersion = current + 1;
      streamNext.set(event.streamId, streamVersion);
      offset += 1;
      const entry = { hash: event.payloadHash, position: offset, streamVersion, relative: true };
      local.set(k, entry);
      claimed.push([k, entry]);
      newRows.push({ offset, event, streamVersion });
      results.push({
        source: event.source,
        sourceEventId: event.sourceEventId,
        position: offset,
        streamVersion,
        duplicate: false,
        relative: true,
      });
    }
    for (const [k, v] of claimed) known.set(k, v);
    for (const [s, v] of streamNext) versions.set(s, v);
    rows.push(...newRows);
    return { ok: true, events: results };
  }

  /**
   * Recorded events with the group's dedupe keys, its streams' versions and the log head: one
   * statement.
   */
  private async loadState(client: pg.PoolClient, group: Pending[]): Promise<LoadedState> {
    const events = group.flatMap((p) => p.request.events);
    const streams = [...new Set(events.map((e) => e.streamId))];
    const { rows } = await client.query<{
      kind: 'event' | 'stream' | 'head';
      a: string | null;
      b: string | null;
      payload_hash: Buffer | null;
      n1: number;
      n2: number | null;
    }>({
      // Prepared once per session: the server parses and plans it once, not once per group.
      name: 'ledger_load_state',
      // One index probe per key (LATERAL ... LIMIT 1 is never turned into a join): with stale
      // or missing statistics the planner otherwise hashes a scan of the whole table.
      text: `SELECT 'event' AS kind, k.source AS a, k.source_event_id AS b, e.payload_hash,
              e.position AS n1, e.stream_version AS n2
         FROM unnest($1::text[], $2::text[]) AS k(source, source_event_id)
        CROSS JOIN LATERAL (SELECT payload_hash, position, stream_version FROM events e
                             WHERE e.source = k.source AND e.source_event_id = k.source_event_id LIMIT 1) e
       UNION ALL
       SELECT 'stream', s.stream_id, NULL, NULL, t.version, NULL
         FROM unnest($3::text[]) AS s(stream_id)
        CROSS JOIN LATERAL (SELECT e.stream_version AS version FROM events e WHERE e.stream_id = s.stream_id
                             ORDER BY e.stream_version DESC LIMIT 1) t
       UNION ALL
       SELECT 'head', NULL, NULL, NULL, position, NULL FROM log_head`,
      values: [events.map((e) => e.source), events.map((e) => e.sourceEventId), streams],
    });
    const known = new Map<string, KnownEvent>();
    const versions = new Map<string, number>();
    let head = 0;
    for (const r of rows) {
      if (r.kind === 'event') {
        known.set(key(r.a!, r.b!), { hash: r.payload_hash!, position: Number(r.n1), streamVersion: Number(r.n2), relative: false });
      } else if (r.kind === 'stream') versions.set(r.a!, Number(r.n1));
      else head = Number(r.n1);
    }
    return { known, versions, head };
  }
}

/**
 * The rows `ledger_append` and `ledger_append_new_events` take, one array per column; `data`
 * and `metadata` go as one JSON array each. A row's position is its place in the arrays.
 * They go in PostgreSQL's binary format (binary-params.ts), except `occurred`: a binary
 * timestamptz is microseconds since 2000, which would mean parsing the instants here, and
 * sending them as a binary text[] cast to timestamptz[] in the statement cost the server more
 * per call than it saved (single-event groups, paired runs). Against literals, in paired runs
 * on PostgreSQL 15: batches of 100 at 16 connections +7% (instance CPU per event −12%),
 * single events at 64 connections unchanged.
 * Neither jsonb nor text can hold U+0000: in the type, subject, raw body, data and metadata it
 * becomes U+FFFD (append() refuses identities that hold one).
 */
class AppendColumns {
  private readonly types: string[] = [];
  private readonly sources: string[] = [];
  private readonly ids: string[] = [];
  private readonly subjects: Array<string | null> = [];
  private readonly hashes: Buffer[] = [];
  private readonly raws: Array<string | null> = [];
  private readonly occurred: Array<string | null> = [];
  private readonly datas: string[] = [];
  private readonly metadatas: string[] = [];
  /** The last metadata object serialised: a request's events usually share one. */
  private lastMetadata: unknown = undefined;
  private lastMetadataJson = '';

  get length(): number {
    return this.ids.length;
  }

  add(e: NewEvent): void {
    this.types.push(text(e.type));
    // Identities are checked by append() (no U+0000, well-formed): sent as they are.
    this.sources.push(e.source);
    this.ids.push(e.sourceEventId);
    this.subjects.push(e.subject === undefined || e.subject === null ? null : text(e.subject));
    this.hashes.push(e.payloadHash);
    this.raws.push(e.raw === undefined || e.raw === null ? null : text(e.raw));
    this.occurred.push(instant(e.occurredAt));
    this.datas.push(e.data instanceof JsonText ? storableJson(e.data.text) : json(e.data));
    const metadata = e.metadata ?? EMPTY_METADATA;
    if (metadata !== this.lastMetadata) {
      this.lastMetadataJson = json(metadata);
      this.lastMetadata = metadata;
    }
    this.metadatas.push(this.lastMetadataJson);
  }

  /** The parameters after the stream ones, in the functions' order: types … occurred. */
  values(): unknown[] {
    return [
      textArrayParam(this.types),
      textArrayParam(this.sources),
      textArrayParam(this.ids),
      textArrayParam(this.subjects),
      byteaArrayParam(this.hashes),
      jsonbArrayParam(this.datas),
      jsonbArrayParam(this.metadatas),
      textArrayParam(this.raws),
      this.occurred,
    ];
  }
}

const EMPTY_METADATA: Readonly<Record<string, never>> = Object.freeze({});

/** An instant for a timestamptz column: a string as given, a Date as JSON.stringify writes it (an invalid one as null). */
const instant = (v: Date | string | null | undefined): string | null =>
  typeof v === 'string' ? v : v && !Number.isNaN(v.getTime()) ? v.toISOString() : null;

const text = (s: string): string => (s.includes('\u0000') ? s.replaceAll('\u0000', '\uFFFD') : s);

/**
 * JSON for a jsonb column (undefined, which has none, as null). JSON.stringify writes U+0000 as
 * the escape `\u0000`, in keys as in values; it is one when an even number of backslashes
 * precede it (otherwise it is a literal backslash followed by "u0000").
 *
 * @throws {AppendRejectedError} the value cannot be serialised (a bigint, a cycle)
 */
function json(v: unknown): string {
  let out: string | undefined;
  try {
    out = JSON.stringify(v);
  } catch (err) {
    throw new AppendRejectedError('the event cannot be serialised as JSON', err);
  }
  return out === undefined ? 'null' : storableJson(out);
}

/** JSON text with every `\u0000` escape (U+0000) made `\ufffd` (see json). */
const storableJson = (text: string): string =>
  text.includes('\\u0000') ? text.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, '$1\\ufffd') : text;

/** U+0000, or a lone surrogate: PostgreSQL cannot store the first, and UTF-8 has no form for the second. */
// eslint-disable-next-line no-control-regex -- U+0000 is what this looks for
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/;

const unstorable = (name: string): string => `${name} must be well-formed text without U+0000`;

/**
 * Why an event cannot be appended, if it cannot. Identities are refused rather than rewritten:
 * rewriting them would make a redelivery another event.
 */
function invalidEvent(e: NewEvent): string | null {
  if (e.payloadHash.length !== 32) return 'payloadHash must be a SHA-256 digest';
  // Checked one by one: this runs for every event appended.
  if (UNSTORABLE.test(e.streamId)) return unstorable('streamId');
  if (UNSTORABLE.test(e.source)) return unstorable('source');
  if (UNSTORABLE.test(e.sourceEventId)) return unstorable('sourceEventId');
  if (e.data === undefined || e.data === null || (e.data instanceof JsonText && e.data.text.trim() === 'null')) {
    return 'an event needs data (JSON null is not data)';
  }
  if (typeof e.occurredAt === 'string' && !INSTANT.test(e.occurredAt)) return 'occurredAt must be an ISO-8601 instant with its offset';
  return null;
}

/**
 * Whether the group can go to `ledger_append_new_events`: no unit states an expected version other
 * than `any`, and no source event id comes twice (a redelivery racing itself is planned).
 */
function allNew(group: readonly Pending[]): boolean {
  const seen = new Set<string>();
  for (const p of group) {
    const expected = p.request.expectedVersions;
    if (expected) {
      for (const v of Object.values(expected)) if (v !== 'any') return false;
    }
    for (const e of p.request.events) {
      const k = key(e.source, e.sourceEventId);
      if (seen.has(k)) return false;
      seen.add(k);
    }
  }
  return true;
}

/** A planned outcome with the group's base added to the positions that were offsets. */
function settle(o: PlannedOutcome, base: number): UnitOutcome {
  if (!o.ok) return { ok: false, error: o.error(base) };
  return {
    ok: true,
    events: o.events.map(({ relative, ...e }) => (relative ? { ...e, position: e.position + base } : e)),
  };
}

/**
 * A stale plan or look-up: another appender recorded one of the group's events or wrote one of
 * its streams first. Other data the database refuses would be refused again under the lock, so
 * it goes straight to commitGroup, which retries the units one by one.
 */
function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '23505';
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
