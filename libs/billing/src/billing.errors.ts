export type SignatureErrorCode =
  | 'SIGNATURE_MISSING'
  | 'SIGNATURE_MALFORMED'
  | 'SIGNATURE_INVALID'
  | 'SIGNATURE_STALE';

export type BillingErrorCode = SignatureErrorCode | 'PAYLOAD_INVALID';

/** Base class of every error this library throws on purpose. */
export class BillingError extends Error {
  constructor(
    readonly code: BillingErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A delivery whose signature header does not prove it came from the sender.
 * Every subclass means "not authenticated" (HTTP 401).
 */
export class SignatureError extends BillingError {
  constructor(
    override readonly code: SignatureErrorCode,
    /** The header that was checked, e.g. `Stripe-Signature`. */
    readonly header: string,
    message: string,
  ) {
    super(code, message);
  }
}

/** The signature header is absent or empty. */
export class SignatureMissingError extends SignatureError {
  constructor(header: string) {
    super('SIGNATURE_MISSING', header, `the ${header} header is missing`);
  }
}

/** The signature header cannot be parsed. */
export class SignatureMalformedError extends SignatureError {
  constructor(header: string, detail: string) {
    super('SIGNATURE_MALFORMED', header, `the ${header} header is malformed: ${detail}`);
  }
}

/** No signature in the header matches the body under any configured secret. */
export class SignatureInvalidError extends SignatureError {
  constructor(header: string, detail: string) {
    super('SIGNATURE_INVALID', header, `the ${header} header is not valid: ${detail}`);
  }
}

/** The signature is authentic but its timestamp is outside the tolerance. */
export class SignatureStaleError extends SignatureError {
  constructor(
    header: string,
    /** Signed timestamp, unix seconds. */
    readonly timestamp: number,
    readonly toleranceSeconds: number,
  ) {
    super(
      'SIGNATURE_STALE',
      header,
      `the ${header} timestamp ${timestamp} is more than ${toleranceSeconds} s away from the current time`,
    );
  }
}

/** One reason why a payload was refused; `path` is dotted (`data.object.items`), `''` for the root. */
export interface PayloadIssue {
  readonly path: string;
  readonly message: string;
}

/** The body is not JSON or does not have the shape the provider documents (HTTP 400). */
export class PayloadInvalidError extends BillingError {
  constructor(readonly issues: readonly PayloadIssue[]) {
    super(
      'PAYLOAD_INVALID',
      issues.length === 0
        ? 'the payload is invalid'
        : `the payload is invalid: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`,
    );
  }
}
