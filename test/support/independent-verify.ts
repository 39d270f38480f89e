import { createHash, createPublicKey, verify } from 'node:crypto';

/**
 * Verification written from CONTRACT.md with node:crypto only (no jose): the check a
 * third-party verifier in any language would do.
 */
export interface Jwk {
  kty: string;
  crv: string;
  x: string;
  kid: string;
  alg?: string;
}

export const sha256hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

function b64json(part: string): any {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

/** Verifies a compact JWS (EdDSA / Ed25519) against a JWKS; returns header and claims, or throws. */
export function verifyCompactJws(jws: string, jwks: { keys: Jwk[] }, typ: string): { header: any; claims: any } {
  const parts = jws.split('.');
  if (parts.length !== 3) throw new Error('not a compact JWS');
  const [h, p, s] = parts as [string, string, string];
  const header = b64json(h);
  if (header.alg !== 'EdDSA') throw new Error(`alg ${header.alg}`);
  if (header.typ !== typ) throw new Error(`typ ${header.typ}`);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) throw new Error(`unknown kid ${header.kid}`);
  const key = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, format: 'jwk' });
  const ok = verify(null, Buffer.from(`${h}.${p}`, 'ascii'), key, Buffer.from(s, 'base64url'));
  if (!ok) throw new Error('bad signature');
  return { header, claims: b64json(p) };
}

/** `uint32_be(sha256(subject)[0..4]) mod shard_count`, computed independently. */
export function shardOfSubject(subject: string, shardCount: number): number {
  return createHash('sha256').update(subject, 'utf8').digest().readUInt32BE(0) % shardCount;
}

/** Evaluates a shard subject entry at `at` the way docs/snapshot-format.md says. */
export function evaluateShardEntry(entry: any, at: Date): { plan: string | null; features: Record<string, boolean | number> } {
  const t = at.getTime();
  const live = (v: string | null): boolean => v === null || t < Date.parse(v);
  const features: Record<string, boolean | number> = {};
  for (const [f, grants] of Object.entries<any[]>(entry?.features ?? {})) {
    const values = grants.filter((g) => live(g.valid_until)).map((g) => g.value);
    if (values.length === 0) continue;
    features[f] = values.some((v) => typeof v === 'number')
      ? Math.max(...values.filter((v) => typeof v === 'number'))
      : values.some(Boolean);
  }
  const plans = (entry?.plans ?? []).filter((p: any) => live(p.valid_until));
  plans.sort((a: any, b: any) => b.tier - a.tier || (a.id < b.id ? -1 : 1));
  return { plan: plans[0]?.id ?? null, features };
}
