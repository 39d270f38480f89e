import { z } from 'zod';
import { isCanonicalInstant } from '../events/canonical-instant.js';
import type { Catalog } from '../catalog/catalog.schema.js';
import {
  isoInstant,
  type PlanRefs,
  statusRank,
  SUBSCRIPTION_STATUSES,
  type SubscriptionEventType,
  type SubscriptionRecordedData,
  type SubscriptionState,
  type SubscriptionStatus,
} from '../events/subscription.events.js';
import type { LedgerEvent } from '../events/ledger-event.js';
import { SubscriptionKeyMismatchError } from './entitlement.errors.js';
import type { EntitlementNote, EvolveResult } from './entitlement.notes.js';
import { resolvePlan } from './plan.resolver.js';
import { isSubscriptionEventType } from './policy-event.kind.js';
import { toMs } from './time.util.js';

/** One distinct provider statement about a subscription, as kept in its fold. */
export interface SubscriptionDelivery {
  readonly source_event_id: string;
  readonly type: SubscriptionEventType;
  readonly occurred_at: string;
  readonly subscription: SubscriptionState;
  readonly plan_refs: PlanRefs | null;
}

/**
 * Everything the policy needs to know about one subscription, whatever order its deliveries
 * arrived in. Plain JSON. Canonical: the same set of deliveries always gives the same fold.
 */
export interface SubscriptionFold {
  /** `source + ":" + subscription id`. */
  readonly key: string;
  readonly source: string;
  readonly subscription_id: string;
  /** A `subscription.deleted` delivery is known: the subscription grants nothing, ever. */
  readonly deleted: boolean;
  /**
   * Distinct deliveries in last-writer-wins order, oldest first; the last one is the held
   * state. Deliveries before the latest non-past_due one are dropped: neither the winner nor
   * the final past_due run can reach back past it, whatever arrives later.
   */
  readonly deliveries: readonly SubscriptionDelivery[];
}

export const subscriptionKey = (source: string, subscriptionId: string): string => `${source}:${subscriptionId}`;

// Lenient on what adapters may omit (defaults as in the ingest schema); strict on what the policy reads.
const storedSubscriptionSchema = z.object({
  id: z.string().min(1),
  subject: z.string().min(1),
  plan: z.string().min(1).nullable().default(null),
  status: z.enum(SUBSCRIPTION_STATUSES),
  quantity: z.number().finite().min(0).default(1),
  current_period_end: isoInstant.nullable().default(null),
  cancel_at_period_end: z.boolean().default(false),
  cancel_at: isoInstant.nullable().default(null),
  ended_at: isoInstant.nullable().default(null),
  trial_end: isoInstant.nullable().default(null),
});
const refs = z.array(z.string()).default([]);
const subscriptionRecordedDataSchema = z.object({
  occurred_at: isoInstant,
  subscription: storedSubscriptionSchema,
  plan_refs: z
    .object({ provider: z.enum(['stripe', 'paddle']), lookup_keys: refs, prices: refs, products: refs })
    .nullable()
    .default(null),
});

// A payload is parsed once however many folds look at it (projections fold each event
// through several steps); keyed by the payload object, so nothing outlives the event.
const parsedPayloads = new WeakMap<object, SubscriptionRecordedData | null>();

/** Parses a `subscription.*` payload from the log; null when it is not one. */
export function parseSubscriptionRecordedData(data: unknown): SubscriptionRecordedData | null {
  if (typeof data !== 'object' || data === null) return null;
  const cached = parsedPayloads.get(data);
  if (cached !== undefined) return cached;
  const result = readSubscriptionRecordedData(data);
  parsedPayloads.set(data, result);
  return result;
}

/**
 * `parseSubscriptionRecordedData` without its cache, for callers that parse each payload
 * once (a rebuild folds millions; a WeakMap entry per payload is work for the GC).
 */
export function readSubscriptionRecordedData(data: unknown): SubscriptionRecordedData | null {
  if (typeof data !== 'object' || data === null) return null;
  const canonical = canonicalRecordedData(data);
  if (canonical !== undefined) return canonical;
  const parsed = subscriptionRecordedDataSchema.safeParse(data);
  return parsed.success ? parsed.data : null;
}

const STATUSES: ReadonlySet<string> = new Set(SUBSCRIPTION_STATUSES);
const isInstant = isCanonicalInstant;
const isNullableInstant = (v: unknown): boolean => v === null || isInstant(v);
const isStrings = (v: unknown): boolean => Array.isArray(v) && v.every((x) => typeof x === 'string');

/**
 * The payload as the ledger writes it (complete, instants already in canonical UTC form),
 * checked by hand: the same result the schema gives for such input, without its cost on
 * every replayed event. `undefined` means "not that shape": the schema decides.
 */
function canonicalRecordedData(data: object): SubscriptionRecordedData | undefined {
  const d = data as Record<string, unknown>;
  const s = d['subscription'] as Record<string, unknown> | null | undefined;
  const refs = d['plan_refs'] as Record<string, unknown> | null | undefined;
  if (
    !isInstant(d['occurred_at']) ||
    typeof s !== 'object' || s === null ||
    typeof s['id'] !== 'string' || s['id'] === '' ||
    typeof s['subject'] !== 'string' || s['subject'] === '' ||
    !(s['plan'] === null || (typeof s['plan'] === 'string' && s['plan'] !== '')) ||
    typeof s['status'] !== 'string' || !STATUSES.has(s['status']) ||
    typeof s['quantity'] !== 'number' || !Number.isFinite(s['quantity']) || s['quantity'] < 0 ||
    !isNullableInstant(s['current_period_end']) ||
    typeof s['cancel_at_period_end'] !== 'boolean' ||
    !isNullableInstant(s['cancel_at']) ||
    !isNullableInstant(s['ended_at']) ||
    !isNullableInstant(s['trial_end']) ||
    !(refs === null || (typeof refs === 'object' && (refs['provider'] === 'stripe' || refs['provider'] === 'paddle') &&
      isStrings(refs['lookup_keys']) && isStrings(refs['prices']) && isStrings(refs['products'])))
  ) {
    return undefined;
  }
  return {
    occurred_at: d['occurred_at'] as string,
    subscription: {
      id: s['id'],
      subject: s['subject'],
      plan: s['plan'] as string | null,
      status: s['status'] as SubscriptionStatus,
      quantity: s['quantity'],
      current_period_end: s['current_period_end'] as string | null,
      cancel_at_period_end: s['cancel_at_period_end'],
      cancel_at: s['cancel_at'] as string | null,
      ended_at: s['ended_at'] as string | null,
      trial_end: s['trial_end'] as string | null,
    },
    plan_refs: refs
      ? {
          provider: refs['provider'] as 'stripe' | 'paddle',
          lookup_keys: refs['lookup_keys'] as string[],
          prices: refs['prices'] as string[],
          products: refs['products'] as string[],
        }
      : null,
  };
}

/**
 * Last-writer-wins order: provider time, then lifecycle rank, then the greater event id
 * (compared by code unit, never by locale). Negative when `a` loses to `b`.
 */
export function compareSubscriptionDeliveries(a: SubscriptionDelivery, b: SubscriptionDelivery): number {
  const x = a.occurred_at;
  const y = b.occurred_at;
  // Canonical instants (what the ledger stores) order as strings; anything else by value.
  const byTime = x.length === 24 && y.length === 24 && x[23] === 'Z' && y[23] === 'Z' ? (x < y ? -1 : x > y ? 1 : 0) : toMs(x) - toMs(y);
  if (byTime !== 0) return byTime;
  const byRank = statusRank(a.subscription.status) - statusRank(b.subscription.status);
  if (byRank !== 0) return byRank;
  if (a.source_event_id === b.source_event_id) return 0;
  return a.source_event_id < b.source_event_id ? -1 : 1;
}

/** The held state: the delivery that wins last-writer-wins. */
export function subscriptionWinner(fold: SubscriptionFold): SubscriptionDelivery | null {
  return fold.deliveries[fold.deliveries.length - 1] ?? null;
}

/** The subject the subscription belongs to now (its held state's subject). */
export function subscriptionSubject(fold: SubscriptionFold): string | null {
  return subscriptionWinner(fold)?.subscription.subject ?? null;
}

/**
 * Provider time at which the held past_due state began: the earliest delivery of the final
 * unbroken run of past_due states in last-writer-wins order. Null unless the held state is past_due.
 */
export function pastDueSince(fold: SubscriptionFold): string | null {
  const ds = fold.deliveries;
  let i = ds.length - 1;
  if (ds[i]?.subscription.status !== 'past_due') return null;
  while (i > 0 && ds[i - 1]?.subscription.status === 'past_due') i--;
  return ds[i]?.occurred_at ?? null;
}

function canonicalDeliveries(deliveries: readonly SubscriptionDelivery[]): SubscriptionDelivery[] {
  const sorted = [...deliveries].sort(compareSubscriptionDeliveries);
  let anchor = -1;
  for (let i = sorted.length - 1; i >= 0; i--) {
    if (sorted[i]?.subscription.status !== 'past_due') {
      anchor = i;
      break;
    }
  }
  return anchor > 0 ? sorted.slice(anchor) : sorted;
}

// What entitlements depend on; an older delivery that leaves it unchanged changed nothing.
const effect = (fold: SubscriptionFold | undefined): string =>
  fold === undefined
    ? ''
    : JSON.stringify([fold.deleted, subscriptionWinner(fold)?.source_event_id ?? null, pastDueSince(fold)]);

/**
 * Folds one `subscription.*` event into its subscription's fold. Order- and
 * duplicate-insensitive: any permutation and duplication of the same deliveries yields the
 * same fold. Pass the catalog in force at the event's position to get the `unknown_plan` note.
 * Throws {@link SubscriptionKeyMismatchError} when the event belongs to another subscription.
 *
 * @example
 * let fold: SubscriptionFold | undefined;
 * for (const e of events) fold = evolveSubscription(fold, e, catalog).fold;
 * // fold.key === 'stripe:sub_1'; subscriptionSubject(fold) === 'org_42'
 */
export function evolveSubscription(
  fold: SubscriptionFold,
  event: LedgerEvent,
  catalog?: Catalog,
): EvolveResult<SubscriptionFold>;
export function evolveSubscription(
  fold: SubscriptionFold | undefined,
  event: LedgerEvent,
  catalog?: Catalog,
): EvolveResult<SubscriptionFold | undefined>;
export function evolveSubscription(
  fold: SubscriptionFold | undefined,
  event: LedgerEvent,
  catalog?: Catalog,
): EvolveResult<SubscriptionFold | undefined> {
  if (!isSubscriptionEventType(event.type)) return { fold, note: 'ignored_type' };
  const data = parseSubscriptionRecordedData(event.data);
  if (data === null) return { fold, note: 'malformed_event' };
  const r = foldDelivery(fold, event, event.type, data);
  if (r.duplicate) return { fold: r.fold, note: 'duplicate_delivery' };
  return { fold: r.fold, ...noteFor(fold, r.fold, r.delivery, catalog) };
}

/**
 * `evolveSubscription` for projections: the same fold, from a payload the caller already
 * parsed, without the history note (and its cost). Undefined for events it does not fold.
 *
 * @example
 * const data = parseSubscriptionRecordedData(event.data);
 * if (data) fold = evolveSubscriptionFold(fold, event, data) ?? fold;
 */
export function evolveSubscriptionFold(
  fold: SubscriptionFold | undefined,
  event: LedgerEvent,
  data: SubscriptionRecordedData,
): SubscriptionFold | undefined {
  if (!isSubscriptionEventType(event.type)) return undefined;
  return foldDelivery(fold, event, event.type, data).fold;
}

function foldDelivery(
  fold: SubscriptionFold | undefined,
  event: LedgerEvent,
  type: SubscriptionEventType,
  data: SubscriptionRecordedData,
): { fold: SubscriptionFold; duplicate: boolean; delivery: SubscriptionDelivery } {
  const key = subscriptionKey(event.source, data.subscription.id);
  if (fold !== undefined && fold.key !== key) throw new SubscriptionKeyMismatchError(fold.key, key);
  const held: SubscriptionFold = fold ?? {
    key,
    source: event.source,
    subscription_id: data.subscription.id,
    deleted: false,
    deliveries: [],
  };

  // Dedupe by source event id; ingest refuses the same id with another body, so the first is kept.
  const known = held.deliveries.find((d) => d.source_event_id === event.source_event_id);
  if (known) return { fold: held, duplicate: true, delivery: known };
  const delivery: SubscriptionDelivery = {
    source_event_id: event.source_event_id,
    type,
    occurred_at: data.occurred_at,
    subscription: data.subscription,
    plan_refs: data.plan_refs ?? null,
  };
  const next: SubscriptionFold = {
    ...held,
    deleted: held.deleted || type === 'subscription.deleted',
    deliveries: canonicalDeliveries([...held.deliveries, delivery]),
  };
  return { fold: next, duplicate: false, delivery };
}

function noteFor(
  before: SubscriptionFold | undefined,
  after: SubscriptionFold,
  delivery: SubscriptionDelivery,
  catalog: Catalog | undefined,
): { note?: EntitlementNote } {
  if (before?.deleted) return { note: 'subscription_deleted' };
  if (after.deleted) return {};
  const winner = subscriptionWinner(after);
  if (winner?.source_event_id !== delivery.source_event_id) {
    return effect(before) === effect(after) ? { note: 'older_than_held_state' } : {};
  }
  if (catalog && resolvePlan(catalog, winner.subscription.plan, winner.plan_refs) === null) {
    return { note: 'unknown_plan' };
  }
  return {};
}
