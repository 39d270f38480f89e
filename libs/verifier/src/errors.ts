/** Stable codes of every error the verifier throws or reports; messages are not stable. */
export type VerifierErrorCode =
  | OptionsErrorCode
  | LedgerErrorCode
  | SnapshotRejectedCode
  | TokenErrorCode;

export type OptionsErrorCode = 'invalid_options';

export type LedgerErrorCode =
  | 'ledger_unavailable'
  | 'ledger_unauthorized'
  | 'ledger_http_error'
  | 'circuit_open'
  | 'response_too_large';

export type SnapshotRejectedCode =
  | 'manifest_invalid'
  | 'manifest_too_large'
  | 'unexpected_typ'
  | 'unknown_key'
  | 'signature_invalid'
  | 'issuer_mismatch'
  | 'rollback'
  | 'equivocation'
  | 'broken_chain'
  | 'manifest_from_future'
  | 'shard_too_large'
  | 'shard_hash_mismatch'
  | 'shard_invalid'
  | 'cache_invalid';

export type TokenErrorCode =
  | 'token_invalid'
  | 'token_unknown_key'
  | 'token_signature_invalid'
  | 'token_issuer_mismatch'
  | 'token_expired'
  | 'token_not_yet_valid';

/**
 * Base of every verifier error. Branch on `code` (stable), never on `message`.
 *
 * @example
 * ```ts
 * try { await verifier.verifyToken(jwt) } catch (e) {
 *   if (e instanceof VerifierError && e.code === 'token_expired') refresh()
 * }
 * ```
 */
export abstract class VerifierError extends Error {
  abstract readonly code: VerifierErrorCode;
}

/** `createVerifier` was given options it cannot work with. */
export class InvalidOptionsError extends VerifierError {
  readonly code: OptionsErrorCode = 'invalid_options';
  constructor(detail: string) {
    super(`invalid verifier options: ${detail}`);
    this.name = 'InvalidOptionsError';
  }
}

/** The ledger could not be reached or answered something other than what was asked. */
export class LedgerError extends VerifierError {
  constructor(
    readonly code: LedgerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LedgerError';
  }
}

/** A manifest, shard or cached state failed verification; the held state was kept. */
export class SnapshotRejectedError extends VerifierError {
  constructor(
    readonly code: SnapshotRejectedCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SnapshotRejectedError';
  }
}

/** A capability token is not acceptable (format, key, signature, issuer or time). */
export class TokenError extends VerifierError {
  constructor(
    readonly code: TokenErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TokenError';
  }
}
