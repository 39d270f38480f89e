import type pg from 'pg';
import { signStripeScheme } from '../libs/billing/src/index.js';
import { waitFor } from './support/edge-client.js';
import { createTestDatabase, testPool, type TestDatabase } from './support/test-database.js';
import {
  ADMIN_TOKEN,
  INGEST_SECRET,
  INGEST_TOKEN,
  http,
  startLedger,
  subscriptionEvent,
  type RunningLedger,
} from './support/ledger-harness.js';

const MAX_BODY = 64 * 1024;

describe('POST /v1/events', () => {
  let db: TestDatabase;
  let ledger: RunningLedger;
  let pool: pg.Pool;
  let url: string;

  const head = async (): Promise<number> =>
    (await pool.query<{ position: string }>('SELECT position FROM log_head')).rows[0]!.position as unknown as number;
  const count = async (): Promise<number> =>
    (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM events')).rows[0]!.n;

  beforeAll(async () => {
    db = await createTestDatabase();
    ledger = await startLedger(db.url, { LEDGER_MAX_BODY: String(MAX_BODY) });
    url = `${ledger.url}/v1/events`;
    pool = testPool(db.url, 2);
  });

  afterAll(async () => {
    await ledger.close();
    await pool.end();
    await db.drop();
  });

  it('records an event after commit and answers its position', async () => {
    const before = await head();
    const event = subscriptionEvent();
    const res = await http(url, { token: INGEST_TOKEN, body: event });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: event.id, position: before + 1, duplicate: false });
    const { rows } = await pool.query('SELECT type, source, source_event_id, data FROM events WHERE position = $1', [before + 1]);
    expect(rows[0]).toMatchObject({ type: 'subscription.updated', source: 'api', source_event_id: event.id });
    expect(rows[0].data.subscription).toMatchObject({ subject: 'org_42', plan: 'pro', quantity: 5 });
    expect(res.headers.get('x-request-id')).toBeTruthy();
  });

  it('answers a redelivery with the original position, and the same id with another body with 409', async () => {
    const event = subscriptionEvent();
    const first = await http(url, { token: INGEST_TOKEN, body: event });
    // Same body, other key order and spacing: still the same event.
    const reordered = JSON.stringify({ subscription: event.subscription, occurred_at: event.occurred_at, type: event.type, id: event.id }, null, 2);
    const again = await http(url, { token: INGEST_TOKEN, raw: reordered });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ ...first.body, duplicate: true });

    const before = await count();
    const changed = { ...event, subscription: { ...(event.subscription as object), quantity: 9 } };
    const conflict = await http(url, { token: INGEST_TOKEN, body: changed });
    expect(conflict.status).toBe(409);
    expect(conflict.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(conflict.body).toMatchObject({ status: 409, title: expect.any(String), detail: expect.stringContaining(String(event.id)) });
    expect(await count()).toBe(before);
  });

  it('records a batch all or nothing, answering results in order', async () => {
    const events = [subscriptionEvent(), subscriptionEvent(), subscriptionEvent()];
    const before = await head();
    const res = await http(url, { token: INGEST_TOKEN, body: events });
    expect(res.status).toBe(200);
    expect(res.body.results).toEqual(events.map((e, i) => ({ id: e.id, position: before + 1 + i, duplicate: false })));

    const fresh = subscriptionEvent();
    const clash = { ...events[1]!, occurred_at: '2026-11-25T00:00:00Z' };
    const after = await head();
    const refused = await http(url, { token: INGEST_TOKEN, body: [fresh, clash] });
    expect(refused.status).toBe(409);
    expect(await head()).toBe(after);
  });

  describe('bad input gets a 4xx problem and changes nothing', () => {
    const cases: Array<[string, () => Promise<{ status: number; body: any; headers: Headers }>, number, string]> = [
      ['malformed JSON', () => http(url, { token: INGEST_TOKEN, raw: '{"id": "evt_x", ' }), 400, 'malformed-json'],
      ['an empty body', () => http(url, { token: INGEST_TOKEN, raw: '' }), 400, 'malformed-json'],
      ['JSON that is not an event', () => http(url, { token: INGEST_TOKEN, body: 42 }), 400, 'validation-failed'],
      ['a schema violation', () => http(url, { token: INGEST_TOKEN, body: subscriptionEvent({}, { status: 'bogus' }) }), 400, 'validation-failed'],
      ['an unknown field', () => http(url, { token: INGEST_TOKEN, body: subscriptionEvent({}, { cancel_at_period_ends: true }) }), 400, 'validation-failed'],
      ['a date without a time zone', () => http(url, { token: INGEST_TOKEN, body: subscriptionEvent({ occurred_at: '2026-11-24T10:00:00' }) }), 400, 'validation-failed'],
      ['a date that is not one', () => http(url, { token: INGEST_TOKEN, body: subscriptionEvent({ occurred_at: 'yesterday' }, { trial_end: '2026-02-30T10:00:00Z' }) }), 400, 'validation-failed'],
      ['an instant over 40 characters', () => http(url, { token: INGEST_TOKEN, body: subscriptionEvent({ occurred_at: `2026-11-24T10:00:00.${'1'.repeat(30)}Z` }) }), 400, 'validation-failed'],
      ['a reserved source', () => http(url, { token: INGEST_TOKEN, body: subscriptionEvent({ source: 'stripe' }) }), 400, 'validation-failed'],
      ['an empty batch', () => http(url, { token: INGEST_TOKEN, body: [] }), 400, 'validation-failed'],
      ['a batch over 1000', () => http(url, { token: INGEST_TOKEN, body: Array.from({ length: 1001 }, () => ({ id: 'x' })) }), 400, 'validation-failed'],
      ['a batch with one invalid event', () => http(url, { token: INGEST_TOKEN, body: [subscriptionEvent(), { id: 'evt_bad' }] }), 400, 'validation-failed'],
      ['a prototype-poisoning body', () => http(url, { token: INGEST_TOKEN, raw: `{"__proto__": {"admin": true}, "id": "evt_p"}` }), 400, 'malformed-json'],
      ['a body over LEDGER_MAX_BODY', () => http(url, { token: INGEST_TOKEN, raw: JSON.stringify({ pad: 'x'.repeat(MAX_BODY) }) }), 413, 'body-too-large'],
      ['a non-JSON content type', () => http(url, { token: INGEST_TOKEN, raw: 'id=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'unsupported-media-type'],
      ['no credential', () => http(url, { body: subscriptionEvent() }), 401, 'unauthenticated'],
      ['malformed JSON without a credential (credentials are judged first)', () => http(url, { raw: '{"id": ' }), 401, 'unauthenticated'],
      ['malformed JSON with a bad Ledger-Signature', () => http(url, { raw: '{"id": ', headers: { 'ledger-signature': `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}` } }), 401, 'signature-invalid'],
      ['an unknown token', () => http(url, { token: 'not-a-real-token-at-all-000', body: subscriptionEvent() }), 401, 'unauthenticated'],
      ['a forged minted-looking token', () => http(url, { token: `lgr_0123456789abcdef_${'A'.repeat(43)}`, body: subscriptionEvent() }), 401, 'unauthenticated'],
      ['a bad Ledger-Signature, even with a valid token', () => {
        const raw = JSON.stringify(subscriptionEvent());
        return http(url, { token: INGEST_TOKEN, raw, headers: { 'ledger-signature': `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}` } });
      }, 401, 'signature-invalid'],
      ['a stale Ledger-Signature', () => {
        const raw = JSON.stringify(subscriptionEvent());
        const header = signStripeScheme(raw, INGEST_SECRET, Math.floor(Date.now() / 1000) - 3600);
        return http(url, { raw, headers: { 'ledger-signature': header } });
      }, 401, 'signature-stale'],
    ];

    it.each(cases)('%s', async (_name, send, status, slug) => {
      const before = await count();
      const res = await send();
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ type: `/problems/${slug}`, title: expect.any(String), status, detail: expect.any(String) });
      expect(res.headers.get('x-request-id')).toBeTruthy();
      expect(await count()).toBe(before);
    });

    it('names each invalid field', async () => {
      const res = await http(url, {
        token: INGEST_TOKEN,
        body: [subscriptionEvent(), subscriptionEvent({ type: 'subscription.exploded' }, { quantity: -1 })],
      });
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ path: '[1].type' }),
          expect.objectContaining({ path: '[1].subscription.quantity' }),
        ]),
      );
    });
  });

  it('accepts a valid Ledger-Signature without a bearer token', async () => {
    const event = subscriptionEvent();
    const raw = JSON.stringify(event);
    const header = signStripeScheme(raw, INGEST_SECRET, Math.floor(Date.now() / 1000));
    const res = await http(url, { raw, headers: { 'ledger-signature': header } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: event.id, duplicate: false });
  });

  it('answers 403 to a valid token without the scope', async () => {
    const minted = await http(`${ledger.url}/v1/admin/tokens`, {
      token: ADMIN_TOKEN,
      body: { name: 'reader', scopes: ['entitlements:read'] },
    });
    expect(minted.status).toBe(201);
    const before = await count();
    const res = await http(url, { token: minted.body.token, body: subscriptionEvent() });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ status: 403, detail: expect.stringContaining('events:write') });
    expect(await count()).toBe(before);
  });
});

describe('tokens, health, metrics', () => {
  let db: TestDatabase;
  let ledger: RunningLedger;
  let pool: pg.Pool;

  beforeAll(async () => {
    db = await createTestDatabase();
    ledger = await startLedger(db.url);
    pool = testPool(db.url, 1);
  });

  afterAll(async () => {
    await ledger.close();
    await pool.end();
    await db.drop();
  });

  it('mints a token shown once, stores only its hash, and revokes it at once', async () => {
    const minted = await http(`${ledger.url}/v1/admin/tokens`, {
      token: ADMIN_TOKEN,
      body: { name: 'billing-bridge', scopes: ['events:write'] },
    });
    expect(minted.status).toBe(201);
    expect(minted.body).toEqual({ id: expect.any(String), token: expect.stringMatching(/^lgr_/), scopes: ['events:write'] });
    // lgr_<id>_<secret>: the secret (base64url) may itself contain '_'.
    const secret = minted.body.token.slice(`lgr_${minted.body.id}_`.length);
    expect(secret.length).toBeGreaterThanOrEqual(32);
    const { rows } = await pool.query('SELECT * FROM api_tokens WHERE id = $1', [minted.body.id]);
    expect(JSON.stringify(rows)).not.toContain(secret);
    expect(rows[0].secret_hash).toHaveLength(32);

    const ok = await http(`${ledger.url}/v1/events`, { token: minted.body.token, body: subscriptionEvent() });
    expect(ok.status).toBe(200);

    const revoked = await http(`${ledger.url}/v1/admin/tokens/${minted.body.id}`, { method: 'DELETE', token: ADMIN_TOKEN });
    expect(revoked.status).toBe(204);
    const after = await http(`${ledger.url}/v1/events`, { token: minted.body.token, body: subscriptionEvent() });
    expect(after.status).toBe(401);

    const history = await pool.query("SELECT type, data FROM events WHERE source = 'admin' ORDER BY position");
    expect(history.rows.map((r) => r.type)).toEqual(['token.created', 'token.revoked']);
    expect(history.rows[0].data).toMatchObject({ id: minted.body.id, actor: 'token:env:LEDGER_ADMIN_TOKEN' });
  });

  it('guards the token endpoints: 401 without a token, 403 without admin, 400 for bad scopes', async () => {
    expect((await http(`${ledger.url}/v1/admin/tokens`, { body: { name: 'x', scopes: ['admin'] } })).status).toBe(401);
    const ingestOnly = await http(`${ledger.url}/v1/admin/tokens`, { token: INGEST_TOKEN, body: { name: 'x', scopes: ['admin'] } });
    expect(ingestOnly.status).toBe(403);
    const bad = await http(`${ledger.url}/v1/admin/tokens`, { token: ADMIN_TOKEN, body: { name: 'x', scopes: ['root'] } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].path).toBe('scopes[0]');
    const gone = await http(`${ledger.url}/v1/admin/tokens/ffffffffffffffff`, { method: 'DELETE', token: ADMIN_TOKEN });
    expect(gone.status).toBe(404);
  });

  it('reports liveness at once, and readiness of each component with its class once started', async () => {
    expect((await http(`${ledger.url}/health/live`)).body).toEqual({ status: 'ok' });
    // Right after a start readiness may still wait for the first snapshot (class A): 503 then.
    const ready = await waitFor('readiness', async () => {
      const r = await http(`${ledger.url}/health/ready`);
      // 200 with "degraded" is ready too, but this asserts every component ok: wait for that.
      if (r.status !== 200 || r.body.status !== 'ok') throw new Error(`${r.status} ${JSON.stringify(r.body)}`);
      return r;
    });
    expect(ready.body.status).toBe('ok');
    expect(ready.body.components).toEqual(
      expect.arrayContaining([
        { name: 'database', class: 'A', status: 'ok', detail: expect.any(String) },
        { name: 'log-listener', class: 'B', status: 'ok', detail: expect.any(String) },
      ]),
    );
  });

  it('exposes Prometheus metrics for ingest', async () => {
    const headGauge = (metrics: string): number => Number(/^ledger_log_head_position (\d+)$/m.exec(metrics)?.[1]);
    const appended = await http(`${ledger.url}/v1/events`, { token: INGEST_TOKEN, body: subscriptionEvent() });
    expect((await http(`${ledger.url}/v1/events`, { token: INGEST_TOKEN, body: { id: 'evt_not_an_event' } })).status).toBe(400);
    const res = await http(`${ledger.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/ledger_ingest_events_total\{source="api",result="appended"\} \d+/);
    const head = Number((await pool.query('SELECT position FROM log_head')).rows[0].position);
    expect(head).toBeGreaterThanOrEqual(appended.body.position);
    expect(headGauge(res.text)).toBeGreaterThanOrEqual(appended.body.position);
    expect(res.text).toContain('ledger_http_request_duration_seconds_bucket');
    expect(res.text).toMatch(/ledger_http_request_duration_seconds_count\{method="POST",route="\/v1\/events",status="400"\} [1-9]/);

    // Another instance on the same log reports its head from the start, before appending anything.
    const other = await startLedger(db.url, { LEDGER_ROLE: 'api' });
    try {
      const fresh = await http(`${other.url}/metrics`);
      expect(headGauge(fresh.text)).toBeGreaterThanOrEqual(head);
    } finally {
      await other.close();
    }
  });

  it('answers unknown routes with a problem', async () => {
    const res = await http(`${ledger.url}/v1/nothing-here`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});
