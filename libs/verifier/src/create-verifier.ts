import { LedgerError, SnapshotRejectedError, VerifierError } from './errors.js';
import { TimeFloor } from './lib/clock.js';
import { evaluateShardGrants, graceFor, isAllowed, type EvaluationSlot } from './lib/decide.js';
import { Emitter } from './lib/emitter.js';
import { Keyring } from './lib/keyring.js';
import { createLedgerClient, link } from './lib/ledger-client.js';
import { checkSuccession, isRecord, message, verifyManifest, type Manifest } from './lib/manifest.js';
import { resolveOptions } from './lib/options.js';
import { FeatureIds, readShardText, type Shard } from './lib/shard.js';
import { readSse } from './lib/sse.js';
import { SubjectIndex } from './lib/subject-index.js';
import { verifyCapabilityToken } from './lib/token.js';
import type {
  CachedState,
  CheckOptions,
  Decision,
  FeatureClass,
  TokenClaims,
  Verifier,
  VerifierEvents,
  VerifierOptions,
  VerifierState,
  VerifierStatus,
} from './types.js';

const TICK_MS = 1_000;
/** The time floor is persisted every this many ticks. */
const FLOOR_SAVE_TICKS = 5;
/** While SSE is connected, one poll in this many still runs, against a silently stalled stream. */
const SSE_WATCHDOG_POLLS = 12;
const SSE_MAX_BACKOFF_MS = 60_000;
const SHARD_CONCURRENCY = 8;

interface Held {
  readonly manifest: Manifest;
  /** By shard id. */
  readonly shards: readonly Shard[];
  /**
   * Subject → its shard and offset into that shard's `grants` (see `Shard`). Only subjects that
   * belong in the shard holding them (`shardOf(subject) === shardId`) are listed.
   */
  readonly subjects: SubjectIndex;
  /** SHA-256 hex of an API key → subject. */
  readonly apiKeys: ReadonlyMap<string, string>;
}

type Via = VerifierEvents['sync']['via'];

const encoder = new TextEncoder();
/** Shards verified at once while loading the cache (bounds the memory a restart needs). */
const CACHE_SHARD_CONCURRENCY = 4;

/**
 * Creates a verifier that replicates the ledger's signed snapshots and decides locally.
 *
 * @example
 * ```ts
 * import { createVerifier } from '@app/verifier';
 *
 * const verifier = createVerifier({
 *   ledgerUrl: 'https://ledger.example.com',
 *   token: process.env.LEDGER_TOKEN!,
 *   trustedKeys: JSON.parse(await readFile('ledger-jwks.json', 'utf8')),
 * });
 * await verifier.start();
 * const { allowed, source } = verifier.check('org_42', 'api');
 * ```
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const config = resolveOptions(options);
  const readClock = config.now;
  const clock = new TimeFloor(options.now === undefined ? Date.now : () => readClock().getTime());
  const features = new FeatureIds();
  /** Scratch for evaluations: `check` is synchronous, so one is enough. */
  const evaluation: EvaluationSlot = { value: null, reason: 'not_granted' };
  const events = new Emitter<VerifierEvents>();
  const client = createLedgerClient(config);
  const cache = config.cache;
  /** The adapter stores shards one at a time (`loadShard`/`saveShard`): no shard text is kept once it has it. */
  const storesShards = typeof cache?.loadShard === 'function' && typeof cache.saveShard === 'function';
  /**
   * Shard text by SHA-256 hex, only for the cache: every held shard's for an adapter that takes
   * them in `save`; for one that stores shards itself, only those not yet handed to `saveShard`.
   */
  let texts = new Map<string, string>();

  let keyringReady: Promise<Keyring> | null = null;
  const keyring = (): Promise<Keyring> => (keyringReady ??= Keyring.pinned(config.pinned));

  let held: Held | null = null;
  let highestSeq = 0;
  let highestVer = 0;
  let keyEvidence: readonly string[] = [];
  let trustedKids: readonly string[] = [];
  let etag: string | null = null;
  let lastSyncAt: number | null = null;
  let lastError: VerifierState['last_error'] = null;
  let status: VerifierStatus = 'empty';
  let transport: VerifierState['transport'] = 'stopped';
  let life: AbortController | null = null;
  let tickTimer: ReturnType<typeof setInterval> | undefined;
  let pollTimer: ReturnType<typeof setTimeout> | undefined;
  let sseConnected = false;
  let exclusive: Promise<unknown> = Promise.resolve();
  let saving: Promise<void> = Promise.resolve();

  /** Sync steps never interleave: the held state changes in one place, one manifest at a time. */
  function serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = exclusive.then(fn, fn);
    exclusive = run.catch(() => undefined);
    return run;
  }

  function statusAt(nowMs: number): VerifierStatus {
    if (!held) return 'empty';
    const expMs = held.manifest.exp * 1000;
    if (nowMs <= expMs) return 'fresh';
    if (nowMs <= expMs + Math.max(config.graceS, config.graceBS) * 1000) return 'stale';
    return 'expired';
  }

  function refreshStatus(nowMs: number): void {
    const next = statusAt(nowMs);
    if (next === status) return;
    const from = status;
    status = next;
    events.emit('state', { from, to: next });
  }

  function report(e: unknown): void {
    let error: VerifierError;
    if (e instanceof VerifierError) error = e;
    else error = new LedgerError('ledger_unavailable', message(e), { cause: e });
    if (error instanceof LedgerError && error.code === 'response_too_large') {
      error = new SnapshotRejectedError('manifest_too_large', error.message, { cause: error });
    }
    lastError = { code: error.code, message: error.message };
    if (error instanceof SnapshotRejectedError) events.emit('reject', { reason: error.code, message: error.message });
    else events.emit('unreachable', { error });
  }

  function classOf(feature: string): FeatureClass {
    return config.classes.get(feature) ?? held?.manifest.classes.get(feature) ?? 'B';
  }

  function cachedState(state: Held | null): CachedState {
    const shards = state?.shards ?? [];
    return {
      v: 1,
      manifest: state?.manifest.jws ?? null,
      shards: storesShards ? {} : Object.fromEntries(shards.map((s) => [s.sha256, texts.get(s.sha256) ?? ''])),
      shardHashes: shards.map((s) => s.sha256),
      highestSeq,
      highestVer,
      timeFloor: clock.floor,
      keyEvidence,
    };
  }

  function persist(): Promise<void> {
    if (!cache) return Promise.resolve();
    saving = saving
      .then(async () => {
        // the state saved names only shards the adapter already has, even if `held` moves meanwhile
        const state = held;
        if (storesShards) {
          for (const shard of state?.shards ?? []) {
            const text = texts.get(shard.sha256);
            if (text === undefined) continue;
            await cache.saveShard!(shard.sha256, text);
            if (texts.get(shard.sha256) === text) texts.delete(shard.sha256);
          }
        }
        await cache.save(cachedState(state));
      })
      .catch((e: unknown) => {
        lastError = { code: 'cache_save_failed', message: message(e) };
      });
    return saving;
  }

  function install(manifest: Manifest, shards: readonly Shard[], via: Via, fetched: number, newTexts: ReadonlyMap<string, string>): void {
    const previous = held;
    const kept = new Map<string, string>();
    for (const shard of shards) {
      const text = newTexts.get(shard.sha256) ?? texts.get(shard.sha256);
      if (text !== undefined) kept.set(shard.sha256, text);
    }
    texts = kept;
    held = { manifest, shards, subjects: indexSubjects(previous, manifest.shardCount, shards), apiKeys: indexApiKeys(previous, shards) };
    highestSeq = Math.max(highestSeq, manifest.seq);
    highestVer = Math.max(highestVer, manifest.ver);
    clock.observe(manifest.iat * 1000);
    events.emit('sync', {
      via,
      seq: manifest.seq,
      ver: manifest.ver,
      changed: true,
      fetchedShards: fetched,
      reusedShards: shards.length - fetched,
    });
    refreshStatus(clock.now());
  }

  async function learnKeys(ring: Keyring, manifest: Manifest): Promise<void> {
    if ((await ring.learn(manifest.keys)).length > 0) keyEvidence = [...keyEvidence, manifest.jws];
    trustedKids = ring.kids();
  }

  /** Verifies a manifest and its changed shards, then swaps the held state; any failure keeps the old one. */
  async function acceptManifest(jws: string, via: Via, responseEtag: string | null | undefined, signal: AbortSignal): Promise<void> {
    const ring = await keyring();
    if (held && jws === held.manifest.jws) {
      if (responseEtag !== undefined) etag = responseEtag;
      const { seq, ver } = held.manifest;
      events.emit('sync', { via, seq, ver, changed: false, fetchedShards: 0, reusedShards: held.shards.length });
      return;
    }
    let next: Manifest;
    try {
      next = await verifyManifest(jws, ring, config.issuer);
      const succession = { held: held && { jws: held.manifest.jws, seq: held.manifest.seq }, highestSeq, highestVer };
      await checkSuccession(next, succession, clock.now(), config.clockToleranceS);
    } catch (e) {
      // the same bytes would fail the same way: let the ETag turn them into 304s
      if (e instanceof SnapshotRejectedError && responseEtag !== undefined) etag = responseEtag;
      throw e;
    }
    // a shard indexed under another shard count placed its subjects by that count: not reusable
    const reusable = new Map(held && held.manifest.shardCount === next.shardCount ? held.shards.map((s) => [s.sha256, s]) : []);
    let fetched = 0;
    const fetchedTexts = new Map<string, string>();
    const shards = await mapLimit(next.shards, SHARD_CONCURRENCY, async (entry) => {
      const known = reusable.get(entry.sha256);
      if (known && known.id === entry.id) return known;
      if (entry.bytes > config.maxShardBytes) {
        throw new SnapshotRejectedError('shard_too_large', `shard ${entry.id} declares ${entry.bytes} bytes, over maxShardBytes`);
      }
      let bytes: Uint8Array;
      try {
        bytes = await client.shard(entry.sha256, entry.bytes, signal);
      } catch (e) {
        if (e instanceof LedgerError && e.code === 'response_too_large') {
          throw new SnapshotRejectedError('shard_too_large', `shard ${entry.id} is larger than its ${entry.bytes} bytes`, { cause: e });
        }
        throw e;
      }
      fetched += 1;
      const { shard, text } = await readShardText(bytes, entry, next.shardCount, features);
      if (cache) fetchedTexts.set(entry.sha256, text);
      return shard;
    });
    install(next, shards, via, fetched, fetchedTexts);
    etag = responseEtag ?? null;
    lastError = null;
    await learnKeys(ring, next);
    await persist();
  }

  async function pollOnce(signal: AbortSignal | undefined = life?.signal): Promise<void> {
    if (!signal) return;
    try {
      const latest = await client.latestManifest(etag, signal);
      lastSyncAt = clock.now();
      if (latest.status === 'not_modified') {
        if (held) {
          const { seq, ver } = held.manifest;
          events.emit('sync', { via: 'poll', seq, ver, changed: false, fetchedShards: 0, reusedShards: held.shards.length });
        }
        return;
      }
      await acceptManifest(latest.jws, 'poll', latest.etag, signal);
    } catch (e) {
      if (!signal.aborted) report(e);
    }
  }

  function schedulePoll(signal: AbortSignal, polls = 0): void {
    pollTimer = setTimeout(() => {
      const due = !sseConnected || (polls + 1) % SSE_WATCHDOG_POLLS === 0;
      void (due ? serial(() => pollOnce()) : Promise.resolve()).finally(() => {
        if (!signal.aborted) schedulePoll(signal, polls + 1);
      });
    }, config.pollMs);
  }

  async function sseLoop(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      const connection = new AbortController();
      const unlink = link(signal, connection);
      try {
        const body = await client.openStream(connection.signal);
        sseConnected = true;
        transport = 'sse';
        failures = 0;
        for await (const event of readSse(body, config.maxManifestBytes)) {
          if (event.event !== 'manifest') continue;
          lastSyncAt = clock.now();
          await serial(() => acceptManifest(event.data.trim(), 'sse', undefined, signal)).catch((e: unknown) => {
            if (!signal.aborted) report(e);
          });
        }
      } catch (e) {
        if (!signal.aborted) report(e);
      } finally {
        sseConnected = false;
        if (!signal.aborted) transport = 'poll';
        connection.abort();
        unlink();
      }
      if (signal.aborted) return;
      failures += 1;
      await sleep(Math.min(config.pollMs * 2 ** (failures - 1), SSE_MAX_BACKOFF_MS), signal);
    }
  }

  /** Restores the cached state only after verifying it as if it came from the network. */
  async function loadCache(ring: Keyring): Promise<void> {
    if (!cache) return;
    let cached: CachedState | null;
    try {
      cached = await cache.load();
    } catch (e) {
      report(new SnapshotRejectedError('cache_invalid', `the cache could not be read: ${message(e)}`, { cause: e }));
      return;
    }
    if (cached === null || cached === undefined) return;
    if (!isRecord(cached) || cached.v !== 1) {
      report(new SnapshotRejectedError('cache_invalid', 'the cached state has an unknown format'));
      return;
    }
    // the floor and the highest seq/ver can only make the verifier stricter: taken as they are
    if (typeof cached.timeFloor === 'number') clock.observe(cached.timeFloor);
    if (Number.isSafeInteger(cached.highestSeq)) highestSeq = Math.max(highestSeq, cached.highestSeq);
    if (Number.isSafeInteger(cached.highestVer)) highestVer = Math.max(highestVer, cached.highestVer);
    for (const jws of Array.isArray(cached.keyEvidence) ? cached.keyEvidence : []) {
      try {
        await learnKeys(ring, await verifyManifest(String(jws), ring, config.issuer));
      } catch {
        // evidence that no trusted key vouches for teaches nothing
      }
    }
    if (typeof cached.manifest !== 'string') return;
    try {
      const manifest = await verifyManifest(cached.manifest, ring, config.issuer);
      await checkSuccession(manifest, { held: null, highestSeq, highestVer }, clock.now(), config.clockToleranceS);
      const given = isRecord(cached.shards) ? cached.shards : {};
      const loadedTexts = new Map<string, string>();
      const shards = await mapLimit(manifest.shards, CACHE_SHARD_CONCURRENCY, async (entry) => {
        let source: unknown = Object.hasOwn(given, entry.sha256) ? given[entry.sha256] : undefined;
        if (source === undefined && storesShards) source = await cache.loadShard!(entry.sha256);
        if (typeof source !== 'string' && !(source instanceof Uint8Array)) throw new SnapshotRejectedError('cache_invalid', `shard ${entry.id} is missing`);
        const { shard, text } = await readShardText(source, entry, manifest.shardCount, features);
        // an adapter that stores shards has this one already
        if (!storesShards) loadedTexts.set(entry.sha256, text);
        return shard;
      });
      install(manifest, shards, 'cache', 0, loadedTexts);
      await learnKeys(ring, manifest);
    } catch (e) {
      const inner = e instanceof VerifierError ? `${e.code}: ${e.message}` : message(e);
      report(new SnapshotRejectedError('cache_invalid', `the cached snapshot was rejected (${inner})`, { cause: e }));
    }
  }

  function decideFromSnapshot(subject: string, feature: string, nowMs: number): Decision {
    if (!held) {
      return { allowed: false, value: null, source: 'none', ver: null, stale_for_s: null, reason: 'no_snapshot' };
    }
    const { manifest } = held;
    const expMs = manifest.exp * 1000;
    const fresh = nowMs <= expMs;
    const staleForS = fresh ? 0 : Math.floor((nowMs - expMs) / 1000);
    if (!fresh) {
      const grace = graceFor(classOf(feature), config.graceS, config.graceBS);
      if (grace === null || nowMs > expMs + grace * 1000) {
        return { allowed: false, value: null, source: 'none', ver: manifest.ver, stale_for_s: staleForS, reason: 'past_grace' };
      }
    }
    const source = fresh ? 'fresh' : 'stale';
    const slot = held.subjects.find(subject, held.shards);
    if (slot < 0) {
      return { allowed: false, value: null, source, ver: manifest.ver, stale_for_s: staleForS, reason: 'unknown_subject' };
    }
    const index = held.subjects;
    evaluateShardGrants(held.shards[index.shardOf(slot)]!.grants, index.offsetOf(slot), features.get(feature), nowMs, evaluation);
    const { value, reason } = evaluation;
    const allowed = isAllowed(value);
    return {
      allowed,
      value,
      source,
      ver: manifest.ver,
      stale_for_s: staleForS,
      reason: allowed && !fresh ? 'stale_within_grace' : reason,
    };
  }

  async function decideFromToken(subject: string, feature: string, token: string, fallback: Decision): Promise<Decision> {
    let claims: TokenClaims;
    try {
      claims = await verifyToken(token);
    } catch {
      return { ...fallback, reason: 'token_invalid' };
    }
    if (claims.sub !== subject) return { ...fallback, reason: 'token_subject_mismatch' };
    const value = Object.hasOwn(claims.ent, feature) ? (claims.ent[feature] ?? null) : null;
    const allowed = isAllowed(value);
    return {
      allowed,
      value,
      source: 'token',
      ver: claims.ver,
      stale_for_s: fallback.stale_for_s,
      reason: allowed ? 'token' : 'token_not_granted',
    };
  }

  function check(subject: string, feature: string): Decision;
  function check(subject: string, feature: string, options: CheckOptions): Promise<Decision>;
  function check(subject: string, feature: string, options?: CheckOptions): Decision | Promise<Decision> {
    const nowMs = clock.now();
    refreshStatus(nowMs);
    const decision = decideFromSnapshot(subject, feature, nowMs);
    if (options === undefined) return decision;
    if (decision.source !== 'none' || !options.token) return Promise.resolve(decision);
    return decideFromToken(subject, feature, options.token, decision);
  }

  async function verifyToken(jwt: string): Promise<TokenClaims> {
    return verifyCapabilityToken(jwt, {
      keyring: await keyring(),
      issuer: config.issuer,
      nowMs: clock.now(),
      clockToleranceS: config.clockToleranceS,
    });
  }

  async function authenticateApiKey(key: string): Promise<string | null> {
    if (typeof key !== 'string' || key.length === 0) return null;
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(key)));
    const hash = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
    const nowMs = clock.now();
    // credentials follow the class A window: they are what keeps paying callers in
    if (!held || nowMs > (held.manifest.exp + config.graceS) * 1000) return null;
    return held.apiKeys.get(hash) ?? null;
  }

  async function start(): Promise<void> {
    if (life) return;
    const lifecycle = new AbortController();
    life = lifecycle;
    let ring: Keyring;
    try {
      ring = await keyring();
    } catch (e) {
      life = null;
      keyringReady = null;
      throw e;
    }
    trustedKids = ring.kids();
    await serial(() => loadCache(ring));
    refreshStatus(clock.now());
    if (lifecycle.signal.aborted) return;
    transport = 'poll';
    let ticks = 0;
    tickTimer = setInterval(() => {
      refreshStatus(clock.now());
      ticks += 1;
      if (ticks % FLOOR_SAVE_TICKS === 0) void persist();
    }, TICK_MS);
    await serial(() => pollOnce());
    if (lifecycle.signal.aborted) return;
    schedulePoll(lifecycle.signal);
    if (config.useSse) void sseLoop(lifecycle.signal);
  }

  async function stop(): Promise<void> {
    const lifecycle = life;
    if (!lifecycle) return;
    life = null;
    lifecycle.abort();
    clearTimeout(pollTimer);
    clearInterval(tickTimer);
    transport = 'stopped';
    await exclusive;
    clock.now();
    await persist();
  }

  async function sync(): Promise<VerifierState> {
    await keyring();
    await serial(() => pollOnce(life?.signal ?? new AbortController().signal));
    return state();
  }

  function state(): VerifierState {
    const nowMs = clock.now();
    refreshStatus(nowMs);
    const m = held?.manifest;
    return {
      status,
      seq: m?.seq ?? null,
      ver: m?.ver ?? null,
      iat: m?.iat ?? null,
      exp: m?.exp ?? null,
      age_s: m ? Math.max(0, Math.floor((nowMs - m.iat * 1000) / 1000)) : null,
      stale_for_s: m ? Math.max(0, Math.floor((nowMs - m.exp * 1000) / 1000)) : null,
      last_sync_at: lastSyncAt === null ? null : new Date(lastSyncAt).toISOString(),
      transport,
      circuit: client.circuit(),
      trusted_kids: trustedKids,
      last_error: lastError,
    };
  }

  return {
    start,
    stop,
    sync,
    check,
    verifyToken,
    authenticateApiKey,
    state,
    on: (event, listener) => events.on(event, listener),
  };
}

/**
 * The subject index ({@link Held.subjects}). The previous index is updated in place for the
 * shards that changed: callers swap `held` in the same synchronous step, so no check ever sees
 * a half-updated index. A different shard count relocates everything: built afresh.
 */
function indexSubjects(previous: Held | null, shardCount: number, shards: readonly Shard[]): SubjectIndex {
  if (previous !== null && previous.manifest.shardCount === shardCount) {
    const index = previous.subjects;
    for (const old of previous.shards) if (shards[old.id] !== old) index.removeShard(old);
    for (const shard of shards) if (previous.shards[shard.id] !== shard) index.addShard(shard, shards);
    return index;
  }
  let expected = 0;
  for (const shard of shards) for (let i = 0; i < shard.size; i++) expected += shard.home[i]!;
  const index = new SubjectIndex(crypto.getRandomValues(new Uint32Array(1))[0]! | 0, expected);
  for (const shard of shards) index.addShard(shard, shards);
  return index;
}

/** API key hash → subject, carried over from the previous index for the shards that did not change. */
function indexApiKeys(previous: Held | null, shards: readonly Shard[]): Map<string, string> {
  const index = new Map(previous?.apiKeys ?? []);
  const current = new Set(shards.map((s) => s.sha256));
  const before = new Set((previous?.shards ?? []).map((s) => s.sha256));
  for (const old of previous?.shards ?? []) {
    if (current.has(old.sha256)) continue;
    for (let k = 0; k < old.apiKeys.length; k += 2) if (index.get(old.apiKeys[k]!) === old.apiKeys[k + 1]) index.delete(old.apiKeys[k]!);
  }
  for (const shard of shards) {
    if (before.has(shard.sha256)) continue;
    for (let k = 0; k < shard.apiKeys.length; k += 2) index.set(shard.apiKeys[k]!, shard.apiKeys[k + 1]!);
  }
  return index;
}

/** Maps with at most `limit` calls in flight; the first failure stops new calls and rejects. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i] as T);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
