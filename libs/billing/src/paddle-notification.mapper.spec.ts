import { readFileSync } from 'node:fs';
import { PayloadInvalidError } from './billing.errors.js';
import { sha256OfCanonical } from './canonical-json.hash.js';
import { mapPaddleNotification, paddleDedupeHash } from './paddle-notification.mapper.js';

type Json = Record<string, any>;  
const fixture = (name: string): Json =>
  JSON.parse(readFileSync(new URL(`../../../test/fixtures/paddle/${name}`, import.meta.url), 'utf8')) as Json;

const SUB = 'sub_01jbz8n1p3r5t7v9x1z3b5d7f9';
const PRO_REFS = {
  provider: 'paddle',
  lookup_keys: [],
  prices: ['pri_01jbz7c4d6f8g0h2j4k6m8n0p2'],
  products: ['pro_01jbz7a1b3c5d7e9f1g3h5j7k9'],
};
const state = {
  id: SUB,
  subject: 'org_42',
  plan: null,
  quantity: 5,
  cancel_at_period_end: false,
  cancel_at: null,
  ended_at: null,
  trial_end: '2026-11-15T10:00:00.120Z',
};

function subscriptionEvent(
  sourceEventId: string,
  providerType: string,
  type: string,
  occurredAt: string,
  subscription: Json,
): Json {
  return {
    kind: 'subscription',
    provider: 'paddle',
    sourceEventId,
    occurredAt,
    providerType,
    type,
    data: { occurred_at: occurredAt, subscription, plan_refs: PRO_REFS },
  };
}

function payloadIssues(fn: () => unknown): readonly { path: string; message: string }[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof PayloadInvalidError) return e.issues;
    throw e;
  }
  throw new Error('expected a PayloadInvalidError');
}

describe('mapPaddleNotification', () => {
  describe('a lifecycle: trialing → active → past_due → active → cancel at period end → canceled', () => {
    it.each([
      [
        'lifecycle-1-created-trialing.json',
        subscriptionEvent('evt_01jbz8n2a4c6e8g0j2m4p6r8t0', 'subscription.created', 'subscription.created', '2026-11-01T10:00:00.482Z', {
          ...state,
          status: 'trialing',
          current_period_end: '2026-11-15T10:00:00.120Z',
        }),
      ],
      [
        'lifecycle-2-activated.json',
        subscriptionEvent('evt_01jcmq4e6g8j0m2p4r6t8w0y2a', 'subscription.activated', 'subscription.updated', '2026-11-15T10:00:03.118Z', {
          ...state,
          status: 'active',
          current_period_end: '2026-12-15T10:00:00.120Z',
        }),
      ],
      [
        'lifecycle-3-past-due.json',
        subscriptionEvent('evt_01jf2w8k0m2p4r6t8v0x2z4b6d', 'subscription.past_due', 'subscription.updated', '2026-12-15T10:04:51.730Z', {
          ...state,
          status: 'past_due',
          current_period_end: '2027-01-15T10:00:00.120Z',
        }),
      ],
      [
        'lifecycle-4-active-again.json',
        subscriptionEvent('evt_01jf8c3r5t7v9x1z3b5d7f9h1k', 'subscription.updated', 'subscription.updated', '2026-12-17T09:31:12.004Z', {
          ...state,
          status: 'active',
          current_period_end: '2027-01-15T10:00:00.120Z',
        }),
      ],
      [
        'lifecycle-5-scheduled-cancel.json',
        subscriptionEvent('evt_01jfhx7a9c1e3g5j7m9p1r3t5v', 'subscription.updated', 'subscription.updated', '2026-12-20T14:00:00.551Z', {
          ...state,
          status: 'active',
          current_period_end: '2027-01-15T10:00:00.120Z',
          cancel_at_period_end: true,
          cancel_at: '2027-01-15T10:00:00.120Z',
        }),
      ],
      [
        'lifecycle-6-canceled.json',
        subscriptionEvent('evt_01jhp2d4f6h8k0n2q4s6u8w0y2', 'subscription.canceled', 'subscription.canceled', '2027-01-15T10:00:01.902Z', {
          ...state,
          status: 'canceled',
          current_period_end: null,
          ended_at: '2027-01-15T10:00:00.120Z',
        }),
      ],
    ])('%s', (name, expected) => {
      expect(mapPaddleNotification(fixture(name))).toEqual(expected);
    });
  });

  it('maps a paused subscription', () => {
    expect(mapPaddleNotification(fixture('paused.json'))).toEqual(
      subscriptionEvent('evt_01jd4k6m8p0r2t4v6x8z0b2d4f', 'subscription.paused', 'subscription.updated', '2026-11-28T18:20:44.310Z', {
        ...state,
        id: 'sub_01jc0a2c4e6g8j0m2p4r6t8v0x',
        subject: 'org_77',
        status: 'paused',
        quantity: 1,
        current_period_end: null,
        trial_end: null,
      }),
    );
  });

  it('sets cancel_at but not cancel_at_period_end for a cancellation scheduled inside the period', () => {
    const event = fixture('lifecycle-5-scheduled-cancel.json');
    event['data']['scheduled_change']['effective_at'] = '2027-01-01T00:00:00Z';
    expect(mapPaddleNotification(event)).toMatchObject({
      data: { subscription: { cancel_at: '2027-01-01T00:00:00.000Z', cancel_at_period_end: false } },
    });
  });

  it('ignores a scheduled pause (the paused notification will say so)', () => {
    const event = fixture('lifecycle-5-scheduled-cancel.json');
    event['data']['scheduled_change']['action'] = 'pause';
    expect(mapPaddleNotification(event)).toMatchObject({
      data: { subscription: { status: 'active', cancel_at: null, cancel_at_period_end: false } },
    });
  });

  it('falls back to the customer id without custom_data.ledger_subject', () => {
    const event = fixture('lifecycle-2-activated.json');
    event['data']['custom_data'] = null;
    expect(mapPaddleNotification(event)).toMatchObject({
      data: { subscription: { subject: 'ctm_01jbz8m3k5q7r9t2v4w6x8y0a2' } },
    });
  });

  it.each([
    ['subscription.resumed', 'subscription.updated'],
    ['subscription.trialing', 'subscription.updated'],
    ['subscription.imported', 'subscription.updated'],
  ])('maps %s to %s', (providerType, type) => {
    const event = fixture('lifecycle-2-activated.json');
    event['event_type'] = providerType;
    expect(mapPaddleNotification(event)).toMatchObject({ kind: 'subscription', type, providerType });
  });

  it('ignores transaction.completed', () => {
    expect(mapPaddleNotification(fixture('transaction-completed.json'))).toEqual({
      kind: 'ignored',
      provider: 'paddle',
      sourceEventId: 'evt_01jcmq4h2k4n6q8s0u2w4y6a8c',
      occurredAt: '2026-11-15T10:00:05.227Z',
      providerType: 'transaction.completed',
      reason: 'Paddle event type transaction.completed is not used by the ledger',
    });
  });

  it('records a subscription without customer or items as unmappable', () => {
    expect(mapPaddleNotification(fixture('unmappable-no-customer-no-items.json'))).toEqual({
      kind: 'unmappable',
      provider: 'paddle',
      sourceEventId: 'evt_01jdd1q3s5u7w9y1a3c5e7g9j1',
      occurredAt: '2026-12-01T12:00:00.000Z',
      providerType: 'subscription.updated',
      reason: 'the subscription has neither custom_data.ledger_subject nor a customer_id',
    });
  });

  it.each([
    ['no items', (d: Json) => Object.assign(d, { custom_data: { ledger_subject: 'org_5' } }), 'the subscription has no items', 'unmappable-no-customer-no-items.json'],
    ['an unknown status', (d: Json) => (d['status'] = 'inactive'), 'unknown subscription status "inactive"', 'lifecycle-2-activated.json'],
    ['a non-string ledger_subject', (d: Json) => (d['custom_data'] = { ledger_subject: 42 }), 'custom_data.ledger_subject is not a valid subject (printable ASCII without spaces, 1–255 characters)', 'lifecycle-2-activated.json'],
  ])('records a subscription with %s as unmappable', (_, mutate, reason, name) => {
    const event = fixture(name);
    mutate(event['data']);
    expect(mapPaddleNotification(event)).toMatchObject({ kind: 'unmappable', reason });
  });

  it('still ends a canceled subscription that has no items', () => {
    const event = fixture('lifecycle-6-canceled.json');
    event['data']['items'] = [];
    expect(mapPaddleNotification(event)).toMatchObject({
      kind: 'subscription',
      type: 'subscription.canceled',
      data: { subscription: { status: 'canceled', quantity: 1, trial_end: null }, plan_refs: { prices: [], products: [] } },
    });
  });

  it.each([
    ['no event_id', (e: Json) => delete e['event_id'], 'event_id'],
    ['an occurred_at without a time zone', (e: Json) => (e['occurred_at'] = '2026-11-15T10:00:03'), 'occurred_at'],
    ['no data', (e: Json) => delete e['data'], 'data'],
    ['a quantity of the wrong type', (e: Json) => (e['data']['items'][0]['quantity'] = 'five'), 'data.items.0.quantity'],
    ['a malformed billing period', (e: Json) => (e['data']['current_billing_period']['ends_at'] = 'soon'), 'data.current_billing_period.ends_at'],
  ])('refuses a notification with %s as PAYLOAD_INVALID', (_, mutate, path) => {
    const event = fixture('lifecycle-2-activated.json');
    mutate(event);
    expect(payloadIssues(() => mapPaddleNotification(event)).map((i) => i.path)).toEqual([path]);
  });
});

describe('paddleDedupeHash', () => {
  it('is the SHA-256 of the canonical {type, data}', () => {
    const event = fixture('lifecycle-3-past-due.json');
    expect(paddleDedupeHash(event).equals(sha256OfCanonical({ type: event['event_type'], data: event['data'] }))).toBe(true);
    expect(paddleDedupeHash(event)).toHaveLength(32);
  });

  it('ignores notification_id, which is new for every delivery', () => {
    const event = fixture('lifecycle-3-past-due.json');
    const retry = { ...event, notification_id: 'ntf_01jf2w9z9z9z9z9z9z9z9z9z9z' };
    expect(paddleDedupeHash(retry).equals(paddleDedupeHash(event))).toBe(true);
  });

  it('changes with the data and with the type', () => {
    const event = fixture('lifecycle-3-past-due.json');
    const changed = fixture('lifecycle-3-past-due.json');
    changed['data']['status'] = 'active';
    expect(paddleDedupeHash(changed).equals(paddleDedupeHash(event))).toBe(false);
    expect(paddleDedupeHash({ ...event, event_type: 'subscription.updated' }).equals(paddleDedupeHash(event))).toBe(false);
  });
});
