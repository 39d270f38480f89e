import { rm, chmod } from 'node:fs/promises';
import path from 'node:path';
import { freePort, migrate, startEmbeddedDatabase, type EmbeddedDatabase } from '../libs/event-store/src/index.js';
import { createTestDatabase, type TestDatabase } from './support/test-database.js';
import { scratchDir } from './support/scratch.js';
import { ADMIN_TOKEN, INGEST_TOKEN, http, startLedger, subscriptionEvent, type RunningLedger } from './support/ledger-harness.js';
import { waitForPosition } from './support/projection-check.js';
import { evaluateShardEntry, sha256hex, shardOfSubject, verifyCompactJws } from './support/independent-verify.js';

const DAY = 86_400_000;
const iso = (ms: number): string => new Date(ms).toISOString();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function latest(base: string): Promise<{ jws: string; etag: string | null }> {
  const r = await http(`${base}/v1/snapshots/latest`, { token: ADMIN_TOKEN });
  if (r.status !== 200) throw new Error(`latest: ${r.status} ${r.text}`);
  return { jws: r.text, etag: r.headers.get('etag') };
}

/** Waits for a manifest with ver ≥ position (and seq > afterSeq), verified independently. */
async function manifestAt(base: string, position: number, afterSeq = 0, timeoutMs = 20_000): Promise<{ jws: string; claims: any; header: any }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await http(`${base}/v1/snapshots/latest`, { token: ADMIN_TOKEN });
    if (r.status === 200) {
      const jwks = (await http(`${base}/.well-known/jwks.json`)).body;
      const v = verifyCompactJws(r.text, jwks, 'entitlements-manifest+jwt');
      if (v.claims.ver >= position && v.claims.seq > afterSeq) return { jws: r.text, ...v };
    }
    if (Date.now() > deadline) throw new Error(`no manifest reached ver ${position}`);
    await sleep(50);
  }
}

async function shardBytes(base: string, sha: string): Promise<Buffer> {
  const r = await fetch(`${base}/v1/snapshots/shards/${sha}`);
  if (r.status !== 200) throw new Error(`shard ${sha}: ${r.status}`);
  expect(r.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
  return Buffer.from(await r.arrayBuffer());
}

describe('snapshots: signed manifests, shards, tokens', () => {
  let db: TestDatabase;
  let ledger: RunningLedger;
  let base: string;
  const now = Date.now();
  const post = async (body: unknown): Promise<number> => {
    const r = await http(`${base}/v1/events`, { token: INGEST_TOKEN, body });
    expect(r.status).toBe(200);
    return r.body.position;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    ledger = await startLedger(db.url, { LEDGER_DATA_DIR: scratchDir('ledger-snap') });
    base = ledger.url;
  });
  afterAll(async () => {
    await ledger.close();
    await db.drop();
  });

  it('publishes manifests and shards that verify with node:crypto alone and match the entitlements API', async () => {
    const subjects = Array.from({ length: 40 }, (_, i) => `snap_org_${i}`);
    let last = 0;
    for (const [i, subject] of subjects.entries()) {
      last = await post(subscriptionEvent({ occurred_at: iso(now - DAY) }, { subject, plan: i % 3 === 0 ? 'enterprise' : 'pro', quantity: 1 + i, current_period_end: iso(now + 30 * DAY) }));
    }
    await waitForPosition(base, ADMIN_TOKEN, last);
    const { claims, header } = await manifestAt(base, last);
    expect(header).toEqual({ alg: 'EdDSA', kid: expect.any(String), typ: 'entitlements-manifest+jwt' });
    expect(claims).toMatchObject({ iss: 'http://127.0.0.1:0', seq: expect.any(Number), ver: expect.any(Number) });
    expect(claims.exp - claims.iat).toBe(900);
    expect(claims.shard_count).toBe(256);
    expect(claims.shards).toHaveLength(256);
    expect(claims.shards.map((s: any) => s.id)).toEqual(Array.from({ length: 256 }, (_, i) => i));
    expect(claims.classes).toEqual({ api: 'A', sso: 'A', exports: 'C' });

    for (const subject of subjects) {
      const id = shardOfSubject(subject, claims.shard_count);
      const entry = claims.shards[id];
      const bytes = await shardBytes(base, entry.sha256);
      expect(sha256hex(bytes)).toBe(entry.sha256);
      expect(bytes.length).toBe(entry.bytes);
      const shard = JSON.parse(bytes.toString('utf8'));
      expect(shard.shard).toBe(id);
      expect(Object.keys(shard.subjects)).toHaveLength(entry.count);
      const fromShard = evaluateShardEntry(shard.subjects[subject], new Date());
      const api = (await http(`${base}/v1/subjects/${subject}/entitlements`, { token: ADMIN_TOKEN })).body;
      expect(fromShard.plan).toBe(api.plan);
      expect(fromShard.features).toEqual(Object.fromEntries(Object.entries<any>(api.features).map(([f, v]) => [f, v.value])));
    }
  });

  it('chains manifests: seq +1, ver never decreasing, prev = SHA-256 of the previous JWS; untouched shards keep their hash', async () => {
    const seen: { jws: string; claims: any }[] = [];
    let previous = await manifestAt(base, 0);
    seen.push(previous);
    for (let i = 0; i < 5; i++) {
      const p = await post(subscriptionEvent({}, { subject: `chain_${i}`, current_period_end: iso(now + 30 * DAY) }));
      previous = await manifestAt(base, p, previous.claims.seq);
      seen.push(previous);
    }
    for (let i = 1; i < seen.length; i++) {
      const [a, b] = [seen[i - 1]!, seen[i]!];
      expect(b.claims.seq).toBeGreaterThan(a.claims.seq);
      expect(b.claims.ver).toBeGreaterThanOrEqual(a.claims.ver);
      if (b.claims.seq === a.claims.seq + 1) expect(b.claims.prev).toBe(sha256hex(a.jws));
      const changed = b.claims.shards.filter((s: any, id: number) => s.sha256 !== a.claims.shards[id].sha256).map((s: any) => s.id);
      const touched = new Set([shardOfSubject(`chain_${i - 1}`, 256)]);
      for (const id of changed) expect(touched.has(id)).toBe(true);
    }
  });

  it('answers If-None-Match with 304, and requires snapshots:read', async () => {
    const { etag } = await latest(base);
    const r = await fetch(`${base}/v1/snapshots/latest`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'if-none-match': etag! } });
    expect(r.status).toBe(304);
    expect((await http(`${base}/v1/snapshots/latest`)).status).toBe(401);
    expect((await http(`${base}/v1/snapshots/latest`, { token: INGEST_TOKEN })).status).toBe(403);
    expect((await http(`${base}/v1/snapshots/shards/${'0'.repeat(64)}`)).status).toBe(404);
  });

  it('pushes each new manifest over SSE', async () => {
    const abort = new AbortController();
    const res = await fetch(`${base}/v1/snapshots/stream`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, signal: abort.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    const next = async (): Promise<string> => {
      for (;;) {
        const m = /event: manifest\ndata: (\S+)\n\n/.exec(buffer);
        if (m) {
          buffer = buffer.slice(m.index + m[0].length);
          return m[1]!;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buffer += decoder.decode(value, { stream: true });
      }
    };
    const first = await next();
    const p = await post(subscriptionEvent({}, { subject: 'sse_org', current_period_end: iso(now + 30 * DAY) }));
    let pushed = await next();
    while (JSON.parse(Buffer.from(pushed.split('.')[1]!, 'base64url').toString()).ver < p) pushed = await next();
    expect(pushed).not.toBe(first);
    abort.abort();
  });

  it('issues capability tokens that verify, capped by TOKEN_TTL_S and the entitlements', async () => {
    const subject = 'token_org';
    const until = now + 2 * 3600_000; // cancels in two hours: the token must not outlive it
    const p = await post(subscriptionEvent({}, { subject, plan: 'pro', quantity: 3, current_period_end: iso(until), cancel_at_period_end: true }));
    await waitForPosition(base, ADMIN_TOKEN, p);
    const r = await http(`${base}/v1/subjects/${subject}/token`, { token: ADMIN_TOKEN });
    expect(r.status).toBe(200);
    const jwks = (await http(`${base}/.well-known/jwks.json`)).body;
    const { header, claims } = verifyCompactJws(r.body.token, jwks, 'entitlements+jwt');
    expect(header.typ).toBe('entitlements+jwt');
    expect(claims).toMatchObject({ sub: subject, plan: 'pro', ent: { api: true, seats: 3, projects: 50, exports: true } });
    expect(claims.exp).toBe(r.body.exp);
    expect(claims.ver).toBe(r.body.ver);
    expect(claims.exp - claims.iat).toBeLessThanOrEqual(900);
    expect(claims.exp).toBeLessThanOrEqual(Math.floor(until / 1000));
    expect(claims.nbf).toBeLessThanOrEqual(claims.iat);

    const empty = await http(`${base}/v1/subjects/nobody_at_all/token`, { token: ADMIN_TOKEN });
    expect(verifyCompactJws(empty.body.token, jwks, 'entitlements+jwt').claims).toMatchObject({ plan: null, ent: {} });
    expect((await http(`${base}/v1/subjects/${subject}/token`, { token: INGEST_TOKEN })).status).toBe(403);
  });

  it('rotates keys: the next key is announced, then promoted; what the old key signed still verifies', async () => {
    const before = await manifestAt(base, 0);
    const oldToken = (await http(`${base}/v1/subjects/token_org/token`, { token: ADMIN_TOKEN })).body.token;
    const announced = await http(`${base}/v1/admin/keys/rotate`, { method: 'POST', token: ADMIN_TOKEN });
    expect(announced.body).toMatchObject({ action: 'announced', current: before.header.kid, next: expect.any(String) });
    const jwks1 = (await http(`${base}/.well-known/jwks.json`)).body;
    expect(jwks1.keys.map((k: any) => k.kid)).toEqual(expect.arrayContaining([before.header.kid, announced.body.next]));

    const promoted = await http(`${base}/v1/admin/keys/rotate`, { method: 'POST', token: ADMIN_TOKEN });
    expect(promoted.body).toMatchObject({ action: 'promoted', current: announced.body.next });
    const p = await post(subscriptionEvent({}, { subject: 'after_rotation', current_period_end: iso(now + 30 * DAY) }));
    const after = await manifestAt(base, p, before.claims.seq);
    expect(after.header.kid).toBe(promoted.body.current);
    const jwks2 = (await http(`${base}/.well-known/jwks.json`)).body;
    expect(() => verifyCompactJws(before.jws, jwks2, 'entitlements-manifest+jwt')).not.toThrow();
    expect(() => verifyCompactJws(oldToken, jwks2, 'entitlements+jwt')).not.toThrow();
    const newToken = (await http(`${base}/v1/subjects/token_org/token`, { token: ADMIN_TOKEN })).body.token;
    expect(verifyCompactJws(newToken, jwks2, 'entitlements+jwt').header.kid).toBe(promoted.body.current);
    expect((await http(`${base}/v1/admin/keys/rotate`, { method: 'POST', token: INGEST_TOKEN })).status).toBe(403);
  });

  it('continues seq across a restart', async () => {
    const before = await manifestAt(base, 0);
    await ledger.close();
    ledger = await startLedger(db.url, { LEDGER_DATA_DIR: scratchDir('ledger-snap') });
    base = ledger.url;
    const p = await post(subscriptionEvent({}, { subject: 'after_restart', current_period_end: iso(now + 30 * DAY) }));
    const after = await manifestAt(base, p, before.claims.seq);
    expect(after.claims.seq).toBeGreaterThan(before.claims.seq);
    if (after.claims.seq === before.claims.seq + 1) expect(after.claims.prev).toBe(sha256hex(before.jws));
  });
});

describe('snapshots: heartbeat', () => {
  let db: TestDatabase;
  let ledger: RunningLedger;

  beforeAll(async () => {
    db = await createTestDatabase();
    ledger = await startLedger(db.url, { SNAPSHOT_TTL_S: '6', LEDGER_DATA_DIR: scratchDir('ledger-hb') });
  });
  afterAll(async () => {
    await ledger.close();
    await db.drop();
  });

  it('re-signs with the same ver before exp when nothing happens', async () => {
    // Position 1 is the catalog: once it is published, nothing else happens.
    const first = await manifestAt(ledger.url, 1);
    const next = await manifestAt(ledger.url, 1, first.claims.seq, 10_000);
    expect(next.claims.ver).toBe(first.claims.ver);
    expect(next.claims.seq).toBe(first.claims.seq + 1);
    expect(next.claims.prev).toBe(sha256hex(first.jws));
    expect(next.claims.iat).toBeLessThan(first.claims.exp);
  });
});

describe('fault: PostgreSQL stopped under the snapshot path', () => {
  let dir: string;
  let database: EmbeddedDatabase | null = null;
  let ledger: RunningLedger;

  beforeAll(async () => {
    dir = scratchDir('ledger-snapfault');
    await chmod(dir, 0o755);
    database = await startEmbeddedDatabase({ dataDir: path.join(dir, 'pg'), port: await freePort() });
    await migrate({ databaseUrl: database.connectionString });
    ledger = await startLedger(database.connectionString, { LEDGER_DATA_DIR: path.join(dir, 'data') });
  }, 120_000);
  afterAll(async () => {
    await ledger?.close();
    await database?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps serving manifest, shards, JWKS and tokens from memory; ingest 503; readiness degraded', async () => {
    const base = ledger.url;
    const r = await http(`${base}/v1/events`, { token: INGEST_TOKEN, body: subscriptionEvent({}, { subject: 'outage_org', current_period_end: iso(Date.now() + 30 * DAY) }) });
    const held = await manifestAt(base, r.body.position);
    const entry = held.claims.shards[shardOfSubject('outage_org', 256)];

    await database!.stop();
    database = null;

    const again = await http(`${base}/v1/snapshots/latest`, { token: ADMIN_TOKEN });
    expect(again.status).toBe(200);
    expect(again.text).toBe(held.jws);
    const jwks = await http(`${base}/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);
    expect(() => verifyCompactJws(again.text, jwks.body, 'entitlements-manifest+jwt')).not.toThrow();
    const bytes = await shardBytes(base, entry.sha256);
    expect(sha256hex(bytes)).toBe(entry.sha256);
    const token = await http(`${base}/v1/subjects/outage_org/token`, { token: ADMIN_TOKEN });
    expect(token.status).toBe(200);
    expect(verifyCompactJws(token.body.token, jwks.body, 'entitlements+jwt').claims).toMatchObject({ sub: 'outage_org', plan: 'pro', ver: held.claims.ver });

    const ingest = await http(`${base}/v1/events`, { token: INGEST_TOKEN, body: subscriptionEvent() });
    expect(ingest.status).toBe(503);
    const ready = await http(`${base}/health/ready`);
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('degraded');
    expect(ready.body.components).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'database', class: 'A', status: 'down' }),
        expect.objectContaining({ name: 'snapshots', class: 'A', status: 'ok' }),
      ]),
    );
  }, 60_000);
});
