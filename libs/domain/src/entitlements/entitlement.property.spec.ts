import fc from 'fast-check';
import type { LedgerEvent } from '../events/ledger-event.js';
import { SUBSCRIPTION_EVENT_TYPES, SUBSCRIPTION_STATUSES } from '../events/subscription.events.js';
import type { EntitlementPolicy } from './entitlement.policy.js';
import { replaySubject } from './subject.replay.js';
import { evolveSubscription, type SubscriptionFold, subscriptionKey } from './subscription.fold.js';
import { catalogEvent, catalog, log, plusS, subscriptionEvent, T0, type Unpositioned } from './entitlement-test.fixtures.js';

// Short durations so grace, leeway and period ends fall inside the evaluated range.
const policy: EntitlementPolicy = { renewalLeewayS: 3600, pastDueGraceS: 7200 };
const SUBJECTS = ['org_a', 'org_b'] as const;
const EVALUATED_AT = [0, 1800, 3600, 7200, 5 * 3600, 86_400, 40 * 86_400].map((s) => new Date(plusS(T0, s)));

const instant = fc.integer({ min: 0, max: 6 }).map((h) => plusS(T0, h * 1800));
const maybeInstant = fc.option(instant, { nil: null });

const delivery = fc.record({
  idSalt: fc.nat({ max: 1_000_000 }),
  source: fc.constantFrom('api', 'stripe'),
  subscription: fc.constantFrom('sub_1', 'sub_2', 'sub_3'),
  subject: fc.constantFrom(...SUBJECTS),
  type: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...SUBSCRIPTION_EVENT_TYPES.filter((t) => t !== 'subscription.deleted')) },
    { weight: 1, arbitrary: fc.constant('subscription.deleted' as const) },
  ),
  occurred_at: fc.integer({ min: 0, max: 5 }).map((m) => plusS(T0, m * 600)),
  status: fc.constantFrom(...SUBSCRIPTION_STATUSES),
  plan: fc.constantFrom('basic', 'pro', 'team', 'ghost'),
  quantity: fc.integer({ min: 0, max: 5 }),
  current_period_end: maybeInstant,
  cancel_at_period_end: fc.boolean(),
  cancel_at: maybeInstant,
  ended_at: maybeInstant,
  trial_end: maybeInstant,
});

type Delivery = typeof delivery extends fc.Arbitrary<infer D> ? D : never;

const asEvent = (d: Delivery, i: number): Unpositioned =>
  subscriptionEvent({
    id: `evt_${d.idSalt.toString(36)}_${i}`,
    occurred_at: d.occurred_at,
    type: d.type,
    source: d.source,
    sub: {
      id: d.subscription,
      subject: d.subject,
      plan: d.plan,
      status: d.status,
      quantity: d.quantity,
      current_period_end: d.current_period_end,
      cancel_at_period_end: d.cancel_at_period_end,
      cancel_at: d.cancel_at,
      ended_at: d.ended_at,
      trial_end: d.trial_end,
    },
  });

/** A set of distinct deliveries, and the same set permuted with random redeliveries. */
const deliveriesAndReplay = fc
  .array(delivery, { minLength: 1, maxLength: 12 })
  .map((ds) => ds.map(asEvent))
  .chain((events) =>
    fc
      .array(fc.constantFrom(...events), { maxLength: 8 })
      .chain((dups) => {
        const all = [...events, ...dups];
        return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length });
      })
      .map((replayed) => ({ events, replayed })),
  );

const withCatalog = (events: Unpositioned[]): LedgerEvent[] => log(catalogEvent('cat_1', catalog), ...events);

function subscriptionFolds(events: readonly LedgerEvent[]): Record<string, SubscriptionFold> {
  const folds: Record<string, SubscriptionFold> = {};
  for (const e of events) {
    const sub = (e.data as { subscription?: { id: string } }).subscription;
    if (!sub) continue;
    const key = subscriptionKey(e.source, sub.id);
    const next = evolveSubscription(folds[key], e).fold;
    if (next) folds[key] = next;
  }
  return folds;
}

const evaluateAll = (events: readonly LedgerEvent[]) =>
  SUBJECTS.flatMap((subject) =>
    EVALUATED_AT.map((at) => {
      const { position: _position, ...rest } = replaySubject(events, subject, policy, at);
      return rest;
    }),
  );

describe('permutation and duplication invariance', () => {
  it('any permutation with redeliveries of the same subscription deliveries gives identical entitlements', () => {
    fc.assert(
      fc.property(deliveriesAndReplay, ({ events, replayed }) => {
        const baseline = withCatalog(events);
        const shuffled = withCatalog(replayed);

        expect(evaluateAll(shuffled)).toEqual(evaluateAll(baseline));
        expect(subscriptionFolds(shuffled)).toEqual(subscriptionFolds(baseline));
      }),
      { numRuns: 200 },
    );
  });

  it('grants something in a fair share of generated cases (the property is not vacuous)', () => {
    const samples = fc.sample(deliveriesAndReplay, { numRuns: 200, seed: 42 });
    const granting = samples.filter(({ events }) => evaluateAll(withCatalog(events)).some((e) => e.plan !== null));
    expect(granting.length).toBeGreaterThan(40);
  });
});
