/**
 * What the pure functions see of a recorded event: the log's envelope without IO types.
 * `position` orders the log; `occurred_at` inside `data` orders provider states.
 */
export interface LedgerEvent<Type extends string = string, Data = unknown> {
  readonly type: Type;
  readonly data: Data;
  readonly position: number;
  readonly source: string;
  readonly source_event_id: string;
  /** When the ledger recorded it (ISO-8601). */
  readonly recorded_at: string;
}
