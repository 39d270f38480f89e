import { createVerifier } from './create-verifier.js';
import { InvalidOptionsError, TokenError } from './errors.js';
import { createSigner, FakeLedger, sha256Hex, TEST_TOKEN, type TestSubject } from './testing/fake-ledger.fixtures.js';
import { serve, type Served } from './testing/serve.fixtures.js';
import type { CacheAdapter, CachedState, Verifier, VerifierEventName, VerifierEvents, VerifierOptions } from './types.js';

const T0 = Date.parse('2026-06-01T00:00:00.000Z');
const S0 = T0 / 1000;
const FAR = '2027-01-01T00:00:00.000Z';
const SOON = '2026-06-01T01:00:00.000Z';
const PAST = '2026-05-01T00:00:00.000Z';
const API_KEY = 'lk_live_org42';

function subjects(apiKeyHash: string): Record<string, TestSubject> {
  return {
    org_42: {
      features: {
        api: [{ value: true, valid_until: FAR }],
        projects: [
          { value: 100, valid_until: SOON },
          { value: 50, valid_until: FAR },
        ],
        legacy: [{ value: true, valid_until: PAST }],
        reports: [{ value: true, valid_until: null }],
        exports: [{ value: true, valid_until: null }],
      },
      api_keys: [apiKeyHash],
      plans: [{ id: 'pro', tier: 2, valid_until: FAR }],
    },
    org_7: { features: { api: [{ value: true, valid_until: null }] } },
    'user_ü': { features: { seats: [{ value: 3, valid_until: null }] } },
  };
}

function claimsOf(jws: string): { seq: number; shards: { id: number; sha256: string; bytes: number }[] } {
  return JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString());
}

function memoryCache(): CacheAdapter & { state: CachedState | null; saves: number } {
  const cache = {
    state: null as CachedState | null,
    saves: 0,
    load: async () => (cache.state ? structuredClone(cache.state) : null),
    save: async (state: CachedState) => {
      cache.saves += 1;
      cache.state = structuredClone(state);
    },
  };
  return cache;
}

/** An adapter that stores shards itself (`loadShard`/`saveShard`), in memory. */
function shardStoreCache(): CacheAdapter & { state: CachedState | null; shards: Map<string, string>; handed: string[] } {
  const cache = {
    state: null as CachedState | null,
    shards: new Map<string, string>(),
    handed: [] as string[],
    load: async () => (cache.state ? structuredClone(cache.state) : null),
    save: async (state: CachedState) => {
      cache.state = structuredClone(state);
    },
    loadShard: async (sha256: string) => {
      const text = cache.shards.get(sha256);
      return text === undefined ? null : new TextEncoder().encode(text);
    },
    saveShard: async (sha256: string, text: string) => {
      cache.handed.push(sha256);
      cache.shards.set(sha256, text);
    },
  };
  return cache;
}

function next<E extends VerifierEventName>(
  v: Verifier,
  event: E,
  predicate: (payload: VerifierEvents[E]) => boolean = () => true,
): Promise<VerifierEvents[E]> {
  return new Promise((resolve) => {
    const off = v.on(event, (payload) => {
      if (!predicate(payload)) return;
      off();
      resolve(payload);
    });
  });
}

let nowMs: number;
let ledger: FakeLedger;
let served: Served;
const running: Verifier[] = [];

beforeEach(async () => {
  nowMs = T0;
  ledger = await FakeLedger.create({ shardCount: 4 });
  ledger.subjects = subjects(await sha256Hex(API_KEY));
  ledger.ver = 10;
  served = await serve(ledger.handle);
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((v) => v.stop()));
  await served.close();
});

function make(extra: Partial<VerifierOptions> = {}): Verifier {
  const verifier = createVerifier({
    ledgerUrl: served.url,
    token: TEST_TOKEN,
    trustedKeys: { keys: [ledger.signer.publicJwk] },
    issuer: ledger.issuer,
    now: () => new Date(nowMs),
    useSse: false,
    pollS: 3600,
    resilience: { retries: 0, timeoutMs: 2_000, initialDelayMs: 1, maxDelayMs: 5 },
    ...extra,
  });
  running.push(verifier);
  return verifier;
}

async function started(extra: Partial<VerifierOptions> = {}): Promise<Verifier> {
  const verifier = make(extra);
  await verifier.start();
  return verifier;
}

async function downUrl(): Promise<string> {
  const dead = await serve(async () => new Response(null));
  await dead.close();
  return dead.url;
}

/** Starts a verifier on `cache` with the ledger unreachable; resolves with it and the reject event it raised. */
async function refusedOffline(cache: VerifierOptions['cache']): Promise<{ v: Verifier; rejected: VerifierEvents['reject'] }> {
  const v = make({ cache, ledgerUrl: await downUrl() });
  const rejected = next(v, 'reject');
  await v.start();
  return { v, rejected: await rejected };
}

describe('createVerifier: decisions from a fresh snapshot', () => {
  it('decides every feature from the verified snapshot at now', async () => {
    await ledger.publish({ iat: S0, ttlS: 7200 });
    const v = await started();

    expect(v.check('org_42', 'api')).toEqual({
      allowed: true, value: true, source: 'fresh', ver: 10, stale_for_s: 0, reason: 'granted',
    });
    expect(v.check('org_42', 'projects')).toMatchObject({ allowed: true, value: 100, reason: 'granted' });
    expect(v.check('org_42', 'legacy')).toMatchObject({ allowed: false, value: null, reason: 'expired_grant' });
    expect(v.check('org_42', 'nothing')).toMatchObject({ allowed: false, value: null, reason: 'not_granted' });
    expect(v.check('org_404', 'api')).toMatchObject({ allowed: false, source: 'fresh', reason: 'unknown_subject' });
    expect(v.check('user_ü', 'seats')).toMatchObject({ allowed: true, value: 3 });
    expect(v.check('org_7', 'api')).toMatchObject({ allowed: true });
    expect(v.state()).toMatchObject({ status: 'fresh', seq: 1, ver: 10, age_s: 0, transport: 'poll', circuit: 'closed' });

    nowMs = Date.parse(SOON); // valid_until is exclusive: the 100-project grant ends here
    expect(v.check('org_42', 'projects')).toMatchObject({ value: 50, source: 'fresh' });
  });

  it('fetches only the shards whose hash changed, and swaps them in', async () => {
    await ledger.publish({ iat: S0 });
    const v = await started();
    const shardFetches = (): number => ledger.log.filter((r) => r.path.startsWith('/v1/snapshots/shards/')).length;
    expect(shardFetches()).toBe(4);

    ledger.subjects = { ...ledger.subjects, org_7: { features: { api: [{ value: false, valid_until: null }] } } };
    ledger.ver = 11;
    await ledger.publish({ iat: S0 + 10 });
    const synced = next(v, 'sync');
    await v.sync();

    expect(await synced).toEqual({ via: 'poll', seq: 2, ver: 11, changed: true, fetchedShards: 1, reusedShards: 3 });
    expect(shardFetches()).toBe(5);
    expect(v.check('org_7', 'api')).toMatchObject({ allowed: false, value: false, ver: 11, reason: 'not_granted' });
    expect(v.check('org_42', 'api')).toMatchObject({ allowed: true, ver: 11 });
  });

  it('asks with If-None-Match and takes a 304 as "no news"', async () => {
    await ledger.publish({ iat: S0 });
    const v = await started();
    const synced = next(v, 'sync');
    await v.sync();

    const last = ledger.log.at(-1)!;
    expect(last).toMatchObject({ path: '/v1/snapshots/latest', status: 304 });
    expect(last.ifNoneMatch).toMatch(/^"[0-9a-f]{16}"$/);
    expect(await synced).toMatchObject({ changed: false, seq: 1 });
    expect(v.state().last_sync_at).toBe(new Date(T0).toISOString());
  });

  it('authenticates API keys by their SHA-256 and forgets revoked ones', async () => {
    await ledger.publish({ iat: S0 });
    const v = await started();
    expect(await v.authenticateApiKey(API_KEY)).toBe('org_42');
    expect(await v.authenticateApiKey('lk_live_unknown')).toBeNull();
    expect(await v.authenticateApiKey('')).toBeNull();

    ledger.subjects = { ...ledger.subjects, org_42: { ...ledger.subjects.org_42!, api_keys: [] } };
    await ledger.publish({ iat: S0 + 5 });
    await v.sync();
    expect(await v.authenticateApiKey(API_KEY)).toBeNull();
  });

  it('answers none / no_snapshot before any snapshot', () => {
    const v = make();
    expect(v.check('org_42', 'api')).toEqual({
      allowed: false, value: null, source: 'none', ver: null, stale_for_s: null, reason: 'no_snapshot',
    });
    expect(v.state().status).toBe('empty');
  });
});

describe('createVerifier: what it never accepts (the held state is kept)', () => {
  async function holding(seqs: number): Promise<Verifier> {
    for (let i = 0; i < seqs; i++) {
      ledger.ver += 1;
      await ledger.publish({ iat: S0 + i });
    }
    return started();
  }

  async function rejectsNext(v: Verifier, reason: string): Promise<void> {
    const before = v.state();
    const rejected = next(v, 'reject');
    await v.sync();
    expect(await rejected).toMatchObject({ reason });
    expect(v.state()).toMatchObject({ seq: before.seq, ver: before.ver, status: 'fresh' });
    expect(v.check('org_42', 'api')).toMatchObject({ allowed: true, source: 'fresh', ver: before.ver });
  }

  it('rejects an older seq (rollback), even replayed verbatim', async () => {
    await ledger.publish({ iat: S0 });
    const first = ledger.latest!;
    ledger.ver += 1;
    await ledger.publish({ iat: S0 + 1 });
    const v = await started();
    ledger.serve(first);
    await rejectsNext(v, 'rollback');
  });

  it('rejects an older ver under a newer seq (rollback)', async () => {
    const v = await holding(1);
    await ledger.publish({ iat: S0 + 5, ver: ledger.ver - 1 });
    await rejectsNext(v, 'rollback');
  });

  it('rejects a different manifest with the held seq (equivocation)', async () => {
    const v = await holding(1);
    await ledger.publish({ iat: S0 + 5, seq: 1, prev: null });
    await rejectsNext(v, 'equivocation');
  });

  it('rejects seq = held + 1 whose prev is not the held manifest (broken chain), allows a gap', async () => {
    const v = await holding(1);
    await ledger.publish({ iat: S0 + 5, prev: 'a'.repeat(64) });
    await rejectsNext(v, 'broken_chain');

    await ledger.publish({ iat: S0 + 6, seq: 5, prev: 'b'.repeat(64) });
    await v.sync();
    expect(v.state().seq).toBe(5);
  });

  it('rejects a manifest signed by an unknown key', async () => {
    const v = await holding(1);
    await ledger.publish({ iat: S0 + 5, signer: await createSigner('k9') });
    await rejectsNext(v, 'unknown_key');
  });

  it('rejects a forged signature under a trusted kid', async () => {
    const v = await holding(1);
    await ledger.publish({ iat: S0 + 5, signer: await createSigner('k1') });
    await rejectsNext(v, 'signature_invalid');
  });

  it('rejects a tampered payload, a wrong typ and a wrong issuer', async () => {
    const v = await holding(1);
    const [h, p, s] = ledger.latest!.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    ledger.serve([h, Buffer.from(JSON.stringify({ ...claims, seq: 2, ver: 99 })).toString('base64url'), s].join('.'));
    await rejectsNext(v, 'signature_invalid');

    await ledger.publish({ iat: S0 + 5, seq: 3, typ: 'JWT' });
    await rejectsNext(v, 'unexpected_typ');
    await ledger.publish({ iat: S0 + 5, seq: 4, iss: 'https://evil.test' });
    await rejectsNext(v, 'issuer_mismatch');
  });

  it('rejects a manifest from the future beyond clockToleranceS', async () => {
    const v = await holding(1);
    await ledger.publish({ iat: S0 + 61 });
    await rejectsNext(v, 'manifest_from_future');
  });

  it('accepts iat within clockToleranceS ahead of now', async () => {
    await ledger.publish({ iat: S0 + 59 });
    const v = await started();
    expect(v.state()).toMatchObject({ seq: 1, status: 'fresh' });
  });

  it('rejects a shard swapped for another version of it (hash mismatch)', async () => {
    const v = await holding(1);
    const shard = await ledger.shardOf('org_42');
    const oldEntry = claimsOf(ledger.latest!).shards[shard]!;
    const org42 = ledger.subjects.org_42!;
    ledger.subjects = { ...ledger.subjects, org_42: { ...org42, features: { ...org42.features, more: [{ value: 1, valid_until: null }] } } };
    ledger.ver += 1;
    await ledger.publish({ iat: S0 + 5 });
    const newEntry = claimsOf(ledger.latest!).shards[shard]!;
    expect(newEntry.sha256).not.toBe(oldEntry.sha256);
    ledger.blobs.set(newEntry.sha256, ledger.blobs.get(oldEntry.sha256)!);
    await rejectsNext(v, 'shard_hash_mismatch');
    expect(v.check('org_42', 'more')).toMatchObject({ reason: 'not_granted' });
  });

  it('rejects a shard listed under another id (mix-and-match)', async () => {
    const v = await holding(1);
    ledger.ver += 1;
    await ledger.publish({
      iat: S0 + 5,
      mutate: (claims) => {
        const shards = claims.shards as { sha256: string; bytes: number }[];
        [shards[0]!.sha256, shards[1]!.sha256] = [shards[1]!.sha256, shards[0]!.sha256];
        [shards[0]!.bytes, shards[1]!.bytes] = [shards[1]!.bytes, shards[0]!.bytes];
      },
    });
    await rejectsNext(v, 'shard_invalid');
  });

  it('rejects an oversized shard while reading it (cap = the manifest bytes)', async () => {
    const v = await holding(1);
    ledger.ver += 1;
    ledger.subjects = { ...ledger.subjects, org_9: { features: { api: [{ value: true, valid_until: null }] } } };
    await ledger.publish({ iat: S0 + 5 });
    // an endless body: only an abort while reading ends this test
    const chunk = new Uint8Array(65536).fill(0x20);
    ledger.intercept = (_request, path) =>
      path.startsWith('/v1/snapshots/shards/')
        ? new Response(new ReadableStream({ pull: (c) => c.enqueue(chunk) }))
        : null;
    await rejectsNext(v, 'shard_too_large');
  });

  it('rejects a shard whose manifest entry is over maxShardBytes without fetching it', async () => {
    await ledger.publish({ iat: S0 });
    const v = await started({ maxShardBytes: 10 });
    expect(v.state().seq).toBeNull();
    expect(v.state().last_error).toMatchObject({ code: 'shard_too_large' });
    expect(ledger.log.some((r) => r.path.startsWith('/v1/snapshots/shards/'))).toBe(false);
  });

  it('rejects an oversized manifest', async () => {
    await ledger.publish({ iat: S0 });
    const v = await started({ maxManifestBytes: 64 });
    expect(v.state()).toMatchObject({ seq: null, last_error: { code: 'manifest_too_large' } });
  });

  it('keeps the held state through truncated responses', async () => {
    const v = await holding(1);
    ledger.ver += 1;
    ledger.subjects = { ...ledger.subjects, org_9: { features: { api: [{ value: true, valid_until: null }] } } };
    await ledger.publish({ iat: S0 + 5 });
    const truncate = (res: import('node:http').ServerResponse, body: string): true => {
      res.writeHead(200, { 'content-length': String(body.length) });
      res.write(body.slice(0, body.length >> 1));
      setTimeout(() => res.socket?.destroy(), 10);
      return true;
    };
    served.raw = (req, res) =>
      req.url?.startsWith('/v1/snapshots/shards/') ? truncate(res, '{"shard":0,"ver":0,"subjects":{"some":"thing"}}') : false;
    const unreachable = next(v, 'unreachable');
    await v.sync();
    expect((await unreachable).error.code).toBe('ledger_unavailable');
    expect(v.state()).toMatchObject({ seq: 1, status: 'fresh' });

    served.raw = (req, res) => (req.url === '/v1/snapshots/latest' ? truncate(res, ledger.latest!) : false);
    await v.sync();
    expect(v.state()).toMatchObject({ seq: 1, last_error: { code: 'ledger_unavailable' } });

    served.raw = null;
    await v.sync();
    expect(v.state()).toMatchObject({ seq: 2, last_error: null });
    expect(v.check('org_9', 'api').allowed).toBe(true);
  });

  it('does not retry a permanently rejected manifest: its ETag turns into 304s', async () => {
    const v = await holding(1);
    await ledger.publish({ iat: S0 + 5, signer: await createSigner('k9') });
    await v.sync();
    await v.sync();
    expect(ledger.log.at(-1)).toMatchObject({ path: '/v1/snapshots/latest', status: 304 });
  });
});

describe('createVerifier: staleness, grace and the time floor', () => {
  const classes = { api: 'A', reports: 'B', exports: 'C' } as const;
  const opts = { graceS: 1_000, graceBS: 100 };

  it('applies each class its grace after exp, boundaries included', async () => {
    await ledger.publish({ iat: S0, ttlS: 900, classes });
    const v = await started(opts);
    const transitions: string[] = [];
    v.on('state', ({ from, to }) => transitions.push(`${from}>${to}`));
    const exp = T0 + 900_000;
    const at = (ms: number, feature: string) => {
      nowMs = ms;
      return v.check('org_42', feature);
    };

    for (const f of ['api', 'reports', 'exports', 'projects']) expect(at(exp, f)).toMatchObject({ source: 'fresh', allowed: true });
    expect(at(exp + 1, 'exports')).toMatchObject({ source: 'none', allowed: false, reason: 'past_grace', stale_for_s: 0 });
    expect(at(exp + 1, 'api')).toMatchObject({ source: 'stale', allowed: true, reason: 'stale_within_grace' });
    expect(at(exp + 100_000, 'reports')).toMatchObject({ source: 'stale', allowed: true, stale_for_s: 100 });
    expect(at(exp + 100_000, 'projects')).toMatchObject({ source: 'stale', value: 100 }); // unlisted: class B
    expect(at(exp + 100_001, 'reports')).toMatchObject({ source: 'none', allowed: false, reason: 'past_grace' });
    expect(at(exp + 100_001, 'projects')).toMatchObject({ source: 'none' });
    expect(at(exp + 1_000_000, 'api')).toMatchObject({ source: 'stale', allowed: true, stale_for_s: 1000 });
    expect(at(exp + 1_000_001, 'api')).toMatchObject({ source: 'none', allowed: false, reason: 'past_grace', ver: 10 });
    expect(transitions).toEqual(['fresh>stale', 'stale>expired']);
    expect(v.state()).toMatchObject({ status: 'expired', stale_for_s: 1000 });
    expect(await v.authenticateApiKey(API_KEY)).toBeNull();
  });

  it('lets options.classes override the manifest', async () => {
    await ledger.publish({ iat: S0, classes });
    const v = await started({ ...opts, classes: { exports: 'A' } });
    nowMs = T0 + 900_000 + 500_000;
    expect(v.check('org_42', 'exports')).toMatchObject({ source: 'stale', allowed: true });
  });

  it('does not revive anything when the clock is set back', async () => {
    await ledger.publish({ iat: S0, classes });
    const v = await started(opts);
    nowMs = T0 + 900_000 + 1_000_001;
    expect(v.check('org_42', 'api').source).toBe('none');
    nowMs = T0;
    expect(v.check('org_42', 'api')).toMatchObject({ source: 'none', allowed: false, reason: 'past_grace' });
    expect(v.state().status).toBe('expired');
  });

  it('takes signed iat as a floor too', async () => {
    await ledger.publish({ iat: S0 + 50, ttlS: 10 });
    nowMs = T0;
    const v = await started({ graceBS: 0 });
    expect(v.check('org_42', 'projects')).toMatchObject({ source: 'fresh' });
    nowMs = T0 - 3_600_000;
    expect(v.check('org_42', 'projects').stale_for_s).toBe(0);
  });

  it('persists the time floor every few seconds while running', async () => {
    const cache = memoryCache();
    await ledger.publish({ iat: S0 });
    await started({ cache });
    const saves = cache.saves;
    nowMs = T0 + 42_000;
    // Saved on a tick a few seconds on (how late depends on the timers of a loaded machine):
    // waits for the save rather than for a fixed time, and fails if none comes in 15 s.
    const deadline = Date.now() + 15_000;
    while (!(cache.saves > saves && cache.state?.timeFloor === T0 + 42_000) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(cache.saves).toBeGreaterThan(saves);
    expect(cache.state!.timeFloor).toBe(T0 + 42_000);
    expect(cache.state!.manifest).toBe(ledger.latest);
  });

  it('does not revive anything across a restart with the clock set back', async () => {
    const cache = memoryCache();
    await ledger.publish({ iat: S0, classes });
    const first = await started({ ...opts, cache });
    nowMs = T0 + 900_000 + 1_000_001;
    expect(first.check('org_42', 'api').source).toBe('none');
    await first.stop();
    expect(cache.state!.timeFloor).toBe(nowMs);

    nowMs = T0 + 10_000;
    const second = await started({ ...opts, cache, ledgerUrl: await downUrl() });
    expect(second.check('org_42', 'api')).toMatchObject({ source: 'none', reason: 'past_grace' });
    expect(second.state()).toMatchObject({ status: 'expired', seq: 1 });
  });
});

describe('createVerifier: the cache', () => {
  it('starts offline from a re-verified cache and keeps answering', async () => {
    const cache = memoryCache();
    await ledger.publish({ iat: S0 });
    const first = await started({ cache });
    expect(cache.saves).toBeGreaterThan(0);
    await first.stop();

    const second = make({ cache, ledgerUrl: await downUrl() });
    const fromCache = next(second, 'sync');
    const unreachable = next(second, 'unreachable');
    await second.start();
    expect(await fromCache).toMatchObject({ via: 'cache', seq: 1, ver: 10 });
    expect((await unreachable).error.code).toBe('ledger_unavailable');
    expect(second.check('org_42', 'api')).toMatchObject({ allowed: true, source: 'fresh', ver: 10 });
    expect(await second.authenticateApiKey(API_KEY)).toBe('org_42');

    const down = await second.sync();
    expect(down.last_error).toMatchObject({ code: 'ledger_unavailable' });
  });

  it('refuses a tampered cache', async () => {
    const cache = memoryCache();
    await ledger.publish({ iat: S0 });
    await (await started({ cache })).stop();
    const state = cache.state!;
    const [hash, text] = Object.entries(state.shards).find(([, t]) => t.includes('org_42'))!;
    cache.state = { ...state, shards: { ...state.shards, [hash]: text.replace('"value":50', '"value":51') } };

    const { v, rejected } = await refusedOffline(cache);
    expect(rejected).toMatchObject({ reason: 'cache_invalid' });
    expect(rejected.message).toContain('shard_hash_mismatch');
    expect(v.check('org_42', 'projects')).toMatchObject({ source: 'none', reason: 'no_snapshot' });
  });

  it('refuses a cached manifest signed by a key it does not trust, and a rolled-back cache', async () => {
    const cache = memoryCache();
    await ledger.publish({ iat: S0 });
    await (await started({ cache })).stop();

    const good = cache.state!.manifest;
    const other = await FakeLedger.create({ kid: 'k1' });
    other.subjects = ledger.subjects;
    const forged = await other.publish({ iat: S0 });
    cache.state = { ...cache.state!, manifest: forged };
    const refused = await refusedOffline(cache);
    expect(refused.rejected).toMatchObject({ reason: 'cache_invalid' });
    expect(refused.rejected.message).toContain('signature_invalid');
    expect(refused.v.state().seq).toBeNull();

    cache.state = { ...cache.state, manifest: good, highestSeq: 7 };
    const rolledBack = await refusedOffline(cache);
    expect(rolledBack.rejected.message).toContain('rollback');
    expect(rolledBack.v.state().seq).toBeNull();
  });
});

describe('createVerifier: an adapter that stores shards itself', () => {
  it('hands each verified shard over once, saves no shard text, and restarts from it offline', async () => {
    const cache = shardStoreCache();
    await ledger.publish({ iat: S0 });
    const first = await started({ cache });
    const hashes = claimsOf(ledger.latest!).shards.map((s) => s.sha256);
    expect([...cache.handed].sort()).toEqual([...hashes].sort());
    expect(cache.state).toMatchObject({ manifest: ledger.latest, shards: {}, shardHashes: hashes });

    // a new manifest: only the changed shard is handed over
    ledger.subjects = { ...ledger.subjects, org_new: { features: { api: [{ value: true, valid_until: null }] } } };
    ledger.ver = 11;
    await ledger.publish({ iat: S0 + 1 });
    await first.sync();
    const changed = claimsOf(ledger.latest!).shards.filter((s) => !hashes.includes(s.sha256));
    expect(changed).toHaveLength(1);
    expect(cache.handed.slice(hashes.length)).toEqual([changed[0]!.sha256]);
    await first.stop();

    const second = make({ cache, ledgerUrl: await downUrl() });
    const fromCache = next(second, 'sync');
    await second.start();
    expect(await fromCache).toMatchObject({ via: 'cache', ver: 11 });
    expect(second.check('org_new', 'api')).toMatchObject({ allowed: true, source: 'fresh', ver: 11 });
    expect(second.check('org_42', 'projects')).toMatchObject({ allowed: true, value: 100 });
    expect(await second.authenticateApiKey(API_KEY)).toBe('org_42');
  });

  it('refuses the cache when a shard read through loadShard does not match the signed manifest, or is missing', async () => {
    const cache = shardStoreCache();
    await ledger.publish({ iat: S0 });
    await (await started({ cache })).stop();
    const [hash, text] = [...cache.shards].find(([, t]) => t.includes('org_42'))!;
    cache.shards.set(hash, text.replace('"value":50', '"value":51'));

    const mismatch = await refusedOffline(cache);
    expect(mismatch.rejected).toMatchObject({ reason: 'cache_invalid' });
    expect(mismatch.rejected.message).toContain('shard_hash_mismatch');
    expect(mismatch.v.check('org_42', 'projects')).toMatchObject({ source: 'none', reason: 'no_snapshot' });

    cache.shards.delete(hash);
    const missing = await refusedOffline(cache);
    expect(missing.rejected.message).toContain('is missing');
    expect(missing.v.check('org_42', 'api')).toMatchObject({ source: 'none', reason: 'no_snapshot' });
  });
});

describe('createVerifier: capability tokens', () => {
  it('falls back to a presented token only when no snapshot can decide', async () => {
    const v = make({ ledgerUrl: await downUrl() });
    await v.start();
    const token = await ledger.token('org_42', { api: true, projects: 50 }, { iat: S0, exp: S0 + 900, ver: 12 });

    expect(await v.check('org_42', 'api', { token })).toEqual({
      allowed: true, value: true, source: 'token', ver: 12, stale_for_s: null, reason: 'token',
    });
    expect(await v.check('org_42', 'projects', { token })).toMatchObject({ allowed: true, value: 50 });
    expect(await v.check('org_42', 'exports', { token })).toMatchObject({ allowed: false, source: 'token', reason: 'token_not_granted' });
    expect(await v.check('org_7', 'api', { token })).toMatchObject({ allowed: false, source: 'none', reason: 'token_subject_mismatch' });
    expect(await v.check('org_42', 'api', {})).toMatchObject({ source: 'none', reason: 'no_snapshot' });

    nowMs = T0 + 901_000 + 60_000;
    expect(await v.check('org_42', 'api', { token })).toMatchObject({ allowed: false, source: 'none', reason: 'token_invalid' });
  });

  it('prefers the snapshot, and takes the token past grace', async () => {
    await ledger.publish({ iat: S0, classes: { exports: 'C' } });
    const v = await started();
    const token = await ledger.token('org_42', { exports: true }, { iat: S0 + 950, exp: S0 + 2000 });
    expect(await v.check('org_42', 'exports', { token })).toMatchObject({ source: 'fresh' });
    nowMs = T0 + 1_000_000;
    expect(v.check('org_42', 'exports')).toMatchObject({ source: 'none' });
    expect(await v.check('org_42', 'exports', { token })).toMatchObject({ allowed: true, source: 'token', stale_for_s: 100 });
  });

  it('verifyToken returns the claims or throws a coded TokenError', async () => {
    const v = make();
    const good = await ledger.token('org_42', { api: true }, { iat: S0, exp: S0 + 900, plan: 'pro' });
    expect(await v.verifyToken(good)).toMatchObject({ sub: 'org_42', plan: 'pro', ent: { api: true }, exp: S0 + 900 });

    const code = (jwt: string) => v.verifyToken(jwt).then(() => 'ok', (e: unknown) => (e instanceof TokenError ? e.code : String(e)));
    expect(await code(await ledger.token('a', {}, { iat: S0 - 2000, exp: S0 - 1000 }))).toBe('token_expired');
    expect(await code(await ledger.token('a', {}, { iat: S0, nbf: S0 + 600, exp: S0 + 900 }))).toBe('token_not_yet_valid');
    expect(await code(await ledger.token('a', {}, { iat: S0, exp: S0 + 900, signer: await createSigner('k7') }))).toBe('token_unknown_key');
    expect(await code(await ledger.token('a', {}, { iat: S0, exp: S0 + 900, signer: await createSigner('k1') }))).toBe('token_signature_invalid');
    expect(await code(await ledger.token('a', {}, { iat: S0, exp: S0 + 900, iss: 'https://evil.test' }))).toBe('token_issuer_mismatch');
    expect(await code(await ledger.token('a', {}, { iat: S0, exp: S0 + 900, typ: 'entitlements-manifest+jwt' }))).toBe('token_invalid');
    expect(await code('not.a.jwt')).toBe('token_invalid');
  });
});

describe('createVerifier: key trust', () => {
  it('trusts keys announced in a verified manifest, persists them with their evidence, and nothing else', async () => {
    const next2 = await createSigner('k2');
    const rogue = await createSigner('k3');
    const cache = memoryCache();
    await ledger.publish({ iat: S0, keys: [ledger.signer.publicJwk, next2.publicJwk] });
    const v = await started({ cache });
    expect(v.state().trusted_kids).toEqual(['k1', 'k2']);

    await ledger.publish({ iat: S0 + 5, signer: rogue, keys: [rogue.publicJwk] });
    await v.sync();
    expect(v.state()).toMatchObject({ seq: 1, last_error: { code: 'unknown_key' } });
    expect(v.state().trusted_kids).toEqual(['k1', 'k2']);

    await ledger.publish({ iat: S0 + 6, seq: 2, prev: await sha256Hex(cache.state!.manifest!), signer: next2 });
    await v.sync();
    expect(v.state().seq).toBe(2);
    const token = await ledger.token('org_42', { api: true }, { iat: S0, exp: S0 + 900, signer: next2 });
    await expect(v.verifyToken(token)).resolves.toMatchObject({ sub: 'org_42' });
    await v.stop();
    expect(cache.state!.keyEvidence).toHaveLength(1);

    const restarted = make({ cache, ledgerUrl: await downUrl() });
    await restarted.start();
    expect(restarted.state()).toMatchObject({ seq: 2, trusted_kids: ['k1', 'k2'] });

    const forgedEvidence = await ledger.publish({ iat: S0, signer: rogue, keys: [rogue.publicJwk], serve: false });
    cache.state = { ...cache.state!, keyEvidence: [forgedEvidence] };
    const tampered = await refusedOffline(cache);
    expect(tampered.rejected.message).toContain('unknown_key');
    expect(tampered.v.state()).toMatchObject({ seq: null, trusted_kids: ['k1'] });
  });

  it('refuses private or non-Ed25519 pinned keys', async () => {
    const { privateKey } = await createSigner('k1');
    const { exportJWK } = await import('jose');
    const privateJwk = { ...(await exportJWK(privateKey)), kid: 'k1' };
    const attempt = (trustedKeys: VerifierOptions['trustedKeys']) => () =>
      createVerifier({ ledgerUrl: 'http://127.0.0.1:1', token: 't', trustedKeys });
    expect(attempt([privateJwk])).toThrow(InvalidOptionsError);
    expect(attempt([{ kty: 'RSA', n: 'x', e: 'AQAB' }])).toThrow(/not a public Ed25519 JWK/);
    expect(attempt({ keys: [] })).toThrow(expect.objectContaining({ code: 'invalid_options' }));
  });
});

describe('createVerifier: SSE', () => {
  it('receives manifests pushed on the stream', async () => {
    await ledger.publish({ iat: S0 });
    const v = make({ useSse: true });
    const connected = next(v, 'sync', (e) => e.via === 'sse');
    await v.start();
    expect(await connected).toMatchObject({ via: 'sse', seq: 1, changed: false });
    expect(v.state().transport).toBe('sse');

    ledger.ver = 11;
    ledger.subjects = { ...ledger.subjects, org_9: { features: { api: [{ value: true, valid_until: null }] } } };
    const pushed = next(v, 'sync', (e) => e.via === 'sse' && e.changed);
    await ledger.publish({ iat: S0 + 3 });
    expect(await pushed).toMatchObject({ via: 'sse', seq: 2, ver: 11, fetchedShards: 1 });
    expect(v.check('org_9', 'api')).toMatchObject({ allowed: true, ver: 11 });
    expect(ledger.log.filter((r) => r.path === '/v1/snapshots/latest')).toHaveLength(1);
  });

  it('falls back to polling when the stream is unavailable', async () => {
    await ledger.publish({ iat: S0 });
    ledger.intercept = (_r, path) => (path === '/v1/snapshots/stream' ? new Response(null, { status: 404 }) : null);
    const v = make({ useSse: true, pollS: 0.05 });
    await v.start();
    ledger.ver = 11;
    const polled = next(v, 'sync', (e) => e.via === 'poll' && e.seq === 2);
    await ledger.publish({ iat: S0 + 3 });
    expect(await polled).toMatchObject({ seq: 2, ver: 11 });
    expect(v.state().transport).toBe('poll');
  });
});

describe('createVerifier: the ledger down', () => {
  it('opens the circuit after consecutive failures and answers from memory', async () => {
    await ledger.publish({ iat: S0 });
    const v = await started({ resilience: { retries: 1, initialDelayMs: 1, maxDelayMs: 2, breakerThreshold: 2, halfOpenAfterMs: 60_000, timeoutMs: 500 } });
    ledger.intercept = () => new Response(null, { status: 503 });
    await v.sync();
    expect(v.state().circuit).toBe('open');
    await v.sync();
    expect(v.state().last_error).toMatchObject({ code: 'circuit_open' });
    expect(v.check('org_42', 'api')).toMatchObject({ allowed: true, source: 'fresh' });
  });

  it('reports a refused token without retrying', async () => {
    await ledger.publish({ iat: S0 });
    const v = await started({ token: 'wrong' });
    expect(v.state().last_error).toMatchObject({ code: 'ledger_unauthorized' });
    expect(ledger.log).toHaveLength(1);
  });
});
