import { diffEntitlements, evaluateEntitlements } from './entitlement.evaluate.js';
import { InvalidEntitlementPolicyError, InvalidEvaluationTimeError } from './entitlement.errors.js';
import type { EntitlementSources } from './entitlement.sources.js';
import { entitlementSources } from './entitlement.sources.js';
import { replaySubject } from './subject.replay.js';
import {
  at,
  catalog,
  DAY,
  given,
  grantEvent,
  PERIOD_END,
  plusS,
  policy,
  subscriptionEvent,
  T0,
} from './entitlement-test.fixtures.js';

const LEEWAY_END = plusS(PERIOD_END, DAY);
const NOW = at(T0);

describe('combining sources', () => {
  it('multiplies per_unit by quantity, ORs booleans and takes the maximum number', () => {
    const events = given(
      subscriptionEvent({ id: 'evt_1', occurred_at: T0, sub: { id: 'sub_basic', plan: 'basic', quantity: 30 } }),
      subscriptionEvent({ id: 'evt_2', occurred_at: T0, sub: { id: 'sub_pro', plan: 'pro', quantity: 4, cancel_at_period_end: true } }),
    );

    const result = replaySubject(events, 'org_42', policy, NOW);

    expect(result.features).toEqual({
      api: { value: true, valid_until: LEEWAY_END },
      exports: { value: true, valid_until: PERIOD_END },
      projects: { value: 50, valid_until: PERIOD_END },
      seats: { value: 30, valid_until: LEEWAY_END },
    });
    expect(result.valid_until).toBe(PERIOD_END);
  });

  it('gives a feature the latest valid_until among the live sources of its winning value', () => {
    const events = given(
      subscriptionEvent({ id: 'evt_1', occurred_at: T0, sub: { id: 'sub_a', cancel_at_period_end: true } }),
      subscriptionEvent({ id: 'evt_2', occurred_at: T0, sub: { id: 'sub_b' } }),
    );

    const result = replaySubject(events, 'org_42', policy, NOW);

    expect(result.features['api']).toEqual({ value: true, valid_until: LEEWAY_END });
    expect(result.valid_until).toBe(LEEWAY_END);
  });

  it('names the granting plan with the highest tier, ties to the smaller id', () => {
    const events = given(
      subscriptionEvent({ id: 'evt_1', occurred_at: T0, sub: { id: 'sub_team', plan: 'team' } }),
      subscriptionEvent({ id: 'evt_2', occurred_at: T0, sub: { id: 'sub_basic', plan: 'basic' } }),
      subscriptionEvent({ id: 'evt_3', occurred_at: T0, sub: { id: 'sub_pro', plan: 'pro', cancel_at: plusS(T0, DAY) } }),
    );

    expect(replaySubject(events, 'org_42', policy, NOW)).toMatchObject({
      plan: 'pro',
      features: { projects: { value: 60, valid_until: LEEWAY_END }, sso: { value: true, valid_until: LEEWAY_END } },
      valid_until: plusS(T0, DAY),
    });
    expect(replaySubject(events, 'org_42', policy, at(plusS(T0, DAY))).plan).toBe('team');
  });

  it('counts a plan without features as the plan', () => {
    const events = given(subscriptionEvent({ id: 'evt_1', occurred_at: T0, sub: { plan: 'badge' } }));

    expect(replaySubject(events, 'org_42', policy, NOW)).toMatchObject({
      plan: 'badge',
      features: {},
      valid_until: LEEWAY_END,
    });
  });

  it('lets numeric sources decide a feature that some source gives as a boolean', () => {
    const events = given(
      subscriptionEvent({ id: 'evt_1', occurred_at: T0 }),
      grantEvent('grant_1', 'projects', true),
    );

    expect(replaySubject(events, 'org_42', policy, NOW).features['projects']).toEqual({ value: 50, valid_until: LEEWAY_END });
  });

  it('answers a subject with nothing with plan null and no features', () => {
    expect(replaySubject(given(), 'org_nobody', policy, NOW)).toEqual({
      subject: 'org_nobody',
      position: 1,
      plan: null,
      features: {},
      valid_until: null,
      unknown_plans: [],
    });
  });

  it('keeps a feature named like an Object.prototype key as plain data', () => {
    const events = given(grantEvent('grant_1', '__proto__', 3));

    const result = replaySubject(events, 'org_42', policy, NOW);

    expect(Object.keys(result.features)).toEqual(['__proto__']);
    expect(JSON.parse(JSON.stringify(result.features))).toEqual(result.features);
  });
});

describe('evaluateEntitlements', () => {
  const sources: EntitlementSources = {
    plans: [{ plan: 'pro', tier: 2, valid_until: '2026-12-01T00:00:00.000Z', subscription: 'api:sub_1' }],
    features: [
      { feature: 'seats', value: 10, valid_until: '2026-12-01T00:00:00.000Z', origin: { kind: 'subscription', subscription: 'api:sub_1', plan: 'pro' } },
      { feature: 'seats', value: 4, valid_until: null, origin: { kind: 'admin_grant', source_event_id: 'g', position: 3 } },
    ],
    unknown_plans: [],
  };

  it('falls back to the lower value once the higher one expires', () => {
    expect(evaluateEntitlements(sources, at('2026-11-30T00:00:00Z'))).toEqual({
      plan: 'pro',
      features: { seats: { value: 10, valid_until: '2026-12-01T00:00:00.000Z' } },
      valid_until: '2026-12-01T00:00:00.000Z',
    });
    expect(evaluateEntitlements(sources, at('2026-12-01T00:00:00Z'))).toEqual({
      plan: null,
      features: { seats: { value: 4, valid_until: null } },
      valid_until: null,
    });
  });

  it('refuses an invalid evaluation time with a stable code', () => {
    expect(() => evaluateEntitlements(sources, new Date('not a date'))).toThrow(InvalidEvaluationTimeError);
    expect(() => evaluateEntitlements(sources, new Date(NaN))).toThrow(expect.objectContaining({ code: 'invalid_evaluation_time' }));
  });
});

describe('entitlementSources', () => {
  it('skips subscriptions whose winning state belongs to another subject', () => {
    const events = given(subscriptionEvent({ id: 'evt_1', occurred_at: T0, sub: { subject: 'org_7' } }));
    expect(replaySubject(events, 'org_7', policy, NOW).plan).toBe('pro');
    expect(replaySubject(events, 'org_42', policy, NOW).plan).toBeNull();
  });

  it('refuses a negative or fractional policy with a stable code', () => {
    const inputs = { subject: 'org_42', subscriptions: [] };
    expect(() => entitlementSources(inputs, catalog, { renewalLeewayS: -1, pastDueGraceS: 0 })).toThrow(
      InvalidEntitlementPolicyError,
    );
    expect(() => entitlementSources(inputs, catalog, { renewalLeewayS: 0, pastDueGraceS: 1.5 })).toThrow(
      expect.objectContaining({ code: 'invalid_entitlement_policy' }),
    );
  });
});

describe('diffEntitlements', () => {
  it('lists granted, withdrawn and changed values by feature, ignoring valid_until alone', () => {
    const before = {
      features: {
        api: { value: true, valid_until: '2026-12-01T00:00:00.000Z' },
        seats: { value: 5, valid_until: null },
        sso: { value: true, valid_until: null },
      },
    };
    const after = {
      features: {
        api: { value: true, valid_until: '2027-01-01T00:00:00.000Z' },
        projects: { value: 50, valid_until: null },
        seats: { value: 10, valid_until: null },
      },
    };

    expect(diffEntitlements(before, after)).toEqual([
      { feature: 'projects', from: null, to: 50 },
      { feature: 'seats', from: 5, to: 10 },
      { feature: 'sso', from: true, to: null },
    ]);
    expect(diffEntitlements(after, after)).toEqual([]);
  });
});
