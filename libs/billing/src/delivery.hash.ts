import { sha256OfCanonical } from './canonical-json.hash.js';
import type { MappedEvent } from './mapped-event.types.js';

/**
 * The "same body" hash of a provider delivery: SHA-256 of the canonical JSON of `{type, data}`,
 * the event's type and its `data` member. Delivery fields that change between retries (Stripe's
 * `pending_webhooks` and `request`, Paddle's `notification_id`) do not count. Internal: the
 * public forms are stripeDedupeHash, paddleDedupeHash and mappedDedupeHash.
 */
export function deliveryHash(type: string, data: unknown): Buffer {
  return sha256OfCanonical({ type, data });
}

/**
 * The "same body" hash of a delivery that mapStripeEvent or mapPaddleNotification has mapped:
 * the one stripeDedupeHash or paddleDedupeHash gives, without validating the envelope again
 * (the mapper did; its `providerType` is the envelope's type).
 *
 * @example
 * ```ts
 * const mapped = mapStripeEvent(payload);
 * const payloadHash = mappedDedupeHash(mapped, payload); // equals stripeDedupeHash(payload)
 * ```
 */
export function mappedDedupeHash(mapped: MappedEvent, payload: unknown): Buffer {
  return deliveryHash(mapped.providerType, (payload as { data: unknown }).data);
}
