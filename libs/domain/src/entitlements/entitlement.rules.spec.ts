import { SUBSCRIPTION_STATUSES } from '../events/subscription.events.js';
import { replaySubject } from './subject.replay.js';
import {
  at,
  DAY,
  given,
  PERIOD_END,
  plusMs,
  plusS,
  policy,
  subscriptionEvent,
  T0,
} from './entitlement-test.fixtures.js';

const LEEWAY_END = plusS(PERIOD_END, policy.renewalLeewayS);
const PRO_FEATURES = (until: string | null) => ({
  api: { value: true, valid_until: until },
  exports: { value: true, valid_until: until },
  projects: { value: 50, valid_until: until },
  seats: { value: 10, valid_until: until },
});

describe('subscription status windows', () => {
  describe('active and trialing', () => {
    it.each(['active', 'trialing'] as const)('%s grants the plan until current_period_end + leeway', (status) => {
      const events = given(subscriptionEvent({ id: 'evt_1', occurred_at: T0, sub: { status } }));

      const result = replaySubject(events, 'org_42', policy, at(T0));

      expect(result).toEqual({
        subject: 'org_42',
        position: 2,
        plan: 'pro',
        features: PRO_FEATURES(LEEWAY_END),
        valid_until: LEEWAY_END,
        unknown_plans: [],
      });
    });

    it('keeps granting at current_period_end exactly while the renewal is late, and stops at the leeway end', () => {
      const events = given(subscriptionEvent({ id: 'evt_1', occurred_at: T0 }));

      expect(replaySubject(events, 'org_42', policy, at(PERIOD_END)).plan).toBe('pro');
      expect(replaySubject(events, 'org_42', policy, at(plusMs(LEEWAY_END, -1))).plan).toBe('pro');
      const atLeewayEnd = replaySubject(events, 'org_42', policy, at(LEEWAY_END));
      expect(atLeewayEnd).toMatchObject({ plan: null, features: {}, valid_until: null });
    });

    it('with cancel_at_period_end grants exactly until current_period_end, no leeway', () => {
      const events = given(subscriptionEvent({ id: 'evt_1', occurred_at: T0, sub: { cancel_at_period_end: true } }));

      expect(replaySubject(events, 'org_42', policy, at(plusMs(PERIOD_END, -1)))).toMatchObject({
        plan: 'pro',
        valid_until: PERIOD_END,
      });
      expect(replaySubject(events, 'org_42', policy, at(PERIOD_END))).toMatchObject({ plan: null, features: {} });
    });

    it('with cancel_at before the period end grants exactly until cancel_at', () => {
      const cancelAt = plusS(T0, 10 * DAY);
      const events = given(subscriptionEvent({ id: 'evt_1', occurred_at: T0, sub: { cancel_at: cancelAt } }));

      expect(replaySubject(events, 'org_42', policy, at(plusMs(cancelAt, -1)))).toMatchObject({
        plan: 'pro',
        valid_until: cancelAt,
      });
      expect(replaySubject(events, 'org_42', policy, at(cancelAt))).toMatchObject({ plan: null, features: {} });
    });

    it('with cancel_at beyond the leeway end still stops at the leeway end (the earliest applies)', () => {
      const events = given(
        subscriptionEvent({ id: 'evt_1', occurred_at: T0, sub: { cancel_at: plusS(LEEWAY_END, DAY) } }),
      );

      expect(replaySubject(events, 'org_42', policy, at(T0)).valid_until).toBe(LEEWAY_END);
    });

    it('without current_period_end, a trial runs until trial_end + leeway', () => {
      const trialEnd = plusS(T0, 14 * DAY);
      const events = given(
        subscriptionEvent({
          id: 'evt_1',
          occurred_at: T0,
          sub: { status: 'trialing', current_period_end: null, trial_end: trialEnd },
        }),
      );

      expect(replaySubject(events, 'org_42', policy, at(T0)).valid_until).toBe(plusS(trialEnd, DAY));
      expect(replaySubject(events, 'org_42', policy, at(plusS(trialEnd, DAY))).plan).toBeNull();
    });

    it('without any period, an active subscription holds until a later state ends it (valid_until null)', () => {
      const events = given(subscriptionEvent({ id: 'evt_1', occurred_at: T0, sub: { current_period_end: null } }));

      const result = replaySubject(events, 'org_42', policy, at('2036-01-01T00:00:00Z'));

      expect(result).toMatchObject({ plan: 'pro', features: PRO_FEATURES(null), valid_until: null });
    });

    it('without any period but with cancel_at, an active subscription holds exactly until cancel_at', () => {
      const cancelAt = plusS(T0, DAY);
      const events = given(
        subscriptionEvent({ id: 'evt_1', occurred_at: T0, sub: { current_period_end: null, cancel_at: cancelAt } }),
      );

      expect(replaySubject(events, 'org_42', policy, at(T0)).valid_until).toBe(cancelAt);
      expect(replaySubject(events, 'org_42', policy, at(cancelAt)).plan).toBeNull();
    });
  });

  describe('past_due', () => {
    const T1 = plusS(T0, DAY);
    const T2 = plusS(T0, 2 * DAY);
    const T3 = plusS(T0, 3 * DAY);

    it('grants until the grace after the provider time it became past_due, and not at the grace end exactly', () => {
      const graceEnd = plusS(T1, policy.pastDueGraceS);
      const events = given(
        subscriptionEvent({ id: 'evt_1', occurred_at: T0 }),
        subscriptionEvent({ id: 'evt_2', occurred_at: T1, sub: { status: 'past_due' } }),
        subscriptionEvent({ id: 'evt_3', occurred_at: T2, sub: { status: 'past_due' } }),
      );

      expect(replaySubject(events, 'org_42', policy, at(plusMs(graceEnd, -1)))).toMatchObject({
        plan: 'pro',
        features: PRO_FEATURES(graceEnd),
        valid_until: graceEnd,
      });
      expect(replaySubject(events, 'org_42', policy, at(graceEnd))).toMatchObject({ plan: null, features: {} });
    });

    it('counts the grace from the final unbroken past_due run, whatever the delivery order', () => {
      const deliveries = [
        subscriptionEvent({ id: 'evt_1', occurred_at: T1, sub: { status: 'past_due' } }),
        subscriptionEvent({ id: 'evt_2', occurred_at: T2, sub: { status: 'active' } }),
        subscriptionEvent({ id: 'evt_3', occurred_at: T3, sub: { status: 'past_due' } }),
      ];

      for (const order of [deliveries, [...deliveries].reverse()]) {
        const result = replaySubject(given(...order), 'org_42', policy, at(T3));
        expect(result.valid_until).toBe(plusS(T3, policy.pastDueGraceS));
      }
    });

    it('moves the start back when an earlier past_due state of the same run arrives late', () => {
      const events = given(
        subscriptionEvent({ id: 'evt_2', occurred_at: T2, sub: { status: 'past_due' } }),
        subscriptionEvent({ id: 'evt_1', occurred_at: T1, sub: { status: 'past_due' } }),
      );

      expect(replaySubject(events, 'org_42', policy, at(T2)).valid_until).toBe(plusS(T1, policy.pastDueGraceS));
    });
  });

  describe('canceled', () => {
    it('grants only until ended_at, exclusive', () => {
      const endedAt = plusS(T0, 5 * DAY);
      const events = given(
        subscriptionEvent({ id: 'evt_1', occurred_at: T0, type: 'subscription.canceled', sub: { status: 'canceled', ended_at: endedAt } }),
      );

      expect(replaySubject(events, 'org_42', policy, at(plusMs(endedAt, -1)))).toMatchObject({
        plan: 'pro',
        valid_until: endedAt,
      });
      expect(replaySubject(events, 'org_42', policy, at(endedAt))).toMatchObject({ plan: null, features: {} });
    });

    it('without ended_at grants until cancel_at, exclusive', () => {
      const cancelAt = plusS(T0, 2 * DAY);
      const events = given(
        subscriptionEvent({ id: 'evt_1', occurred_at: T0, sub: { status: 'canceled', cancel_at: cancelAt } }),
      );

      expect(replaySubject(events, 'org_42', policy, at(T0)).valid_until).toBe(cancelAt);
      expect(replaySubject(events, 'org_42', policy, at(cancelAt)).plan).toBeNull();
    });

    it('without ended_at or cancel_at grants nothing, even inside the old period', () => {
      const events = given(
        subscriptionEvent({ id: 'evt_1', occurred_at: T0 }),
        subscriptionEvent({ id: 'evt_2', occurred_at: plusS(T0, 1), sub: { status: 'canceled' } }),
      );

      expect(replaySubject(events, 'org_42', policy, at(plusS(T0, 2)))).toMatchObject({
        plan: null,
        features: {},
        valid_until: null,
      });
    });
  });

  it.each(['paused', 'unpaid', 'incomplete', 'incomplete_expired'] as const)('%s grants nothing', (status) => {
    const events = given(
      subscriptionEvent({ id: 'evt_1', occurred_at: T0 }),
      subscriptionEvent({ id: 'evt_2', occurred_at: plusS(T0, 60), sub: { status } }),
    );

    expect(replaySubject(events, 'org_42', policy, at(plusS(T0, 120)))).toEqual({
      subject: 'org_42',
      position: 3,
      plan: null,
      features: {},
      valid_until: null,
      unknown_plans: [],
    });
  });

  it('covers every status of the vocabulary', () => {
    const granting = SUBSCRIPTION_STATUSES.filter((status) => {
      const events = given(
        subscriptionEvent({ id: 'evt_1', occurred_at: T0, sub: { status, ended_at: plusS(T0, DAY) } }),
      );
      return replaySubject(events, 'org_42', policy, at(T0)).plan !== null;
    });
    expect(granting).toEqual(['trialing', 'active', 'past_due', 'canceled']);
  });

  describe('deleted is final', () => {
    const deleted = subscriptionEvent({
      id: 'evt_del',
      occurred_at: T0,
      type: 'subscription.deleted',
      sub: { status: 'canceled', ended_at: plusS(T0, DAY) },
    });
    const laterActive = subscriptionEvent({ id: 'evt_late', occurred_at: plusS(T0, 60) });

    it.each([
      ['deleted first', [deleted, laterActive]],
      ['deleted last', [laterActive, deleted]],
    ])('a newer active state grants nothing once a deletion is known (%s)', (_name, order) => {
      expect(replaySubject(given(...order), 'org_42', policy, at(plusS(T0, 120)))).toMatchObject({
        plan: null,
        features: {},
      });
    });
  });

  it('moves a subscription to the subject of its winning state', () => {
    const toOrg7 = subscriptionEvent({ id: 'evt_2', occurred_at: plusS(T0, 60), sub: { subject: 'org_7' } });
    const atOrg42 = subscriptionEvent({ id: 'evt_1', occurred_at: T0 });

    for (const order of [[atOrg42, toOrg7], [toOrg7, atOrg42]]) {
      const events = given(...order);
      expect(replaySubject(events, 'org_42', policy, at(plusS(T0, 120)))).toMatchObject({ plan: null, features: {} });
      expect(replaySubject(events, 'org_7', policy, at(plusS(T0, 120)))).toMatchObject({ plan: 'pro' });
    }
  });

  it('an unknown plan grants nothing and is reported', () => {
    const events = given(subscriptionEvent({ id: 'evt_1', occurred_at: T0, sub: { plan: 'enterprise' } }));

    expect(replaySubject(events, 'org_42', policy, at(T0))).toEqual({
      subject: 'org_42',
      position: 2,
      plan: null,
      features: {},
      valid_until: null,
      unknown_plans: [{ subscription: 'api:sub_1', plan: 'enterprise', plan_refs: null }],
    });
  });

  it('answers the contract example', () => {
    const contractCatalog = {
      plans: [
        {
          id: 'pro',
          tier: 2,
          stripe: { lookup_keys: ['pro_monthly'], prices: ['price_123'], products: ['prod_9'] },
          paddle: { prices: ['pri_01'], products: ['pro_01'] },
          features: { api: true, seats: { per_unit: 1 }, projects: 50 },
        },
      ],
      classes: {},
    };
    const events = given(subscriptionEvent({ id: 'evt_0001', occurred_at: '2026-11-24T10:00:00Z' })).map((e) =>
      e.type === 'catalog.published' ? { ...e, data: { catalog: contractCatalog } } : e,
    );

    expect(replaySubject(events, 'org_42', policy, at('2026-11-30T00:00:00Z'))).toMatchObject({
      plan: 'pro',
      features: {
        api: { value: true, valid_until: '2026-12-25T10:00:00.000Z' },
        seats: { value: 5, valid_until: '2026-12-25T10:00:00.000Z' },
        projects: { value: 50, valid_until: '2026-12-25T10:00:00.000Z' },
      },
      valid_until: '2026-12-25T10:00:00.000Z',
    });
  });
});
