// Internal: Ed25519 key handling shared by the key file loader and the key ring.
import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { calculateJwkThumbprint } from 'jose';
import { KeyFileInsecureError } from './snapshot.errors.js';
import type { PublicJwk, SigningKey } from './signing-key.types.js';

/** The public half as a bare OKP JWK (`kty`, `crv`, `x`). */
export function publicOkp(key: KeyObject): { kty: 'OKP'; crv: 'Ed25519'; x: string } {
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  return { kty: 'OKP', crv: 'Ed25519', x: String(jwk.x) };
}

/** Pairs a private Ed25519 key with its kid: the RFC 7638 thumbprint of the public key. */
export async function toSigningKey(key: KeyObject): Promise<SigningKey> {
  return { kid: await calculateJwkThumbprint(publicOkp(key), 'sha256'), key };
}

export function publicJwk(k: SigningKey): PublicJwk {
  return { ...publicOkp(k.key), kid: k.kid, alg: 'EdDSA', use: 'sig' };
}

/**
 * Imports a private Ed25519 JWK; null when it is not one. Never throws a message that could
 * echo the input, and checks that a given `x` matches `d`.
 */
export function importPrivateOkp(jwk: unknown): KeyObject | null {
  if (typeof jwk !== 'object' || jwk === null) return null;
  const j = jwk as Record<string, unknown>;
  if (j.kty !== 'OKP' || j.crv !== 'Ed25519' || typeof j.d !== 'string') return null;
  if (j.x !== undefined && typeof j.x !== 'string') return null;
  let key: KeyObject;
  try {
    // A JWK without x is still importable: derive it from d.
    const x = typeof j.x === 'string' ? j.x : derivePublicX(j.d);
    if (x === null) return null;
    key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: j.d, x } as JsonWebKey, format: 'jwk' });
  } catch {
    return null;
  }
  if (key.asymmetricKeyType !== 'ed25519') return null;
  if (typeof j.x === 'string' && publicOkp(key).x !== j.x) return null;
  return key;
}

function derivePublicX(d: string): string | null {
  const seed = Buffer.from(d, 'base64url');
  if (seed.length !== 32) return null;
  // PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410): fixed 16-byte prefix.
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  return publicOkp(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).x;
}

/** Refuses a path group or others may access (`mode & 0o077`); POSIX modes only. */
export async function assertPrivateMode(path: string, kind: 'file' | 'directory'): Promise<void> {
  if (process.platform === 'win32') return;
  const { mode } = await stat(path);
  if ((mode & 0o077) !== 0) throw new KeyFileInsecureError(path, mode, kind);
}
