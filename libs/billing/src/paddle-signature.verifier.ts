import {
  signHmacHeader,
  verifyHmacHeader,
  type HeaderValue,
  type HmacHeaderScheme,
  type SignatureVerifyOptions,
  type VerifiedSignature,
} from './hmac-signature.scheme.js';

export const PADDLE_SIGNATURE_HEADER = 'Paddle-Signature';

const PADDLE_SCHEME: HmacHeaderScheme = {
  itemSeparator: ';',
  timestampKey: 'ts',
  signatureKey: 'h1',
  contentSeparator: ':',
};

/**
 * Verifies a Paddle Billing `Paddle-Signature: ts=<unix s>;h1=<hex>[;h1=<hex>…]`: HMAC-SHA256
 * of `ts + ":" + rawBody` under any of `secrets` (notification destination secret keys),
 * compared in constant time, with `|now - ts| <= toleranceSeconds`.
 *
 * @throws {SignatureMissingError} no header, or an empty one
 * @throws {SignatureMalformedError} unparseable header, no `ts`, an `h1` that is not 64 hex digits
 * @throws {SignatureInvalidError} no `h1`, no secret configured, or no signature matches
 * @throws {SignatureStaleError} authentic, but `|now - ts| > toleranceSeconds`
 *
 * @example
 * ```ts
 * verifyPaddleSignature(request.rawBody, request.headers['paddle-signature'], {
 *   secrets: config.paddleSecrets,
 *   toleranceSeconds: 300,
 *   now: clock.now(),
 * });
 * ```
 */
export function verifyPaddleSignature(
  rawBody: Uint8Array,
  header: HeaderValue,
  options: SignatureVerifyOptions,
): VerifiedSignature {
  return verifyHmacHeader(PADDLE_SCHEME, rawBody, header, options, PADDLE_SIGNATURE_HEADER);
}

/**
 * Signs a body as Paddle does: one `h1` per secret, for tests and benchmarks.
 *
 * @param timestamp unix seconds
 *
 * @example
 * ```ts
 * const header = signPaddleSignature(body, 'pdl_ntfset_…', 1795514400);
 * // 'ts=1795514400;h1=9a1e…'
 * ```
 */
export function signPaddleSignature(
  rawBody: Uint8Array | string,
  secret: string | readonly string[],
  timestamp: number,
): string {
  return signHmacHeader(PADDLE_SCHEME, rawBody, secret, timestamp);
}
