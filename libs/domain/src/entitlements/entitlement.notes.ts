/**
 * Why an event changed nothing (or, for `unknown_plan`, why it grants nothing): shown in a
 * subject's history next to the event.
 */
export const ENTITLEMENT_NOTES = [
  'unknown_plan',
  'older_than_held_state',
  'duplicate_delivery',
  'ignored_type',
  'subscription_deleted',
  'malformed_event',
  'other_subject',
  'no_such_grant',
] as const;
export type EntitlementNote = (typeof ENTITLEMENT_NOTES)[number];

/** What every `evolve*` returns: the next fold, and a note when the event changed nothing. */
export interface EvolveResult<Fold> {
  readonly fold: Fold;
  readonly note?: EntitlementNote;
}
