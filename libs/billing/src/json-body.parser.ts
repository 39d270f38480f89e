import { isUtf8 } from 'node:buffer';
import type { z } from 'zod';
import { PayloadInvalidError, type PayloadIssue } from './billing.errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const notUtf8 = (): PayloadInvalidError => new PayloadInvalidError([{ path: '', message: 'the body is not valid UTF-8' }]);

/**
 * Checks that a raw body is UTF-8, for a caller that has it parsed already (leniently) and keeps
 * the bytes as text.
 *
 * @throws {PayloadInvalidError} not UTF-8, as parseJsonBody would say
 */
export function assertUtf8Body(rawBody: Uint8Array): void {
  if (!isUtf8(rawBody)) throw notUtf8();
}

/**
 * Parses a raw request body as JSON, after its signature has been checked on the same bytes.
 *
 * @throws {PayloadInvalidError} not UTF-8, or not JSON
 *
 * @example
 * ```ts
 * verifyStripeScheme(rawBody, header, options);
 * const event = mapStripeEvent(parseJsonBody(rawBody));
 * ```
 */
export function parseJsonBody(rawBody: Uint8Array | string): unknown {
  let text: string;
  try {
    text = typeof rawBody === 'string' ? rawBody : utf8.decode(rawBody);
  } catch {
    throw notUtf8();
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new PayloadInvalidError([
      { path: '', message: `the body is not valid JSON: ${e instanceof Error ? e.message : String(e)}` },
    ]);
  }
}

/** Zod issues as `{path, message}` with a dotted path under `prefix`. Internal. */
export function issuesOf(error: z.ZodError, prefix: readonly (string | number)[] = []): PayloadIssue[] {
  return error.issues.map((issue) => ({
    path: [...prefix, ...issue.path].map((p) => String(p)).join('.'),
    message: issue.message,
  }));
}

/** Parses with `schema` or throws {@link PayloadInvalidError}. Internal. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  prefix: readonly (string | number)[] = [],
): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new PayloadInvalidError(issuesOf(result.error, prefix));
  return result.data;
}
