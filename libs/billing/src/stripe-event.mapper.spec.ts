import { readFileSync } from 'node:fs';
import { BillingError, PayloadInvalidError } from './billing.errors.js';
import { sha256OfCanonical } from './canonical-json.hash.js';
import { mapStripeEvent, stripeDedupeHash } from './stripe-event.mapper.js';

type Json = Record<string, any>;  
const fixture = (name: string): Json =>
  JSON.parse(readFileSync(new URL(`../../../test/fixtures/stripe/${name}`, import.meta.url), 'utf8')) as Json;

const SUB = 'sub_1SKq2dLkdIwHu7ixZrW4hT9m';
const CUS = 'cus_TGq8Zx3mPp1sVw';
const PRO_REFS = {
  provider: 'stripe',
  lookup_keys: ['pro_monthly'],
  prices: ['price_1SKpzXLkdIwHu7ixk3Vn8Rqa'],
  products: ['prod_TGq7mN2bV5cX8z'],
};
const state = {
  id: SUB,
  subject: 'org_42',
  plan: null,
  quantity: 5,
  cancel_at_period_end: false,
  cancel_at: null,
  ended_at: null,
  trial_end: '2026-11-15T10:00:00.000Z',
};

function subscriptionEvent(
  sourceEventId: string,
  providerType: string,
  type: string,
  occurredAt: string,
  subscription: Json,
  planRefs: Json = PRO_REFS,
): Json {
  return {
    kind: 'subscription',
    provider: 'stripe',
    sourceEventId,
    occurredAt,
    providerType,
    type,
    data: { occurred_at: occurredAt, subscription, plan_refs: planRefs },
  };
}

function issuesOf(fn: () => unknown): { code: string; issues: readonly { path: string; message: string }[] } {
  try {
    fn();
  } catch (e) {
    if (e instanceof PayloadInvalidError) return { code: e.code, issues: e.issues };
    if (e instanceof BillingError) return { code: e.code, issues: [] };
    throw e;
  }
  throw new Error('expected a PayloadInvalidError');
}

describe('mapStripeEvent', () => {
  describe('a lifecycle: trialing → active → past_due → active → cancel at period end → deleted', () => {
    it.each([
      [
        'lifecycle-1-created-trialing.json',
        subscriptionEvent('evt_1SKq2eLkdIwHu7ixHn3Ks8Ta', 'customer.subscription.created', 'subscription.created', '2026-11-01T10:00:01.000Z', {
          ...state,
          status: 'trialing',
          current_period_end: '2026-11-15T10:00:00.000Z',
        }),
      ],
      [
        'lifecycle-2-active.json',
        subscriptionEvent('evt_1SPa0rLkdIwHu7ixQe7Wm2Lc', 'customer.subscription.updated', 'subscription.updated', '2026-11-15T10:00:04.000Z', {
          ...state,
          status: 'active',
          current_period_end: '2026-12-15T10:00:00.000Z',
        }),
      ],
      [
        'lifecycle-3-past-due.json',
        subscriptionEvent('evt_1SeK4mLkdIwHu7ixPw1Vb6Xz', 'customer.subscription.updated', 'subscription.updated', '2026-12-15T11:02:10.000Z', {
          ...state,
          status: 'past_due',
          current_period_end: '2027-01-15T10:00:00.000Z',
        }),
      ],
      [
        'lifecycle-4-active-again.json',
        subscriptionEvent('evt_1SfC7tLkdIwHu7ixJd5Rn0Yy', 'customer.subscription.updated', 'subscription.updated', '2026-12-17T09:31:45.000Z', {
          ...state,
          status: 'active',
          current_period_end: '2027-01-15T10:00:00.000Z',
        }),
      ],
      [
        'lifecycle-5-cancel-at-period-end.json',
        subscriptionEvent('evt_1Sh0LsLkdIwHu7ixMc8Tq4Ub', 'customer.subscription.updated', 'subscription.updated', '2026-12-20T14:00:00.000Z', {
          ...state,
          status: 'active',
          current_period_end: '2027-01-15T10:00:00.000Z',
          cancel_at_period_end: true,
          cancel_at: '2027-01-15T10:00:00.000Z',
        }),
      ],
      [
        'lifecycle-6-deleted.json',
        subscriptionEvent('evt_1SpWd2LkdIwHu7ixKa2Fz7Oe', 'customer.subscription.deleted', 'subscription.deleted', '2027-01-15T10:00:03.000Z', {
          ...state,
          status: 'canceled',
          current_period_end: '2027-01-15T10:00:00.000Z',
          cancel_at_period_end: true,
          cancel_at: '2027-01-15T10:00:00.000Z',
          ended_at: '2027-01-15T10:00:00.000Z',
        }),
      ],
    ])('%s', (name, expected) => {
      expect(mapStripeEvent(fixture(name))).toEqual(expected);
    });
  });

  it('maps a paused subscription (customer.subscription.paused) to paused', () => {
    expect(mapStripeEvent(fixture('paused.json'))).toEqual(
      subscriptionEvent('evt_1SPa1cLkdIwHu7ixGg4Nh6Jk', 'customer.subscription.paused', 'subscription.updated', '2026-11-15T10:00:02.000Z', {
        ...state,
        id: 'sub_1SPa1bLkdIwHu7ixUx9Pc3Mw',
        subject: 'org_77',
        status: 'paused',
        quantity: 1,
        current_period_end: '2026-11-15T10:00:00.000Z',
      }),
    );
  });

  it('treats paused payment collection as paused although Stripe still says active', () => {
    const mapped = mapStripeEvent(fixture('pause-collection.json'));
    expect(mapped).toMatchObject({
      kind: 'subscription',
      type: 'subscription.updated',
      data: {
        subscription: {
          id: 'sub_1SQb7nLkdIwHu7ixWc2Xe8Ra',
          subject: 'org_88',
          status: 'paused',
          quantity: 2,
          trial_end: null,
          current_period_end: '2026-12-10T12:00:00.000Z',
        },
      },
    });
  });

  it('keeps a terminal status when collection is paused too', () => {
    const event = fixture('lifecycle-6-deleted.json');
    event['data']['object']['pause_collection'] = { behavior: 'void', resumes_at: null };
    expect(mapStripeEvent(event)).toMatchObject({ data: { subscription: { status: 'canceled' } } });
  });

  it('reads the period from the subscription on older API versions and falls back to the customer as subject', () => {
    expect(mapStripeEvent(fixture('legacy-api-version.json'))).toEqual(
      subscriptionEvent(
        'evt_1SSd4fLkdIwHu7ixOb3Pn5Qm',
        'customer.subscription.updated',
        'subscription.updated',
        '2026-11-22T08:00:00.000Z',
        {
          id: 'sub_1QaB3cLkdIwHu7ixLg7Hs2Dp',
          subject: 'cus_RbC1xY2zA3bB4c',
          plan: null,
          status: 'active',
          quantity: 1,
          current_period_end: '2026-12-05T08:30:00.000Z',
          cancel_at_period_end: false,
          cancel_at: null,
          ended_at: null,
          trial_end: null,
        },
        { provider: 'stripe', lookup_keys: [], prices: ['price_1QaB1aLkdIwHu7ixYt5Uv6Wx'], products: ['prod_RbC0aZ9yX8wV7u'] },
      ),
    );
  });

  it('prefers the subscription-level period over the item one when both are present', () => {
    const event = fixture('lifecycle-2-active.json');
    event['data']['object']['current_period_end'] = 1_800_000_000;
    expect(mapStripeEvent(event)).toMatchObject({
      data: { subscription: { current_period_end: '2027-01-15T08:00:00.000Z' } },
    });
  });

  it('accepts an expanded customer and product', () => {
    const event = fixture('legacy-api-version.json');
    const sub = event['data']['object'];
    sub['customer'] = { id: 'cus_RbC1xY2zA3bB4c', object: 'customer', email: 'ops@example.org' };
    sub['items']['data'][0]['price']['product'] = { id: 'prod_RbC0aZ9yX8wV7u', object: 'product', name: 'Team' };
    expect(mapStripeEvent(event)).toMatchObject({
      data: {
        subscription: { subject: 'cus_RbC1xY2zA3bB4c' },
        plan_refs: { products: ['prod_RbC0aZ9yX8wV7u'] },
      },
    });
  });

  it('defaults a missing item quantity to 1', () => {
    const event = fixture('lifecycle-2-active.json');
    delete event['data']['object']['items']['data'][0]['quantity'];
    expect(mapStripeEvent(event)).toMatchObject({ data: { subscription: { quantity: 1 } } });
  });

  it.each([
    ['customer.subscription.resumed', 'subscription.updated'],
    ['customer.subscription.trial_will_end', 'subscription.updated'],
  ])('maps %s to %s', (providerType, type) => {
    const event = fixture('lifecycle-1-created-trialing.json');
    event['type'] = providerType;
    expect(mapStripeEvent(event)).toMatchObject({ kind: 'subscription', type, providerType });
  });

  it('ignores invoice.paid', () => {
    expect(mapStripeEvent(fixture('invoice-paid.json'))).toEqual({
      kind: 'ignored',
      provider: 'stripe',
      sourceEventId: 'evt_1SPa0sLkdIwHu7ixXy8Za1Bc',
      occurredAt: '2026-11-15T10:00:05.000Z',
      providerType: 'invoice.paid',
      reason: 'Stripe event type invoice.paid is not used by the ledger',
    });
  });

  it('records a subscription without customer or items as unmappable', () => {
    expect(mapStripeEvent(fixture('unmappable-no-customer-no-items.json'))).toEqual({
      kind: 'unmappable',
      provider: 'stripe',
      sourceEventId: 'evt_1SUf8iLkdIwHu7ixCc5Dd6Ee',
      occurredAt: '2026-11-25T12:00:00.000Z',
      providerType: 'customer.subscription.updated',
      reason: 'the subscription has neither metadata.ledger_subject nor a customer',
    });
  });

  it('records a subscription with a subject but no items as unmappable', () => {
    const event = fixture('unmappable-no-customer-no-items.json');
    event['data']['object']['metadata'] = { ledger_subject: 'org_5' };
    expect(mapStripeEvent(event)).toMatchObject({ kind: 'unmappable', reason: 'the subscription has no items' });
  });

  it('still ends a deleted subscription that has no items, with no plan refs', () => {
    const event = fixture('lifecycle-6-deleted.json');
    event['data']['object']['items']['data'] = [];
    expect(mapStripeEvent(event)).toMatchObject({
      kind: 'subscription',
      type: 'subscription.deleted',
      data: {
        subscription: { status: 'canceled', subject: 'org_42', quantity: 1 },
        plan_refs: { provider: 'stripe', lookup_keys: [], prices: [], products: [] },
      },
    });
  });

  it.each([
    ['an unknown status', (s: Json) => (s['status'] = 'on_fire'), 'unknown subscription status "on_fire"'],
    ['no id', (s: Json) => delete s['id'], 'the subscription has no valid id'],
    ['a ledger_subject with spaces', (s: Json) => (s['metadata'] = { ledger_subject: 'org 42' }), /metadata.ledger_subject is not a valid subject/],
  ])('records a subscription with %s as unmappable', (_, mutate, reason) => {
    const event = fixture('lifecycle-2-active.json');
    mutate(event['data']['object']);
    const mapped = mapStripeEvent(event);
    expect(mapped.kind).toBe('unmappable');
    expect(mapped.kind === 'unmappable' && mapped.reason).toMatch(reason);
  });

  it('maps the entitlement summary to the customer\'s boolean features', () => {
    expect(mapStripeEvent(fixture('entitlements-summary-updated.json'))).toEqual({
      kind: 'provider_features',
      provider: 'stripe',
      sourceEventId: 'evt_1SPa0tLkdIwHu7ixFf7Gg8Hh',
      occurredAt: '2026-11-15T10:00:06.000Z',
      providerType: 'entitlements.active_entitlement_summary.updated',
      data: {
        subject: CUS,
        customer: CUS,
        provider: 'stripe',
        occurred_at: '2026-11-15T10:00:06.000Z',
        features: ['api', 'exports'],
        complete: true,
      },
    });
  });

  it('says when the summary carried only part of the list, and reads expanded features', () => {
    const event = fixture('entitlements-summary-updated.json');
    const list = event['data']['object']['entitlements'];
    list['has_more'] = true;
    list['data'].push({ id: 'ent_x', object: 'entitlements.active_entitlement', feature: { id: 'feat_x', lookup_key: 'sso' }, livemode: false, lookup_key: '' });
    list['data'].push({ ...list['data'][0] });
    expect(mapStripeEvent(event)).toMatchObject({
      kind: 'provider_features',
      data: { features: ['api', 'exports', 'sso'], complete: false },
    });
  });

  it('maps an empty summary to no features', () => {
    const event = fixture('entitlements-summary-updated.json');
    event['data']['object']['entitlements']['data'] = [];
    expect(mapStripeEvent(event)).toMatchObject({ kind: 'provider_features', data: { features: [], complete: true } });
  });

  it.each([
    ['no id', (e: Json) => delete e['id'], ['id']],
    ['a string created', (e: Json) => (e['created'] = '1794736804'), ['created']],
    ['no data.object', (e: Json) => (e['data'] = {}), ['data.object']],
    ['no type', (e: Json) => delete e['type'], ['type']],
    ['a numeric id', (e: Json) => (e['id'] = 7), ['id']],
  ])('refuses an envelope with %s as PAYLOAD_INVALID', (_, mutate, paths) => {
    const event = fixture('lifecycle-2-active.json');
    mutate(event);
    const { code, issues } = issuesOf(() => mapStripeEvent(event));
    expect(code).toBe('PAYLOAD_INVALID');
    expect(issues.map((i) => i.path)).toEqual(paths);
    expect(issues.every((i) => i.message.length > 0)).toBe(true);
  });

  it('refuses a non-object body as PAYLOAD_INVALID at the root', () => {
    expect(issuesOf(() => mapStripeEvent([1, 2])).issues).toEqual([{ path: '', message: expect.any(String) }]);
  });

  it('refuses a subscription member of the wrong type, naming its path', () => {
    const event = fixture('lifecycle-2-active.json');
    event['data']['object']['items']['data'][0]['quantity'] = '5';
    event['data']['object']['cancel_at_period_end'] = 'yes';
    const { code, issues } = issuesOf(() => mapStripeEvent(event));
    expect(code).toBe('PAYLOAD_INVALID');
    expect(issues.map((i) => i.path).sort()).toEqual([
      'data.object.cancel_at_period_end',
      'data.object.items.data.0.quantity',
    ]);
  });
});

describe('stripeDedupeHash', () => {
  it('is the SHA-256 of the canonical {type, data}', () => {
    const event = fixture('lifecycle-3-past-due.json');
    const hash = stripeDedupeHash(event);
    expect(hash).toHaveLength(32);
    expect(hash.equals(sha256OfCanonical({ type: event['type'], data: event['data'] }))).toBe(true);
  });

  it('ignores delivery fields that change between retries', () => {
    const first = fixture('lifecycle-3-past-due.json');
    const retry = fixture('lifecycle-3-past-due.json');
    retry['pending_webhooks'] = 0;
    retry['request'] = { id: null, idempotency_key: null };
    retry['api_version'] = '2026-10-28.endive';
    expect(stripeDedupeHash(retry).equals(stripeDedupeHash(first))).toBe(true);
  });

  it('ignores key order and whitespace of the delivery', () => {
    const event = fixture('lifecycle-3-past-due.json');
    const reordered = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(event).reverse()))) as Json;
    reordered['data'] = Object.fromEntries(Object.entries(event['data'] as Json).reverse());
    expect(stripeDedupeHash(reordered).equals(stripeDedupeHash(event))).toBe(true);
  });

  it('changes with the data and with the type', () => {
    const event = fixture('lifecycle-3-past-due.json');
    const changed = fixture('lifecycle-3-past-due.json');
    changed['data']['object']['items']['data'][0]['quantity'] = 6;
    const retyped = fixture('lifecycle-3-past-due.json');
    retyped['type'] = 'customer.subscription.paused';
    expect(stripeDedupeHash(changed).equals(stripeDedupeHash(event))).toBe(false);
    expect(stripeDedupeHash(retyped).equals(stripeDedupeHash(event))).toBe(false);
  });

  it('refuses something that is not a Stripe event', () => {
    expect(issuesOf(() => stripeDedupeHash({ type: 'x' })).code).toBe('PAYLOAD_INVALID');
  });
});
