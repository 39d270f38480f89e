import { z } from 'zod';
import { isoInstant } from '../events/subscription.events.js';

export const PROVIDER_FEATURES_UPDATED = 'provider_features.updated' as const;

export const FEATURE_PROVIDERS = ['stripe'] as const;
export type FeatureProvider = (typeof FEATURE_PROVIDERS)[number];

/**
 * Payload of `provider_features.updated`: the provider's complete set of active feature lookup
 * keys for the subject (Stripe Entitlements), each a boolean feature. Full state, not a diff.
 */
export interface ProviderFeaturesUpdatedData {
  readonly subject: string;
  readonly provider: FeatureProvider;
  /** Provider time of this set: the newest wins, ties to the greater source event id. */
  readonly occurred_at: string;
  readonly features: readonly string[];
}

export const providerFeaturesUpdatedDataSchema = z.object({
  subject: z.string().min(1).max(255),
  provider: z.enum(FEATURE_PROVIDERS),
  occurred_at: isoInstant,
  features: z.array(z.string().min(1).max(128)).max(10_000),
});
