import type { DecisionReason, FeatureClass, GrantValue } from '../types.js';
import type { Grant } from './shard.js';

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
