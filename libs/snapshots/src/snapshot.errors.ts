export type SnapshotErrorCode =
  | 'invalid_argument'
  | 'invalid_subject_entry'
  | 'invalid_shard'
  | 'ver_regression'
  | 'invalid_manifest'
  | 'key_file_insecure'
  | 'key_file_invalid'
  | 'key_ring_invalid'
  | 'key_rotation_refused';

/**
 * Base of every error this library throws on purpose; `code` is stable, messages are not.
 * No message ever carries key material.
 */
export abstract class SnapshotError extends Error {
  abstract readonly code: SnapshotErrorCode;
}

/** A caller passed a value outside the function's domain (a programming error, never data). */
export class InvalidArgumentError extends SnapshotError {
  readonly code = 'invalid_argument' as const;
  constructor(detail: string) {
    super(detail);
    this.name = 'InvalidArgumentError';
  }
}

/** A subject entry that cannot be published as given (bad date, value or API key hash). */
export class InvalidSubjectEntryError extends SnapshotError {
  readonly code = 'invalid_subject_entry' as const;
  constructor(detail: string) {
    super(`invalid subject entry: ${detail}`);
    this.name = 'InvalidSubjectEntryError';
  }
}

/** Shard bytes that are not in the canonical layout of docs/snapshot-format.md. */
export class InvalidShardError extends SnapshotError {
  readonly code = 'invalid_shard' as const;
  constructor(detail: string) {
    super(`invalid shard: ${detail}`);
    this.name = 'InvalidShardError';
  }
}

/** A ledger position lower than one already published: verifiers would reject it as a rollback. */
export class VerRegressionError extends SnapshotError {
  readonly code = 'ver_regression' as const;
  constructor(
    readonly held: number,
    readonly given: number,
  ) {
    super(`ver ${given} is lower than the ver ${held} already published`);
    this.name = 'VerRegressionError';
  }
}

/** Manifest claims or a compact JWS that do not follow docs/snapshot-format.md. */
export class InvalidManifestError extends SnapshotError {
  readonly code = 'invalid_manifest' as const;
  constructor(detail: string) {
    super(`invalid manifest: ${detail}`);
    this.name = 'InvalidManifestError';
  }
}

/** A private key file (or its directory) that group or others may access. */
export class KeyFileInsecureError extends SnapshotError {
  readonly code = 'key_file_insecure' as const;
  constructor(
    readonly path: string,
    readonly mode: number,
    kind: 'file' | 'directory' = 'file',
  ) {
    const want = kind === 'file' ? '600' : '700';
    super(
      `the signing key ${kind} ${path} has mode ${(mode & 0o777).toString(8).padStart(4, '0')}, ` +
        `so group or others can access it; run \`chmod ${want} ${path}\` (and keep it owned by the ledger's user)`,
    );
    this.name = 'KeyFileInsecureError';
  }
}

/** A key file that is not an unencrypted Ed25519 private JWK or PKCS#8 PEM. */
export class KeyFileInvalidError extends SnapshotError {
  readonly code = 'key_file_invalid' as const;
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`the signing key file ${path} is not usable: ${detail}`);
    this.name = 'KeyFileInvalidError';
  }
}

/** The persisted key ring is unreadable or inconsistent. */
export class KeyRingInvalidError extends SnapshotError {
  readonly code = 'key_ring_invalid' as const;
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`the key ring ${path} is not usable: ${detail}`);
    this.name = 'KeyRingInvalidError';
  }
}

/** Rotation asked of a ring whose key is fixed by `LEDGER_SIGNING_KEY`. */
export class KeyRotationRefusedError extends SnapshotError {
  readonly code = 'key_rotation_refused' as const;
  constructor(readonly path: string) {
    super(
      `the signing key is fixed by LEDGER_SIGNING_KEY (${path}), so the ledger cannot rotate it; ` +
        'to rotate, replace that file with a new key and restart, or unset LEDGER_SIGNING_KEY to let ' +
        'the ledger manage a key ring in LEDGER_DATA_DIR/keys',
    );
    this.name = 'KeyRotationRefusedError';
  }
}
