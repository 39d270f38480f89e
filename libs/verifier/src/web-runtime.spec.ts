/**
 * @jest-environment node
 */
// The core must run on browsers and edge workers. No jsdom or edge-runtime environment is
// installed, so this spec takes jest's `node` environment and removes what only Node has
// (`process`, `Buffer`, `require`, `global`, `setImmediate`) before importing the core
// dynamically; the ledger double is a plain Request → Response function used as `fetch`.
import type * as Core from './index.js';
import type * as Fixtures from './testing/fake-ledger.fixtures.js';

const NODE_ONLY = ['process', 'Buffer', 'require', 'global', 'setImmediate', 'clearImmediate'] as const;
const saved = new Map<string, PropertyDescriptor>();
let core: typeof Core;
let fixtures: typeof Fixtures;

beforeAll(async () => {
  for (const name of NODE_ONLY) {
    const descriptor = Object.getOwnPropertyDescriptor(globalThis, name);
    if (!descriptor) continue;
    saved.set(name, descriptor);
    if (!Reflect.deleteProperty(globalThis, name)) Object.defineProperty(globalThis, name, { value: undefined, configurable: true });
  }
  core = await import('./index.js');
  fixtures = await import('./testing/fake-ledger.fixtures.js');
});

afterAll(() => {
  for (const [name, descriptor] of saved) Object.defineProperty(globalThis, name, descriptor);
});

it('has no Node globals in this realm', () => {
  expect(typeof (globalThis as Record<string, unknown>).process).toBe('undefined');
  expect(typeof (globalThis as Record<string, unknown>).Buffer).toBe('undefined');
  expect(typeof (globalThis as Record<string, unknown>).require).toBe('undefined');
});

it('syncs over SSE, decides, verifies tokens and keys, and restarts from its cache with Web APIs only', async () => {
  const S0 = Date.parse('2026-06-01T00:00:00.000Z') / 1000;
  let nowMs = S0 * 1000;
  const ledger = await fixtures.FakeLedger.create({ shardCount: 8 });
  ledger.subjects = {
    org_42: { features: { api: [{ value: true, valid_until: null }] }, api_keys: [await fixtures.sha256Hex('key_1')] },
  };
  ledger.ver = 3;
  await ledger.publish({ iat: S0, classes: { api: 'A' } });

  let saved: Core.CachedState | null = null;
  const cache: Core.CacheAdapter = { load: async () => saved, save: async (s) => void (saved = s) };
  const options: Core.VerifierOptions = {
    ledgerUrl: 'https://ledger.test/base',
    token: fixtures.TEST_TOKEN,
    trustedKeys: [ledger.signer.publicJwk],
    fetch: ledger.fetch,
    now: () => new Date(nowMs),
    cache,
    useSse: true,
    pollS: 3600,
  };
  const verifier = core.createVerifier(options);
  const pushed = new Promise<Core.VerifierEvents['sync']>((resolve) => {
    verifier.on('sync', (e) => e.via === 'sse' && e.changed && resolve(e));
  });
  await verifier.start();
  expect(verifier.check('org_42', 'api')).toMatchObject({ allowed: true, source: 'fresh', ver: 3 });

  ledger.ver = 4;
  ledger.subjects = { ...ledger.subjects, org_9: { features: { api: [{ value: true, valid_until: null }] } } };
  await ledger.publish({ iat: S0 + 1, classes: { api: 'A' } });
  expect(await pushed).toMatchObject({ seq: 2, ver: 4 });
  expect(verifier.check('org_9', 'api')).toMatchObject({ allowed: true, ver: 4 });
  expect(await verifier.authenticateApiKey('key_1')).toBe('org_42');
  const token = await ledger.token('org_1', { api: true }, { iat: S0, exp: S0 + 60 });
  expect(await verifier.verifyToken(token)).toMatchObject({ sub: 'org_1' });
  await verifier.stop();

  ledger.intercept = () => new Response(null, { status: 503 });
  nowMs += 900_000 + 3_600_000;
  const offline = core.createVerifier({ ...options, useSse: false, resilience: { retries: 0 } });
  await offline.start();
  expect(offline.check('org_9', 'api')).toMatchObject({ allowed: true, source: 'stale', ver: 4 });
  expect(await offline.check('org_1', 'api', { token })).toMatchObject({ source: 'stale', reason: 'unknown_subject' });
  await offline.stop();
});
