import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from './support/test-database.js';
import { scratchDir } from './support/scratch.js';
import { ADMIN_TOKEN, INGEST_TOKEN, http, spawnLedger, subscriptionEvent, type LedgerProcess } from './support/ledger-harness.js';
import { spawnEdgeProcess, type EdgeProcess } from './support/edge-process.js';
import {
  edgeCheck,
  edgeHealth,
  faketimeMinusOneHour,
  metric,
  pinLedgerKeys,
  snapshotsToken,
  sleep,
  waitEdgeVer,
  waitFor,
} from './support/edge-client.js';

const DAY = 86_400_000;
const iso = (ms: number): string => new Date(ms).toISOString();
/** plans.json: api and sso class A, exports class C, projects and seats unlisted (class B). */
const FEATURES = ['api', 'sso', 'exports', 'projects', 'seats'] as const;
const ISSUER = 'http://127.0.0.1:0';

async function postEvents(ledgerUrl: string, events: unknown[]): Promise<number> {
  let last = 0;
  for (let i = 0; i < events.length; i += 1000) {
    const r = await http(`${ledgerUrl}/v1/events`, { token: INGEST_TOKEN, body: events.slice(i, i + 1000) });
    if (r.status !== 200) throw new Error(`events: ${r.status} ${r.text}`);
    last = r.body.results.at(-1).position;
  }
  return last;
}

/** A mix of plans and lifecycles: granted, lapsed, unknown plan, two subscriptions at once. */
function eventsFor(subjects: readonly string[], now: number): unknown[] {
  const out: unknown[] = [];
  subjects.forEach((subject, i) => {
    const base = { current_period_end: iso(now + 30 * DAY), quantity: 1 + (i % 7) };
    const kind = i % 7;
    const sub =
      kind === 0 ? { plan: 'pro', status: 'active' }
      : kind === 1 ? { plan: 'enterprise', status: 'active' }
      : kind === 2 ? { plan: 'free', status: 'trialing' }
      : kind === 3 ? { plan: 'pro', status: 'past_due' }
      : kind === 4 ? { plan: 'pro', status: 'canceled', ended_at: iso(now - DAY) }
      : kind === 5 ? { plan: 'gold_unknown', status: 'active' }
      : { plan: 'enterprise', status: 'paused' };
    out.push(subscriptionEvent({ occurred_at: iso(now - DAY) }, { id: `sub_${subject}_a`, subject, ...base, ...sub }));
    if (i % 5 === 0) {
      out.push(subscriptionEvent({ occurred_at: iso(now - DAY) }, { id: `sub_${subject}_b`, subject, plan: 'free', status: 'active', quantity: 2, current_period_end: iso(now + 2 * DAY) }));
    }
  });
  return out;
}

async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

async function edgeEnv(ledgerUrl: string, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const { file } = await pinLedgerKeys(ledgerUrl);
  return {
    LEDGER_URL: ledgerUrl,
    LEDGER_TOKEN: await snapshotsToken(ledgerUrl),
    VERIFIER_TRUSTED_JWKS: file,
    VERIFIER_ISSUER: ISSUER,
    VERIFIER_CACHE_DIR: path.join(scratchDir('edge-cache'), 'cache'),
    VERIFIER_POLL_S: '1',
    ...extra,
  };
}

describe('edge verifier: decisions, errors, key rotation (live ledger)', () => {
  let db: TestDatabase;
  let ledger: LedgerProcess;
  let edge: EdgeProcess;
  const now = Date.now();
  const subjects = Array.from({ length: 300 }, (_, i) => `edge_org_${i}`);

  beforeAll(async () => {
    db = await createTestDatabase();
    ledger = await spawnLedger(db.url);
    edge = await spawnEdgeProcess(await edgeEnv(ledger.url));
  }, 60_000);
  afterAll(async () => {
    await edge?.kill();
    await ledger?.kill();
    await db?.drop();
  });

  it('answers every subject and feature as the ledger\'s entitlements API does', async () => {
    const last = await postEvents(ledger.url, eventsFor(subjects, now));
    const health = await waitEdgeVer(edge.url, last);
    expect(health).toMatchObject({ status: 'ok', source: 'fresh', seq: expect.any(Number) });
    let granted = 0;
    await pool([...subjects, 'edge_never_seen'], 16, async (subject) => {
      const api = await http(`${ledger.url}/v1/subjects/${subject}/entitlements`, { token: ADMIN_TOKEN });
      expect(api.status).toBe(200);
      for (const feature of FEATURES) {
        const d = await edgeCheck(edge.url, subject, feature);
        const expected = api.body.features[feature]?.value ?? null;
        const allowed = expected === true || (typeof expected === 'number' && expected > 0);
        expect({ subject, feature, value: d.value, allowed: d.allowed }).toEqual({ subject, feature, value: expected, allowed });
        expect(d).toMatchObject({ source: 'fresh', stale_for_s: 0 });
        expect(d.ver).toBeGreaterThanOrEqual(last);
        if (allowed) granted += 1;
      }
    });
    expect(granted).toBeGreaterThan(300);
    expect(await metric(edge.url, 'edge_verifier_checks_total', { source: 'fresh', allowed: 'true' })).toBe(granted);
  }, 120_000);

  it('answers problem+json for bad requests and unknown API keys', async () => {
    const problem = async (url: string, status: number, headers: Record<string, string> = {}): Promise<any> => {
      const r = await http(url, { headers });
      expect(r.status).toBe(status);
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(r.body).toMatchObject({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String) });
      return r.body;
    };
    await problem(`${edge.url}/v1/check?subject=edge_org_1`, 400);
    await problem(`${edge.url}/v1/check?feature=api`, 400);
    await problem(`${edge.url}/v1/check?subject=a%20b&feature=api`, 400);
    await problem(`${edge.url}/v1/check?subject=x&subject=y&feature=api`, 400);
    await problem(`${edge.url}/v1/check?subject=edge_org_1&feature=api`, 400, { authorization: 'Bearer some-key' });
    await problem(`${edge.url}/v1/check?feature=api`, 400, { authorization: 'Basic abc' });
    await problem(`${edge.url}/v1/check?feature=api`, 401, { authorization: 'Bearer not-a-key-anyone-has' });
    await problem(`${edge.url}/nope`, 404);
    const post = await fetch(`${edge.url}/v1/check`, { method: 'POST', body: 'x'.repeat(4096), headers: { 'content-type': 'text/plain' } });
    expect(post.status).toBeGreaterThanOrEqual(400);
    expect(post.status).toBeLessThan(500);
    // A capability token the caller presents is accepted (and unused while the snapshot decides).
    const token = (await http(`${ledger.url}/v1/subjects/edge_org_1/token`, { token: ADMIN_TOKEN })).body.token;
    const d = await edgeCheck(edge.url, 'edge_org_1', 'api', { 'ledger-token': token });
    expect(d).toMatchObject({ allowed: true, source: 'fresh' });
    expect(await metric(edge.url, 'edge_verifier_requests_refused_total', { reason: 'unknown_api_key' })).toBe(1);
    expect(edge.output()).not.toContain('not-a-key-anyone-has');
    expect(edge.output()).not.toContain(token);
  });

  it('follows a key rotation without a restart: learns the announced key from a signed manifest, then accepts manifests it signs', async () => {
    const before = await edgeHealth(edge.url);
    expect(before.body.trusted_kids).toHaveLength(1);
    const announced = await http(`${ledger.url}/v1/admin/keys/rotate`, { method: 'POST', token: ADMIN_TOKEN });
    expect(announced.body).toMatchObject({ action: 'announced', next: expect.any(String) });
    const p1 = await postEvents(ledger.url, [subscriptionEvent({}, { subject: 'edge_rot_1', current_period_end: iso(now + 30 * DAY) })]);
    await waitEdgeVer(edge.url, p1);
    expect((await edgeHealth(edge.url)).body.trusted_kids).toEqual(expect.arrayContaining([...before.body.trusted_kids, announced.body.next]));

    const promoted = await http(`${ledger.url}/v1/admin/keys/rotate`, { method: 'POST', token: ADMIN_TOKEN });
    expect(promoted.body).toMatchObject({ action: 'promoted', current: announced.body.next });
    const p2 = await postEvents(ledger.url, [subscriptionEvent({}, { subject: 'edge_rot_2', current_period_end: iso(now + 30 * DAY) })]);
    const after = await waitEdgeVer(edge.url, p2);
    const latest = await http(`${ledger.url}/v1/snapshots/latest`, { token: ADMIN_TOKEN });
    const header = JSON.parse(Buffer.from(latest.text.split('.')[0]!, 'base64url').toString());
    expect(header.kid).toBe(announced.body.next);
    expect(after.seq).toBeGreaterThan(before.body.seq);
    expect(after).toMatchObject({ status: 'ok', source: 'fresh' });
    expect(await edgeCheck(edge.url, 'edge_rot_2', 'api')).toMatchObject({ allowed: true, source: 'fresh' });
    expect(await metric(edge.url, 'edge_verifier_snapshot_rejects_total')).toBe(0);
  }, 60_000);

  describe('bearer API-key mode (needs ledger api-keys)', () => {
    it('authenticates a live API key to its subject, and refuses it once deleted', async () => {
      const subject = 'edge_keyed_org';
      const created = await http(`${ledger.url}/v1/admin/subjects/${subject}/api-keys`, { token: ADMIN_TOKEN, body: { name: 'edge-e2e' } });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ key: expect.any(String), id: expect.any(String) });
      const p = await postEvents(ledger.url, [subscriptionEvent({}, { subject, plan: 'enterprise', current_period_end: iso(now + 30 * DAY) })]);
      await waitEdgeVer(edge.url, p);
      const auth = { authorization: `Bearer ${created.body.key}` };
      const r = await http(`${edge.url}/v1/check?feature=sso`, { headers: auth });
      expect(r.status).toBe(200);
      expect(r.body).toEqual(await edgeCheck(edge.url, subject, 'sso'));
      expect(r.body).toMatchObject({ allowed: true, source: 'fresh' });

      const deleted = await http(`${ledger.url}/v1/admin/subjects/${subject}/api-keys/${created.body.id}`, { method: 'DELETE', token: ADMIN_TOKEN });
      expect(deleted.status).toBeLessThan(300);
      const p2 = await postEvents(ledger.url, [subscriptionEvent({}, { subject: 'edge_after_key_delete', current_period_end: iso(now + 30 * DAY) })]);
      await waitEdgeVer(edge.url, p2);
      expect((await http(`${edge.url}/v1/check?feature=sso`, { headers: auth })).status).toBe(401);
      expect(edge.output()).not.toContain(created.body.key);
    });
  });
});

describe('edge verifier through a ledger outage (SNAPSHOT_TTL_S 6)', () => {
  let db: TestDatabase;
  let ledger: LedgerProcess;
  /** Default graces: A 3 days, B 1 hour. */
  let lenient: EdgeProcess;
  let lenientEnv: Record<string, string>;
  /** VERIFIER_GRACE_B_S 4, VERIFIER_GRACE_S 10. */
  let strict: EdgeProcess;
  let strictEnv: Record<string, string>;
  const now = Date.now();
  const subjects = Array.from({ length: 40 }, (_, i) => `outage_org_${i}`);
  const baseline = new Map<string, any>();

  beforeAll(async () => {
    db = await createTestDatabase();
    ledger = await spawnLedger(db.url, { SNAPSHOT_TTL_S: '6' });
    lenientEnv = await edgeEnv(ledger.url);
    strictEnv = await edgeEnv(ledger.url, { VERIFIER_GRACE_B_S: '4', VERIFIER_GRACE_S: '10' });
    [lenient, strict] = await Promise.all([spawnEdgeProcess(lenientEnv), spawnEdgeProcess(strictEnv)]);
    const last = await postEvents(ledger.url, eventsFor(subjects, now));
    await Promise.all([waitEdgeVer(lenient.url, last), waitEdgeVer(strict.url, last)]);
    for (const subject of subjects) {
      for (const feature of FEATURES) baseline.set(`${subject}/${feature}`, await edgeCheck(lenient.url, subject, feature));
    }
  }, 90_000);
  afterAll(async () => {
    await lenient?.kill();
    await strict?.kill();
    await ledger?.kill('SIGKILL');
    await db?.drop();
  });

  const classSubject = subjects.find((_, i) => i % 7 === 1)!; // enterprise: api, sso, exports, projects, seats
  const watched = { exports: 'C', projects: 'B', api: 'A' } as const;
  let firstDenied: Promise<Map<string, number>>;

  /** From the kill on, polls the strict verifier and records when each class first stops deciding. */
  function watchClasses(): Promise<Map<string, number>> {
    const denied = new Map<string, number>();
    return waitFor('every class past grace', async () => {
      for (const feature of Object.keys(watched)) {
        if (denied.has(feature)) continue;
        const d = await edgeCheck(strict.url, classSubject, feature);
        const t = Date.now();
        if (d.source === 'none') {
          expect(d).toMatchObject({ allowed: false, value: null, reason: 'past_grace' });
          denied.set(feature, t);
        } else {
          expect(d.allowed).toBe(true);
        }
      }
      return denied.size === 3 ? denied : undefined;
    }, 60_000, 100);
  }

  it('keeps answering the same decisions after the ledger is SIGKILLed (fresh, then stale); a restart answers from its disk cache', async () => {
    for (const feature of Object.keys(watched)) expect(baseline.get(`${classSubject}/${feature}`).allowed).toBe(true);
    // Counted from the edge's start: a busy start may already have gone stale and back once.
    const wentStaleBefore = await metric(lenient.url, 'edge_verifier_state_transitions_total', { from: 'fresh', to: 'stale' });
    expect(await ledger.kill('SIGKILL')).toBe('SIGKILL');
    firstDenied = watchClasses();
    firstDenied.catch(() => undefined);
    await sleep(300);
    const held = (await edgeHealth(lenient.url)).body;
    const expectSame = async (url: string, from: 'fresh' | 'stale'): Promise<void> => {
      let source = from;
      for (const subject of subjects) {
        for (const feature of FEATURES) {
          const d = await edgeCheck(url, subject, feature);
          const b = baseline.get(`${subject}/${feature}`);
          // A pass begun while fresh may outlast exp on a loaded machine: from the first answer
          // that is not fresh on, every answer must be what the stale rules say.
          if (source === 'fresh' && d.source !== 'fresh') source = 'stale';
          if (feature === 'exports' && source === 'stale') {
            // class C fails closed at exp
            expect(d).toMatchObject({ allowed: false, source: 'none', reason: 'past_grace' });
            continue;
          }
          expect({ subject, feature, value: d.value, allowed: d.allowed, source: d.source }).toEqual({ subject, feature, value: b.value, allowed: b.allowed, source });
          if (source === 'stale' && d.allowed) expect(d.reason).toBe('stale_within_grace');
        }
      }
    };
    // compared while fresh only when exp is far enough ahead for the whole pass
    if (held.status === 'ok' && held.exp * 1000 - Date.now() > 2_500) await expectSame(lenient.url, 'fresh');
    const stale = await waitFor('stale', async () => {
      const h = await edgeHealth(lenient.url);
      return h.body.status === 'degraded' ? h : undefined;
    });
    expect(stale.status).toBe(200);
    expect(stale.body).toMatchObject({ source: 'stale', seq: held.seq, ver: held.ver });
    await expectSame(lenient.url, 'stale');
    expect(await metric(lenient.url, 'edge_verifier_state_transitions_total', { from: 'fresh', to: 'stale' })).toBe(wentStaleBefore + 1);

    // the ledger is still down: the restarted verifier starts from its re-verified disk cache
    expect(await lenient.kill('SIGTERM')).toBe(0);
    lenient = await spawnEdgeProcess(lenientEnv);
    const restarted = await edgeHealth(lenient.url);
    expect(restarted.status).toBe(200);
    expect(restarted.body).toMatchObject({ status: 'degraded', source: 'stale', seq: held.seq, ver: held.ver });
    await expectSame(lenient.url, 'stale');
    expect(await metric(lenient.url, 'edge_verifier_syncs_total', { via: 'cache' })).toBe(1);
  }, 60_000);

  it('fails closed class by class at their boundaries (C at exp, B at exp+4 s, A at exp+10 s); a restart with the clock an hour back revives nothing', async () => {
    const subject = classSubject;
    const denied = await firstDenied;
    const { exp } = (await edgeHealth(strict.url)).body;
    const at = (feature: string): number => denied.get(feature)! - exp * 1000;
    expect(at('exports')).toBeGreaterThan(0);
    expect(at('exports')).toBeLessThan(2_500);
    expect(at('projects')).toBeGreaterThan(4_000);
    expect(at('projects')).toBeLessThan(6_500);
    expect(at('api')).toBeGreaterThan(10_000);
    expect(at('api')).toBeLessThan(12_500);
    const down = await edgeHealth(strict.url);
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: 'down', source: 'none', seq: expect.any(Number) });

    // Without the persisted time floor, an hour back would put the held manifest before its exp again.
    const clockBack = faketimeMinusOneHour();
    expect(await strict.kill('SIGTERM')).toBe(0);
    strict = await spawnEdgeProcess({ ...strictEnv, ...clockBack });
    for (const feature of FEATURES) {
      expect(await edgeCheck(strict.url, subject, feature)).toMatchObject({ allowed: false, source: 'none', reason: 'past_grace' });
    }
    const after = await edgeHealth(strict.url);
    expect(after.status).toBe(503);
    expect(after.body).toMatchObject({ status: 'down', seq: down.body.seq, ver: down.body.ver });
  }, 90_000);
});

// ---------------------------------------------------------------------------------------------

type Attack = (req: IncomingMessage, res: ServerResponse, forward: () => Promise<{ status: number; headers: Record<string, string>; body: Buffer }>) => Promise<boolean>;

/** A loopback proxy in front of the ledger whose answers the test can rewrite. */
async function startProxy(target: string): Promise<{ url: string; server: Server; attack: Attack | null; shardsById: Map<number, Buffer>; close(): Promise<void> }> {
  const state: { attack: Attack | null; shardsById: Map<number, Buffer> } = { attack: null, shardsById: new Map() };
  const forward = (req: IncomingMessage) => (): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const u = new URL(req.url ?? '/', target);
      const headers = { ...req.headers, host: u.host };
      const out = httpRequest(u, { method: req.method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers as Record<string, string>, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      out.on('error', reject);
      out.end();
    });
  const server = createServer((req, res) => {
    void (async () => {
      // No SSE through the proxy: every manifest the verifier sees comes through /latest, which the test controls.
      if (req.url?.startsWith('/v1/snapshots/stream')) return void res.writeHead(404).end();
      const fwd = forward(req);
      if (state.attack && (await state.attack(req, res, fwd))) return;
      const r = await fwd();
      if (req.url?.startsWith('/v1/snapshots/shards/') && r.status === 200) {
        state.shardsById.set(JSON.parse(r.body.toString('utf8')).shard, r.body);
      }
      const { 'transfer-encoding': _te, connection: _c, ...headers } = r.headers;
      res.writeHead(r.status, { ...headers, 'content-length': String(r.body.length) }).end(r.body);
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
function signJws(claims: unknown, kid: string, key: KeyObject): string {
  const input = `${b64({ alg: 'EdDSA', kid, typ: 'entitlements-manifest+jwt' })}.${b64(claims)}`;
  return `${input}.${sign(null, Buffer.from(input), key).toString('base64url')}`;
}
const claimsOf = (jws: string): any => JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString());

describe('edge verifier under attack (a proxy rewriting the ledger\'s answers)', () => {
  let db: TestDatabase;
  let ledger: LedgerProcess;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  let edge: EdgeProcess;
  let ledgerKey: KeyObject;
  let ledgerKid: string;
  let oldManifest: string;
  const now = Date.now();
  const subjects = Array.from({ length: 30 }, (_, i) => `attack_org_${i}`);

  const snapshot = async (): Promise<{ seq: number; ver: number; decisions: unknown[] }> => {
    const h = (await edgeHealth(edge.url)).body;
    const decisions = [];
    for (const s of subjects.slice(0, 10)) for (const f of FEATURES) decisions.push(await edgeCheck(edge.url, s, f));
    return { seq: h.seq, ver: h.ver, decisions };
  };
  const latestJws = async (): Promise<string> => (await http(`${ledger.url}/v1/snapshots/latest`, { token: ADMIN_TOKEN })).text;
  /** Answers /latest with `jws` while the attack runs. */
  const serveManifest = (body: string | Buffer): Attack => async (req, res) => {
    if (!req.url?.startsWith('/v1/snapshots/latest')) return false;
    res.writeHead(200, { 'content-type': 'application/jwt', etag: `"attack-${Math.random()}"` }).end(body);
    return true;
  };
  /** Runs an attack until the counter moves, then checks the held state and decisions were kept. */
  const expectKept = async (attack: Attack, counter: [string, Record<string, string>]): Promise<void> => {
    const before = await snapshot();
    const count = await metric(edge.url, ...counter);
    proxy.attack = attack;
    try {
      await waitFor(`${counter[0]} ${JSON.stringify(counter[1])} to grow`, async () => ((await metric(edge.url, ...counter)) > count ? true : undefined), 30_000, 200);
      expect(await snapshot()).toEqual(before);
    } finally {
      proxy.attack = null;
    }
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    const { privateKey } = generateKeyPairSync('ed25519');
    ledgerKey = privateKey;
    const keyFile = path.join(scratchDir('edge-attack-key'), 'signing.jwk');
    writeFileSync(keyFile, JSON.stringify(privateKey.export({ format: 'jwk' })), { mode: 0o600 });
    ledger = await spawnLedger(db.url, { LEDGER_SIGNING_KEY: keyFile });
    ledgerKid = (await pinLedgerKeys(ledger.url)).kids[0]!;
    proxy = await startProxy(ledger.url);
    const env = await edgeEnv(ledger.url, { LEDGER_URL: proxy.url });
    const first = await postEvents(ledger.url, eventsFor(subjects.slice(0, 15), now));
    edge = await spawnEdgeProcess(env);
    await waitEdgeVer(edge.url, first);
    oldManifest = await latestJws();
    const last = await postEvents(ledger.url, eventsFor(subjects.slice(15), now));
    await waitEdgeVer(edge.url, last);
  }, 90_000);
  afterAll(async () => {
    await edge?.kill();
    await proxy?.close();
    await ledger?.kill();
    await db?.drop();
  });

  it('refuses an older manifest replayed (rollback)', async () => {
    expect(claimsOf(oldManifest).seq).toBeLessThan((await snapshot()).seq);
    await expectKept(serveManifest(oldManifest), ['edge_verifier_snapshot_rejects_total', { reason: 'rollback' }]);
  });

  it('refuses a manifest signed by a key it was never given', async () => {
    const held = await latestJws();
    const forged = { ...claimsOf(held), seq: claimsOf(held).seq + 1, prev: createHash('sha256').update(held).digest('hex'), iat: Math.floor(Date.now() / 1000) };
    forged.exp = forged.iat + 900;
    forged.shards = forged.shards.map((s: any) => ({ ...s }));
    const attacker = generateKeyPairSync('ed25519').privateKey;
    await expectKept(serveManifest(signJws(forged, 'attacker-kid', attacker)), ['edge_verifier_snapshot_rejects_total', { reason: 'unknown_key' }]);
    // the attacker reusing the trusted kid fails the signature instead
    await expectKept(serveManifest(signJws(forged, ledgerKid, attacker)), ['edge_verifier_snapshot_rejects_total', { reason: 'signature_invalid' }]);
  });

  it('refuses a manifest from the future, even one signed with the ledger\'s own key', async () => {
    const held = await latestJws();
    const iat = Math.floor(Date.now() / 1000) + 3600;
    const future = { ...claimsOf(held), seq: claimsOf(held).seq + 1, prev: createHash('sha256').update(held).digest('hex'), iat, exp: iat + 900 };
    await expectKept(serveManifest(signJws(future, ledgerKid, ledgerKey)), ['edge_verifier_snapshot_rejects_total', { reason: 'manifest_from_future' }]);
  });

  it('refuses an oversized manifest response', async () => {
    await expectKept(serveManifest(Buffer.alloc(2 * 1024 * 1024, 0x61)), ['edge_verifier_snapshot_rejects_total', { reason: 'manifest_too_large' }]);
  });

  it('refuses a shard swapped for another version of the same shard, then catches up once the shard is honest', async () => {
    const subject = subjects[0]!;
    const before = await snapshot();
    const known = new Map(proxy.shardsById);
    const swap: Attack = async (req, res, forward) => {
      if (!req.url?.startsWith('/v1/snapshots/shards/')) return false;
      const real = await forward();
      const id = JSON.parse(real.body.toString('utf8')).shard as number;
      const old = known.get(id);
      if (!old || old.equals(real.body)) return false;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(old.length) }).end(old);
      return true;
    };
    const count = await metric(edge.url, 'edge_verifier_snapshot_rejects_total', { reason: 'shard_hash_mismatch' });
    proxy.attack = swap;
    const p = await postEvents(ledger.url, [subscriptionEvent({}, { id: `sub_${subject}_a`, subject, plan: 'enterprise', status: 'active', current_period_end: iso(now + 60 * DAY) })]);
    try {
      await waitFor('shard_hash_mismatch', async () => ((await metric(edge.url, 'edge_verifier_snapshot_rejects_total', { reason: 'shard_hash_mismatch' })) > count ? true : undefined), 30_000, 200);
      expect(await snapshot()).toEqual(before);
    } finally {
      proxy.attack = null;
    }
    await waitEdgeVer(edge.url, p);
    expect(await edgeCheck(edge.url, subject, 'sso')).toMatchObject({ allowed: true, source: 'fresh' });
  });

  it('survives a truncated response (connection cut mid-body) with the held state kept, and recovers', async () => {
    const truncate: Attack = async (req, res, forward) => {
      if (!req.url?.startsWith('/v1/snapshots/latest')) return false;
      const real = await forward();
      res.writeHead(200, { 'content-type': 'application/jwt', 'content-length': String(real.body.length) });
      res.write(real.body.subarray(0, real.body.length >> 1));
      res.destroy();
      return true;
    };
    await expectKept(truncate, ['edge_verifier_ledger_unreachable_total', { code: 'ledger_unavailable' }]);
    // afterwards it syncs again (the circuit, if it opened, half-opens after 10 s)
    const p = await postEvents(ledger.url, [subscriptionEvent({}, { subject: 'attack_after', current_period_end: iso(now + 30 * DAY) })]);
    await waitEdgeVer(edge.url, p, 40_000);
    expect(await edgeCheck(edge.url, 'attack_after', 'api')).toMatchObject({ allowed: true, source: 'fresh' });
  }, 60_000);
});
