import { CRITICALITY_CLASSES, type CriticalityClass } from '@app/domain';
import { compareCodePoints, isNonNegativeInt, isPositiveInt, SHA256_HEX } from './ordering.util.js';
import type { ManifestShard } from './shard-set.state.js';
import type { PublicJwk } from './signing-key.types.js';
import { InvalidManifestError } from './snapshot.errors.js';

/** The claims of a snapshot manifest (docs/snapshot-format.md, "Manifest"). */
export interface ManifestClaims {
  readonly iss: string;
  /** 1, 2, 3, … one per manifest, re-signings included. */
  readonly seq: number;
  /** The ledger position the snapshot reflects. */
  readonly ver: number;
  readonly iat: number;
  /** `iat + SNAPSHOT_TTL_S`. */
  readonly exp: number;
  /** Lowercase hex SHA-256 of the previous manifest's compact JWS; null for seq 1. */
  readonly prev: string | null;
  readonly shard_count: number;
  readonly shards: readonly ManifestShard[];
  /** Feature → criticality class from the catalog in force (unlisted features are B). */
  readonly classes: Readonly<Record<string, CriticalityClass>>;
  /**
   * The ledger's public keys (current, announced next, previous not yet retired), vouched for
   * by this signature: a verifier that trusts the signing key learns a rotated key from it.
   * Optional; absent when the chain is given none.
   */
  readonly keys?: readonly PublicJwk[];
}

/** @internal Checks the claims and returns them in the pinned key order. */
export function canonicalManifestClaims(c: ManifestClaims): ManifestClaims {
  const bad = (detail: string): InvalidManifestError => new InvalidManifestError(detail);
  if (typeof c !== 'object' || c === null) throw bad('claims must be an object');
  if (typeof c.iss !== 'string' || c.iss === '') throw bad('iss must be a non-empty string');
  if (!isPositiveInt(c.seq)) throw bad('seq must be a positive integer');
  if (!isNonNegativeInt(c.ver)) throw bad('ver must be a non-negative integer');
  if (!isNonNegativeInt(c.iat) || !isNonNegativeInt(c.exp)) throw bad('iat and exp must be NumericDates (integers)');
  if (c.exp <= c.iat) throw bad('exp must be later than iat');
  if (c.seq === 1 ? c.prev !== null : typeof c.prev !== 'string' || !SHA256_HEX.test(c.prev)) {
    throw bad('prev must be null for seq 1, and the lowercase hex SHA-256 of the previous manifest otherwise');
  }
  if (!isPositiveInt(c.shard_count)) throw bad('shard_count must be a positive integer');
  if (!Array.isArray(c.shards) || c.shards.length !== c.shard_count) throw bad('shards must list shard_count entries');
  const shards = c.shards.map((s: ManifestShard, i): ManifestShard => {
    const ok =
      typeof s === 'object' && s !== null && s.id === i && typeof s.sha256 === 'string' && SHA256_HEX.test(s.sha256) &&
      isNonNegativeInt(s.count) && isNonNegativeInt(s.bytes);
    if (!ok) throw bad(`shards[${i}] must be {id: ${i}, sha256, count, bytes}`);
    return { id: s.id, sha256: s.sha256, count: s.count, bytes: s.bytes };
  });
  if (typeof c.classes !== 'object' || c.classes === null || Array.isArray(c.classes)) throw bad('classes must be an object');
  const classes = Object.entries(c.classes).sort(([a], [b]) => compareCodePoints(a, b));
  for (const [feature, cls] of classes) {
    if (!(CRITICALITY_CLASSES as readonly unknown[]).includes(cls)) throw bad(`classes.${feature} must be A, B or C`);
  }
  let keys: PublicJwk[] | undefined;
  if (c.keys !== undefined) {
    if (!Array.isArray(c.keys)) throw bad('keys must be an array of public Ed25519 JWKs');
    keys = c.keys.map((k: PublicJwk, i): PublicJwk => {
      const ok =
        typeof k === 'object' && k !== null && !('d' in k) && k.kty === 'OKP' && k.crv === 'Ed25519' &&
        typeof k.x === 'string' && k.x !== '' && typeof k.kid === 'string' && k.kid !== '';
      if (!ok) throw bad(`keys[${i}] must be a public Ed25519 JWK with a kid`);
      return { kty: 'OKP', crv: 'Ed25519', x: k.x, kid: k.kid, alg: 'EdDSA', use: 'sig' };
    });
  }
  return {
    iss: c.iss,
    seq: c.seq,
    ver: c.ver,
    iat: c.iat,
    exp: c.exp,
    prev: c.prev,
    shard_count: c.shard_count,
    shards,
    classes: Object.fromEntries(classes),
    ...(keys ? { keys } : {}),
  };
}
