import type { PlanRefs, SubscriptionEventType, SubscriptionState, SubscriptionStatus } from '@app/domain';
import { deliveryHash } from './delivery.hash.js';
import { parseOrThrow } from './json-body.parser.js';
import type { MappedEvent } from './mapped-event.types.js';
import { isLedgerId, pickSubject } from './mapping.helpers.js';
import {
  paddleNotificationSchema,
  paddleSubscriptionSchema,
  type PaddleNotificationEnvelope,
} from './paddle-notification.schema.js';

const SUBSCRIPTION_EVENT_TYPES = new Map<string, SubscriptionEventType>([
  ['subscription.created', 'subscription.created'],
  ['subscription.canceled', 'subscription.canceled'],
  ['subscription.updated', 'subscription.updated'],
  ['subscription.activated', 'subscription.updated'],
  ['subscription.past_due', 'subscription.updated'],
  ['subscription.paused', 'subscription.updated'],
  ['subscription.resumed', 'subscription.updated'],
  ['subscription.trialing', 'subscription.updated'],
  ['subscription.imported', 'subscription.updated'],
]);

// Paddle's subscription statuses, in Stripe's vocabulary (the names coincide).
const STATUSES = new Map<string, SubscriptionStatus>([
  ['active', 'active'],
  ['canceled', 'canceled'],
  ['past_due', 'past_due'],
  ['paused', 'paused'],
  ['trialing', 'trialing'],
]);

type Base = Pick<MappedEvent, 'provider' | 'sourceEventId' | 'occurredAt' | 'providerType'>;

function mapSubscription(event: PaddleNotificationEnvelope, base: Base, type: SubscriptionEventType): MappedEvent {
  const sub = parseOrThrow(paddleSubscriptionSchema, event.data, ['data']);
  const unmappable = (reason: string): MappedEvent => ({ ...base, kind: 'unmappable', reason });

  if (!sub.id || !isLedgerId(sub.id)) return unmappable('the subscription has no valid id');
  const status = STATUSES.get(sub.status ?? '');
  if (!status) return unmappable(`unknown subscription status ${JSON.stringify(sub.status ?? null)}`);

  const who = pickSubject(sub.custom_data?.['ledger_subject'], 'custom_data.ledger_subject', sub.customer_id, 'a customer_id');
  if ('reason' in who) return unmappable(who.reason);

  const item = sub.items?.[0];
  const price = item?.price;
  if (!price && status !== 'canceled') {
    return unmappable(item ? 'the first subscription item has no price' : 'the subscription has no items');
  }
  const product = price?.product_id ?? item?.product?.id ?? null;
  const planRefs: PlanRefs = {
    provider: 'paddle',
    lookup_keys: [],
    prices: price ? [price.id] : [],
    products: product ? [product] : [],
  };

  const periodEnd = sub.current_billing_period?.ends_at ?? null;
  const change = sub.scheduled_change;
  const cancelAt = change?.action === 'cancel' ? (change.effective_at ?? null) : null;
  const subscription: SubscriptionState = {
    id: sub.id,
    subject: who.subject,
    plan: null,
    status,
    quantity: item?.quantity ?? 1,
    current_period_end: periodEnd,
    cancel_at_period_end: cancelAt !== null && cancelAt === periodEnd,
    cancel_at: cancelAt,
    ended_at: status === 'canceled' ? (sub.canceled_at ?? null) : null,
    trial_end: item?.trial_dates?.ends_at ?? null,
  };
  return {
    ...base,
    kind: 'subscription',
    type,
    data: { occurred_at: base.occurredAt, subscription, plan_refs: planRefs },
  };
}

/**
 * Maps a Paddle Billing notification (parsed JSON of a verified delivery) to the ledger's
 * canonical form: `subscription.created|updated|activated|canceled|past_due|paused|resumed|trialing|imported`
 * → the subscription's full state (`subscription.created`, `subscription.canceled`, else
 * `subscription.updated`), plan left to the catalog through `plan_refs` from the first
 * item's price; every other type → `ignored`; a subscription without subject, id, items or
 * a known status → `unmappable`.
 *
 * @throws {PayloadInvalidError} the envelope (`event_id`, `event_type`, `occurred_at`, `data`)
 *   or a member we read has the wrong type; `issues` lists `{path, message}`
 *
 * @example
 * ```ts
 * const mapped = mapPaddleNotification(parseJsonBody(rawBody));
 * if (mapped.kind === 'subscription') append(mapped.type, mapped.data);
 * ```
 */
export function mapPaddleNotification(payload: unknown): MappedEvent {
  const event = parseOrThrow(paddleNotificationSchema, payload);
  const base: Base = {
    provider: 'paddle',
    sourceEventId: event.event_id,
    occurredAt: event.occurred_at,
    providerType: event.event_type,
  };
  const type = SUBSCRIPTION_EVENT_TYPES.get(event.event_type);
  if (type) return mapSubscription(event, base, type);
  return { ...base, kind: 'ignored', reason: `Paddle event type ${event.event_type} is not used by the ledger` };
}

/**
 * The "same body" hash of a Paddle notification: SHA-256 of the canonical JSON of
 * `{type: event_type, data}`. `notification_id` (new for every delivery) does not count.
 *
 * @throws {PayloadInvalidError} not a Paddle notification envelope
 *
 * @example
 * ```ts
 * const payloadHash = paddleDedupeHash(notification); // 32-byte Buffer
 * ```
 */
export function paddleDedupeHash(payload: unknown): Buffer {
  parseOrThrow(paddleNotificationSchema, payload);
  const { event_type: type, data } = payload as { event_type: string; data: unknown };
  return deliveryHash(type, data);
}
