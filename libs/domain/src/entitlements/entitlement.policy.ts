import { z } from 'zod';
import { InvalidEntitlementPolicyError } from './entitlement.errors.js';

/** The two durations the contract leaves to configuration (`RENEWAL_LEEWAY_S`, `PAST_DUE_GRACE_S`). */
export interface EntitlementPolicy {
  readonly renewalLeewayS: number;
  readonly pastDueGraceS: number;
}

export const entitlementPolicySchema = z
  .object({
    renewalLeewayS: z.number().int().min(0),
    pastDueGraceS: z.number().int().min(0),
  })
  .strict();

/** Throws {@link InvalidEntitlementPolicyError} unless both durations are whole, non-negative seconds. */
export function assertEntitlementPolicy(policy: EntitlementPolicy): void {
  const parsed = entitlementPolicySchema.safeParse(policy);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new InvalidEntitlementPolicyError(detail);
  }
}
