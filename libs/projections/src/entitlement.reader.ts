import type pg from 'pg';
import {
  evaluateEntitlements,
  replaySubject,
  subjectHistory,
  type EntitlementPolicy,
  type EntitlementSources,
  type Entitlements,
  type FeatureChange,
  type EntitlementNote,
} from '@app/domain';
import { EVENT_COLUMNS, toRecorded } from '@app/event-store';
import { toLedgerEvent } from './entitlement.projection.js';
import { LIVE_TABLES, type EntitlementTables } from './entitlement.tables.js';

/** CONTRACT.md's read answer. */
export interface EntitlementsAnswer extends Entitlements {
  readonly subject: string;
  /** The ledger position the answer reflects. */
  readonly position: number;
}

export interface HistoryAnswer {
  readonly subject: string;
  readonly events: ReadonlyArray<{
    position: number;
    type: string;
    source: string;
    source_event_id: string;
    occurred_at: string | null;
    recorded_at: string;
    changes: readonly FeatureChange[];
    note: EntitlementNote | null;
  }>;
}

/** The stream every catalog publication is appended to. */
export const CATALOG_STREAM = 'catalog';

/** Reads an empty catalog of sources as "nothing granted". */
const NO_SOURCES: EntitlementSources = { plans: [], features: [], unknown_plans: [] };

/**
 * Answers entitlement reads: from the read model (current), or by replaying the subject's
 * slice of the log with the same pure functions (`?position=`, `?at=`, history).
 *
 * @example
 * const answer = await reader.current('org_42', new Date());
 */
export class EntitlementReader {
  constructor(
    private readonly pool: pg.Pool,
    private readonly policy: EntitlementPolicy,
    private readonly checkpointName = 'entitlements',
    private readonly tables: EntitlementTables = LIVE_TABLES,
  ) {}

  /** The read model at its checkpoint, evaluated at `now`. */
  async current(subject: string, now: Date): Promise<EntitlementsAnswer> {
    const { rows } = await this.pool.query<{ position: string | null; sources: EntitlementSources | null }>(
      `SELECT (SELECT position FROM projection_checkpoints WHERE name = $2) AS position,
              (SELECT sources FROM ${this.tables.subjects} WHERE subject = $1) AS sources`,
      [subject, this.checkpointName],
    );
    const row = rows[0];
    return {
      subject,
      position: Number(row?.position ?? 0),
      ...evaluateEntitlements(row?.sources ?? NO_SOURCES, now),
    };
  }

  /** The state right after `position`, evaluated at `at` (default: when that event was recorded). */
  async atPosition(subject: string, position: number, at?: Date): Promise<EntitlementsAnswer> {
    const events = await this.slice(subject, { position });
    const when = at ?? (await this.recordedAt(position));
    const r = replaySubject(events.map((e) => e.event), subject, this.policy, when);
    return { subject, position, plan: r.plan, features: r.features, valid_until: r.valid_until };
  }

  /** What the ledger had recorded by `at`, evaluated at `at`. */
  async atTime(subject: string, at: Date): Promise<EntitlementsAnswer> {
    const position = await this.positionAt(at);
    const events = position > 0 ? await this.slice(subject, { recordedBy: at }) : [];
    const r = replaySubject(events.map((e) => e.event), subject, this.policy, at);
    return { subject, position, plan: r.plan, features: r.features, valid_until: r.valid_until };
  }

  async history(subject: string): Promise<HistoryAnswer> {
    const recorded = await this.slice(subject, {});
    const byPosition = new Map(recorded.map((r) => [r.event.position, r]));
    const entries = subjectHistory(recorded.map((r) => r.event), subject, this.policy);
    return {
      subject,
      events: entries
        // Other subjects' subscription events are in the slice to fold moves; shown only
        // where they changed this subject (a subscription moving away).
        .filter((h) => byPosition.get(h.event.position)?.mine === true || h.changes.length > 0)
        .map((h) => ({
          position: h.event.position,
          type: h.event.type,
          source: h.event.source,
          source_event_id: h.event.source_event_id,
          occurred_at: byPosition.get(h.event.position)?.occurred_at ?? null,
          recorded_at: h.event.recorded_at,
          changes: h.changes,
          note: h.note,
        })),
    };
  }

  /** The position of the last event recorded by `at` (0 before the first). */
  async positionAt(at: Date): Promise<number> {
    const { rows } = await this.pool.query<{ position: string }>(
      // One backward step on the (recorded_at, position) index; ties take the highest position.
      'SELECT position FROM events WHERE recorded_at <= $1 ORDER BY recorded_at DESC, position DESC LIMIT 1',
      [at],
    );
    return Number(rows[0]?.position ?? 0);
  }

  /** When the event at `position` was recorded (epoch if there is none). */
  async recordedAt(position: number): Promise<Date> {
    const { rows } = await this.pool.query<{ recorded_at: Date }>('SELECT recorded_at FROM events WHERE position = $1', [position]);
    return rows[0]?.recorded_at ?? new Date(0);
  }

  /** The head of the log (for validating `?position=`). */
  async head(): Promise<number> {
    const { rows } = await this.pool.query<{ position: string }>('SELECT position FROM log_head');
    return Number(rows[0]?.position ?? 0);
  }

  /**
   * Every event a subject's entitlements depend on, up to a position or a recording time: its
   * own events, all events of subscriptions that were ever its (one may have moved), and
   * catalog publications.
   */
  private async slice(
    subject: string,
    opts: { position?: number; recordedBy?: Date },
  ): Promise<Array<{ event: ReturnType<typeof toLedgerEvent>; occurred_at: string | null; mine: boolean }>> {
    // Two statements, each a plain index lookup: the subject's subscription streams, then one
    // BitmapOr of the subject index and the stream index (a single joined query misplans).
    const streams = await this.pool.query<{ stream_id: string }>(
      `SELECT DISTINCT stream_id FROM events WHERE subject = $1 AND stream_id LIKE 'subscription:%'`,
      [subject],
    );
    const { rows } = await this.pool.query(
      `SELECT ${EVENT_COLUMNS} FROM events
        WHERE (subject = $1 OR stream_id = ANY($2::text[]))
          AND position <= $3 AND ($4::timestamptz IS NULL OR recorded_at <= $4)
        ORDER BY position`,
      [
        subject,
        [CATALOG_STREAM, ...streams.rows.map((r) => r.stream_id)],
        opts.position ?? Number.MAX_SAFE_INTEGER,
        opts.recordedBy ?? null,
      ],
    );
    return rows.map((r) => {
      const e = toRecorded(r);
      return {
        event: toLedgerEvent(e),
        occurred_at: e.occurredAt ? e.occurredAt.toISOString() : null,
        mine: e.subject === subject || e.streamId === CATALOG_STREAM,
      };
    });
  }
}
