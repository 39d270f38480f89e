// Internal: signing and splitting compact JWS for the two document types we issue.
import { CompactSign } from 'jose';
import { InvalidArgumentError } from './snapshot.errors.js';
import type { SigningKey } from './signing-key.types.js';

export const MANIFEST_TYP = 'entitlements-manifest+jwt';
export const TOKEN_TYP = 'entitlements+jwt';

export async function signCompact(payload: string, typ: string, signer: SigningKey): Promise<string> {
  if (typeof signer?.kid !== 'string' || signer.kid === '' || signer.key?.type !== 'private') {
    throw new InvalidArgumentError('a signing key needs a kid and a private key');
  }
  if (signer.key.asymmetricKeyType !== 'ed25519') throw new InvalidArgumentError('the signing key must be Ed25519');
  return new CompactSign(new TextEncoder().encode(payload))
    .setProtectedHeader({ alg: 'EdDSA', kid: signer.kid, typ })
    .sign(signer.key);
}

export interface CompactParts {
  readonly header: Record<string, unknown>;
  readonly payload: unknown;
}

/** Splits and parses a compact JWS without verifying it; null when it is not one. */
export function parseCompact(jws: string): CompactParts | null {
  if (typeof jws !== 'string') return null;
  const parts = jws.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) return null;
  try {
    const header: unknown = JSON.parse(Buffer.from(parts[0] as string, 'base64url').toString('utf8'));
    const payload: unknown = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8'));
    if (typeof header !== 'object' || header === null || Array.isArray(header)) return null;
    return { header: header as Record<string, unknown>, payload };
  } catch {
    return null;
  }
}
