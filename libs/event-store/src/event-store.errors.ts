export type EventStoreErrorCode =
  | 'WRONG_EXPECTED_VERSION'
  | 'IDEMPOTENCY_CONFLICT'
  | 'DATABASE_UNAVAILABLE'
  | 'APPEND_QUEUE_FULL'
  | 'APPEND_REJECTED';

/** Base class of every error the event store throws on purpose. */
export class EventStoreError extends Error {
  constructor(
    readonly code: EventStoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class WrongExpectedVersionError extends EventStoreError {
  constructor(
    readonly streamId: string,
    readonly expected: number | 'any' | 'no_stream',
    readonly actual: number,
  ) {
    super(
      'WRONG_EXPECTED_VERSION',
      `stream ${streamId} is at version ${actual}, expected ${String(expected)}`,
    );
  }
}

/** The same (source, source event id) was recorded before with a different body. */
export class IdempotencyConflictError extends EventStoreError {
  constructor(
    readonly source: string,
    readonly sourceEventId: string,
    readonly position: number | null,
  ) {
    super(
      'IDEMPOTENCY_CONFLICT',
      position === null
        ? `event ${sourceEventId} from ${source} appears twice in one request with different bodies`
        : `event ${sourceEventId} from ${source} was recorded at position ${position} with a different body`,
    );
  }
}

/** PostgreSQL cannot be reached or is shutting down; the caller should retry later. */
export class DatabaseUnavailableError extends EventStoreError {
  constructor(cause?: unknown) {
    super('DATABASE_UNAVAILABLE', 'the database is unavailable', { cause });
  }
}

/**
 * More events wait to be written than the store queues (`maxQueuedEvents`): events arrive
 * faster than the database takes them. Nothing of the request was queued; the caller should
 * retry shortly. Refusing it keeps the wait of those queued, and the memory they hold, bounded.
 */
export class AppendQueueFullError extends EventStoreError {
  constructor(
    readonly queued: number,
    readonly limit: number,
  ) {
    super('APPEND_QUEUE_FULL', `${queued} events are waiting to be written (the limit is ${limit}); retry shortly`);
  }
}

/** PostgreSQL refused the data itself (it would refuse it again). */
export class AppendRejectedError extends EventStoreError {
  constructor(message: string, cause?: unknown) {
    super('APPEND_REJECTED', message, { cause });
  }
}
