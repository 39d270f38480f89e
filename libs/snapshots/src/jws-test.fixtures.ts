// Test-only: an independent EdDSA check with plain node:crypto (no jose), as a verifier would do it.
import { createHash, createPublicKey, verify } from 'node:crypto';

export interface JwksLike {
  readonly keys: readonly { kid?: string; kty?: string; crv?: string; x?: string; alg?: string; use?: string }[];
}

export interface Verified {
  readonly header: Record<string, unknown>;
  readonly claims: Record<string, unknown>;
}

/** Verifies a compact JWS against a JWKS by kid; throws when anything is off. */
export function verifyCompactWithJwks(jws: string, jwks: JwksLike, typ: string): Verified {
  const [h, p, s, ...rest] = jws.split('.');
  if (h === undefined || p === undefined || s === undefined || rest.length > 0) throw new Error('not compact');
  const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>;
  if (header.alg !== 'EdDSA') throw new Error(`alg ${String(header.alg)}`);
  if (header.typ !== typ) throw new Error(`typ ${String(header.typ)}`);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (jwk === undefined) throw new Error(`kid ${String(header.kid)} not in JWKS`);
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || jwk.alg !== 'EdDSA' || jwk.use !== 'sig') throw new Error('bad JWK');
  const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
  if (!verify(null, Buffer.from(`${h}.${p}`, 'ascii'), publicKey, Buffer.from(s, 'base64url'))) {
    throw new Error('bad signature');
  }
  return { header, claims: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown> };
}

export const sha256Hex = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** RFC 7638 thumbprint of an Ed25519 public key, computed by hand. */
export const thumbprint = (x: string): string =>
  createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`).digest('base64url');
