import { InvalidArgumentError } from 'commander';

/** A grant value as typed: `true`/`false`, an integer, a decimal number, else the string itself. */
export function parseGrantValue(raw: string): boolean | number | string {
  const text = raw.trim();
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (/^-?\d+$/.test(text)) {
    const n = Number(text);
    if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`${raw} is too large for an integer`);
    return n;
  }
  if (/^-?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return Number(text);
  return raw;
}

/** An ISO-8601 instant with a zone (`2026-11-24T10:00:00Z`, `…+01:00`), normalised to UTC. */
export function parseInstant(raw: string): string {
  const zoned = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;
  const ms = Date.parse(raw);
  if (!zoned.test(raw) || !Number.isFinite(ms)) {
    throw new InvalidArgumentError('use an ISO-8601 time with a zone, e.g. 2026-11-24T10:00:00Z');
  }
  return new Date(ms).toISOString();
}

/** A log position: a whole number ≥ 0. */
export function parsePosition(raw: string): number {
  if (!/^\d{1,15}$/.test(raw)) throw new InvalidArgumentError('a log position is a whole number, e.g. 1234');
  return Number(raw);
}

/** `events:write,entitlements:read` → the distinct, non-empty scopes in order. */
export function parseScopes(raw: string): string[] {
  const scopes = [...new Set(raw.split(',').map((s) => s.trim()).filter(Boolean))];
  if (scopes.length === 0) throw new InvalidArgumentError('name at least one scope, e.g. events:write,entitlements:read');
  return scopes;
}

/** A base URL without a trailing slash; only http and https. */
export function parseBaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidArgumentError(`${raw} is not a URL (e.g. http://127.0.0.1:3000)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError(`${raw} is not an http(s) URL`);
  return url.toString().replace(/\/+$/, '');
}

/** The query string of a point in the log: `?at=…`, `?position=…`, both, or nothing. */
export function pointQuery(point: { at?: string; position?: number }): string {
  const q = new URLSearchParams();
  if (point.at !== undefined) q.set('at', point.at);
  if (point.position !== undefined) q.set('position', String(point.position));
  const s = q.toString();
  return s ? `?${s}` : '';
}
