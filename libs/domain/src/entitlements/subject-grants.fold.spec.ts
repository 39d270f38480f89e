import type { LedgerEvent } from '../events/ledger-event.js';
import { replaySubject } from './subject.replay.js';
import { evolveSubjectGrants, initialSubjectGrants } from './subject-grants.fold.js';
import {
  at,
  DAY,
  given,
  grantEvent,
  PERIOD_END,
  plusMs,
  plusS,
  policy,
  revokeEvent,
  subscriptionEvent,
  T0,
} from './entitlement-test.fixtures.js';

describe('admin grants', () => {
  const expiresAt = plusS(T0, 7 * DAY);

  it('grant a feature until its own expiry, exclusive', () => {
    const events = given(grantEvent('g1', 'beta', true, expiresAt));

    expect(replaySubject(events, 'org_42', policy, at(plusMs(expiresAt, -1)))).toMatchObject({
      plan: null,
      features: { beta: { value: true, valid_until: expiresAt } },
      valid_until: expiresAt,
    });
    expect(replaySubject(events, 'org_42', policy, at(expiresAt)).features).toEqual({});
  });

  it('without expiry hold until revoked', () => {
    const granted = given(grantEvent('g1', 'seats', 500));
    const revoked = given(grantEvent('g1', 'seats', 500), revokeEvent('r1', 'seats'));

    expect(replaySubject(granted, 'org_42', policy, at('2036-01-01T00:00:00Z')).features).toEqual({
      seats: { value: 500, valid_until: null },
    });
    expect(replaySubject(revoked, 'org_42', policy, at(T0)).features).toEqual({});
  });

  it('add to plan features (maximum wins) and a revocation removes only the admin grant', () => {
    const events = given(subscriptionEvent({ id: 'evt_1', occurred_at: T0 }), grantEvent('g1', 'seats', 500, expiresAt));
    const leewayEnd = plusS(PERIOD_END, DAY);

    expect(replaySubject(events, 'org_42', policy, at(T0)).features['seats']).toEqual({ value: 500, valid_until: expiresAt });
    expect(replaySubject(events, 'org_42', policy, at(expiresAt)).features['seats']).toEqual({ value: 10, valid_until: leewayEnd });
    expect(
      replaySubject([...events, { ...revokeEvent('r1', 'seats'), position: 4 }], 'org_42', policy, at(T0)).features['seats'],
    ).toEqual({ value: 10, valid_until: leewayEnd });
  });

  it('a newer grant of the same feature replaces the older one', () => {
    const events = given(grantEvent('g1', 'seats', 500, expiresAt), grantEvent('g2', 'seats', 20));

    expect(replaySubject(events, 'org_42', policy, at(T0)).features).toEqual({ seats: { value: 20, valid_until: null } });
  });

  it('of another subject do not count', () => {
    const events = given(grantEvent('g1', 'beta', true, null, 'org_7'));

    expect(replaySubject(events, 'org_42', policy, at(T0)).features).toEqual({});
    expect(replaySubject(events, 'org_7', policy, at(T0)).features).toEqual({ beta: { value: true, valid_until: null } });
  });
});

describe('evolveSubjectGrants notes', () => {
  const fold0 = initialSubjectGrants('org_42');
  const added: LedgerEvent = { ...grantEvent('g1', 'beta', true), position: 4 };

  it('reports a revocation of nothing, a replayed position, another subject, a malformed body and other types', () => {
    const { fold } = evolveSubjectGrants(fold0, added);

    expect(evolveSubjectGrants(fold0, { ...revokeEvent('r1', 'beta'), position: 5 }).note).toBe('no_such_grant');
    expect(evolveSubjectGrants(fold, added)).toEqual({ fold, note: 'duplicate_delivery' });
    expect(evolveSubjectGrants(fold0, { ...grantEvent('g2', 'beta', true, null, 'org_7'), position: 6 }).note).toBe('other_subject');
    expect(evolveSubjectGrants(fold0, { ...added, data: { subject: 'org_42', feature: 'beta' } }).note).toBe('malformed_event');
    expect(evolveSubjectGrants(fold0, { ...added, type: 'subscription.updated' }).note).toBe('ignored_type');
    expect(fold.grants).toEqual([
      { feature: 'beta', value: true, expires_at: null, reason: 'support ticket 7', actor: 'admin:alice', position: 4, source_event_id: 'g1' },
    ]);
  });
});
