import type pg from 'pg';
import {
  EMPTY_CATALOG,
  entitlementSources,
  evolveCatalog,
  evolveProviderFeatures,
  evolveSubjectGrants,
  evolveSubscription,
  initialProviderFeatures,
  initialSubjectGrants,
  parseSubscriptionRecordedData,
  policyEventKind,
  subscriptionKey,
  subscriptionSubject,
  type Catalog,
  type EntitlementPolicy,
  type EntitlementSources,
  type LedgerEvent,
  type ProviderFeaturesFold,
  type SubjectGrantsFold,
  type SubscriptionFold,
} from '@app/domain';
import type { RecordedEvent } from '@app/event-store';
import { LIVE_TABLES, type EntitlementTables } from './entitlement.tables.js';

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
}

export interface ApplyResult {
  /** Subjects whose sources were recomputed in this batch. */
  readonly subjects: readonly string[];
  readonly catalogChanged: boolean;
}

/** Subjects recomputed per statement when a catalog change touches everyone. */
const PAGE = 2_000;

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
    const t = this.tables;
    const ledger = events.map(toLedgerEvent);

    // What this batch touches, so each table is read once.
    const subKeys = new Set<string>();
    const directSubjects = new Set<string>();
    for (const e of ledger) {
      const kind = policyEventKind(e.type);
      if (kind === 'subscription') {
        const data = parseSubscriptionRecordedData(e.data);
        if (data) subKeys.add(subscriptionKey(e.source, data.subscription.id));
      } else if (kind === 'grant' || kind === 'provider_features') {
        const subject = (e.data as { subject?: unknown } | null)?.subject;
        if (typeof subject === 'string') directSubjects.add(subject);
      }
    }

    let catalog = await this.loadCatalog(db);
    const subs = await this.loadSubscriptionsByKey(db, [...subKeys]);
    const subjectRows = await this.loadSubjects(db, [...directSubjects]);
    const dirtySubs = new Set<string>();
    // Subject → position of the last event that touched it (the same whatever the batching).
    const affected = new Map<string, number>();
    let catalogPosition = 0;

    for (const e of ledger) {
      const kind = policyEventKind(e.type);
      switch (kind) {
        case 'catalog':
          catalog = evolveCatalog(catalog, e).fold;
          catalogPosition = e.position;
          break;
        case 'subscription': {
          const data = parseSubscriptionRecordedData(e.data);
          if (!data) break;
          const key = subscriptionKey(e.source, data.subscription.id);
          const before = subs.get(key);
          const { fold } = evolveSubscription(before, e);
          if (!fold) break;
          const from = before ? subscriptionSubject(before) : null;
          const to = subscriptionSubject(fold);
          if (from) affected.set(from, e.position);
          if (to) affected.set(to, e.position);
          subs.set(key, fold);
          dirtySubs.add(key);
          break;
        }
        case 'grant': {
          const subject = (e.data as { subject: string }).subject;
          const row = this.rowFor(subjectRows, subject);
          row.grants = evolveSubjectGrants(row.grants, e).fold;
          affected.set(subject, e.position);
          break;
        }
        case 'provider_features': {
          const subject = (e.data as { subject: string }).subject;
          const row = this.rowFor(subjectRows, subject);
          row.providerFeatures = evolveProviderFeatures(row.providerFeatures, e).fold;
          affected.set(subject, e.position);
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

    await this.writeSubscriptions(db, [...dirtySubs].map((k) => subs.get(k)!));
    if (catalogPosition > 0) {
      await db.query(
        `INSERT INTO ${t.catalog} (singleton, catalog, position) VALUES (true, $1, $2)
         ON CONFLICT (singleton) DO UPDATE SET catalog = EXCLUDED.catalog, position = EXCLUDED.position`,
        [JSON.stringify(catalog), catalogPosition],
      );
      // A catalog change touches every subject; later events of this batch touch theirs again.
      const all = await this.allSubjects(db);
      for (const s of all) if ((affected.get(s) ?? 0) < catalogPosition) affected.set(s, catalogPosition);
    }
    const subjects = [...affected.keys()];
    for (let i = 0; i < subjects.length; i += PAGE) {
      await this.recompute(db, subjects.slice(i, i + PAGE), subjectRows, catalog, affected);
    }
    return { subjects, catalogChanged: catalogPosition > 0 };
  }

  /** Recomputes and stores the sources of `subjects` from the folds now in the tables. */
  private async recompute(
    db: pg.ClientBase,
    subjects: string[],
    known: Map<string, SubjectRow>,
    catalog: Catalog,
    positions: Map<string, number>,
  ): Promise<void> {
    if (subjects.length === 0) return;
    const t = this.tables;
    const missing = subjects.filter((s) => !known.has(s));
    for (const [s, row] of await this.loadSubjects(db, missing)) known.set(s, row);
    const { rows } = await db.query<{ subject: string; fold: SubscriptionFold }>(
      `SELECT subject, fold FROM ${t.subscriptions} WHERE subject = ANY($1::text[])`,
      [subjects],
    );
    const bySubject = new Map<string, SubscriptionFold[]>();
    for (const r of rows) {
      const list = bySubject.get(r.subject) ?? [];
      list.push(r.fold);
      bySubject.set(r.subject, list);
    }
    const sources: EntitlementSources[] = subjects.map((subject) => {
      const row = known.get(subject);
      return entitlementSources(
        {
          subject,
          subscriptions: bySubject.get(subject) ?? [],
          grants: row?.grants ?? null,
          provider_features: row?.providerFeatures ?? null,
        },
        catalog,
        this.policy,
      );
    });
    await db.query(
      `INSERT INTO ${t.subjects} (subject, grants, provider_features, sources, position)
       SELECT * FROM unnest($1::text[], $2::jsonb[], $3::jsonb[], $4::jsonb[], $5::bigint[])
       ON CONFLICT (subject) DO UPDATE
         SET grants = EXCLUDED.grants, provider_features = EXCLUDED.provider_features,
             sources = EXCLUDED.sources, position = EXCLUDED.position`,
      [
        subjects,
        subjects.map((s) => JSON.stringify(known.get(s)?.grants ?? initialSubjectGrants(s))),
        subjects.map((s) => JSON.stringify(known.get(s)?.providerFeatures ?? initialProviderFeatures(s))),
        sources.map((s) => JSON.stringify(s)),
        subjects.map((s) => positions.get(s)!),
      ],
    );
  }

  private rowFor(rows: Map<string, SubjectRow>, subject: string): SubjectRow {
    let row = rows.get(subject);
    if (!row) {
      row = { grants: initialSubjectGrants(subject), providerFeatures: initialProviderFeatures(subject) };
      rows.set(subject, row);
    }
    return row;
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
    const { rows } = await db.query<{ subject: string; grants: SubjectGrantsFold | null; provider_features: ProviderFeaturesFold | null }>(
      `SELECT subject, grants, provider_features FROM ${this.tables.subjects} WHERE subject = ANY($1::text[])`,
      [subjects],
    );
    return new Map(
      rows.map((r) => [
        r.subject,
        {
          grants: r.grants ?? initialSubjectGrants(r.subject),
          providerFeatures: r.provider_features ?? initialProviderFeatures(r.subject),
        },
      ]),
    );
  }

  private async writeSubscriptions(db: pg.ClientBase, folds: SubscriptionFold[]): Promise<void> {
    if (folds.length === 0) return;
    await db.query(
      `INSERT INTO ${this.tables.subscriptions} (key, subject, fold)
       SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[])
       ON CONFLICT (key) DO UPDATE SET subject = EXCLUDED.subject, fold = EXCLUDED.fold`,
      [folds.map((f) => f.key), folds.map((f) => subscriptionSubject(f)), folds.map((f) => JSON.stringify(f))],
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
