import type { LedgerEvent } from '../events/ledger-event.js';
import { evolveCatalog, initialCatalog } from './catalog.fold.js';
import { type Entitlements, evaluateEntitlements } from './entitlement.evaluate.js';
import type { EntitlementPolicy } from './entitlement.policy.js';
import { entitlementSources, type UnknownPlan } from './entitlement.sources.js';
import { policyEventKind } from './policy-event.kind.js';
import { evolveProviderFeatures, initialProviderFeatures } from './provider-features.fold.js';
import { evolveSubjectGrants, initialSubjectGrants } from './subject-grants.fold.js';
import {
  evolveSubscription,
  parseSubscriptionRecordedData,
  subscriptionKey,
  type SubscriptionFold,
} from './subscription.fold.js';

/** The read API's answer for one subject, plus the plans it could not resolve. */
export interface SubjectEntitlements extends Entitlements {
  readonly subject: string;
  /** The highest position folded (0 for an empty slice). */
  readonly position: number;
  readonly unknown_plans: readonly UnknownPlan[];
}

/**
 * Folds a slice of the log (in position order, whatever order it is given in) and evaluates
 * one subject's entitlements at `at`, with the catalog in force at the slice's last position.
 * The caller slices: up to position N for `?position=N`; events recorded by T, evaluated at
 * T, for `?at=T`. Subscriptions of every subject are folded, since one may move to this subject.
 *
 * @example
 * replaySubject(events, 'org_42', { renewalLeewayS: 86400, pastDueGraceS: 259200 }, new Date('2026-12-01T00:00:00Z'));
 * // { subject: 'org_42', position: 17, plan: 'pro', features: { … }, valid_until: '…', unknown_plans: [] }
 */
export function replaySubject(
  events: readonly LedgerEvent[],
  subject: string,
  policy: EntitlementPolicy,
  at: Date,
): SubjectEntitlements {
  let catalog = initialCatalog();
  let grants = initialSubjectGrants(subject);
  let providerFeatures = initialProviderFeatures(subject);
  const subscriptions = new Map<string, SubscriptionFold>();
  let position = 0;

  for (const event of [...events].sort((a, b) => a.position - b.position)) {
    position = Math.max(position, event.position);
    const kind = policyEventKind(event.type);
    switch (kind) {
      case 'catalog':
        catalog = evolveCatalog(catalog, event).fold;
        break;
      case 'grant':
        grants = evolveSubjectGrants(grants, event).fold;
        break;
      case 'provider_features':
        providerFeatures = evolveProviderFeatures(providerFeatures, event).fold;
        break;
      case 'subscription': {
        const data = parseSubscriptionRecordedData(event.data);
        if (data === null) break;
        const key = subscriptionKey(event.source, data.subscription.id);
        const fold = evolveSubscription(subscriptions.get(key), event).fold;
        if (fold) subscriptions.set(key, fold);
        break;
      }
      case 'ignored':
        break;
      default: {
        const never: never = kind;
        return never;
      }
    }
  }

  const sources = entitlementSources(
    { subject, subscriptions: [...subscriptions.values()], grants, provider_features: providerFeatures },
    catalog,
    policy,
  );
  return { subject, position, ...evaluateEntitlements(sources, at), unknown_plans: sources.unknown_plans };
}
