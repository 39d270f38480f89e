export {
  BillingError,
  SignatureError,
  SignatureMissingError,
  SignatureMalformedError,
  SignatureInvalidError,
  SignatureStaleError,
  PayloadInvalidError,
  type BillingErrorCode,
  type SignatureErrorCode,
  type PayloadIssue,
} from './billing.errors.js';
export {
  DEFAULT_TOLERANCE_SECONDS,
  type HeaderValue,
  type SignatureVerifyOptions,
  type VerifiedSignature,
} from './hmac-signature.scheme.js';
export {
  verifyStripeScheme,
  signStripeScheme,
  STRIPE_SIGNATURE_HEADER,
  LEDGER_SIGNATURE_HEADER,
} from './stripe-signature.verifier.js';
export { verifyPaddleSignature, signPaddleSignature, PADDLE_SIGNATURE_HEADER } from './paddle-signature.verifier.js';
export { canonicalJson, sha256OfCanonical } from './canonical-json.hash.js';
export { assertUtf8Body, parseJsonBody } from './json-body.parser.js';
export { mapStripeEvent, stripeDedupeHash, STRIPE_ENTITLEMENT_SUMMARY_UPDATED } from './stripe-event.mapper.js';
export { mapPaddleNotification, paddleDedupeHash } from './paddle-notification.mapper.js';
export { mappedDedupeHash } from './delivery.hash.js';
export type {
  BillingProvider,
  MappedEvent,
  MappedSubscription,
  MappedProviderFeatures,
  MappedIgnored,
  MappedUnmappable,
  ProviderFeaturesData,
} from './mapped-event.types.js';
