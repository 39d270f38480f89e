export {
  type EntitlementErrorCode,
  EntitlementError,
  InvalidEntitlementPolicyError,
  InvalidEvaluationTimeError,
  SubscriptionKeyMismatchError,
} from './entitlement.errors.js';
export { type EntitlementPolicy, entitlementPolicySchema, assertEntitlementPolicy } from './entitlement.policy.js';
export { ENTITLEMENT_NOTES, type EntitlementNote, type EvolveResult } from './entitlement.notes.js';
export {
  GRANT_EVENT_TYPES,
  type GrantEventType,
  grantValueSchema,
  type GrantValue,
  grantRequestSchema,
  type GrantRequest,
  revokeRequestSchema,
  type RevokeRequest,
  type GrantAddedData,
  type GrantRevokedData,
  grantAddedDataSchema,
  grantRevokedDataSchema,
} from './grant.events.js';
export { CATALOG_PUBLISHED, type CatalogPublishedData, catalogPublishedDataSchema } from './catalog.events.js';
export {
  PROVIDER_FEATURES_UPDATED,
  FEATURE_PROVIDERS,
  type FeatureProvider,
  type ProviderFeaturesUpdatedData,
  providerFeaturesUpdatedDataSchema,
} from './provider-features.events.js';
export {
  type PolicyEventKind,
  policyEventKind,
  isSubscriptionEventType,
  isGrantEventType,
} from './policy-event.kind.js';
export { resolvePlan } from './plan.resolver.js';
export {
  type SubscriptionDelivery,
  type SubscriptionFold,
  subscriptionKey,
  parseSubscriptionRecordedData,
  compareSubscriptionDeliveries,
  subscriptionWinner,
  subscriptionSubject,
  pastDueSince,
  evolveSubscription,
  evolveSubscriptionFold,
  readSubscriptionRecordedData,
} from './subscription.fold.js';
export { type SubscriptionWindow, subscriptionWindow } from './subscription.window.js';
export {
  type AdminGrant,
  type SubjectGrantsFold,
  initialSubjectGrants,
  evolveSubjectGrants,
} from './subject-grants.fold.js';
export {
  type ProviderFeatureSet,
  type ProviderFeaturesFold,
  initialProviderFeatures,
  evolveProviderFeatures,
} from './provider-features.fold.js';
export { initialCatalog, evolveCatalog } from './catalog.fold.js';
export {
  type EntitlementInputs,
  type SourceOrigin,
  type FeatureSource,
  type PlanSource,
  type UnknownPlan,
  type EntitlementSources,
  entitlementSources,
} from './entitlement.sources.js';
export {
  type FeatureGrant,
  type Entitlements,
  type FeatureChange,
  evaluateEntitlements,
  diffEntitlements,
} from './entitlement.evaluate.js';
export {
  type SubjectEntitlements,
  type SubjectState,
  type HistoryEntry,
  initialSubjectState,
  evolveSubjectState,
  subjectSources,
  replaySubject,
  subjectHistory,
} from './subject.replay.js';
