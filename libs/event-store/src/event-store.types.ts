/** How an append constrains the current version of its stream. */
export type ExpectedVersion =
  | number
  /** Any version, including a stream that does not exist yet. */
  | 'any'
  /** The stream must not exist yet. */
  | 'no_stream';

/** An event to append. `source` + `sourceEventId` identify it forever (dedupe key). */
export interface NewEvent {
  readonly streamId: string;
  readonly type: string;
  readonly source: string;
  readonly sourceEventId: string;
  /** The subject the event is about, if any (indexed for history and time travel). */
  readonly subject?: string | null;
  /** SHA-256 of what counts as "the same body" for this source (32 bytes). */
  readonly payloadHash: Buffer;
  /** Any JSON value but null, or its JSON text already written (`JsonText`). */
  readonly data: unknown;
  readonly metadata?: Record<string, unknown>;
  /** The raw delivery, kept verbatim for audit. */
  readonly raw?: string | null;
  /** A Date, or an ISO-8601 instant with its offset (what a validated body already holds). */
  readonly occurredAt?: Date | string | null;
}

/**
 * An event's data given as JSON text rather than as a value, for a caller that serialised it
 * anyway: written to the log as it is (after the U+0000 rule every value goes through), not
 * serialised a second time. The text must be exactly one JSON value, as `JSON.stringify` writes
 * one; the store does not parse it. A text that does not parse, or that holds several values,
 * is refused by the database (the group's data must parse and hold one value per event), and
 * its append fails alone with `AppendRejectedError`, writing nothing.
 */
export class JsonText {
  constructor(readonly text: string) {}
}

/** A unit of work committed all-or-nothing. */
export interface AppendRequest {
  readonly events: readonly NewEvent[];
  /** Per stream id; streams not listed accept any version. */
  readonly expectedVersions?: Readonly<Record<string, ExpectedVersion>>;
  /**
   * Queued even when more events wait than the store's `maxQueuedEvents` (default false): for
   * the service's own few events that record a change already made (admin actions: a revoked
   * token, a rotated key), which must not be refused for load. Ingest is refused instead.
   */
  readonly bypassQueueLimit?: boolean;
}

export interface AppendedEvent {
  readonly source: string;
  readonly sourceEventId: string;
  readonly position: number;
  readonly streamVersion: number;
  readonly duplicate: boolean;
}

export interface AppendResult {
  readonly events: readonly AppendedEvent[];
  /** The log head after the transaction that carried this append. */
  readonly head: number;
}

export interface RecordedEvent<Data = unknown> {
  readonly position: number;
  readonly streamId: string;
  readonly streamVersion: number;
  readonly type: string;
  readonly source: string;
  readonly sourceEventId: string;
  readonly subject: string | null;
  readonly data: Data;
  readonly metadata: Record<string, unknown>;
  readonly occurredAt: Date | null;
  readonly recordedAt: Date;
}
