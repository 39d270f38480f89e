import { readFileSync } from 'node:fs';
import { NodeRuntime, Webhooks } from '@paddle/paddle-node-sdk';
import type pg from 'pg';
import Stripe from 'stripe';
import { signPaddleSignature, signStripeScheme } from '../libs/billing/src/index.js';
import { ADMIN_TOKEN, http, startLedger, type RunningLedger } from './support/ledger-harness.js';
import { createTestDatabase, testPool, type TestDatabase } from './support/test-database.js';

const STRIPE_SECRET = 'whsec_e2e_current_Qm8Vn2Xb4Zc6Ld1Kf3Hs5Tw7';
const STRIPE_OLD_SECRET = 'whsec_e2e_previous_Gh5Jk8Lm1Np4Qr7St0Uv3W';
const PADDLE_SECRET = 'pdl_ntfset_01jbz6x8y0a2c4e6g8j0m2p4r6_e2eCurrentKf3Hs5Tw7Ry9Pa';
const PADDLE_OLD_SECRET = 'pdl_ntfset_01j9k2m4p6r8t0v2x4z6b8d0f2_e2ePreviousNp4Qr7St0Uv';
const UNKNOWN_SECRET = 'whsec_e2e_never_configured_Zz9Yy8Xx7Ww6';

const ENV = {
  STRIPE_WEBHOOK_SECRETS: `${STRIPE_SECRET},${STRIPE_OLD_SECRET}`,
  PADDLE_WEBHOOK_SECRETS: `${PADDLE_SECRET}, ${PADDLE_OLD_SECRET}`,
};

type Provider = 'stripe' | 'paddle';

const fixture = (provider: Provider, name: string): string =>
  readFileSync(new URL(`./fixtures/${provider}/${name}.json`, import.meta.url), 'utf8');

const nowS = (): number => Math.floor(Date.now() / 1000);

/** A header as the provider would send it, at the current time unless told otherwise. */
const stripeHeader = (raw: string, secret = STRIPE_SECRET, timestamp = nowS(), scheme?: string): string =>
  Stripe.webhooks.generateTestHeaderString({ payload: raw, secret, timestamp, ...(scheme ? { scheme } : {}) });
const paddleHeader = (raw: string, secret: string | readonly string[] = PADDLE_SECRET, timestamp = nowS()): string =>
  signPaddleSignature(raw, secret, timestamp);

/** The same event under another id (a distinct delivery for tests that must not collide). */
function withId(provider: Provider, raw: string, id: string): string {
  const event = JSON.parse(raw) as Record<string, unknown>;
  return JSON.stringify(provider === 'stripe' ? { ...event, id } : { ...event, event_id: id }, null, 2);
}

async function expectProblem(res: { status: number; headers: Headers; body: any; text: string }, status: number): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String) });
  for (const secret of [STRIPE_SECRET, STRIPE_OLD_SECRET, PADDLE_SECRET, PADDLE_OLD_SECRET]) {
    expect(res.text).not.toContain(secret);
  }
}

interface EventRow {
  position: number;
  stream_id: string;
  type: string;
  source: string;
  source_event_id: string;
  subject: string | null;
  data: any;
  metadata: any;
  raw: string | null;
  occurred_at: Date | null;
}

function useLedger(): {
  post: (provider: Provider, raw: string, header?: string, headers?: Record<string, string>) => ReturnType<typeof http>;
  count: () => Promise<number>;
  row: (source: Provider, id: string) => Promise<EventRow | undefined>;
  rows: () => Promise<EventRow[]>;
  url: () => string;
} {
  let db: TestDatabase;
  let ledger: RunningLedger;
  let pool: pg.Pool;

  beforeAll(async () => {
    db = await createTestDatabase();
    ledger = await startLedger(db.url, ENV);
    pool = testPool(db.url, 2);
  });

  afterAll(async () => {
    await ledger.close();
    await pool.end();
    await db.drop();
  });

  const columns = 'position::int AS position, stream_id, type, source, source_event_id, subject, data, metadata, raw, occurred_at';
  return {
    post: (provider, raw, header, headers = {}) =>
      http(`${ledger.url}/v1/webhooks/${provider}`, {
        raw,
        headers: { ...(header === undefined ? {} : { [`${provider}-signature`]: header }), ...headers },
      }),
    count: async () => (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM events')).rows[0]!.n,
    row: async (source, id) =>
      (await pool.query<EventRow>(`SELECT ${columns} FROM events WHERE source = $1 AND source_event_id = $2`, [source, id]))
        .rows[0],
    // The ledger records its own events too (e.g. the catalog at start): only the providers' here.
    rows: async () =>
      (await pool.query<EventRow>(`SELECT ${columns} FROM events WHERE source = ANY($1) ORDER BY position`, [['stripe', 'paddle']]))
        .rows,
    url: () => ledger.url,
  };
}

describe('billing webhooks: signatures and idempotency', () => {
  const ledger = useLedger();
  beforeAll(() => NodeRuntime.initialize());

  it('accepts a Stripe-Signature made by the official stripe package and records the subscription state', async () => {
    const raw = fixture('stripe', 'lifecycle-2-active');
    const header = stripeHeader(raw);
    // The official verifier agrees that this header proves the body.
    expect(Stripe.webhooks.constructEvent(raw, header, STRIPE_SECRET).id).toBe('evt_1SPa0rLkdIwHu7ixQe7Wm2Lc');

    const before = await ledger.count();
    const res = await ledger.post('stripe', raw, header);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: 'evt_1SPa0rLkdIwHu7ixQe7Wm2Lc', position: before + 1, duplicate: false });

    const row = await ledger.row('stripe', 'evt_1SPa0rLkdIwHu7ixQe7Wm2Lc');
    expect(row).toMatchObject({
      position: before + 1,
      type: 'subscription.updated',
      stream_id: 'subscription:stripe:sub_1SKq2dLkdIwHu7ixZrW4hT9m',
      subject: 'org_42',
      metadata: { provider_type: 'customer.subscription.updated', api_version: '2025-03-31.basil' },
      raw,
    });
    expect(row!.occurred_at!.toISOString()).toBe('2026-11-15T10:00:04.000Z');
    expect(row!.data).toEqual({
      occurred_at: '2026-11-15T10:00:04.000Z',
      subscription: {
        id: 'sub_1SKq2dLkdIwHu7ixZrW4hT9m',
        subject: 'org_42',
        plan: null,
        status: 'active',
        quantity: 5,
        current_period_end: '2026-12-15T10:00:00.000Z',
        cancel_at_period_end: false,
        cancel_at: null,
        ended_at: null,
        trial_end: '2026-11-15T10:00:00.000Z',
      },
      plan_refs: {
        provider: 'stripe',
        lookup_keys: ['pro_monthly'],
        prices: ['price_1SKpzXLkdIwHu7ixk3Vn8Rqa'],
        products: ['prod_TGq7mN2bV5cX8z'],
      },
    });
  });

  it('accepts a Paddle-Signature that the Paddle SDK itself verifies, and records the subscription state', async () => {
    const raw = fixture('paddle', 'lifecycle-2-activated');
    const header = paddleHeader(raw);
    // The SDK has no signer but does verify (5 s tolerance on the wall clock): it must accept ours.
    await expect(new Webhooks().isSignatureValid(raw, PADDLE_SECRET, header)).resolves.toBe(true);

    const before = await ledger.count();
    const res = await ledger.post('paddle', raw, header);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: 'evt_01jcmq4e6g8j0m2p4r6t8w0y2a', position: before + 1, duplicate: false });

    const row = await ledger.row('paddle', 'evt_01jcmq4e6g8j0m2p4r6t8w0y2a');
    expect(row).toMatchObject({
      type: 'subscription.updated',
      stream_id: 'subscription:paddle:sub_01jbz8n1p3r5t7v9x1z3b5d7f9',
      subject: 'org_42',
      metadata: { provider_type: 'subscription.activated' },
      raw,
    });
    expect(row!.metadata).not.toHaveProperty('api_version');
    expect(row!.occurred_at!.toISOString()).toBe('2026-11-15T10:00:03.118Z');
    expect(row!.data.subscription).toMatchObject({ status: 'active', quantity: 5, current_period_end: '2026-12-15T10:00:00.120Z' });
    expect(row!.data.plan_refs).toEqual({
      provider: 'paddle',
      lookup_keys: [],
      prices: ['pri_01jbz7c4d6f8g0h2j4k6m8n0p2'],
      products: ['pro_01jbz7a1b3c5d7e9f1g3h5j7k9'],
    });
  });

  describe('refuses a delivery it cannot authenticate with 401 problem+json and records nothing', () => {
    const stripeRaw = (): string => fixture('stripe', 'lifecycle-4-active-again');
    const paddleRaw = (): string => fixture('paddle', 'lifecycle-4-active-again');
    const cases: Array<[string, () => ReturnType<typeof http>]> = [
      ['Stripe: a tampered body', () => {
        const raw = stripeRaw();
        return ledger.post('stripe', raw.replace('"active"', '"trialing"'), stripeHeader(raw));
      }],
      ['Stripe: a trailing byte added to the body', () => {
        const raw = stripeRaw();
        return ledger.post('stripe', `${raw} `, stripeHeader(raw));
      }],
      ['Stripe: an unknown secret', () => ledger.post('stripe', stripeRaw(), stripeHeader(stripeRaw(), UNKNOWN_SECRET))],
      ['Stripe: a stale timestamp', () => ledger.post('stripe', stripeRaw(), stripeHeader(stripeRaw(), STRIPE_SECRET, nowS() - 301))],
      ['Stripe: a timestamp far in the future', () => ledger.post('stripe', stripeRaw(), stripeHeader(stripeRaw(), STRIPE_SECRET, nowS() + 3600))],
      ['Stripe: no header', () => ledger.post('stripe', stripeRaw())],
      ['Stripe: no header but an admin token', () => ledger.post('stripe', stripeRaw(), undefined, { authorization: `Bearer ${ADMIN_TOKEN}` })],
      ['Stripe: only a v0 signature', () => ledger.post('stripe', stripeRaw(), stripeHeader(stripeRaw(), STRIPE_SECRET, nowS(), 'v0'))],
      ['Stripe: a Paddle-style header', () => ledger.post('stripe', stripeRaw(), paddleHeader(stripeRaw()))],
      ['Paddle: a tampered body', () => {
        const raw = paddleRaw();
        return ledger.post('paddle', raw.replace('"quantity": 5', '"quantity": 50'), paddleHeader(raw));
      }],
      ['Paddle: an unknown secret', () => ledger.post('paddle', paddleRaw(), paddleHeader(paddleRaw(), UNKNOWN_SECRET))],
      ['Paddle: a stale timestamp', () => ledger.post('paddle', paddleRaw(), paddleHeader(paddleRaw(), PADDLE_SECRET, nowS() - 301))],
      ['Paddle: no header', () => ledger.post('paddle', paddleRaw())],
      ['Paddle: a Stripe signature', () => ledger.post('paddle', paddleRaw(), signStripeScheme(paddleRaw(), PADDLE_SECRET, nowS()))],
      ['Paddle: the Stripe secret and endpoint mixed up', () => ledger.post('paddle', stripeRaw(), stripeHeader(stripeRaw()))],
    ];

    it.each(cases)('%s', async (_name, send) => {
      const before = await ledger.count();
      const res = await send();
      await expectProblem(res, 401);
      expect(res.body.type).toMatch(/^\/problems\/signature-(invalid|stale)$/);
      expect(await ledger.count()).toBe(before);
    });
  });

  it('accepts any configured secret during a rotation', async () => {
    const stripeBase = fixture('stripe', 'invoice-paid');
    const paddleBase = fixture('paddle', 'transaction-completed');
    const deliveries: Array<[Provider, string, (raw: string) => string]> = [
      ['stripe', 'evt_rotation_current', (raw) => stripeHeader(raw, STRIPE_SECRET)],
      ['stripe', 'evt_rotation_previous', (raw) => stripeHeader(raw, STRIPE_OLD_SECRET)],
      // What Stripe sends while an endpoint has two secrets: one v1 per secret.
      ['stripe', 'evt_rotation_both', (raw) => {
        const t = nowS();
        const v1 = (secret: string): string => stripeHeader(raw, secret, t).split(',v1=')[1]!;
        return `t=${t},v1=${v1(UNKNOWN_SECRET)},v1=${v1(STRIPE_OLD_SECRET)}`;
      }],
      ['paddle', 'evt_01rotationcurrent', (raw) => paddleHeader(raw, PADDLE_SECRET)],
      ['paddle', 'evt_01rotationprevious', (raw) => paddleHeader(raw, PADDLE_OLD_SECRET)],
      ['paddle', 'evt_01rotationboth', (raw) => paddleHeader(raw, [UNKNOWN_SECRET, PADDLE_OLD_SECRET])],
    ];
    for (const [provider, id, sign] of deliveries) {
      const raw = withId(provider, provider === 'stripe' ? stripeBase : paddleBase, id);
      const res = await ledger.post(provider, raw, sign(raw));
      expect({ id, status: res.status }).toEqual({ id, status: 200 });
      expect(res.body).toMatchObject({ id, duplicate: false });
      expect((await ledger.row(provider, id))?.type).toBe('webhook.ignored');
    }
  });

  it('answers a Stripe retry with another pending_webhooks as a duplicate at the original position; other data is a 409', async () => {
    const raw = fixture('stripe', 'lifecycle-3-past-due');
    const first = await ledger.post('stripe', raw, stripeHeader(raw));
    expect(first.status).toBe(200);
    expect(first.body.duplicate).toBe(false);
    const count = await ledger.count();

    const retry = raw.replace('"pending_webhooks": 2', '"pending_webhooks": 1');
    expect(retry).not.toBe(raw);
    const again = await ledger.post('stripe', retry, stripeHeader(retry));
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ id: first.body.id, position: first.body.position, duplicate: true });
    // Same event in another key order and spacing: still the same event.
    const reformatted = JSON.stringify(JSON.parse(raw));
    const third = await ledger.post('stripe', reformatted, stripeHeader(reformatted));
    expect(third.body).toEqual({ id: first.body.id, position: first.body.position, duplicate: true });
    expect(await ledger.count()).toBe(count);
    expect((await ledger.row('stripe', first.body.id))!.raw).toBe(raw);

    const changed = raw.replace('"status": "past_due"', '"status": "unpaid"');
    expect(changed).not.toBe(raw);
    const conflict = await ledger.post('stripe', changed, stripeHeader(changed));
    await expectProblem(conflict, 409);
    expect(conflict.body.detail).toContain(first.body.id);
    expect(await ledger.count()).toBe(count);
  });

  it('answers a Paddle retry with another notification_id as a duplicate at the original position; other data is a 409', async () => {
    const raw = fixture('paddle', 'lifecycle-3-past-due');
    const first = await ledger.post('paddle', raw, paddleHeader(raw));
    expect(first.status).toBe(200);
    expect(first.body.duplicate).toBe(false);
    const count = await ledger.count();

    const retry = raw.replace('ntf_01jf2w8m1n3q5s7v9x1z3b5d7f', 'ntf_01jf2x0000000000000000000');
    expect(retry).not.toBe(raw);
    const again = await ledger.post('paddle', retry, paddleHeader(retry));
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ id: first.body.id, position: first.body.position, duplicate: true });
    expect(await ledger.count()).toBe(count);

    const changed = raw.replace('"status": "past_due"', '"status": "active"');
    expect(changed).not.toBe(raw);
    const conflict = await ledger.post('paddle', changed, paddleHeader(changed));
    await expectProblem(conflict, 409);
    expect(await ledger.count()).toBe(count);
  });

  it('refuses a signed body that is not a provider event with 400 problem+json naming the fields', async () => {
    const cases: Array<[Provider, string]> = [
      ['stripe', JSON.stringify({ hello: 'world' })],
      ['stripe', JSON.stringify({ id: 'evt_x', type: 'customer.subscription.updated', created: 'yesterday', data: { object: {} } })],
      ['paddle', JSON.stringify({ event_id: 'evt_01x', event_type: 'subscription.updated', occurred_at: 'not a date', data: {} })],
      ['paddle', '[1, 2, 3]'],
    ];
    for (const [provider, raw] of cases) {
      const before = await ledger.count();
      const res = await ledger.post(provider, raw, provider === 'stripe' ? stripeHeader(raw) : paddleHeader(raw));
      await expectProblem(res, 400);
      expect(res.body.errors).toEqual(expect.arrayContaining([{ path: expect.any(String), message: expect.any(String) }]));
      expect(await ledger.count()).toBe(before);
    }
    const malformed = '{"id": "evt_x", ';
    const res = await ledger.post('stripe', malformed, stripeHeader(malformed));
    await expectProblem(res, 400);
  });

  it('refuses a signed body that is JSON but not UTF-8 (its raw text could not be kept verbatim), writing nothing', async () => {
    const text = fixture('stripe', 'lifecycle-2-active').replace('sub_', 'sub_utf8_');
    // A lone 0xff inside a string: JSON to a lenient decoder, not UTF-8.
    const at = Buffer.from(text).indexOf('sub_utf8_') + 'sub_utf8_'.length;
    const bytes = Buffer.concat([Buffer.from(text).subarray(0, at), Buffer.from([0xff]), Buffer.from(text).subarray(at)]);
    for (const provider of ['stripe', 'paddle'] as const) {
      const before = await ledger.count();
      const signature = provider === 'stripe' ? signStripeScheme(bytes, STRIPE_SECRET, nowS()) : signPaddleSignature(bytes, PADDLE_SECRET, nowS());
      const res = await fetch(`${ledger.url()}/v1/webhooks/${provider}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [`${provider}-signature`]: signature },
        body: bytes,
      });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(((await res.json()) as { errors: Array<{ message: string }> }).errors).toEqual([{ path: '(body)', message: 'the body is not valid UTF-8' }]);
      expect(await ledger.count()).toBe(before);
    }
  });

  it('counts deliveries by source and result in the metrics', async () => {
    const res = await http(`${ledger.url()}/metrics`);
    expect(res.text).toMatch(/ledger_ingest_events_total\{source="stripe",result="appended"\} [1-9]/);
    expect(res.text).toMatch(/ledger_ingest_events_total\{source="stripe",result="duplicate"\} [1-9]/);
    expect(res.text).toMatch(/ledger_ingest_events_total\{source="paddle",result="rejected"\} [1-9]/);
  });
  it('documents both endpoints in OpenAPI under the webhooks tag', async () => {
    const doc = (await http(`${ledger.url()}/docs/openapi.json`)).body;
    for (const provider of ['stripe', 'paddle']) {
      const op = doc.paths[`/v1/webhooks/${provider}`].post;
      expect(op.tags).toEqual(['webhooks']);
      expect(op.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ in: 'header', required: true })]));
      expect(op.responses['200']).toBeDefined();
    }
  });
});

describe('billing webhooks: what each delivery records', () => {
  const ledger = useLedger();

  const STRIPE_CUSTOMER = 'cus_TGq8Zx3mPp1sVw';
  const PADDLE_CUSTOMER = 'ctm_01jbz8m3k5q7r9t2v4w6x8y0a2';

  /** Fixture → what its one event must look like. */
  const expected: Array<[Provider, string, Partial<EventRow> & { reason?: RegExp; status?: string }]> = [
    ['stripe', 'lifecycle-6-deleted', { type: 'subscription.deleted', subject: 'org_42', status: 'canceled' }],
    ['stripe', 'lifecycle-5-cancel-at-period-end', { type: 'subscription.updated', subject: 'org_42', status: 'active' }],
    ['stripe', 'lifecycle-4-active-again', { type: 'subscription.updated', subject: 'org_42', status: 'active' }],
    ['stripe', 'lifecycle-3-past-due', { type: 'subscription.updated', subject: 'org_42', status: 'past_due' }],
    ['stripe', 'lifecycle-2-active', { type: 'subscription.updated', subject: 'org_42', status: 'active' }],
    ['stripe', 'lifecycle-1-created-trialing', { type: 'subscription.created', subject: 'org_42', status: 'trialing' }],
    ['stripe', 'legacy-api-version', { type: 'subscription.updated', subject: 'cus_RbC1xY2zA3bB4c', status: 'active' }],
    ['stripe', 'pause-collection', { type: 'subscription.updated', subject: 'org_88', status: 'paused' }],
    ['stripe', 'paused', { type: 'subscription.updated', subject: 'org_77', status: 'paused' }],
    ['stripe', 'entitlements-summary-updated', { type: 'provider_features.updated', subject: STRIPE_CUSTOMER, stream_id: `provider_features:stripe:${STRIPE_CUSTOMER}` }],
    ['stripe', 'invoice-paid', { type: 'webhook.ignored', subject: STRIPE_CUSTOMER, stream_id: 'webhook:stripe:ignored', reason: /invoice\.paid/ }],
    ['stripe', 'unmappable-no-customer-no-items', { type: 'webhook.unmappable', subject: null, stream_id: 'webhook:stripe:unmappable', reason: /customer/ }],
    ['paddle', 'lifecycle-6-canceled', { type: 'subscription.canceled', subject: 'org_42', status: 'canceled' }],
    ['paddle', 'lifecycle-5-scheduled-cancel', { type: 'subscription.updated', subject: 'org_42', status: 'active' }],
    ['paddle', 'lifecycle-4-active-again', { type: 'subscription.updated', subject: 'org_42', status: 'active' }],
    ['paddle', 'lifecycle-3-past-due', { type: 'subscription.updated', subject: 'org_42', status: 'past_due' }],
    ['paddle', 'lifecycle-2-activated', { type: 'subscription.updated', subject: 'org_42', status: 'active' }],
    ['paddle', 'lifecycle-1-created-trialing', { type: 'subscription.created', subject: 'org_42', status: 'trialing' }],
    ['paddle', 'paused', { type: 'subscription.updated', subject: 'org_77', status: 'paused' }],
    ['paddle', 'transaction-completed', { type: 'webhook.ignored', subject: PADDLE_CUSTOMER, stream_id: 'webhook:paddle:ignored', reason: /transaction\.completed/ }],
    ['paddle', 'unmappable-no-customer-no-items', { type: 'webhook.unmappable', subject: null, stream_id: 'webhook:paddle:unmappable', reason: /customer/ }],
  ];

  /** The provider's time of a fixture, from the payload itself. */
  const providerTime = (provider: Provider, raw: string): string => {
    const event = JSON.parse(raw) as { created?: number; occurred_at?: string };
    return provider === 'stripe' ? new Date(event.created! * 1000).toISOString() : new Date(event.occurred_at!).toISOString();
  };

  // Newest first: arrival order is the reverse of the providers' order for the lifecycles.
  beforeAll(async () => {
    for (const [provider, name] of expected) {
      const raw = fixture(provider, name);
      const res = await ledger.post(provider, raw, provider === 'stripe' ? stripeHeader(raw) : paddleHeader(raw));
      expect({ name, status: res.status, duplicate: res.body?.duplicate }).toEqual({ name, status: 200, duplicate: false });
    }
  });

  it('records exactly one event per delivery, in arrival order', async () => {
    const rows = await ledger.rows();
    expect(rows).toHaveLength(expected.length);
    const first = rows[0]!.position;
    expect(rows.map((r) => r.position)).toEqual(expected.map((_, i) => first + i));
    expect(rows.map((r) => `${r.source}:${r.source_event_id}`)).toEqual(
      expected.map(([provider, name]) => {
        const event = JSON.parse(fixture(provider, name)) as { id?: string; event_id?: string };
        return `${provider}:${event.id ?? event.event_id}`;
      }),
    );
  });

  it.each(expected)('%s %s: its type, stream, subject and data; the raw body verbatim; the provider time', async (provider, name, want) => {
    const raw = fixture(provider, name);
    const event = JSON.parse(raw) as { id?: string; event_id?: string; type?: string; event_type?: string; api_version?: string };
    const row = await ledger.row(provider, (event.id ?? event.event_id)!);
    expect(row).toBeDefined();
    const { reason, status, ...columns } = want;
    expect(row).toMatchObject(columns);
    expect(row!.raw).toBe(raw);
    expect(row!.occurred_at!.toISOString()).toBe(providerTime(provider, raw));
    expect(row!.metadata).toEqual({
      provider_type: event.type ?? event.event_type,
      ...(event.api_version ? { api_version: event.api_version } : {}),
    });

    if (row!.type.startsWith('subscription.')) {
      const subscriptionId = provider === 'stripe' ? JSON.parse(raw).data.object.id : JSON.parse(raw).data.id;
      expect(row!.stream_id).toBe(`subscription:${provider}:${subscriptionId}`);
      expect(row!.data.occurred_at).toBe(providerTime(provider, raw));
      expect(row!.data.subscription).toMatchObject({ id: subscriptionId, subject: want.subject, status });
      expect(row!.data.plan_refs.provider).toBe(provider);
    } else if (row!.type === 'provider_features.updated') {
      expect(row!.data).toMatchObject({ subject: STRIPE_CUSTOMER, provider: 'stripe', occurred_at: providerTime(provider, raw) });
      expect(row!.data.features.length).toBeGreaterThan(0);
    } else {
      expect(row!.data).toEqual({
        provider,
        provider_type: event.type ?? event.event_type,
        reason: expect.stringMatching(reason!),
        ...(want.subject ? { subject: want.subject } : {}),
      });
    }
  });

  it("records the provider's event time, not the arrival order", async () => {
    const rows = await ledger.rows();
    for (const provider of ['stripe', 'paddle'] as const) {
      const lifecycle = rows.filter((r) => r.source === provider && r.stream_id.endsWith(provider === 'stripe' ? 'sub_1SKq2dLkdIwHu7ixZrW4hT9m' : 'sub_01jbz8n1p3r5t7v9x1z3b5d7f9'));
      expect(lifecycle).toHaveLength(6);
      const times = lifecycle.map((r) => r.occurred_at!.getTime());
      // Arrived newest first: ascending positions carry strictly descending provider times.
      expect(times).toEqual([...times].sort((a, b) => b - a));
      expect(new Set(times).size).toBe(6);
      expect(lifecycle.map((r) => r.occurred_at!.toISOString())).toEqual(lifecycle.map((r) => r.data.occurred_at));
    }
  });
});
