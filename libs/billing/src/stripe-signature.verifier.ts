import {
  signHmacHeader,
  verifyHmacHeader,
  type HeaderValue,
  type HmacHeaderScheme,
  type SignatureVerifyOptions,
  type VerifiedSignature,
} from './hmac-signature.scheme.js';

export const STRIPE_SIGNATURE_HEADER = 'Stripe-Signature';
/** Our own header for `POST /v1/events`: Stripe's scheme under the ledger's secrets. */
export const LEDGER_SIGNATURE_HEADER = 'Ledger-Signature';

const STRIPE_SCHEME: HmacHeaderScheme = {
  itemSeparator: ',',
  timestampKey: 't',
  signatureKey: 'v1',
  contentSeparator: '.',
};

/**
 * Verifies a header in Stripe's scheme, `t=<unix s>,v1=<hex>[,v1=<hex>…]`: HMAC-SHA256 of
 * `t + "." + rawBody` under any of `secrets`, compared in constant time. Only `v1` counts
 * (a header with only `v0` is invalid). Serves `Stripe-Signature` and `Ledger-Signature`
 * alike; pass `headerName` for the error messages.
 *
 * Unlike Stripe's SDK, a timestamp too far in the future is stale as well, and a tolerance of
 * 0 means "same second", not "unchecked".
 *
 * @throws {SignatureMissingError} no header, or an empty one
 * @throws {SignatureMalformedError} unparseable header, no `t`, a `v1` that is not 64 hex digits
 * @throws {SignatureInvalidError} no `v1`, no secret configured, or no signature matches
 * @throws {SignatureStaleError} authentic, but `|now - t| > toleranceSeconds`
 *
 * @example
 * ```ts
 * const { timestamp } = verifyStripeScheme(request.rawBody, request.headers['stripe-signature'], {
 *   secrets: ['whsec_new', 'whsec_old'],
 *   toleranceSeconds: 300,
 *   now: clock.now(),
 * });
 * ```
 */
export function verifyStripeScheme(
  rawBody: Uint8Array,
  header: HeaderValue,
  options: SignatureVerifyOptions,
): VerifiedSignature {
  return verifyHmacHeader(STRIPE_SCHEME, rawBody, header, options, STRIPE_SIGNATURE_HEADER);
}

/**
 * Signs a body in Stripe's scheme: one `v1` per secret, for tests, benchmarks and clients of
 * `POST /v1/events`.
 *
 * @param timestamp unix seconds
 *
 * @example
 * ```ts
 * const body = JSON.stringify(event);
 * const header = signStripeScheme(body, 'whsec_test', Math.floor(now.getTime() / 1000));
 * // 't=1795514400,v1=5f0c…'
 * ```
 */
export function signStripeScheme(
  rawBody: Uint8Array | string,
  secret: string | readonly string[],
  timestamp: number,
): string {
  return signHmacHeader(STRIPE_SCHEME, rawBody, secret, timestamp);
}
