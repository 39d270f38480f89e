import type { PlanRefs, SubscriptionEventType, SubscriptionState, SubscriptionStatus } from '@app/domain';
import { deliveryHash } from './delivery.hash.js';
import { parseOrThrow } from './json-body.parser.js';
import type { MappedEvent } from './mapped-event.types.js';
import { asStatus, isLedgerId, isoOrNull, isTerminal, pickSubject, unixToIso } from './mapping.helpers.js';
import {
  stripeEntitlementSummarySchema,
  stripeEventSchema,
  stripeSubscriptionSchema,
  type StripeEventEnvelope,
} from './stripe-event.schema.js';

const SUBSCRIPTION_EVENT_TYPES = new Map<string, SubscriptionEventType>([
  ['customer.subscription.created', 'subscription.created'],
  ['customer.subscription.updated', 'subscription.updated'],
  ['customer.subscription.deleted', 'subscription.deleted'],
  ['customer.subscription.paused', 'subscription.updated'],
  ['customer.subscription.resumed', 'subscription.updated'],
  ['customer.subscription.trial_will_end', 'subscription.updated'],
]);

export const STRIPE_ENTITLEMENT_SUMMARY_UPDATED = 'entitlements.active_entitlement_summary.updated';

// With collection paused Stripe keeps the status; we treat the subscription as paused.
const PAUSABLE: ReadonlySet<SubscriptionStatus> = new Set(['trialing', 'active', 'past_due', 'unpaid']);

type Base = Pick<MappedEvent, 'provider' | 'sourceEventId' | 'occurredAt' | 'providerType'>;

function idOf(value: string | { id: string } | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? value : value.id;
}

function mapSubscription(event: StripeEventEnvelope, base: Base, type: SubscriptionEventType): MappedEvent {
  const sub = parseOrThrow(stripeSubscriptionSchema, event.data.object, ['data', 'object']);
  const unmappable = (reason: string): MappedEvent => ({ ...base, kind: 'unmappable', reason });

  if (!sub.id || !isLedgerId(sub.id)) return unmappable('the subscription has no valid id');
  const providerStatus = asStatus(sub.status);
  if (providerStatus === null) return unmappable(`unknown subscription status ${JSON.stringify(sub.status ?? null)}`);

  const who = pickSubject(sub.metadata?.['ledger_subject'], 'metadata.ledger_subject', idOf(sub.customer), 'a customer');
  if ('reason' in who) return unmappable(who.reason);

  const item = sub.items?.data[0];
  const price = item?.price;
  // Without an item there is no plan; a subscription that has ended still ends (no refs, no grant).
  if (!price && !(type === 'subscription.deleted' || isTerminal(providerStatus))) {
    return unmappable(item ? 'the first subscription item has no price' : 'the subscription has no items');
  }
  const product = idOf(price?.product);
  const planRefs: PlanRefs = {
    provider: 'stripe',
    lookup_keys: price?.lookup_key ? [price.lookup_key] : [],
    prices: price ? [price.id] : [],
    products: product ? [product] : [],
  };

  const paused = sub.pause_collection !== null && sub.pause_collection !== undefined && PAUSABLE.has(providerStatus);
  const subscription: SubscriptionState = {
    id: sub.id,
    subject: who.subject,
    plan: null,
    status: paused ? 'paused' : providerStatus,
    quantity: item?.quantity ?? 1,
    current_period_end: isoOrNull(sub.current_period_end ?? item?.current_period_end),
    cancel_at_period_end: sub.cancel_at_period_end ?? false,
    cancel_at: isoOrNull(sub.cancel_at),
    ended_at: isoOrNull(sub.ended_at),
    trial_end: isoOrNull(sub.trial_end),
  };
  return {
    ...base,
    kind: 'subscription',
    type,
    data: { occurred_at: base.occurredAt, subscription, plan_refs: planRefs },
  };
}

function mapEntitlementSummary(event: StripeEventEnvelope, base: Base): MappedEvent {
  const summary = parseOrThrow(stripeEntitlementSummarySchema, event.data.object, ['data', 'object']);
  const customer = idOf(summary.customer);
  if (!customer || !isLedgerId(customer)) {
    return { ...base, kind: 'unmappable', reason: 'the entitlement summary has no valid customer' };
  }
  const features: string[] = [];
  for (const entitlement of summary.entitlements?.data ?? []) {
    const feature = entitlement.feature;
    const key = entitlement.lookup_key || (typeof feature === 'object' ? feature?.lookup_key : null);
    if (key && !features.includes(key)) features.push(key);
  }
  return {
    ...base,
    kind: 'provider_features',
    data: {
      // The summary names only the customer; its metadata is not in the event.
      subject: customer,
      customer,
      provider: 'stripe',
      occurred_at: base.occurredAt,
      features,
      complete: summary.entitlements?.has_more !== true,
    },
  };
}

/**
 * Maps a Stripe event (parsed JSON of a verified delivery) to the ledger's canonical form.
 *
 * - `customer.subscription.created|updated|deleted|paused|resumed|trial_will_end` → the
 *   subscription's full state (`subscription.created`, `.deleted`, else `.updated`), plan
 *   left to the catalog through `plan_refs` from the first item's price;
 * - `entitlements.active_entitlement_summary.updated` → the customer's Stripe features;
 * - any other type → `ignored`; a subscription without subject, id, items or a known
 *   status → `unmappable`.
 *
 * @throws {PayloadInvalidError} the envelope (`id`, `type`, `created`, `data.object`) or a
 *   member we read has the wrong type; `issues` lists `{path, message}`
 *
 * @example
 * ```ts
 * const mapped = mapStripeEvent(parseJsonBody(rawBody));
 * if (mapped.kind === 'subscription') append(mapped.type, mapped.data);
 * ```
 */
export function mapStripeEvent(payload: unknown): MappedEvent {
  const event = parseOrThrow(stripeEventSchema, payload);
  const base: Base = {
    provider: 'stripe',
    sourceEventId: event.id,
    occurredAt: unixToIso(event.created),
    providerType: event.type,
  };
  const type = SUBSCRIPTION_EVENT_TYPES.get(event.type);
  if (type) return mapSubscription(event, base, type);
  if (event.type === STRIPE_ENTITLEMENT_SUMMARY_UPDATED) return mapEntitlementSummary(event, base);
  return { ...base, kind: 'ignored', reason: `Stripe event type ${event.type} is not used by the ledger` };
}

/**
 * The "same body" hash of a Stripe event: SHA-256 of the canonical JSON of `{type, data}`.
 * Delivery fields that change between retries (`pending_webhooks`, `request`, …) do not count.
 *
 * @throws {PayloadInvalidError} not a Stripe event envelope
 *
 * @example
 * ```ts
 * await store.append({ events: [{ …, sourceEventId: event.id, payloadHash: stripeDedupeHash(event) }] });
 * ```
 */
export function stripeDedupeHash(payload: unknown): Buffer {
  parseOrThrow(stripeEventSchema, payload);
  const { type, data } = payload as { type: string; data: unknown };
  return deliveryHash(type, data);
}
