import { SUBSCRIPTION_EVENT_TYPES, type SubscriptionEventType } from '../events/subscription.events.js';
import { CATALOG_PUBLISHED } from './catalog.events.js';
import { GRANT_EVENT_TYPES, type GrantEventType } from './grant.events.js';
import { PROVIDER_FEATURES_UPDATED } from './provider-features.events.js';

/** Which fold an event type feeds; `ignored` types change nothing (note `ignored_type`). */
export type PolicyEventKind = 'subscription' | 'catalog' | 'grant' | 'provider_features' | 'ignored';

export const isSubscriptionEventType = (type: string): type is SubscriptionEventType =>
  (SUBSCRIPTION_EVENT_TYPES as readonly string[]).includes(type);

export const isGrantEventType = (type: string): type is GrantEventType =>
  (GRANT_EVENT_TYPES as readonly string[]).includes(type);

/**
 * Routes a log event to the fold that consumes it.
 *
 * @example
 * policyEventKind('subscription.updated'); // 'subscription'
 * policyEventKind('api_key.created');      // 'ignored'
 */
export function policyEventKind(type: string): PolicyEventKind {
  if (isSubscriptionEventType(type)) return 'subscription';
  if (isGrantEventType(type)) return 'grant';
  if (type === CATALOG_PUBLISHED) return 'catalog';
  if (type === PROVIDER_FEATURES_UPDATED) return 'provider_features';
  return 'ignored';
}
