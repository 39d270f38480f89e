import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import {
  CATALOG_PUBLISHED,
  PROVIDER_FEATURES_UPDATED,
  replaySubject,
  type Catalog,
  type EntitlementPolicy,
  type LedgerEvent,
  type SubjectEntitlements,
} from '@app/domain';
import type { MappedEvent } from './mapped-event.types.js';
import { mapPaddleNotification } from './paddle-notification.mapper.js';
import { mapStripeEvent } from './stripe-event.mapper.js';

// Given real provider deliveries / when delivered in any order, any number of times / then
// the same entitlements as in the providers' order, and the ones the contract prescribes.

type Json = Record<string, any>;
type Provider = 'stripe' | 'paddle';

const load = (provider: Provider, name: string): Json =>
  JSON.parse(readFileSync(new URL(`../../../test/fixtures/${provider}/${name}.json`, import.meta.url), 'utf8')) as Json;

const map = (provider: Provider, payload: Json): MappedEvent =>
  provider === 'stripe' ? mapStripeEvent(payload) : mapPaddleNotification(payload);

/** A mapped delivery as the ledger's log holds it (the same types the webhook endpoints append). */
function asLogEvent(mapped: MappedEvent): Omit<LedgerEvent, 'position' | 'recorded_at'> {
  const common = { source: mapped.provider, source_event_id: mapped.sourceEventId };
  switch (mapped.kind) {
    case 'subscription':
      return { ...common, type: mapped.type, data: mapped.data };
    case 'provider_features':
      return { ...common, type: PROVIDER_FEATURES_UPDATED, data: mapped.data };
    case 'ignored':
    case 'unmappable':
      return {
        ...common,
        type: `webhook.${mapped.kind}`,
        data: { provider: mapped.provider, provider_type: mapped.providerType, reason: mapped.reason },
      };
    default: {
      const never: never = mapped;
      throw new Error(`unknown mapped event ${JSON.stringify(never)}`);
    }
  }
}

type Delivery = Omit<LedgerEvent, 'position' | 'recorded_at'> & { readonly name: string };

const delivery = (provider: Provider, name: string, payload: Json = load(provider, name)): Delivery => ({
  name: `${provider}/${name}`,
  ...asLogEvent(map(provider, payload)),
});

const STRIPE_PRICE = 'price_1SKpzXLkdIwHu7ixk3Vn8Rqa';
const PADDLE_PRICE = 'pri_01jbz7c4d6f8g0h2j4k6m8n0p2';

const STRIPE_LIFECYCLE = [
  'lifecycle-1-created-trialing',
  'lifecycle-2-active',
  'lifecycle-3-past-due',
  'lifecycle-4-active-again',
  'lifecycle-5-cancel-at-period-end',
  'lifecycle-6-deleted',
].map((name) => delivery('stripe', name));

const PADDLE_LIFECYCLE = [
  'lifecycle-1-created-trialing',
  'lifecycle-2-activated',
  'lifecycle-3-past-due',
  'lifecycle-4-active-again',
  'lifecycle-5-scheduled-cancel',
  'lifecycle-6-canceled',
].map((name) => delivery('paddle', name));

// The trial that ended in a pause: the paused fixtures, and the creation their
// `previous_attributes` / trial dates imply (the fixtures hold only the pause itself).
function stripeTrialCreated(): Json {
  const e = load('stripe', 'paused');
  const sub = e.data.object;
  return {
    ...e,
    id: 'evt_1SKq2cLkdIwHu7ixTr7Cq1Aa',
    type: 'customer.subscription.created',
    created: sub.created,
    data: { object: { ...sub, status: 'trialing' } },
  };
}

function paddleTrialCreated(): Json {
  const e = load('paddle', 'paused');
  const trial = { starts_at: '2026-11-14T18:20:44.100000Z', ends_at: '2026-11-28T18:20:44.100000Z' };
  return {
    ...e,
    event_id: 'evt_01jcyq0a2c4e6g8j0m2p4r6t8v',
    event_type: 'subscription.created',
    occurred_at: '2026-11-14T18:20:44.512007Z',
    notification_id: 'ntf_01jcyq0b3d5f7h9k1n3q5s7v9x',
    data: {
      ...e.data,
      status: 'trialing',
      paused_at: null,
      current_billing_period: trial,
      items: e.data.items.map((item: Json) => ({ ...item, trial_dates: trial })),
    },
  };
}

const STRIPE_TRIAL_PAUSED = [delivery('stripe', 'trial-created', stripeTrialCreated()), delivery('stripe', 'paused')];
const PADDLE_TRIAL_PAUSED = [delivery('paddle', 'trial-created', paddleTrialCreated()), delivery('paddle', 'paused')];

// Deliveries that change no entitlement but share the log (and, for the invoice, the customer).
const NOISE = [
  delivery('stripe', 'invoice-paid'),
  delivery('stripe', 'unmappable-no-customer-no-items'),
  delivery('stripe', 'entitlements-summary-updated'),
  delivery('paddle', 'transaction-completed'),
  delivery('paddle', 'unmappable-no-customer-no-items'),
];

const ALL = [...STRIPE_LIFECYCLE, ...PADDLE_LIFECYCLE, ...STRIPE_TRIAL_PAUSED, ...PADDLE_TRIAL_PAUSED, ...NOISE];

const catalog: Catalog = {
  plans: [
    {
      id: 'pro',
      tier: 2,
      stripe: { lookup_keys: ['pro_monthly'], prices: [STRIPE_PRICE], products: ['prod_TGq7mN2bV5cX8z'] },
      paddle: { prices: [PADDLE_PRICE], products: ['pro_01jbz7a1b3c5d7e9f1g3h5j7k9'] },
      features: { api: true, seats: { per_unit: 1 }, projects: 50 },
    },
    {
      id: 'basic',
      tier: 1,
      stripe: { lookup_keys: ['basic_monthly'], prices: ['price_basic'], products: ['prod_basic'] },
      paddle: { prices: ['pri_basic'], products: ['pro_basic'] },
      features: { api: true, projects: 5 },
    },
  ],
  classes: {},
};

const policy: EntitlementPolicy = { renewalLeewayS: 86_400, pastDueGraceS: 259_200 };
const SUBJECTS = ['org_42', 'org_77', 'cus_TGq8Zx3mPp1sVw'] as const;

/** The log as it would be after these arrivals: the catalog first, then positions in arrival order. */
function logOf(arrivals: readonly Delivery[]): LedgerEvent[] {
  const catalogEvent: LedgerEvent = {
    type: CATALOG_PUBLISHED,
    source: 'catalog',
    source_event_id: 'catalog_1',
    position: 1,
    recorded_at: '2026-10-01T00:00:00.000Z',
    data: { catalog },
  };
  return [
    catalogEvent,
    ...arrivals.map(({ name: _name, ...e }, i) => ({ ...e, position: i + 2, recorded_at: '2026-10-01T00:00:00.000Z' })),
  ];
}

/** What a subject may do at `at`, without the bookkeeping (position) that arrival order changes. */
function decision(log: readonly LedgerEvent[], subject: string, at: string): Omit<SubjectEntitlements, 'position' | 'subject'> {
  const { position: _position, subject: _subject, ...rest } = replaySubject(log, subject, policy, new Date(at));
  return rest;
}

/** The providers' own order: by provider time (what in-order delivery means). */
const providerTime = (d: Delivery): number => Date.parse((d.data as { occurred_at?: string }).occurred_at ?? '') || 0;
const inProviderOrder = (ds: readonly Delivery[]): Delivery[] =>
  [...ds].sort((a, b) => providerTime(a) - providerTime(b) || a.source_event_id.localeCompare(b.source_event_id));

function* permutations<T>(items: readonly T[]): Generator<T[]> {
  if (items.length <= 1) {
    yield [...items];
    return;
  }
  for (let i = 0; i < items.length; i++) {
    const rest = [...items.slice(0, i), ...items.slice(i + 1)];
    for (const p of permutations(rest)) yield [items[i]!, ...p];
  }
}

// Inside each lifecycle stage, and at the window edges the rules define.
const EVALUATED_AT = [
  '2026-11-10T00:00:00Z',
  '2026-11-16T10:00:00Z',
  '2026-11-20T00:00:00Z',
  '2026-12-01T00:00:00Z',
  '2026-12-16T11:00:00Z',
  '2026-12-18T10:04:51.730Z',
  '2027-01-10T00:00:00Z',
  '2027-01-15T10:00:00.120Z',
];

const PRO_5 = (until: string) => ({
  plan: 'pro',
  features: {
    api: { value: true, valid_until: until },
    projects: { value: 50, valid_until: until },
    seats: { value: 5, valid_until: until },
  },
  valid_until: until,
  unknown_plans: [],
});
const PRO_1 = (until: string) => ({
  ...PRO_5(until),
  features: { ...PRO_5(until).features, seats: { value: 1, valid_until: until } },
});
const NOTHING = { plan: null, features: {}, valid_until: null, unknown_plans: [] };

describe('Stripe and Paddle lifecycles through the adapters and the entitlement policy', () => {
  it('maps every lifecycle delivery to subscription state with plan refs the catalog knows', () => {
    for (const d of [...STRIPE_LIFECYCLE, ...PADDLE_LIFECYCLE, ...STRIPE_TRIAL_PAUSED, ...PADDLE_TRIAL_PAUSED]) {
      expect({ name: d.name, type: d.type.split('.')[0] }).toEqual({ name: d.name, type: 'subscription' });
      expect((d.data as Json).plan_refs.prices).toEqual([d.source === 'stripe' ? STRIPE_PRICE : PADDLE_PRICE]);
    }
    expect(NOISE.map((d) => d.type)).toEqual([
      'webhook.ignored',
      'webhook.unmappable',
      PROVIDER_FEATURES_UPDATED,
      'webhook.ignored',
      'webhook.unmappable',
    ]);
  });

  // Given the first k deliveries of a lifecycle (what had arrived by then), evaluated at `at`.
  const steps: Array<[string, readonly Delivery[], string, string, object]> = [
    ['Stripe trialing', STRIPE_LIFECYCLE.slice(0, 1), 'org_42', '2026-11-10T00:00:00Z', PRO_5('2026-11-16T10:00:00.000Z')],
    ['Stripe trialing, renewal never came', STRIPE_LIFECYCLE.slice(0, 1), 'org_42', '2026-11-16T10:00:00Z', NOTHING],
    ['Stripe active', STRIPE_LIFECYCLE.slice(0, 2), 'org_42', '2026-12-01T00:00:00Z', PRO_5('2026-12-16T10:00:00.000Z')],
    ['Stripe past_due, within grace', STRIPE_LIFECYCLE.slice(0, 3), 'org_42', '2026-12-16T11:00:00Z', PRO_5('2026-12-18T11:02:10.000Z')],
    ['Stripe past_due, grace over', STRIPE_LIFECYCLE.slice(0, 3), 'org_42', '2026-12-18T12:00:00Z', NOTHING],
    ['Stripe active again', STRIPE_LIFECYCLE.slice(0, 4), 'org_42', '2026-12-19T00:00:00Z', PRO_5('2027-01-16T10:00:00.000Z')],
    ['Stripe set to cancel at period end', STRIPE_LIFECYCLE.slice(0, 5), 'org_42', '2027-01-10T00:00:00Z', PRO_5('2027-01-15T10:00:00.000Z')],
    ['Stripe set to cancel, at the period end', STRIPE_LIFECYCLE.slice(0, 5), 'org_42', '2027-01-15T10:00:00Z', NOTHING],
    ['Stripe deleted (final, whenever evaluated)', STRIPE_LIFECYCLE, 'org_42', '2027-01-10T00:00:00Z', NOTHING],
    ['Paddle trialing', PADDLE_LIFECYCLE.slice(0, 1), 'org_42', '2026-11-10T00:00:00Z', PRO_5('2026-11-16T10:00:00.120Z')],
    ['Paddle active', PADDLE_LIFECYCLE.slice(0, 2), 'org_42', '2026-12-01T00:00:00Z', PRO_5('2026-12-16T10:00:00.120Z')],
    ['Paddle past_due, within grace', PADDLE_LIFECYCLE.slice(0, 3), 'org_42', '2026-12-16T11:00:00Z', PRO_5('2026-12-18T10:04:51.730Z')],
    ['Paddle past_due, grace over', PADDLE_LIFECYCLE.slice(0, 3), 'org_42', '2026-12-18T10:04:51.730Z', NOTHING],
    ['Paddle active again', PADDLE_LIFECYCLE.slice(0, 4), 'org_42', '2026-12-19T00:00:00Z', PRO_5('2027-01-16T10:00:00.120Z')],
    ['Paddle scheduled to cancel', PADDLE_LIFECYCLE.slice(0, 5), 'org_42', '2027-01-10T00:00:00Z', PRO_5('2027-01-15T10:00:00.120Z')],
    ['Paddle canceled, before it ends', PADDLE_LIFECYCLE, 'org_42', '2027-01-10T00:00:00Z', PRO_5('2027-01-15T10:00:00.120Z')],
    ['Paddle canceled, ended', PADDLE_LIFECYCLE, 'org_42', '2027-01-15T10:00:00.120Z', NOTHING],
    ['Stripe trial', STRIPE_TRIAL_PAUSED.slice(0, 1), 'org_77', '2026-11-10T00:00:00Z', PRO_1('2026-11-16T10:00:00.000Z')],
    ['Stripe trial ended in a pause', STRIPE_TRIAL_PAUSED, 'org_77', '2026-11-10T00:00:00Z', NOTHING],
    ['Paddle trial', PADDLE_TRIAL_PAUSED.slice(0, 1), 'org_77', '2026-11-20T00:00:00Z', PRO_1('2026-11-29T18:20:44.100Z')],
    ['Paddle trial ended in a pause', PADDLE_TRIAL_PAUSED, 'org_77', '2026-11-20T00:00:00Z', NOTHING],
    ['both providers, Stripe past_due and Paddle active', [...STRIPE_LIFECYCLE.slice(0, 3), ...PADDLE_LIFECYCLE.slice(0, 2)], 'org_42', '2026-12-15T10:30:00Z', PRO_5('2026-12-18T11:02:10.000Z')],
  ];

  it.each(steps)('%s: the prescribed entitlements, in every delivery order', (_name, deliveries, subject, at, expected) => {
    let orders = 0;
    for (const order of permutations(deliveries)) {
      expect(decision(logOf(order), subject, at)).toEqual(expected);
      orders++;
    }
    expect(orders).toBe([...Array(deliveries.length).keys()].reduce((n, i) => n * (i + 1), 1));
  });

  it('gives the in-order entitlements for any subset of the deliveries, in any order, with any redeliveries', () => {
    const arrivals = fc
      .subarray(ALL, { minLength: 1 })
      .chain((set) =>
        fc
          .array(fc.constantFrom(...set), { maxLength: 6 })
          .chain((again) => fc.shuffledSubarray([...set, ...again], { minLength: set.length + again.length }))
          .map((arrived) => ({ set, arrived })),
      );
    fc.assert(
      fc.property(arrivals, ({ set, arrived }) => {
        const inOrder = logOf(inProviderOrder(set));
        const shuffled = logOf(arrived);
        for (const subject of SUBJECTS) {
          for (const at of EVALUATED_AT) {
            expect(decision(shuffled, subject, at)).toEqual(decision(inOrder, subject, at));
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  describe('regression: an older incomplete creation that arrives late does not downgrade the subject', () => {
    // Stripe creates the subscription `incomplete` and activates it once the first payment
    // succeeds; the creation webhook may be delivered after the update.
    const incompleteCreated = (createdS: number): Delivery => {
      const e = load('stripe', 'lifecycle-1-created-trialing');
      return delivery('stripe', 'created-incomplete', {
        ...e,
        id: `evt_1SKq2eLkdIwHu7ixInc${createdS}`,
        created: createdS,
        data: { object: { ...e.data.object, status: 'incomplete', trial_end: null } },
      });
    };
    const active = STRIPE_LIFECYCLE[1]!;
    const activeAt = providerTime(active) / 1000;

    it.each([
      ['seconds earlier', activeAt - 4],
      ['in the same second (lifecycle rank breaks the tie)', activeAt],
    ])('created %s', (_name, createdS) => {
      const late = incompleteCreated(createdS);
      expect((late.data as Json).subscription.status).toBe('incomplete');
      const at = '2026-12-01T00:00:00Z';
      expect(decision(logOf([active, late]), 'org_42', at)).toEqual(PRO_5('2026-12-16T10:00:00.000Z'));
      expect(decision(logOf([active, late, active, late]), 'org_42', at)).toEqual(decision(logOf([late, active]), 'org_42', at));
      // Alone, the incomplete state grants nothing: the test would catch a downgrade.
      expect(decision(logOf([late]), 'org_42', at)).toEqual(NOTHING);
    });
  });
});
