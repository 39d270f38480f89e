// Builders for the entitlement specs: given events (numbered in the order given) / when evaluated at / then.
import type { Catalog } from '../catalog/catalog.schema.js';
import type { LedgerEvent } from '../events/ledger-event.js';
import type { PlanRefs, SubscriptionEventType, SubscriptionState } from '../events/subscription.events.js';
import type { EntitlementPolicy } from './entitlement.policy.js';
import type { GrantValue } from './grant.events.js';

export const S = 1000;
export const DAY = 86_400;
export const policy: EntitlementPolicy = { renewalLeewayS: DAY, pastDueGraceS: 3 * DAY };

export const T0 = '2026-11-24T10:00:00.000Z';
export const PERIOD_END = '2026-12-24T10:00:00.000Z';
export const plusS = (iso: string, s: number): string => new Date(Date.parse(iso) + s * S).toISOString();
export const plusMs = (iso: string, ms: number): string => new Date(Date.parse(iso) + ms).toISOString();
export const at = (iso: string): Date => new Date(iso);

export const catalog: Catalog = {
  plans: [
    {
      id: 'basic',
      tier: 1,
      stripe: { lookup_keys: ['basic_monthly'], prices: ['price_basic'], products: ['prod_basic'] },
      paddle: { prices: ['pri_basic'], products: ['pro_basic'] },
      features: { api: true, exports: false, projects: 10, seats: { per_unit: 1 } },
    },
    {
      id: 'pro',
      tier: 2,
      stripe: { lookup_keys: ['pro_monthly'], prices: ['price_pro'], products: ['prod_pro'] },
      paddle: { prices: ['pri_pro'], products: ['pro_pro'] },
      features: { api: true, exports: true, projects: 50, seats: { per_unit: 2 } },
    },
    { id: 'team', tier: 2, features: { projects: 60, sso: true } },
    { id: 'badge', tier: 0, features: {} },
  ],
  classes: {},
};

export const baseSubscription: SubscriptionState = {
  id: 'sub_1',
  subject: 'org_42',
  plan: 'pro',
  status: 'active',
  quantity: 5,
  current_period_end: PERIOD_END,
  cancel_at_period_end: false,
  cancel_at: null,
  ended_at: null,
  trial_end: null,
};

export type Unpositioned = Omit<LedgerEvent, 'position'>;

export function subscriptionEvent(o: {
  id: string;
  occurred_at: string;
  type?: SubscriptionEventType;
  source?: string;
  sub?: Partial<SubscriptionState>;
  plan_refs?: PlanRefs | null;
}): Unpositioned {
  return {
    type: o.type ?? 'subscription.updated',
    source: o.source ?? 'api',
    source_event_id: o.id,
    recorded_at: o.occurred_at,
    data: {
      occurred_at: o.occurred_at,
      subscription: { ...baseSubscription, ...o.sub },
      ...(o.plan_refs === undefined ? {} : { plan_refs: o.plan_refs }),
    },
  };
}

export function catalogEvent(id: string, c: Catalog): Unpositioned {
  return { type: 'catalog.published', source: 'catalog', source_event_id: id, recorded_at: T0, data: { catalog: c } };
}

export function grantEvent(
  id: string,
  feature: string,
  value: GrantValue,
  expires_at: string | null = null,
  subject = 'org_42',
): Unpositioned {
  return {
    type: 'grant.added',
    source: 'admin',
    source_event_id: id,
    recorded_at: T0,
    data: { subject, feature, value, expires_at, reason: 'support ticket 7', actor: 'admin:alice' },
  };
}

export function revokeEvent(id: string, feature: string, subject = 'org_42'): Unpositioned {
  return {
    type: 'grant.revoked',
    source: 'admin',
    source_event_id: id,
    recorded_at: T0,
    data: { subject, feature, reason: 'ticket closed', actor: 'admin:alice' },
  };
}

export function providerFeaturesEvent(
  id: string,
  occurred_at: string,
  features: string[],
  subject = 'org_42',
): Unpositioned {
  return {
    type: 'provider_features.updated',
    source: 'stripe',
    source_event_id: id,
    recorded_at: occurred_at,
    data: { subject, provider: 'stripe', occurred_at, features },
  };
}

/** Positions 1, 2, 3, … in the order given: the log as committed. */
export const log = (...events: Unpositioned[]): LedgerEvent[] => events.map((e, i) => ({ ...e, position: i + 1 }));

/** The contract's catalog published first, then the given events. */
export const given = (...events: Unpositioned[]): LedgerEvent[] => log(catalogEvent('cat_1', catalog), ...events);
