/**
 * Instants as the ledger stores them: `toISOString()` form, UTC with milliseconds
 * (`2026-11-24T10:00:00.000Z`).
 */
const CANONICAL_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const digits2 = (v: string, i: number): number => (v.charCodeAt(i) - 48) * 10 + (v.charCodeAt(i + 1) - 48);
/**
 * Exactly the strings the schema's normalisation maps to themselves (`toISOString()` of
 * themselves): the canonical shape with a real calendar date and time, checked by arithmetic
 * (a rebuild checks millions of them; a Date and a string per check showed in its profile).
 */
export const isCanonicalInstant = (v: unknown): v is string => {
  if (typeof v !== 'string' || v.length !== 24 || !CANONICAL_INSTANT.test(v)) return false;
  const year = digits2(v, 0) * 100 + digits2(v, 2);
  const month = digits2(v, 5);
  const day = digits2(v, 8);
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > DAYS_IN_MONTH[month - 1]! + (leap ? 1 : 0)) return false;
  return digits2(v, 11) < 24 && digits2(v, 14) < 60 && digits2(v, 17) < 60;
};

/**
 * The canonical form of an instant the schema has validated (`toISOString()` of it), without a
 * Date for the two shapes senders use most: canonical already, or canonical but for the
 * milliseconds (`…:00Z`).
 */
export function canonicalInstant(valid: string): string {
  const canonical: (v: string) => boolean = isCanonicalInstant;
  if (canonical(valid)) return valid;
  if (valid.length === 20 && valid.endsWith('Z')) {
    const withMillis = `${valid.slice(0, 19)}.000Z`;
    if (canonical(withMillis)) return withMillis;
  }
  return new Date(valid).toISOString();
}
