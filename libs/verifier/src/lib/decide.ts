import type { DecisionReason, FeatureClass, GrantValue } from '../types.js';

/** One grant of a feature (the reference form of what a shard's compact index stores). */
export interface Grant {
  readonly value: GrantValue;
  /** Exclusive end, epoch ms; `null` for no expiry. */
  readonly until: number | null;
}

export interface Evaluation {
  readonly value: GrantValue | null;
  readonly reason: Extract<DecisionReason, 'granted' | 'not_granted' | 'expired_grant'>;
}

/** A feature's value at `nowMs`: live grants only (`until` exclusive); booleans OR, numbers max. */
export function evaluateGrants(grants: readonly Grant[] | undefined, nowMs: number): Evaluation {
  if (!grants || grants.length === 0) return { value: null, reason: 'not_granted' };
  let bool: boolean | null = null;
  let num: number | null = null;
  for (const grant of grants) {
    if (grant.until !== null && nowMs >= grant.until) continue;
    if (typeof grant.value === 'number') num = num === null ? grant.value : Math.max(num, grant.value);
    else bool = (bool ?? false) || grant.value;
  }
  const value = num ?? bool;
  if (value === null) return { value: null, reason: 'expired_grant' };
  return { value, reason: isAllowed(value) ? 'granted' : 'not_granted' };
}

/** `true`, or a positive limit. */
export function isAllowed(value: GrantValue | null | undefined): boolean {
  return value === true || (typeof value === 'number' && value > 0);
}

/** Seconds past `exp` during which a class still decides from the held state. */
export function graceFor(cls: FeatureClass, graceS: number, graceBS: number): number | null {
  switch (cls) {
    case 'A':
      return graceS;
    case 'B':
      return graceBS;
    case 'C':
      return null;
    default: {
      const never: never = cls;
      return never;
    }
  }
}

/** Where {@link evaluateShardGrants} leaves its answer (one scratch object: `check` is synchronous). */
export interface EvaluationSlot {
  value: GrantValue | null;
  reason: Evaluation['reason'];
}

/**
 * {@link evaluateGrants} over a compact shard: the grants of feature `feature` (a FeatureIds id,
 * or `undefined` when no shard names it) in the record at `grants[at]` (see `Shard`), at
 * `nowMs`. Writes `out` instead of allocating.
 */
export function evaluateShardGrants(grants: Float64Array, at: number, feature: number | undefined, nowMs: number, out: EvaluationSlot): void {
  let any = false;
  let hasNum = false;
  let num = 0;
  let bool: boolean | null = null;
  if (feature !== undefined) {
    const boolKey = feature * 2;
    for (let g = at + 1, end = at + 1 + grants[at]! * 3; g < end; g += 3) {
      const key = grants[g]!;
      if (key !== boolKey && key !== boolKey + 1) continue;
      any = true;
      if (nowMs >= grants[g + 2]!) continue;
      const v = grants[g + 1]!;
      if (key !== boolKey) {
        num = hasNum ? Math.max(num, v) : v;
        hasNum = true;
      } else bool = bool === true || v === 1;
    }
  }
  if (!any) {
    out.value = null;
    out.reason = 'not_granted';
    return;
  }
  const value = hasNum ? num : bool;
  out.value = value;
  out.reason = value === null ? 'expired_grant' : isAllowed(value) ? 'granted' : 'not_granted';
}
