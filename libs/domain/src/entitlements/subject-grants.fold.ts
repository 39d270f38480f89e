import type { LedgerEvent } from '../events/ledger-event.js';
import type { EvolveResult } from './entitlement.notes.js';
import { grantAddedDataSchema, grantRevokedDataSchema, type GrantValue } from './grant.events.js';
import { isGrantEventType } from './policy-event.kind.js';

/** An admin grant in force (until revoked, replaced, or past `expires_at`). */
export interface AdminGrant {
  readonly feature: string;
  readonly value: GrantValue;
  readonly expires_at: string | null;
  readonly reason: string;
  readonly actor: string;
  readonly position: number;
  readonly source_event_id: string;
}

/**
 * A subject's admin grants. Admin events are the ledger's own, so the log's order is their
 * order: `position` is the last one applied and anything at or below it is a redelivery.
 * Grants are an array sorted by feature (not a record: a feature may be named `__proto__`).
 */
export interface SubjectGrantsFold {
  readonly subject: string;
  readonly position: number;
  readonly grants: readonly AdminGrant[];
}

export const initialSubjectGrants = (subject: string): SubjectGrantsFold => ({ subject, position: 0, grants: [] });

const byFeature = (a: AdminGrant, b: AdminGrant): number =>
  a.feature < b.feature ? -1 : a.feature > b.feature ? 1 : 0;

/**
 * Folds `grant.added` (adds or replaces the admin grant of a feature) and `grant.revoked`
 * (removes it) for one subject, in log order.
 *
 * @example
 * const { fold } = evolveSubjectGrants(initialSubjectGrants('org_42'), grantAddedEvent);
 * // fold.grants → [{ feature: 'beta', value: true, expires_at: null, … }]
 */
export function evolveSubjectGrants(fold: SubjectGrantsFold, event: LedgerEvent): EvolveResult<SubjectGrantsFold> {
  const type = event.type;
  if (!isGrantEventType(type)) return { fold, note: 'ignored_type' };
  switch (type) {
    case 'grant.added': {
      const parsed = grantAddedDataSchema.safeParse(event.data);
      if (!parsed.success) return { fold, note: 'malformed_event' };
      const d = parsed.data;
      if (d.subject !== fold.subject) return { fold, note: 'other_subject' };
      if (event.position <= fold.position) return { fold, note: 'duplicate_delivery' };
      const grant: AdminGrant = {
        feature: d.feature,
        value: d.value,
        expires_at: d.expires_at,
        reason: d.reason,
        actor: d.actor,
        position: event.position,
        source_event_id: event.source_event_id,
      };
      const grants = [...fold.grants.filter((g) => g.feature !== d.feature), grant].sort(byFeature);
      return { fold: { ...fold, position: event.position, grants } };
    }
    case 'grant.revoked': {
      const parsed = grantRevokedDataSchema.safeParse(event.data);
      if (!parsed.success) return { fold, note: 'malformed_event' };
      const d = parsed.data;
      if (d.subject !== fold.subject) return { fold, note: 'other_subject' };
      if (event.position <= fold.position) return { fold, note: 'duplicate_delivery' };
      const grants = fold.grants.filter((g) => g.feature !== d.feature);
      const next = { ...fold, position: event.position, grants };
      return grants.length === fold.grants.length ? { fold: next, note: 'no_such_grant' } : { fold: next };
    }
    default: {
      const never: never = type;
      return never;
    }
  }
}
