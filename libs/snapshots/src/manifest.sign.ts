import { MANIFEST_TYP, signCompact } from './compact-jws.util.js';
import { canonicalManifestClaims, type ManifestClaims } from './manifest.claims.js';
import type { SigningKey } from './signing-key.types.js';

/**
 * Signs manifest claims as a compact JWS with header
 * `{"alg":"EdDSA","kid":…,"typ":"entitlements-manifest+jwt"}`. The claims are checked
 * first (seq/prev chain shape, one entry per shard in id order, classes A/B/C).
 *
 * @throws {InvalidManifestError} claims that do not follow docs/snapshot-format.md
 *
 * @example
 * const jws = await signManifest(chain.next({ ver, now, shards: set.manifestEntries(), classes }), ring.signingKey());
 */
export async function signManifest(claims: ManifestClaims, key: SigningKey): Promise<string> {
  return signCompact(JSON.stringify(canonicalManifestClaims(claims)), MANIFEST_TYP, key);
}
