// Internal: instants are ISO strings in folds (JSON-safe) and milliseconds in arithmetic.

export const toMs = (iso: string): number => Date.parse(iso);

export const toIso = (ms: number): string => new Date(ms).toISOString();

/** Null means "no bound" and loses to any instant. */
export function earliest(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return toMs(b) < toMs(a) ? b : a;
}

/** Null means "no bound" and wins over any instant. */
export function latest(a: string | null, b: string | null): string | null {
  if (a === null || b === null) return null;
  return toMs(b) > toMs(a) ? b : a;
}

/** valid_until is exclusive: granted while `at < valid_until`. */
export const isLiveAt = (validUntil: string | null, atMs: number): boolean =>
  validUntil === null || atMs < toMs(validUntil);
