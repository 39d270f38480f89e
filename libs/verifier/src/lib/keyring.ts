import { calculateJwkThumbprint, importJWK, type CryptoKey, type JWK, type JWSHeaderParameters } from 'jose';
import { InvalidOptionsError, SnapshotRejectedError } from '../errors.js';
import type { JsonWebKeySet } from '../types.js';

export interface PublicEd25519Jwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid?: string;
}

/** The public Ed25519 members of `jwk`, or `null` when it is not a public Ed25519 JWK. */
export function publicEd25519(jwk: unknown): PublicEd25519Jwk | null {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return null;
  const k = jwk as Record<string, unknown>;
  if (k.kty !== 'OKP' || k.crv !== 'Ed25519' || typeof k.x !== 'string' || k.x.length === 0) return null;
  if ('d' in k) return null;
  if (k.alg !== undefined && k.alg !== 'EdDSA' && k.alg !== 'Ed25519') return null;
  if (k.use !== undefined && k.use !== 'sig') return null;
  if (k.kid !== undefined && (typeof k.kid !== 'string' || k.kid.length === 0)) return null;
  return { kty: 'OKP', crv: 'Ed25519', x: k.x, ...(typeof k.kid === 'string' ? { kid: k.kid } : {}) };
}

/** Checks the pinned keys synchronously so that `createVerifier` fails fast. */
export function assertPinnedKeys(input: JsonWebKeySet | readonly JWK[]): readonly PublicEd25519Jwk[] {
  const list: readonly unknown[] | undefined = Array.isArray(input)
    ? input
    : (input as JsonWebKeySet | undefined)?.keys;
  if (!Array.isArray(list) || list.length === 0) {
    throw new InvalidOptionsError('trustedKeys must be a JWKS or an array with at least one public Ed25519 JWK');
  }
  return list.map((jwk, i) => {
    const key = publicEd25519(jwk);
    if (!key) throw new InvalidOptionsError(`trustedKeys[${i}] is not a public Ed25519 JWK (kty OKP, crv Ed25519, no "d")`);
    return key;
  });
}

/**
 * The keys manifests and tokens may be signed with: the pinned ones, plus those announced in
 * the `keys` claim of manifests that verified against a key already in the ring (add-only).
 */
export class Keyring {
  private readonly keys = new Map<string, CryptoKey>();

  private constructor(private readonly pinnedKids: ReadonlySet<string>) {}

  static async pinned(jwks: readonly PublicEd25519Jwk[]): Promise<Keyring> {
    const entries = await Promise.all(
      jwks.map(async (jwk) => [jwk.kid ?? (await calculateJwkThumbprint(jwk)), await importPublic(jwk)] as const),
    );
    const ring = new Keyring(new Set(entries.map(([kid]) => kid)));
    for (const [kid, key] of entries) if (!ring.keys.has(kid)) ring.keys.set(kid, key);
    return ring;
  }

  /** Adds the valid, not yet known keys of a verified manifest's `keys` claim; returns their kids. */
  async learn(announced: readonly unknown[]): Promise<string[]> {
    const added: string[] = [];
    for (const candidate of announced) {
      const jwk = publicEd25519(candidate);
      if (!jwk?.kid || this.keys.has(jwk.kid)) continue;
      try {
        this.keys.set(jwk.kid, await importPublic(jwk));
        added.push(jwk.kid);
      } catch {
        // a malformed announcement is ignored, never half-trusted
      }
    }
    return added;
  }

  kids(): string[] {
    return [...this.keys.keys()];
  }

  isPinned(kid: string): boolean {
    return this.pinnedKids.has(kid);
  }

  /** Key resolver for jose: EdDSA only, and only a kid in the ring. */
  resolve(onUnknown: (kid: string | undefined) => Error): (header: JWSHeaderParameters) => CryptoKey {
    return (header) => {
      if (header.alg !== 'EdDSA') throw new SnapshotRejectedError('signature_invalid', `algorithm ${String(header.alg)} is not EdDSA`);
      const key = typeof header.kid === 'string' ? this.keys.get(header.kid) : undefined;
      if (!key) throw onUnknown(header.kid);
      return key;
    };
  }
}

async function importPublic(jwk: PublicEd25519Jwk): Promise<CryptoKey> {
  const key = await importJWK({ kty: jwk.kty, crv: jwk.crv, x: jwk.x }, 'EdDSA');
  if (key instanceof Uint8Array) throw new InvalidOptionsError('expected an asymmetric key');
  return key;
}
