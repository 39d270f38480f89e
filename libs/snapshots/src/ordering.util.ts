// Internal: the orderings and normal forms the pinned shard layout relies on.
import { InvalidArgumentError } from './snapshot.errors.js';

/**
 * Compares by Unicode code point (not UTF-16 code unit, which `<` and `Array#sort` use):
 * the two differ only when a surrogate pair meets a BMP character at or above U+E000.
 */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return rank(x) - rank(y);
  }
  return a.length - b.length;
}

// Lifts surrogates above U+E000..U+FFFF so that code-unit order becomes code-point order.
const rank = (u: number): number => (u >= 0xd800 && u <= 0xdfff ? u + 0x2000 : u >= 0xe000 ? u - 0x800 : u);

/** `toISOString()` form (UTC, milliseconds), or null when the string is not a date. */
export function normalIso(value: string): string | null {
  const hit = isoCache.get(value);
  if (hit !== undefined) return hit;
  const ms = Date.parse(value);
  const iso = Number.isNaN(ms) ? null : new Date(ms).toISOString();
  // toISOString dominates encoding a million subjects, and period ends repeat across them.
  if (isoCache.size >= 50_000) isoCache.clear();
  isoCache.set(value, iso);
  return iso;
}

const isoCache = new Map<string, string | null>();

/** Instants ascending, null (no expiry) after every instant. */
export function compareUntil(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  // Not as text: expanded years (`+010000-…`, `-000001-…`) do not sort lexically.
  return Date.parse(a) - Date.parse(b);
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Seconds since the epoch, floored: a NumericDate never rounds past the instant it stands for. */
export function numericDate(date: Date, what = 'now'): number {
  const ms = date instanceof Date ? date.getTime() : Number.NaN;
  if (Number.isNaN(ms)) throw new InvalidArgumentError(`${what} must be a valid Date`);
  return Math.floor(ms / 1000);
}

export const isNonNegativeInt = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
export const isPositiveInt = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) > 0;
