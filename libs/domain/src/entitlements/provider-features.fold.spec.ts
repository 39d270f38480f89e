import { replaySubject } from './subject.replay.js';
import { evolveProviderFeatures, initialProviderFeatures } from './provider-features.fold.js';
import { at, given, log, plusS, policy, providerFeaturesEvent, T0 } from './entitlement-test.fixtures.js';

describe('provider features (Stripe Entitlements)', () => {
  const older = providerFeaturesEvent('evt_a', T0, ['api', 'sso']);
  const newer = providerFeaturesEvent('evt_b', plusS(T0, 60), ['api']);

  it('grant boolean features without expiry; the newest set wins whatever the order', () => {
    for (const order of [[older, newer], [newer, older]]) {
      expect(replaySubject(given(...order), 'org_42', policy, at(plusS(T0, 120)))).toMatchObject({
        plan: null,
        features: { api: { value: true, valid_until: null } },
        valid_until: null,
      });
    }
  });

  it('break equal provider times by the greater event id', () => {
    const a = providerFeaturesEvent('evt_a', T0, ['api']);
    const b = providerFeaturesEvent('evt_b', T0, ['exports']);

    for (const order of [[a, b], [b, a]]) {
      expect(Object.keys(replaySubject(given(...order), 'org_42', policy, at(T0)).features)).toEqual(['exports']);
    }
  });

  it('an empty set withdraws them', () => {
    const events = given(older, providerFeaturesEvent('evt_c', plusS(T0, 1), []));
    expect(replaySubject(events, 'org_42', policy, at(T0)).features).toEqual({});
  });

  it('note older and duplicate deliveries and sets of other subjects', () => {
    const [o, n] = log(older, newer) as [ReturnType<typeof log>[number], ReturnType<typeof log>[number]];
    const held = evolveProviderFeatures(initialProviderFeatures('org_42'), n).fold;

    expect(evolveProviderFeatures(held, o)).toEqual({ fold: held, note: 'older_than_held_state' });
    expect(evolveProviderFeatures(held, n)).toEqual({ fold: held, note: 'duplicate_delivery' });
    expect(evolveProviderFeatures(initialProviderFeatures('org_7'), n).note).toBe('other_subject');
    expect(held.providers).toEqual([{ provider: 'stripe', occurred_at: plusS(T0, 60), source_event_id: 'evt_b', features: ['api'] }]);
  });
});
