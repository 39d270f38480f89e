/** One failed check of a request body or parameter. */
export interface FieldError {
  readonly path: string;
  readonly message: string;
}

/** Errors of the HTTP layer, each with a stable `code`; the filter maps codes to statuses. */
export class RequestError extends Error {
  constructor(
    readonly code:
      | 'UNAUTHENTICATED'
      | 'FORBIDDEN'
      | 'VALIDATION_FAILED'
      | 'NOT_FOUND'
      | 'CONFLICT'
      | 'NOT_READY',
    message: string,
    readonly errors?: readonly FieldError[],
    /** Extra members of the problem object (RFC 9457 extensions), e.g. the job in the way. */
    readonly extensions?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class UnauthenticatedError extends RequestError {
  constructor(message = 'a valid credential is required') {
    super('UNAUTHENTICATED', message);
  }
}

export class ForbiddenError extends RequestError {
  constructor(message: string) {
    super('FORBIDDEN', message);
  }
}

export class ValidationError extends RequestError {
  constructor(message: string, errors: readonly FieldError[]) {
    super('VALIDATION_FAILED', message, errors);
  }
}

export class NotFoundError extends RequestError {
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}

/** The request conflicts with the current state (e.g. a rebuild already running). */
export class ConflictError extends RequestError {
  constructor(message: string, extensions?: Record<string, unknown>) {
    super('CONFLICT', message, undefined, extensions);
  }
}

/** Zod-style issues to our `{path, message}` list, with JSON-pointer-like dotted paths. */
export function fieldErrors(
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
  prefix: readonly PropertyKey[] = [],
): FieldError[] {
  return issues.map((i) => ({
    path: [...prefix, ...i.path].map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[') || '(body)',
    message: i.message,
  }));
}

/** The instance cannot answer this yet (e.g. nothing published); retry shortly. */
export class NotReadyError extends RequestError {
  constructor(message: string) {
    super('NOT_READY', message);
  }
}
