// Checks what a verifier relies on with plain node:crypto, following CONTRACT.md literally.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateEntitlements, type EntitlementSources } from '@app/domain';
import {
  InvalidManifestError,
  KeyRing,
  ManifestChain,
  manifestHash,
  decodeManifest,
  ShardSet,
  signCapabilityToken,
  signManifest,
  subjectEntry,
  VerRegressionError,
} from './index.js';
import { sha256Hex, verifyCompactWithJwks } from './jws-test.fixtures.js';

const ISS = 'http://127.0.0.1:3000';
const T0 = new Date('2026-11-01T12:00:00.250Z');
const at = (s: number): Date => new Date(T0.getTime() + s * 1000);
const iat0 = Math.floor(T0.getTime() / 1000);

const sources = (valid_until: string | null): EntitlementSources => ({
  plans: [{ plan: 'pro', tier: 2, valid_until, subscription: 'sub_1' }],
  features: [
    { feature: 'api', value: true, valid_until, origin: { kind: 'subscription', subscription: 'sub_1', plan: 'pro' } },
    { feature: 'seats', value: 5, valid_until, origin: { kind: 'subscription', subscription: 'sub_1', plan: 'pro' } },
  ],
  unknown_plans: [],
});

let dir: string;
let ring: KeyRing;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snapshots-contract-'));
  ring = await KeyRing.open(join(dir, 'keys'), { now: T0, snapshotTtlS: 900, tokenTtlS: 600 });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function shardSet(): ShardSet {
  const set = new ShardSet(256);
  set.applyChanges(new Map([['org_42', subjectEntry(sources('2026-12-25T10:00:00.000Z'), [])]]), 17);
  return set;
}

describe('manifest', () => {
  it('is an EdDSA compact JWS verifiable from the JWKS, with the claims and chain of the contract', async () => {
    const set = shardSet();
    const chain = new ManifestChain({ issuer: ISS, ttlS: 900, shardCount: 256 });
    const classes = { exports: 'C', api: 'A' } as const;
    const m1 = await signManifest(chain.next({ ver: 17, now: T0, shards: set.manifestEntries(), classes }), ring.signingKey());
    chain.append(m1);

    const v1 = verifyCompactWithJwks(m1, ring.jwks(T0), 'entitlements-manifest+jwt');
    expect(Object.keys(v1.header)).toEqual(['alg', 'kid', 'typ']);
    expect(Object.keys(v1.claims)).toEqual(['iss', 'seq', 'ver', 'iat', 'exp', 'prev', 'shard_count', 'shards', 'classes']);
    expect(v1.claims).toMatchObject({ iss: ISS, seq: 1, ver: 17, iat: iat0, exp: iat0 + 900, prev: null, shard_count: 256 });
    expect(v1.claims.classes).toEqual({ api: 'A', exports: 'C' });
    const shards = v1.claims.shards as { id: number; sha256: string; count: number; bytes: number }[];
    expect(shards).toHaveLength(256);
    shards.forEach((s, i) => {
      const bytes = set.bytesByHash(s.sha256);
      expect(s.id).toBe(i);
      expect(bytes && sha256Hex(bytes)).toBe(s.sha256);
      expect(bytes?.length).toBe(s.bytes);
      expect(JSON.parse(bytes?.toString() ?? '').shard).toBe(i);
    });
    expect(shards.reduce((n, s) => n + s.count, 0)).toBe(1);

    set.applyChanges(new Map([['org_7', subjectEntry(sources(null), [])]]), 18);
    const { jws: m2 } = await chain.publish({ ver: 18, now: at(300), shards: set.manifestEntries(), classes }, ring.signingKey());
    const v2 = verifyCompactWithJwks(m2, ring.jwks(at(300)), 'entitlements-manifest+jwt');
    expect(v2.claims).toMatchObject({ seq: 2, ver: 18, iat: iat0 + 300, exp: iat0 + 1200 });
    expect(v2.claims.prev).toBe(sha256Hex(Buffer.from(m1, 'ascii')));
    expect(manifestHash(m1)).toBe(v2.claims.prev);

    // A re-signing with nothing changed still takes the next seq; a restarted chain continues it.
    const resumed = new ManifestChain({ issuer: ISS, ttlS: 900, shardCount: 256, last: { seq: 2, jws: m2 } });
    const c3 = resumed.next({ ver: 18, now: at(600), shards: set.manifestEntries(), classes: {} });
    expect(c3).toMatchObject({ seq: 3, prev: manifestHash(m2), iat: iat0 + 600, exp: iat0 + 1500 });
    expect(() => resumed.next({ ver: 17, now: at(600), shards: set.manifestEntries(), classes: {} })).toThrow(VerRegressionError);
    // A clock stepping back never makes a successor older than its predecessor.
    expect(resumed.next({ ver: 18, now: at(-60), shards: set.manifestEntries(), classes: {} }).iat).toBe(iat0 + 300);
    expect(() => resumed.append(m1)).toThrow(InvalidManifestError);
  });

  it('vouches for the JWKS in a signed keys claim (public members only), and refuses private or foreign keys', async () => {
    const chain = new ManifestChain({ issuer: ISS, ttlS: 900, shardCount: 4 });
    const keys = ring.jwks(T0).keys;
    const claims = chain.next({ ver: 0, now: T0, shards: new ShardSet(4).manifestEntries(), classes: {}, keys });
    const v = verifyCompactWithJwks(await signManifest(claims, ring.signingKey()), ring.jwks(T0), 'entitlements-manifest+jwt');
    expect(Object.keys(v.claims)).toEqual(['iss', 'seq', 'ver', 'iat', 'exp', 'prev', 'shard_count', 'shards', 'classes', 'keys']);
    expect(v.claims.keys).toEqual(keys.map((k) => ({ kty: 'OKP', crv: 'Ed25519', x: k.x, kid: k.kid, alg: 'EdDSA', use: 'sig' })));
    const leaked = [{ ...keys[0]!, d: 'private' }] as unknown as typeof keys;
    await expect(signManifest({ ...claims, keys: leaked }, ring.signingKey())).rejects.toThrow(InvalidManifestError);
    const rsa = [{ kty: 'RSA', n: 'x', e: 'AQAB', kid: 'r' }] as unknown as typeof keys;
    await expect(signManifest({ ...claims, keys: rsa }, ring.signingKey())).rejects.toThrow(InvalidManifestError);
  });

  it('decodes without verifying, and refuses a token or claims off the format', async () => {
    const chain = new ManifestChain({ issuer: ISS, ttlS: 900, shardCount: 256 });
    const claims = chain.next({ ver: 0, now: T0, shards: new ShardSet(256).manifestEntries(), classes: {} });
    const jws = await signManifest(claims, ring.signingKey());
    expect(decodeManifest(jws)).toEqual({
      header: { alg: 'EdDSA', kid: ring.signingKey().kid, typ: 'entitlements-manifest+jwt' },
      claims,
    });
    await expect(signManifest({ ...claims, shards: claims.shards.slice(1) }, ring.signingKey())).rejects.toThrow(InvalidManifestError);
    await expect(signManifest({ ...claims, prev: 'f'.repeat(64) }, ring.signingKey())).rejects.toThrow(InvalidManifestError);
    const { token } = await signCapabilityToken({
      issuer: ISS, subject: 'org_42', ver: 0, entitlements: { plan: null, features: {}, valid_until: null },
      now: T0, ttlS: 600, key: ring.signingKey(),
    });
    expect(() => decodeManifest(token)).toThrow(InvalidManifestError);
  });
});

describe('capability token', () => {
  const token = (entitlements: Parameters<typeof signCapabilityToken>[0]['entitlements'], now = T0) =>
    signCapabilityToken({ issuer: ISS, subject: 'org_42', ver: 17, entitlements, now, ttlS: 600, key: ring.signingKey() });

  it('carries {iss, sub, iat, nbf, exp, ver, plan, ent} with exp = iat + ttl', async () => {
    const ent = evaluateEntitlements(sources('2027-01-01T00:00:00.000Z'), T0);
    const out = await token(ent);
    const v = verifyCompactWithJwks(out.token, ring.jwks(T0), 'entitlements+jwt');
    expect(Object.keys(v.header)).toEqual(['alg', 'kid', 'typ']);
    expect(v.claims).toEqual({ iss: ISS, sub: 'org_42', iat: iat0, nbf: iat0, exp: iat0 + 600, ver: 17, plan: 'pro', ent: { api: true, seats: 5 } });
    expect(out).toMatchObject({ exp: iat0 + 600, ver: 17 });
  });

  it('never outlives the entitlements: exp is capped by valid_until (floored)', async () => {
    const until = new Date(T0.getTime() + 100_700).toISOString();
    const out = await token(evaluateEntitlements(sources(until), T0));
    const v = verifyCompactWithJwks(out.token, ring.jwks(T0), 'entitlements+jwt');
    expect(v.claims.exp).toBe(Math.floor(Date.parse(until) / 1000));
    expect(out.exp).toBe(v.claims.exp);
    expect((v.claims.exp as number) * 1000).toBeLessThanOrEqual(Date.parse(until));
  });

  it('gives plan null and empty ent to a subject with nothing, or whose entitlements have lapsed', async () => {
    const nothing = await token(evaluateEntitlements({ plans: [], features: [], unknown_plans: [] }, T0));
    expect(verifyCompactWithJwks(nothing.token, ring.jwks(T0), 'entitlements+jwt').claims).toMatchObject({
      plan: null, ent: {}, exp: iat0 + 600,
    });
    const lapsed = await token(evaluateEntitlements(sources('2026-11-01T12:01:00.000Z'), T0), at(120));
    expect(verifyCompactWithJwks(lapsed.token, ring.jwks(at(120)), 'entitlements+jwt').claims).toMatchObject({
      plan: null, ent: {}, iat: iat0 + 120, exp: iat0 + 720,
    });
  });
});

describe('key rotation', () => {
  it('keeps a manifest signed before rotation verifiable until retire_after, then drops its key', async () => {
    const chain = new ManifestChain({ issuer: ISS, ttlS: 900, shardCount: 256 });
    const shards = new ShardSet(256).manifestEntries();
    const old = await chain.publish({ ver: 1, now: T0, shards, classes: {} }, ring.signingKey());
    const oldKid = ring.signingKey().kid;

    const announced = await ring.rotate(at(10));
    expect(announced).toMatchObject({ action: 'announced', current: oldKid });
    expect(ring.signingKey().kid).toBe(oldKid);
    expect(ring.jwks(at(10)).keys.map((k) => k.kid)).toEqual([oldKid, announced.next]);

    const promoted = await ring.rotate(at(20));
    expect(promoted).toEqual({ action: 'promoted', current: announced.next, next: null });
    const fresh = await chain.publish({ ver: 1, now: at(20), shards, classes: {} }, ring.signingKey());
    const jwks = ring.jwks(at(20));
    expect(jwks.keys.map((k) => k.kid)).toEqual([announced.next, oldKid]);
    expect(verifyCompactWithJwks(old.jws, jwks, 'entitlements-manifest+jwt').claims.seq).toBe(1);
    expect(verifyCompactWithJwks(fresh.jws, jwks, 'entitlements-manifest+jwt').claims.seq).toBe(2);

    // retire_after = retired + max(SNAPSHOT_TTL_S 900, TOKEN_TTL_S 600)
    expect(ring.jwks(at(20 + 899)).keys.map((k) => k.kid)).toContain(oldKid);
    const after = ring.jwks(at(20 + 900));
    expect(after.keys.map((k) => k.kid)).toEqual([announced.next]);
    expect(() => verifyCompactWithJwks(old.jws, after, 'entitlements-manifest+jwt')).toThrow(/not in JWKS/);
  });
});
