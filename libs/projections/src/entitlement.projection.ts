import type pg from 'pg';
import {
  EMPTY_CATALOG,
  entitlementSources,
  evolveCatalog,
  evolveProviderFeatures,
  evolveSubjectGrants,
  evolveSubscriptionFold,
  initialProviderFeatures,
  initialSubjectGrants,
  initialSubjectApiKeys,
  evolveSubjectApiKeys,
  isApiKeyEventType,
  parseSubscriptionRecordedData,
  readSubscriptionRecordedData,
  policyEventKind,
  subscriptionKey,
  subscriptionSubject,
  type Catalog,
  type EntitlementPolicy,
  type EntitlementSources,
  type LedgerEvent,
  type ProviderFeaturesFold,
  type SubjectGrantsFold,
  type SubjectApiKeysFold,
  type SubscriptionFold,
  type SubscriptionRecordedData,
} from '@app/domain';
import type { RecordedEvent } from '@app/event-store';
import { LIVE_TABLES, type EntitlementTables } from './entitlement.tables.js';
import { yieldToEventLoop } from './leader-lease.js';

/** The log's envelope as the pure policy sees it. */
export function toLedgerEvent(e: RecordedEvent): LedgerEvent {
  return {
    type: e.type,
    data: e.data,
    position: e.position,
    source: e.source,
    source_event_id: e.sourceEventId,
    recorded_at: e.recordedAt.toISOString(),
  };
}

interface SubjectRow {
  grants: SubjectGrantsFold;
  providerFeatures: ProviderFeaturesFold;
  apiKeys: SubjectApiKeysFold;
}

export interface ApplyResult {
  /** Subjects whose sources were recomputed in this batch. */
  readonly subjects: readonly string[];
  readonly catalogChanged: boolean;
  /** Recomputed subjects with a subscription whose plan the catalog does not know. */
  readonly unknownPlans: ReadonlyArray<{ subject: string; plans: ReadonlyArray<string | null> }>;
}

/** Subjects recomputed per statement when a catalog change touches everyone. */
const PAGE = 2_000;
/** Events folded between two turns of the event loop during a rebuild. */
const FOLD_SLICE = 2_000;

/**
 * Folds batches of log events into the entitlement read model with the pure policy of
 * `@app/domain`. The caller owns the transaction (and the checkpoint written in it).
 *
 * @example
 * await client.query('BEGIN');
 * await projection.apply(client, events);
 * await client.query('UPDATE projection_checkpoints SET position = $1 WHERE name = $2', [last, name]);
 * await client.query('COMMIT');
 */
export class EntitlementProjection {
  constructor(
    private readonly policy: EntitlementPolicy,
    readonly tables: EntitlementTables = LIVE_TABLES,
  ) {}

  async apply(db: pg.ClientBase, events: readonly RecordedEvent[]): Promise<ApplyResult> {
    const ledger = events.map(toLedgerEvent);

    // What this batch touches, so each table is read once.
    const subKeys = new Set<string>();
    const directSubjects = new Set<string>();
    for (const e of ledger) {
      const kind = policyEventKind(e.type);
      if (kind === 'subscription') {
        // Cached per payload: foldEvents below looks at the same payload again.
        const data = parseSubscriptionRecordedData(e.data);
        if (data) subKeys.add(subscriptionKey(e.source, data.subscription.id));
      } else if (kind === 'grant' || kind === 'provider_features' || isApiKeyEventType(e.type)) {
        const subject = (e.data as { subject?: unknown } | null)?.subject;
        if (typeof subject === 'string') directSubjects.add(subject);
      }
    }
    const state: FoldState = {
      catalog: await this.loadCatalog(db),
      catalogPosition: 0,
      subs: await this.loadSubscriptionsByKey(db, [...subKeys]),
      rows: await this.loadSubjects(db, [...directSubjects]),
      dirtySubs: new Set(),
      touched: new Map(),
    };
    foldEvents(state, ledger, parseSubscriptionRecordedData);

    await this.writeSubscriptions(db, [...state.dirtySubs].map((k) => state.subs.get(k)!));
    const affected = state.touched;
    if (state.catalogPosition > 0) {
      await this.writeCatalog(db, state.catalog, state.catalogPosition);
      // A catalog change touches every subject; later events of this batch touch theirs again.
      for (const s of await this.allSubjects(db)) {
        if ((affected.get(s) ?? 0) < state.catalogPosition) affected.set(s, state.catalogPosition);
      }
    }
    const subjects = [...affected.keys()];
    const unknownPlans: Array<{ subject: string; plans: Array<string | null> }> = [];
    for (let i = 0; i < subjects.length; i += PAGE) {
      const page = subjects.slice(i, i + PAGE);
      const sources = await this.recompute(db, page, state.rows, state.subs, state.catalog, affected);
      sources.forEach((src, k) => {
        if (src.unknown_plans.length > 0) unknownPlans.push({ subject: page[k]!, plans: src.unknown_plans.map((u) => u.plan) });
      });
    }
    return { subjects, catalogChanged: state.catalogPosition > 0, unknownPlans };
  }

  /**
   * Folds the log up to `upTo` in memory, writing nothing: reads the next batch while folding
   * the current one. Stops with an AbortError when `signal` is aborted.
   */
  async fold(db: pg.ClientBase, options: FoldOptions = {}): Promise<FoldedModel> {
    const batchSize = options.batchSize ?? 10_000;
    const upTo = options.upTo ?? Number.MAX_SAFE_INTEGER;
    const state: FoldState = {
      catalog: EMPTY_CATALOG,
      catalogPosition: 0,
      subs: new Map(),
      rows: new Map(),
      dirtySubs: new Set(),
      touched: new Map(),
    };
    let position = 0;
    let next = readForRebuild(db, 0, Math.min(batchSize, upTo));
    for (;;) {
      const batch = (await next).filter((e) => e.position <= upTo);
      if (batch.length === 0) break;
      options.signal?.throwIfAborted();
      position = batch[batch.length - 1]!.position;
      // Ask for the next batch before folding this one: the server works while we fold.
      next = position < upTo ? readForRebuild(db, position, Math.min(batchSize, upTo - position)) : Promise.resolve([]);
      // In slices, yielding between them: a rebuild inside a serving process must not hold
      // its event loop (and every request waiting on it) for a whole batch.
      for (let i = 0; i < batch.length; i += FOLD_SLICE) {
        if (i > 0) await yieldToEventLoop();
        foldEvents(state, i === 0 && batch.length <= FOLD_SLICE ? batch : batch.slice(i, i + FOLD_SLICE), readSubscriptionRecordedData);
      }
      options.onBatch?.(position);
    }
    await next.catch(() => undefined);
    return { position, state };
  }

  /** Writes a folded model into EMPTY tables (this projection's), each fold once. */
  async write(db: pg.ClientBase, folded: FoldedModel, signal?: AbortSignal): Promise<void> {
    const { state } = folded;
    // Two pages in flight on the one session: the next page is built while the server
    // inserts this one (pg sends queued statements in order).
    const queue = new WriteQueue(2);
    try {
      const folds = [...state.subs.values()];
      for (let i = 0; i < folds.length; i += PAGE) {
        signal?.throwIfAborted();
        await queue.push(this.writeSubscriptions(db, folds.slice(i, i + PAGE)));
      }
      if (state.catalogPosition > 0) await queue.push(this.writeCatalog(db, state.catalog, state.catalogPosition));
      const bySubject = subscriptionsBySubject(state);
      const subjects = [...state.touched.keys()];
      const positions = new Map(subjects.map((s) => [s, Math.max(state.touched.get(s)!, state.catalogPosition)]));
      for (let i = 0; i < subjects.length; i += PAGE) {
        signal?.throwIfAborted();
        const page = subjects.slice(i, i + PAGE);
        const sources = page.map((s) => this.sourcesOf(s, bySubject.get(s) ?? [], state.rows.get(s), state.catalog));
        await queue.push(this.writeSubjects(db, page, state.rows, sources, positions));
      }
    } catch (err) {
      await queue.drain().catch(() => undefined);
      throw err;
    }
    await queue.drain();
  }

  /**
   * The entitlement sources of every subject the folded log touched, by subject: under the
   * catalog the log had published by then, or under `catalog` instead (a what-if; the folds of
   * subscriptions and grants do not depend on the catalog, so one fold serves both).
   */
  sources(folded: FoldedModel, catalog: Catalog = folded.state.catalog): Map<string, EntitlementSources> {
    const { state } = folded;
    const bySubject = subscriptionsBySubject(state);
    const out = new Map<string, EntitlementSources>();
    for (const subject of state.touched.keys()) {
      out.set(subject, this.sourcesOf(subject, bySubject.get(subject) ?? [], state.rows.get(subject), catalog));
    }
    return out;
  }

  /**
   * Builds the model from the whole log into EMPTY tables: `fold`, then `write`. The result
   * is the same as `apply` over the same events in any batching. Returns the last position.
   */
  async rebuild(db: pg.ClientBase, options: FoldOptions = {}): Promise<number> {
    const folded = await this.fold(db, options);
    await this.write(db, folded, options.signal);
    return folded.position;
  }

  /**
   * Recomputes and stores the sources of `subjects` from their subscriptions' folds: those of
   * this batch from memory (`held`, already written), the others read once. Most subjects have
   * one subscription, which this batch touched, so most folds are not read back.
   */
  private async recompute(
    db: pg.ClientBase,
    subjects: string[],
    known: Map<string, SubjectRow>,
    held: ReadonlyMap<string, SubscriptionFold>,
    catalog: Catalog,
    positions: Map<string, number>,
  ): Promise<EntitlementSources[]> {
    if (subjects.length === 0) return [];
    const missing = subjects.filter((s) => !known.has(s));
    for (const [s, row] of await this.loadSubjects(db, missing)) known.set(s, row);
    const { rows } = await db.query<{ key: string; subject: string }>(
      `SELECT key, subject FROM ${this.tables.subscriptions} WHERE subject = ANY($1::text[])`,
      [subjects],
    );
    const others = await this.loadSubscriptionsByKey(db, rows.filter((r) => !held.has(r.key)).map((r) => r.key));
    const bySubject = new Map<string, SubscriptionFold[]>();
    for (const r of rows) {
      const fold = held.get(r.key) ?? others.get(r.key);
      if (fold === undefined) continue; // folds are never deleted; read in the same transaction
      const list = bySubject.get(r.subject) ?? [];
      list.push(fold);
      bySubject.set(r.subject, list);
    }
    const sources = subjects.map((subject) => this.sourcesOf(subject, bySubject.get(subject) ?? [], known.get(subject), catalog));
    await this.writeSubjects(db, subjects, known, sources, positions);
    return sources;
  }

  private sourcesOf(subject: string, subscriptions: SubscriptionFold[], row: SubjectRow | undefined, catalog: Catalog): EntitlementSources {
    return entitlementSources(
      { subject, subscriptions, grants: row?.grants ?? null, provider_features: row?.providerFeatures ?? null },
      catalog,
      this.policy,
    );
  }

  private async writeSubjects(
    db: pg.ClientBase,
    subjects: string[],
    known: Map<string, SubjectRow>,
    sources: EntitlementSources[],
    positions: Map<string, number>,
  ): Promise<void> {
    const t = this.tables;
    // One JSON document per statement: cheaper on both sides than arrays of escaped JSON.
    await db.query(
      `INSERT INTO ${t.subjects} (subject, grants, provider_features, api_keys, sources, position)
       SELECT subject, grants, provider_features, api_keys, sources, position
         FROM jsonb_to_recordset($1::jsonb)
           AS x(subject text, grants jsonb, provider_features jsonb, api_keys jsonb, sources jsonb, position bigint)
       ON CONFLICT (subject) DO UPDATE
         SET grants = EXCLUDED.grants, provider_features = EXCLUDED.provider_features,
             api_keys = EXCLUDED.api_keys, sources = EXCLUDED.sources, position = EXCLUDED.position`,
      [
        JSON.stringify(
          subjects.map((s, i) => ({
            subject: s,
            grants: known.get(s)?.grants ?? initialSubjectGrants(s),
            provider_features: known.get(s)?.providerFeatures ?? initialProviderFeatures(s),
            api_keys: known.get(s)?.apiKeys ?? initialSubjectApiKeys(s),
            sources: sources[i],
            position: positions.get(s)!,
          })),
        ),
      ],
    );
  }

  private async writeCatalog(db: pg.ClientBase, catalog: Catalog, position: number): Promise<void> {
    await db.query(
      `INSERT INTO ${this.tables.catalog} (singleton, catalog, position) VALUES (true, $1, $2)
       ON CONFLICT (singleton) DO UPDATE SET catalog = EXCLUDED.catalog, position = EXCLUDED.position`,
      [JSON.stringify(catalog), position],
    );
  }

  private async loadCatalog(db: pg.ClientBase): Promise<Catalog> {
    const { rows } = await db.query<{ catalog: Catalog }>(`SELECT catalog FROM ${this.tables.catalog}`);
    return rows[0]?.catalog ?? EMPTY_CATALOG;
  }

  private async loadSubscriptionsByKey(db: pg.ClientBase, keys: string[]): Promise<Map<string, SubscriptionFold>> {
    if (keys.length === 0) return new Map();
    const { rows } = await db.query<{ key: string; fold: SubscriptionFold }>(
      `SELECT key, fold FROM ${this.tables.subscriptions} WHERE key = ANY($1::text[])`,
      [keys],
    );
    return new Map(rows.map((r) => [r.key, r.fold]));
  }

  private async loadSubjects(db: pg.ClientBase, subjects: string[]): Promise<Map<string, SubjectRow>> {
    if (subjects.length === 0) return new Map();
    const { rows } = await db.query<{
      subject: string;
      grants: SubjectGrantsFold | null;
      provider_features: ProviderFeaturesFold | null;
      api_keys: SubjectApiKeysFold | null;
    }>(
      `SELECT subject, grants, provider_features, api_keys FROM ${this.tables.subjects} WHERE subject = ANY($1::text[])`,
      [subjects],
    );
    return new Map(
      rows.map((r) => [
        r.subject,
        {
          grants: r.grants ?? initialSubjectGrants(r.subject),
          providerFeatures: r.provider_features ?? initialProviderFeatures(r.subject),
          apiKeys: r.api_keys ?? initialSubjectApiKeys(r.subject),
        },
      ]),
    );
  }

  private async writeSubscriptions(db: pg.ClientBase, folds: SubscriptionFold[]): Promise<void> {
    if (folds.length === 0) return;
    await db.query(
      `INSERT INTO ${this.tables.subscriptions} (key, subject, fold)
       SELECT key, subject, fold FROM jsonb_to_recordset($1::jsonb) AS x(key text, subject text, fold jsonb)
       ON CONFLICT (key) DO UPDATE SET subject = EXCLUDED.subject, fold = EXCLUDED.fold`,
      [JSON.stringify(folds.map((f) => ({ key: f.key, subject: subscriptionSubject(f), fold: f })))],
    );
  }

  private async allSubjects(db: pg.ClientBase): Promise<string[]> {
    const t = this.tables;
    const { rows } = await db.query<{ subject: string }>(
      `SELECT subject FROM ${t.subjects}
       UNION SELECT subject FROM ${t.subscriptions} WHERE subject IS NOT NULL`,
    );
    return rows.map((r) => r.subject);
  }
}

/** Statements in flight on one session, at most `depth`: `push` waits for the oldest beyond it. */
class WriteQueue {
  private readonly pending: Promise<void>[] = [];
  constructor(private readonly depth: number) {}

  async push(write: Promise<void>): Promise<void> {
    // Handled here too: a later write fails (aborted transaction) while an earlier one is awaited.
    write.catch(() => undefined);
    this.pending.push(write);
    while (this.pending.length >= this.depth) await this.pending.shift();
  }

  /** Waits for every write still in flight; the first failure, if any, is thrown. */
  async drain(): Promise<void> {
    const rest = this.pending.splice(0);
    const results = await Promise.allSettled(rest);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

/**
 * The log as the policy sees it, for a rebuild: only the columns the folds use, the recording
 * time already in ISO form (no Date round trip per event).
 */
async function readForRebuild(db: pg.ClientBase, after: number, limit: number): Promise<LedgerEvent[]> {
  const { rows } = await db.query<LedgerEvent>(
    `SELECT position, type, source, source_event_id, data,
            to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS recorded_at
       FROM events WHERE position > $1 ORDER BY position LIMIT $2`,
    [after, limit],
  );
  return rows;
}

export interface FoldOptions {
  /** The last position to fold (default: the head when reading ends). */
  readonly upTo?: number;
  readonly batchSize?: number;
  /** Called after each batch with the position folded so far. */
  readonly onBatch?: (position: number) => void;
  readonly signal?: AbortSignal;
}

/** The log folded in memory up to `position` (opaque; see `EntitlementProjection.fold`). */
export interface FoldedModel {
  readonly position: number;
  /** @internal */
  readonly state: FoldState;
}

/** In-memory fold state of a batch (apply) or of the whole log (rebuild). */
interface FoldState {
  catalog: Catalog;
  /** Position of the last catalog event folded (0: none). */
  catalogPosition: number;
  readonly subs: Map<string, SubscriptionFold>;
  readonly rows: Map<string, SubjectRow>;
  readonly dirtySubs: Set<string>;
  /** Subject → position of the last event that touched it (the same whatever the batching). */
  readonly touched: Map<string, number>;
}

function subscriptionsBySubject(state: FoldState): Map<string, SubscriptionFold[]> {
  const bySubject = new Map<string, SubscriptionFold[]>();
  for (const f of state.subs.values()) {
    const subject = subscriptionSubject(f);
    if (subject === null) continue;
    const list = bySubject.get(subject) ?? [];
    list.push(f);
    bySubject.set(subject, list);
  }
  return bySubject;
}

function rowFor(rows: Map<string, SubjectRow>, subject: string): SubjectRow {
  let row = rows.get(subject);
  if (!row) {
    row = {
      grants: initialSubjectGrants(subject),
      providerFeatures: initialProviderFeatures(subject),
      apiKeys: initialSubjectApiKeys(subject),
    };
    rows.set(subject, row);
  }
  return row;
}

/**
 * Folds events, in position order, into the state with the pure policy. `parse` reads a
 * subscription payload: cached where the caller has parsed it already (apply), plain where
 * each payload is seen once (a rebuild).
 */
function foldEvents(state: FoldState, ledger: readonly LedgerEvent[], parse: (data: unknown) => SubscriptionRecordedData | null): void {
  for (const e of ledger) {
    if (isApiKeyEventType(e.type)) {
      // Not an entitlement: the keys ride along in the subject's row (and its shard entry).
      const subject = (e.data as { subject?: unknown } | null)?.subject;
      if (typeof subject !== 'string') continue;
      const row = rowFor(state.rows, subject);
      row.apiKeys = evolveSubjectApiKeys(row.apiKeys, e);
      state.touched.set(subject, e.position);
      continue;
    }
    const kind = policyEventKind(e.type);
    switch (kind) {
      case 'catalog':
        state.catalog = evolveCatalog(state.catalog, e).fold;
        state.catalogPosition = e.position;
        break;
      case 'subscription': {
        const data = parse(e.data);
        if (!data) break;
        const key = subscriptionKey(e.source, data.subscription.id);
        const before = state.subs.get(key);
        const fold = evolveSubscriptionFold(before, e, data);
        if (!fold) break;
        const from = before ? subscriptionSubject(before) : null;
        const to = subscriptionSubject(fold);
        if (from) state.touched.set(from, e.position);
        if (to) state.touched.set(to, e.position);
        state.subs.set(key, fold);
        state.dirtySubs.add(key);
        break;
      }
      case 'grant': {
        const subject = (e.data as { subject: string }).subject;
        const row = rowFor(state.rows, subject);
        row.grants = evolveSubjectGrants(row.grants, e).fold;
        state.touched.set(subject, e.position);
        break;
      }
      case 'provider_features': {
        const subject = (e.data as { subject: string }).subject;
        const row = rowFor(state.rows, subject);
        row.providerFeatures = evolveProviderFeatures(row.providerFeatures, e).fold;
        state.touched.set(subject, e.position);
        break;
      }
      case 'ignored':
        break;
      default: {
        const never: never = kind;
        throw new Error(`unhandled event kind ${String(never)}`);
      }
    }
  }
}
