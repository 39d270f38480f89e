import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  SignatureInvalidError,
  SignatureMalformedError,
  SignatureMissingError,
  SignatureStaleError,
} from './billing.errors.js';

/** How a provider lays out a timestamped HMAC-SHA256 header. Internal. */
export interface HmacHeaderScheme {
  readonly itemSeparator: string;
  readonly timestampKey: string;
  readonly signatureKey: string;
  /** Between the timestamp and the body in the signed content. */
  readonly contentSeparator: string;
}

/** What a verifier needs; time is an input so tests and replays are deterministic. */
export interface SignatureVerifyOptions {
  /** Secrets accepted now (several during a rotation); blank entries are ignored. */
  readonly secrets: readonly string[];
  /** Largest accepted |now - timestamp| in seconds (default 300). */
  readonly toleranceSeconds?: number;
  readonly now: Date;
  /** Header name used in error messages. */
  readonly headerName?: string;
}

/** A signature that matched. */
export interface VerifiedSignature {
  /** The signed timestamp, unix seconds. */
  readonly timestamp: number;
  /** Index in `secrets` of the secret that matched (useful to watch a rotation). */
  readonly secretIndex: number;
}

/** A header value as HTTP frameworks hand it over. */
export type HeaderValue = string | readonly string[] | null | undefined;

export const DEFAULT_TOLERANCE_SECONDS = 300;
const MAX_HEADER_LENGTH = 8192;
const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;
// 12 digits reach year 33658: enough, and keeps the number exact.
const UNIX_SECONDS = /^[0-9]{1,12}$/;

function hmac(secret: string, timestamp: string, separator: string, rawBody: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}${separator}`).update(rawBody).digest();
}

function singleValue(header: HeaderValue, name: string): string {
  if (header === null || header === undefined) throw new SignatureMissingError(name);
  if (typeof header !== 'string') {
    if (header.length === 0) throw new SignatureMissingError(name);
    if (header.length > 1) throw new SignatureMalformedError(name, 'the header was sent more than once');
    return singleValue(header[0], name);
  }
  if (header.trim() === '') throw new SignatureMissingError(name);
  return header;
}

function parseHeader(
  scheme: HmacHeaderScheme,
  value: string,
  name: string,
): { timestamp: string; signatures: Buffer[] } {
  if (value.length > MAX_HEADER_LENGTH) {
    throw new SignatureMalformedError(name, `longer than ${MAX_HEADER_LENGTH} characters`);
  }
  let timestamp: string | null = null;
  const signatures: Buffer[] = [];
  for (const rawItem of value.split(scheme.itemSeparator)) {
    const item = rawItem.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw new SignatureMalformedError(name, `"${item.slice(0, 40)}" is not key=value`);
    const key = item.slice(0, eq);
    const val = item.slice(eq + 1);
    if (key === scheme.timestampKey) {
      if (timestamp !== null) throw new SignatureMalformedError(name, `more than one ${scheme.timestampKey}`);
      if (!UNIX_SECONDS.test(val)) {
        throw new SignatureMalformedError(name, `${scheme.timestampKey} must be unix seconds`);
      }
      timestamp = val;
    } else if (key === scheme.signatureKey) {
      if (!HEX_SHA256.test(val)) {
        throw new SignatureMalformedError(name, `${scheme.signatureKey} must be 64 hexadecimal digits`);
      }
      signatures.push(Buffer.from(val, 'hex'));
    }
    // Other keys (Stripe's v0, future schemes) are not ours to judge.
  }
  if (timestamp === null) throw new SignatureMalformedError(name, `no ${scheme.timestampKey}`);
  return { timestamp, signatures };
}

/** Verifies a timestamped HMAC header over the raw body bytes. Internal. */
export function verifyHmacHeader(
  scheme: HmacHeaderScheme,
  rawBody: Uint8Array,
  header: HeaderValue,
  options: SignatureVerifyOptions,
  defaultHeaderName: string,
): VerifiedSignature {
  const name = options.headerName ?? defaultHeaderName;
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (!Number.isFinite(tolerance) || tolerance < 0) {
    throw new RangeError('toleranceSeconds must be a finite number >= 0');
  }
  const nowMs = options.now.getTime();
  if (Number.isNaN(nowMs)) throw new RangeError('now must be a valid Date');

  const { timestamp, signatures } = parseHeader(scheme, singleValue(header, name), name);
  if (signatures.length === 0) {
    throw new SignatureInvalidError(name, `no ${scheme.signatureKey} signature (only ${scheme.signatureKey} counts)`);
  }
  if (!options.secrets.some((s) => s.length > 0)) {
    throw new SignatureInvalidError(name, 'no secret is configured to verify it');
  }

  let matched = -1;
  options.secrets.forEach((secret, index) => {
    if (secret.length === 0) return;
    const expected = hmac(secret, timestamp, scheme.contentSeparator, rawBody);
    for (const candidate of signatures) {
      // Both are 32 bytes: the header parser only admits 64 hex digits.
      if (timingSafeEqual(expected, candidate) && matched < 0) matched = index;
    }
  });
  if (matched < 0) throw new SignatureInvalidError(name, 'no signature matches the body under the configured secrets');

  // Checked after the signature, so "stale" is only ever said of an authentic header.
  const ts = Number(timestamp);
  const nowS = Math.floor(nowMs / 1000);
  if (Math.abs(nowS - ts) > tolerance) throw new SignatureStaleError(name, ts, tolerance);
  return { timestamp: ts, secretIndex: matched };
}

/** Builds a header the matching verifier accepts. Internal. */
export function signHmacHeader(
  scheme: HmacHeaderScheme,
  rawBody: Uint8Array | string,
  secrets: string | readonly string[],
  timestamp: number,
): string {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new RangeError('timestamp must be a non-negative integer number of unix seconds');
  }
  const list = typeof secrets === 'string' ? [secrets] : secrets;
  if (list.length === 0 || list.some((s) => s.length === 0)) throw new RangeError('secrets must be non-empty');
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody;
  const ts = String(timestamp);
  const parts = [`${scheme.timestampKey}=${ts}`];
  for (const secret of list) {
    parts.push(`${scheme.signatureKey}=${hmac(secret, ts, scheme.contentSeparator, body).toString('hex')}`);
  }
  return parts.join(scheme.itemSeparator);
}
