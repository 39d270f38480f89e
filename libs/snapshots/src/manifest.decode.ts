import { MANIFEST_TYP, parseCompact } from './compact-jws.util.js';
import { canonicalManifestClaims, type ManifestClaims } from './manifest.claims.js';
import { InvalidManifestError } from './snapshot.errors.js';

/** A manifest's protected header. */
export interface ManifestHeader {
  readonly alg: 'EdDSA';
  readonly kid: string;
  readonly typ: typeof MANIFEST_TYP;
}

/**
 * Reads a manifest's header and claims WITHOUT verifying its signature: for serving and
 * chaining manifests the ledger signed itself, and for tests. Verifiers must verify first.
 *
 * @throws {InvalidManifestError} not a compact JWS, another `typ`, or malformed claims
 *
 * @example
 * decodeManifest(jws).claims.seq; // 42
 */
export function decodeManifest(jws: string): { header: ManifestHeader; claims: ManifestClaims } {
  const parts = parseCompact(jws);
  if (parts === null) throw new InvalidManifestError('not a compact JWS with JSON header and payload');
  const { alg, kid, typ } = parts.header;
  if (alg !== 'EdDSA' || typeof kid !== 'string' || typ !== MANIFEST_TYP) {
    throw new InvalidManifestError(`the header must be {"alg":"EdDSA","kid":…,"typ":"${MANIFEST_TYP}"}`);
  }
  return { header: { alg, kid, typ }, claims: canonicalManifestClaims(parts.payload as ManifestClaims) };
}
