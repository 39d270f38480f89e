import type { LedgerEvent } from '../events/ledger-event.js';
import { SubscriptionKeyMismatchError } from './entitlement.errors.js';
import { evolveSubscription, pastDueSince, type SubscriptionFold, subscriptionSubject, subscriptionWinner } from './subscription.fold.js';
import { catalog, log, plusS, subscriptionEvent, T0, type Unpositioned } from './entitlement-test.fixtures.js';

const fold = (...events: Unpositioned[]): SubscriptionFold | undefined =>
  log(...events).reduce<SubscriptionFold | undefined>((f, e) => evolveSubscription(f, e, catalog).fold, undefined);

const noteOf = (held: SubscriptionFold | undefined, event: Unpositioned) =>
  evolveSubscription(held, { ...event, position: 99 }, catalog).note;

describe('evolveSubscription', () => {
  const first = subscriptionEvent({ id: 'evt_1', occurred_at: T0 });
  const later = subscriptionEvent({ id: 'evt_2', occurred_at: plusS(T0, 60), sub: { quantity: 9 } });

  it('holds the newest provider state, whatever the arrival order', () => {
    const inOrder = fold(first, later);
    const reversed = fold(later, first);

    expect(inOrder).toEqual(reversed);
    expect(inOrder && subscriptionWinner(inOrder)?.subscription.quantity).toBe(9);
    expect(inOrder?.key).toBe('api:sub_1');
  });

  it('breaks equal provider times by lifecycle rank, then by the greater event id', () => {
    const active = subscriptionEvent({ id: 'evt_b', occurred_at: T0, sub: { status: 'active' } });
    const pastDue = subscriptionEvent({ id: 'evt_a', occurred_at: T0, sub: { status: 'past_due' } });
    const sameRankGreaterId = subscriptionEvent({ id: 'evt_c', occurred_at: T0, sub: { status: 'active', quantity: 3 } });

    const byRank = fold(pastDue, active);
    expect(byRank && subscriptionWinner(byRank)?.subscription.status).toBe('past_due');

    const byId = fold(sameRankGreaterId, active);
    expect(byId && subscriptionWinner(byId)?.source_event_id).toBe('evt_c');
  });

  it('notes a redelivery as duplicate_delivery and keeps the fold', () => {
    const held = fold(first);
    const result = evolveSubscription(held, { ...first, position: 7 }, catalog);

    expect(result).toEqual({ fold: held, note: 'duplicate_delivery' });
  });

  it('notes a delivery that loses last-writer-wins as older_than_held_state', () => {
    expect(noteOf(fold(later), first)).toBe('older_than_held_state');
  });

  it('gives no note to an older past_due delivery that moves the start of the grace', () => {
    const held = fold(subscriptionEvent({ id: 'evt_2', occurred_at: plusS(T0, 60), sub: { status: 'past_due' } }));
    const earlierPastDue = subscriptionEvent({ id: 'evt_1', occurred_at: T0, sub: { status: 'past_due' } });

    const result = evolveSubscription(held!, { ...earlierPastDue, position: 3 }, catalog);

    expect(result.note).toBeUndefined();
    expect(pastDueSince(result.fold)).toBe(T0);
  });

  it('notes every delivery after a deletion as subscription_deleted', () => {
    const held = fold(subscriptionEvent({ id: 'evt_del', occurred_at: T0, type: 'subscription.deleted', sub: { status: 'canceled' } }));

    expect(noteOf(held, later)).toBe('subscription_deleted');
    expect(held?.deleted).toBe(true);
  });

  it('notes a winning state whose plan the catalog does not know as unknown_plan', () => {
    expect(noteOf(undefined, subscriptionEvent({ id: 'evt_1', occurred_at: T0, sub: { plan: 'nope' } }))).toBe('unknown_plan');
    expect(noteOf(undefined, first)).toBeUndefined();
  });

  it('ignores other event types and malformed payloads without creating a fold', () => {
    const other: LedgerEvent = { ...first, type: 'api_key.created', position: 1 };
    const malformed: LedgerEvent = { ...first, data: { occurred_at: 'yesterday' }, position: 2 };

    expect(evolveSubscription(undefined, other)).toEqual({ fold: undefined, note: 'ignored_type' });
    expect(evolveSubscription(undefined, malformed)).toEqual({ fold: undefined, note: 'malformed_event' });
  });

  it('refuses an event of another subscription with a stable code', () => {
    const held = fold(first);
    const otherSub = { ...subscriptionEvent({ id: 'evt_9', occurred_at: T0, sub: { id: 'sub_2' } }), position: 5 };

    expect(() => evolveSubscription(held, otherSub)).toThrow(SubscriptionKeyMismatchError);
    expect(() => evolveSubscription(held, otherSub)).toThrow(expect.objectContaining({ code: 'subscription_key_mismatch' }));
  });

  it('follows the subject of the winning state', () => {
    const moved = fold(first, subscriptionEvent({ id: 'evt_2', occurred_at: plusS(T0, 1), sub: { subject: 'org_7' } }));
    expect(moved && subscriptionSubject(moved)).toBe('org_7');
  });

  it('keeps only what can still matter: deliveries from the latest non-past_due state on', () => {
    const held = fold(
      subscriptionEvent({ id: 'evt_1', occurred_at: T0, sub: { status: 'past_due' } }),
      subscriptionEvent({ id: 'evt_2', occurred_at: plusS(T0, 1) }),
      subscriptionEvent({ id: 'evt_3', occurred_at: plusS(T0, 2), sub: { status: 'past_due' } }),
      subscriptionEvent({ id: 'evt_4', occurred_at: plusS(T0, 3), sub: { status: 'past_due' } }),
    );

    expect(held?.deliveries.map((d) => d.source_event_id)).toEqual(['evt_2', 'evt_3', 'evt_4']);
    expect(held && pastDueSince(held)).toBe(plusS(T0, 2));
  });

  it('is plain JSON: a round trip through JSON gives an equal fold', () => {
    const held = fold(first, later);
    expect(JSON.parse(JSON.stringify(held))).toEqual(held);
  });

  it('normalises provider times to UTC and fills what adapters may omit', () => {
    const sparse: LedgerEvent = {
      type: 'subscription.created',
      source: 'stripe',
      source_event_id: 'evt_s',
      recorded_at: T0,
      position: 1,
      data: {
        occurred_at: '2026-11-24T11:00:00+01:00',
        subscription: { id: 'sub_s', subject: 'cus_1', plan: null, status: 'active' },
        plan_refs: { provider: 'stripe', lookup_keys: ['pro_monthly'] },
      },
    };

    const result = evolveSubscription(undefined, sparse, catalog);

    expect(result.note).toBeUndefined();
    expect(result.fold?.deliveries[0]).toEqual({
      source_event_id: 'evt_s',
      type: 'subscription.created',
      occurred_at: T0,
      subscription: {
        id: 'sub_s',
        subject: 'cus_1',
        plan: null,
        status: 'active',
        quantity: 1,
        current_period_end: null,
        cancel_at_period_end: false,
        cancel_at: null,
        ended_at: null,
        trial_end: null,
      },
      plan_refs: { provider: 'stripe', lookup_keys: ['pro_monthly'], prices: [], products: [] },
    });
  });
});
