import type { Catalog } from '../catalog/catalog.schema.js';
import type { LedgerEvent } from '../events/ledger-event.js';
import { CATALOG_PUBLISHED } from './catalog.events.js';
import { evolveCatalog, initialCatalog } from './catalog.fold.js';
import { type Entitlements, type FeatureChange, diffEntitlements, evaluateEntitlements } from './entitlement.evaluate.js';
import type { EntitlementNote } from './entitlement.notes.js';
import type { EntitlementPolicy } from './entitlement.policy.js';
import { entitlementSources, type EntitlementSources, type UnknownPlan } from './entitlement.sources.js';
import { policyEventKind } from './policy-event.kind.js';
import { evolveProviderFeatures, initialProviderFeatures, type ProviderFeaturesFold } from './provider-features.fold.js';
import { evolveSubjectGrants, initialSubjectGrants, type SubjectGrantsFold } from './subject-grants.fold.js';
import {
  evolveSubscription,
  parseSubscriptionRecordedData,
  subscriptionKey,
  type SubscriptionFold,
} from './subscription.fold.js';

/** The read API's answer for one subject, plus the plans it could not resolve. */
export interface SubjectEntitlements extends Entitlements {
  readonly subject: string;
  /** The highest position folded (0 for an empty slice). */
  readonly position: number;
  readonly unknown_plans: readonly UnknownPlan[];
}

/** Everything one subject's entitlements depend on, folded from a slice of the log. */
export interface SubjectState {
  readonly subject: string;
  readonly position: number;
  readonly catalog: Catalog;
  readonly grants: SubjectGrantsFold;
  readonly providerFeatures: ProviderFeaturesFold;
  /** Plain object keyed by subscription key (folds of every subject: one may move here). */
  readonly subscriptions: Readonly<Record<string, SubscriptionFold>>;
}

export const initialSubjectState = (subject: string): SubjectState => ({
  subject,
  position: 0,
  catalog: initialCatalog(),
  grants: initialSubjectGrants(subject),
  providerFeatures: initialProviderFeatures(subject),
  subscriptions: {},
});

/**
 * Folds one event into a subject's state; the note says why it changed nothing (when the
 * fold can tell). Events of other subjects' grants and features are ignored.
 */
export function evolveSubjectState(state: SubjectState, event: LedgerEvent): { state: SubjectState; note?: EntitlementNote } {
  const position = Math.max(state.position, event.position);
  const kind = policyEventKind(event.type);
  switch (kind) {
    case 'catalog': {
      const r = evolveCatalog(state.catalog, event);
      return withNote({ ...state, position, catalog: r.fold }, r.note);
    }
    case 'grant': {
      if ((event.data as { subject?: unknown } | null)?.subject !== state.subject) return { state: { ...state, position }, note: 'other_subject' };
      const r = evolveSubjectGrants(state.grants, event);
      return withNote({ ...state, position, grants: r.fold }, r.note);
    }
    case 'provider_features': {
      if ((event.data as { subject?: unknown } | null)?.subject !== state.subject) return { state: { ...state, position }, note: 'other_subject' };
      const r = evolveProviderFeatures(state.providerFeatures, event);
      return withNote({ ...state, position, providerFeatures: r.fold }, r.note);
    }
    case 'subscription': {
      const data = parseSubscriptionRecordedData(event.data);
      if (data === null) return { state: { ...state, position }, note: 'malformed_event' };
      const key = subscriptionKey(event.source, data.subscription.id);
      const r = evolveSubscription(state.subscriptions[key], event, state.catalog);
      const subscriptions = r.fold ? { ...state.subscriptions, [key]: r.fold } : state.subscriptions;
      return withNote({ ...state, position, subscriptions }, r.note);
    }
    case 'ignored':
      return { state: { ...state, position }, note: 'ignored_type' };
    default: {
      const never: never = kind;
      return never;
    }
  }
}

/** The time-independent sources of the subject's entitlements in this state. */
export function subjectSources(state: SubjectState, policy: EntitlementPolicy): EntitlementSources {
  return entitlementSources(
    {
      subject: state.subject,
      subscriptions: Object.values(state.subscriptions),
      grants: state.grants,
      provider_features: state.providerFeatures,
    },
    state.catalog,
    policy,
  );
}

function withNote(state: SubjectState, note: EntitlementNote | undefined): { state: SubjectState; note?: EntitlementNote } {
  return note ? { state, note } : { state };
}

const byPosition = (events: readonly LedgerEvent[]): LedgerEvent[] => [...events].sort((a, b) => a.position - b.position);

/**
 * Folds a slice of the log (in position order, whatever order it is given in) and evaluates
 * one subject's entitlements at `at`, with the catalog in force at the slice's last position.
 * The caller slices: up to position N for `?position=N`; events recorded by T, evaluated at
 * T, for `?at=T`. Subscriptions of every subject are folded, since one may move to this subject.
 *
 * @example
 * replaySubject(events, 'org_42', { renewalLeewayS: 86400, pastDueGraceS: 259200 }, new Date('2026-12-01T00:00:00Z'));
 * // { subject: 'org_42', position: 17, plan: 'pro', features: { … }, valid_until: '…', unknown_plans: [] }
 */
export function replaySubject(
  events: readonly LedgerEvent[],
  subject: string,
  policy: EntitlementPolicy,
  at: Date,
): SubjectEntitlements {
  let state = initialSubjectState(subject);
  for (const event of byPosition(events)) state = evolveSubjectState(state, event).state;
  const sources = subjectSources(state, policy);
  return { subject, position: state.position, ...evaluateEntitlements(sources, at), unknown_plans: sources.unknown_plans };
}

/** One line of a subject's history: what an event changed, or why it changed nothing. */
export interface HistoryEntry {
  readonly event: LedgerEvent;
  readonly changes: readonly FeatureChange[];
  readonly note: EntitlementNote | null;
}

/**
 * A subject's history: each event of the slice with the entitlements it changed, evaluated
 * at the time the ledger recorded it. Catalog events appear only where they changed this
 * subject's entitlements.
 *
 * @example
 * subjectHistory(events, 'org_42', policy).map((h) => [h.event.position, h.changes, h.note]);
 */
export function subjectHistory(
  events: readonly LedgerEvent[],
  subject: string,
  policy: EntitlementPolicy,
): HistoryEntry[] {
  let state = initialSubjectState(subject);
  const out: HistoryEntry[] = [];
  for (const event of byPosition(events)) {
    const at = new Date(event.recorded_at);
    const before = evaluateEntitlements(subjectSources(state, policy), at);
    const next = evolveSubjectState(state, event);
    state = next.state;
    const after = evaluateEntitlements(subjectSources(state, policy), at);
    const changes = diffEntitlements(before, after);
    if (event.type === CATALOG_PUBLISHED && changes.length === 0) continue;
    const unknown = changes.length === 0 && !next.note && subjectSources(state, policy).unknown_plans.length > 0;
    out.push({ event, changes, note: next.note ?? (unknown ? 'unknown_plan' : null) });
  }
  return out;
}
