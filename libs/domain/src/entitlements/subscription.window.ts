import type { EntitlementPolicy } from './entitlement.policy.js';
import { pastDueSince, type SubscriptionFold, subscriptionWinner } from './subscription.fold.js';
import { earliest, toIso, toMs } from './time.util.js';

/**
 * How long a subscription's held state grants its plan, independent of the evaluation time:
 * `grants: false`, or until `valid_until` (exclusive; null: until a later state says otherwise).
 */
export type SubscriptionWindow =
  | { readonly grants: false }
  | { readonly grants: true; readonly valid_until: string | null };

const NOTHING: SubscriptionWindow = { grants: false };

const plusSeconds = (iso: string, s: number): string => toIso(toMs(iso) + s * 1000);

/**
 * The contract's status rules applied to the held state.
 *
 * - trialing, active: until `current_period_end + renewalLeewayS`, or exactly until `cancel_at`
 *   or `current_period_end` (with `cancel_at_period_end`), the earliest applicable. Without a
 *   `current_period_end` a trial falls back to `trial_end`; an active subscription with no
 *   period at all (in-house billing without periods) holds until `cancel_at`, or until a later
 *   state ends it.
 * - past_due: until `pastDueGraceS` after the provider time it became past_due.
 * - canceled: until `ended_at`, else `cancel_at`; with neither, nothing.
 * - paused, unpaid, incomplete, incomplete_expired, and any deleted subscription: nothing.
 *
 * @example
 * subscriptionWindow(fold, { renewalLeewayS: 86400, pastDueGraceS: 259200 });
 * // { grants: true, valid_until: '2026-12-25T10:00:00.000Z' } for active until 2026-12-24T10:00Z
 */
export function subscriptionWindow(fold: SubscriptionFold, policy: EntitlementPolicy): SubscriptionWindow {
  const winner = subscriptionWinner(fold);
  if (fold.deleted || winner === null) return NOTHING;
  const s = winner.subscription;
  const status = s.status;
  switch (status) {
    case 'trialing':
    case 'active': {
      const periodEnd = s.current_period_end ?? (status === 'trialing' ? s.trial_end : null);
      let until: string | null = periodEnd === null ? null : plusSeconds(periodEnd, policy.renewalLeewayS);
      if (s.cancel_at_period_end && periodEnd !== null) until = earliest(until, periodEnd);
      if (s.cancel_at !== null) until = earliest(until, s.cancel_at);
      return { grants: true, valid_until: until };
    }
    case 'past_due': {
      const since = pastDueSince(fold);
      return since === null ? NOTHING : { grants: true, valid_until: plusSeconds(since, policy.pastDueGraceS) };
    }
    case 'canceled': {
      const end = s.ended_at ?? s.cancel_at;
      return end === null ? NOTHING : { grants: true, valid_until: end };
    }
    case 'paused':
    case 'unpaid':
    case 'incomplete':
    case 'incomplete_expired':
      return NOTHING;
    default: {
      const never: never = status;
      return never;
    }
  }
}
