import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { createVerifier, type Verifier } from '@app/verifier';
import { FakeLedger, sha256Hex, TEST_TOKEN } from '../../../../libs/verifier/src/testing/fake-ledger.fixtures.js';
import { serve, type Served } from '../../../../libs/verifier/src/testing/serve.fixtures.js';
import { EdgeMetrics } from '../metrics/edge.metrics.js';
import { createEdgeServer } from './edge-server.js';

// The edge server over a real loopback HTTP connection, in front of a verifier syncing from the
// verifier library's ledger double (real Ed25519 signatures, real node:http).
const NOW = Date.parse('2026-11-24T10:00:00Z');
const FUTURE = '2027-01-01T00:00:00.000Z';
const API_KEY = 'lk_live_edge_unit_0123456789';

async function start(ledger: FakeLedger, served: Served, nowMs: () => number): Promise<{ verifier: Verifier; app: FastifyInstance; url: string }> {
  const verifier = createVerifier({
    ledgerUrl: served.url,
    token: TEST_TOKEN,
    trustedKeys: [ledger.signer.publicJwk],
    issuer: ledger.issuer,
    useSse: false,
    now: () => new Date(nowMs()),
  });
  await verifier.start();
  const app = createEdgeServer({ verifier, metrics: new EdgeMetrics(verifier, { defaultMetrics: false }), logger: pino({ level: 'silent' }) });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { verifier, app, url };
}

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string | null; body: any }> {
  const r = await fetch(url, { headers });
  return { status: r.status, type: r.headers.get('content-type'), body: await r.json() };
}

describe('edge server', () => {
  let ledger: FakeLedger;
  let served: Served;
  let edge: Awaited<ReturnType<typeof start>>;
  let now = NOW;

  beforeAll(async () => {
    ledger = await FakeLedger.create();
    ledger.ver = 7;
    ledger.subjects = {
      org_keyed: { features: { api: [{ value: true, valid_until: FUTURE }], exports: [{ value: true, valid_until: FUTURE }] }, api_keys: [await sha256Hex(API_KEY)] },
      org_other: { features: { api: [{ value: true, valid_until: FUTURE }] } },
    };
    await ledger.publish({ iat: Math.floor(NOW / 1000), classes: { api: 'A', exports: 'C' } });
    served = await serve(ledger.handle);
    edge = await start(ledger, served, () => now);
  });
  afterAll(async () => {
    await edge.app.close();
    await edge.verifier.stop();
    await served.close();
  });

  it('decides for the subject an API key belongs to (Authorization: Bearer), like a check by subject', async () => {
    const byKey = await get(`${edge.url}/v1/check?feature=api`, { authorization: `Bearer ${API_KEY}` });
    expect(byKey.status).toBe(200);
    expect(byKey.body).toEqual({ allowed: true, value: true, source: 'fresh', ver: 7, stale_for_s: 0, reason: 'granted' });
    expect((await get(`${edge.url}/v1/check?feature=api&subject=org_keyed`)).body).toEqual(byKey.body);
  });

  it('answers 401 problem+json for an unknown key, 400 for a malformed header or a key beside a subject', async () => {
    const unknown = await get(`${edge.url}/v1/check?feature=api`, { authorization: 'Bearer lk_live_nobody' });
    expect(unknown).toMatchObject({ status: 401, type: expect.stringMatching(/^application\/problem\+json/), body: { status: 401, title: 'Unauthenticated' } });
    expect((await get(`${edge.url}/v1/check?feature=api`, { authorization: API_KEY })).status).toBe(400);
    const both = await get(`${edge.url}/v1/check?feature=api&subject=org_other`, { authorization: `Bearer ${API_KEY}` });
    expect(both).toMatchObject({ status: 400, body: { errors: [{ path: 'subject', message: expect.any(String) }] } });
  });

  it('falls back to a capability token the caller presents once the snapshot cannot decide', async () => {
    now = NOW + 901_000; // past exp: class C no longer decided from the snapshot
    const token = await ledger.token('org_keyed', { exports: true }, { iat: Math.floor(now / 1000) - 10, exp: Math.floor(now / 1000) + 300 });
    const without = await get(`${edge.url}/v1/check?feature=exports&subject=org_keyed`);
    expect(without.body).toMatchObject({ allowed: false, source: 'none', reason: 'past_grace' });
    const viaHeader = await get(`${edge.url}/v1/check?feature=exports&subject=org_keyed`, { 'ledger-token': token });
    expect(viaHeader.body).toMatchObject({ allowed: true, source: 'token', reason: 'token' });
    const viaQuery = await get(`${edge.url}/v1/check?feature=exports&subject=org_keyed&token=${token}`);
    expect(viaQuery.body).toEqual(viaHeader.body);
    const wrongSubject = await get(`${edge.url}/v1/check?feature=exports&subject=org_other`, { 'ledger-token': token });
    expect(wrongSubject.body).toMatchObject({ allowed: false, source: 'none', reason: 'token_subject_mismatch' });
    // the key still authenticates within the class A window
    expect((await get(`${edge.url}/v1/check?feature=api`, { authorization: `Bearer ${API_KEY}` })).body).toMatchObject({ allowed: true, source: 'stale' });
    const health = await get(`${edge.url}/health`);
    expect(health).toMatchObject({ status: 200, body: { status: 'degraded', source: 'stale', seq: 1, ver: 7 } });
    now = NOW + (900 + 259_200 + 1) * 1000; // past every grace
    expect((await get(`${edge.url}/v1/check?feature=api`, { authorization: `Bearer ${API_KEY}` })).status).toBe(401);
    expect(await get(`${edge.url}/health`)).toMatchObject({ status: 503, body: { status: 'down', source: 'none', seq: 1 } });
    now = NOW; // the clock set back: the verifier's time floor keeps it down
    expect(await get(`${edge.url}/health`)).toMatchObject({ status: 503, body: { status: 'down' } });
  });

  it('counts decisions and refusals in /metrics', async () => {
    const text = await (await fetch(`${edge.url}/metrics`)).text();
    expect(text).toMatch(/edge_verifier_checks_total\{source="fresh",allowed="true"\} [1-9]/);
    expect(text).toMatch(/edge_verifier_checks_total\{source="token",allowed="true"\} 2/);
    expect(text).toMatch(/edge_verifier_requests_refused_total\{reason="unknown_api_key"\} [1-9]/);
    expect(text).toMatch(/edge_verifier_held_seq 1/);
    expect(text).toMatch(/edge_verifier_state\{state="expired"\} 1/);
    expect(text).toMatch(/edge_verifier_state_transitions_total\{from="fresh",to="stale"\} 1/);
  });
});

describe('edge server without a verified snapshot', () => {
  it('is down (503) and denies with source none', async () => {
    const ledger = await FakeLedger.create(); // publishes nothing: /latest answers 503
    const served = await serve(ledger.handle);
    const edge = await start(ledger, served, () => NOW);
    try {
      expect(await get(`${edge.url}/health`)).toMatchObject({ status: 503, body: { status: 'down', source: 'none', seq: null, ver: null } });
      expect((await get(`${edge.url}/v1/check?feature=api&subject=org_1`)).body).toMatchObject({ allowed: false, source: 'none', reason: 'no_snapshot' });
      expect((await get(`${edge.url}/v1/check?feature=api`, { authorization: `Bearer ${API_KEY}` })).status).toBe(401);
    } finally {
      await edge.app.close();
      await edge.verifier.stop();
      await served.close();
    }
  });
});
