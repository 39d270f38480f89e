import type { Catalog } from '../catalog/catalog.schema.js';
import type { PlanRefs } from '../events/subscription.events.js';
import type { FeatureProvider } from './provider-features.events.js';
import { assertEntitlementPolicy, type EntitlementPolicy } from './entitlement.policy.js';
import { resolvePlan } from './plan.resolver.js';
import type { ProviderFeaturesFold } from './provider-features.fold.js';
import type { SubjectGrantsFold } from './subject-grants.fold.js';
import { type SubscriptionFold, subscriptionSubject, subscriptionWinner } from './subscription.fold.js';
import { subscriptionWindow } from './subscription.window.js';

/** Everything the ledger holds about one subject. */
export interface EntitlementInputs {
  readonly subject: string;
  /** Folds of subscriptions that are or were the subject's; those that moved away are skipped. */
  readonly subscriptions: readonly SubscriptionFold[];
  readonly grants?: SubjectGrantsFold | null;
  readonly provider_features?: ProviderFeaturesFold | null;
}

export type SourceOrigin =
  | { readonly kind: 'subscription'; readonly subscription: string; readonly plan: string }
  | { readonly kind: 'admin_grant'; readonly source_event_id: string; readonly position: number }
  | { readonly kind: 'provider_features'; readonly provider: FeatureProvider; readonly source_event_id: string };

/** One source's claim on one feature, granted while the evaluation time is before `valid_until`. */
export interface FeatureSource {
  readonly feature: string;
  readonly value: boolean | number;
  /** Exclusive; null: no expiry. */
  readonly valid_until: string | null;
  readonly origin: SourceOrigin;
}

/** A subscription granting a known plan (it counts for `plan` even if the plan has no features). */
export interface PlanSource {
  readonly plan: string;
  readonly tier: number;
  readonly valid_until: string | null;
  readonly subscription: string;
}

/** A subscription that would grant but whose plan the catalog does not know: it grants nothing. */
export interface UnknownPlan {
  readonly subscription: string;
  readonly plan: string | null;
  readonly plan_refs: PlanRefs | null;
}

/** Time-independent: evaluate at any instant with `evaluateEntitlements`. Plain JSON. */
export interface EntitlementSources {
  readonly plans: readonly PlanSource[];
  readonly features: readonly FeatureSource[];
  readonly unknown_plans: readonly UnknownPlan[];
}

const byKey = (a: SubscriptionFold, b: SubscriptionFold): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/**
 * Every source of a subject's entitlements with its validity window, resolved against the
 * catalog in force. `per_unit` features are multiplied by the subscription's quantity;
 * provider features are `true` until a newer set replaces them; admin grants keep their own expiry.
 *
 * @example
 * const sources = entitlementSources({ subject: 'org_42', subscriptions: [fold] }, catalog, policy);
 * evaluateEntitlements(sources, new Date('2026-12-01T00:00:00Z'));
 */
export function entitlementSources(
  inputs: EntitlementInputs,
  catalog: Catalog,
  policy: EntitlementPolicy,
): EntitlementSources {
  assertEntitlementPolicy(policy);
  const plans: PlanSource[] = [];
  const features: FeatureSource[] = [];
  const unknown_plans: UnknownPlan[] = [];

  for (const fold of [...inputs.subscriptions].sort(byKey)) {
    const winner = subscriptionWinner(fold);
    if (winner === null || subscriptionSubject(fold) !== inputs.subject) continue;
    const window = subscriptionWindow(fold, policy);
    if (!window.grants) continue;
    const plan = resolvePlan(catalog, winner.subscription.plan, winner.plan_refs);
    if (plan === null) {
      unknown_plans.push({ subscription: fold.key, plan: winner.subscription.plan, plan_refs: winner.plan_refs });
      continue;
    }
    plans.push({ plan: plan.id, tier: plan.tier, valid_until: window.valid_until, subscription: fold.key });
    const origin: SourceOrigin = { kind: 'subscription', subscription: fold.key, plan: plan.id };
    for (const [feature, v] of Object.entries(plan.features).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const value = typeof v === 'object' ? v.per_unit * winner.subscription.quantity : v;
      features.push({ feature, value, valid_until: window.valid_until, origin });
    }
  }

  for (const g of inputs.grants?.subject === inputs.subject ? inputs.grants.grants : []) {
    features.push({
      feature: g.feature,
      value: g.value,
      valid_until: g.expires_at,
      origin: { kind: 'admin_grant', source_event_id: g.source_event_id, position: g.position },
    });
  }

  const pf = inputs.provider_features;
  for (const set of pf?.subject === inputs.subject ? pf.providers : []) {
    const origin: SourceOrigin = {
      kind: 'provider_features',
      provider: set.provider,
      source_event_id: set.source_event_id,
    };
    for (const feature of set.features) features.push({ feature, value: true, valid_until: null, origin });
  }

  return { plans, features, unknown_plans };
}
