import type { LedgerEvent } from '../events/ledger-event.js';
import type { EvolveResult } from './entitlement.notes.js';
import {
  type FeatureProvider,
  PROVIDER_FEATURES_UPDATED,
  providerFeaturesUpdatedDataSchema,
} from './provider-features.events.js';
import { toMs } from './time.util.js';

/** The held (last-writer-wins) feature set of one provider. */
export interface ProviderFeatureSet {
  readonly provider: FeatureProvider;
  readonly occurred_at: string;
  readonly source_event_id: string;
  /** Sorted, distinct lookup keys. */
  readonly features: readonly string[];
}

/** A subject's provider feature sets, one per provider, sorted by provider. Plain JSON. */
export interface ProviderFeaturesFold {
  readonly subject: string;
  readonly providers: readonly ProviderFeatureSet[];
}

export const initialProviderFeatures = (subject: string): ProviderFeaturesFold => ({ subject, providers: [] });

// Newest provider time wins; equal times go to the greater event id.
const newer = (a: ProviderFeatureSet, b: ProviderFeatureSet): boolean => {
  const byTime = toMs(a.occurred_at) - toMs(b.occurred_at);
  return byTime !== 0 ? byTime > 0 : a.source_event_id > b.source_event_id;
};

/**
 * Folds `provider_features.updated`: each provider's set is last-writer-wins by
 * `occurred_at`, ties to the greater source event id, so delivery order does not matter.
 *
 * @example
 * const { fold } = evolveProviderFeatures(initialProviderFeatures('org_42'), featuresEvent);
 * // fold.providers → [{ provider: 'stripe', features: ['api', 'sso'], … }]
 */
export function evolveProviderFeatures(
  fold: ProviderFeaturesFold,
  event: LedgerEvent,
): EvolveResult<ProviderFeaturesFold> {
  if (event.type !== PROVIDER_FEATURES_UPDATED) return { fold, note: 'ignored_type' };
  const parsed = providerFeaturesUpdatedDataSchema.safeParse(event.data);
  if (!parsed.success) return { fold, note: 'malformed_event' };
  const d = parsed.data;
  if (d.subject !== fold.subject) return { fold, note: 'other_subject' };

  const incoming: ProviderFeatureSet = {
    provider: d.provider,
    occurred_at: d.occurred_at,
    source_event_id: event.source_event_id,
    features: [...new Set(d.features)].sort(),
  };
  const held = fold.providers.find((p) => p.provider === d.provider);
  if (held?.source_event_id === incoming.source_event_id) return { fold, note: 'duplicate_delivery' };
  if (held && !newer(incoming, held)) return { fold, note: 'older_than_held_state' };
  const providers = [...fold.providers.filter((p) => p.provider !== d.provider), incoming].sort((a, b) =>
    a.provider < b.provider ? -1 : a.provider > b.provider ? 1 : 0,
  );
  return { fold: { ...fold, providers } };
}
