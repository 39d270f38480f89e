export type EntitlementErrorCode =
  | 'invalid_entitlement_policy'
  | 'invalid_evaluation_time'
  | 'subscription_key_mismatch';

/** Base of every error the entitlement policy throws; `code` is stable, messages are not. */
export abstract class EntitlementError extends Error {
  abstract readonly code: EntitlementErrorCode;
}

export class InvalidEntitlementPolicyError extends EntitlementError {
  readonly code = 'invalid_entitlement_policy' as const;
  constructor(detail: string) {
    super(`invalid entitlement policy: ${detail}`);
    this.name = 'InvalidEntitlementPolicyError';
  }
}

export class InvalidEvaluationTimeError extends EntitlementError {
  readonly code = 'invalid_evaluation_time' as const;
  constructor() {
    super('entitlements must be evaluated at a valid Date');
    this.name = 'InvalidEvaluationTimeError';
  }
}

/** A caller routed an event to the fold of another subscription: a projector bug, never data. */
export class SubscriptionKeyMismatchError extends EntitlementError {
  readonly code = 'subscription_key_mismatch' as const;
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`event for subscription ${actual} applied to the fold of ${expected}`);
    this.name = 'SubscriptionKeyMismatchError';
  }
}
