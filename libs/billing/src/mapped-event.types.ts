import type { SubscriptionEventType, SubscriptionRecordedData } from '@app/domain';

/** Which provider a mapped event came from. */
export type BillingProvider = 'stripe' | 'paddle';

interface MappedBase {
  readonly provider: BillingProvider;
  /** The provider's event id (Stripe `id`, Paddle `event_id`): the dedupe key per source. */
  readonly sourceEventId: string;
  /** Provider time of the event, ISO-8601 UTC (`…Z`, milliseconds). */
  readonly occurredAt: string;
  /** The provider's own event type, e.g. `customer.subscription.updated`. */
  readonly providerType: string;
}

/** A subscription's full state: append as a `subscription.*` event. */
export interface MappedSubscription extends MappedBase {
  readonly kind: 'subscription';
  readonly type: SubscriptionEventType;
  readonly data: SubscriptionRecordedData;
}

/** Features a provider itself says the subject has (Stripe Entitlements), as booleans. */
export interface ProviderFeaturesData {
  readonly subject: string;
  /** The provider's customer id the summary was about. */
  readonly customer: string;
  readonly provider: 'stripe';
  readonly occurred_at: string;
  /** Feature lookup keys, deduplicated, in the provider's order. */
  readonly features: readonly string[];
  /** False when the provider said its list had more pages than the event carried. */
  readonly complete: boolean;
}

export interface MappedProviderFeatures extends MappedBase {
  readonly kind: 'provider_features';
  readonly data: ProviderFeaturesData;
}

/** An event type we do not use: acknowledge and record as ignored. */
export interface MappedIgnored extends MappedBase {
  readonly kind: 'ignored';
  readonly reason: string;
}

/** A subscription event we cannot turn into state: record it, visible in history, grants nothing. */
export interface MappedUnmappable extends MappedBase {
  readonly kind: 'unmappable';
  readonly reason: string;
}

/** What an adapter makes of one provider delivery. */
export type MappedEvent = MappedSubscription | MappedProviderFeatures | MappedIgnored | MappedUnmappable;
