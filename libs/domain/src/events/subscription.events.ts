import { z } from 'zod';
import { canonicalInstant } from './canonical-instant.js';

/** Stripe's subscription status vocabulary, in the contract's lifecycle rank order. */
export const SUBSCRIPTION_STATUSES = [
  'incomplete',
  'incomplete_expired',
  'trialing',
  'active',
  'past_due',
  'unpaid',
  'paused',
  'canceled',
] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

/** Tie-break rank for two states with the same provider time: the later status wins. */
export const statusRank = (s: SubscriptionStatus): number => SUBSCRIPTION_STATUSES.indexOf(s);

export const SUBSCRIPTION_EVENT_TYPES = [
  'subscription.created',
  'subscription.updated',
  'subscription.canceled',
  'subscription.deleted',
] as const;
export type SubscriptionEventType = (typeof SUBSCRIPTION_EVENT_TYPES)[number];

/**
 * ISO-8601 instant with an explicit offset, normalised to UTC `…Z` by the parser.
 *
 * Normalised by `overwrite`, not `transform`: a transform makes the schema a pipe, and an
 * object holding pipes is parsed on zod's slow path (about 2.7 µs more per ingest event, most
 * of the validation's cost). The checks abort, so `canonicalInstant` only ever sees a valid
 * instant.
 */
export const isoInstant = z
  .string()
  .max(40, { abort: true })
  .datetime({ offset: true, abort: true, message: 'must be an ISO-8601 date-time with a time zone, e.g. 2026-11-24T10:00:00Z' })
  .overwrite(canonicalInstant);

const id = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

/**
 * Where a provider's subscription points into the catalog, when the provider names prices
 * and products rather than our plan ids. Resolved by the projection against the catalog in
 * force at the event's position, so replays use the catalog of their time.
 */
export interface PlanRefs {
  readonly provider: 'stripe' | 'paddle';
  readonly lookup_keys: readonly string[];
  readonly prices: readonly string[];
  readonly products: readonly string[];
}

/** A subscription's full state as the provider last stated it (never a diff). */
export interface SubscriptionState {
  readonly id: string;
  readonly subject: string;
  /** Catalog plan id, when the sender names it; otherwise resolved from `plan_refs`. */
  readonly plan: string | null;
  readonly status: SubscriptionStatus;
  readonly quantity: number;
  readonly current_period_end: string | null;
  readonly cancel_at_period_end: boolean;
  readonly cancel_at: string | null;
  readonly ended_at: string | null;
  readonly trial_end: string | null;
}

/** Payload of every `subscription.*` event in the log, whatever its source. */
export interface SubscriptionRecordedData {
  /** Provider time of this state: orders states (last writer wins), never arrival order. */
  readonly occurred_at: string;
  readonly subscription: SubscriptionState;
  readonly plan_refs?: PlanRefs | null;
}

/**
 * Members in sorted order, the order canonical JSON writes them: the parser's output has its
 * members in the schema's order, so `JSON.stringify` of a validated subscription is already its
 * canonical form (the ingest path hashes and stores that one string).
 */
export const subscriptionStateSchema = z
  .object({
    cancel_at: isoInstant.nullable().default(null),
    cancel_at_period_end: z.boolean().default(false),
    current_period_end: isoInstant.nullable().default(null),
    ended_at: isoInstant.nullable().default(null),
    id,
    plan: id,
    quantity: z.number().int().min(0).max(1_000_000_000).default(1),
    status: z.enum(SUBSCRIPTION_STATUSES),
    subject: id,
    trial_end: isoInstant.nullable().default(null),
  })
  .strict();

/** The body of `POST /v1/events` (one event; the endpoint also takes an array of these). */
export const ingestEventSchema = z
  .object({
    id,
    type: z.enum(SUBSCRIPTION_EVENT_TYPES),
    occurred_at: isoInstant,
    subscription: subscriptionStateSchema,
    /** Optional name of the sending system; events are deduplicated per source. */
    source: z
      .string()
      .regex(/^[a-z][a-z0-9_.-]{0,62}$/, 'must be lower-case letters, digits, "_", "." or "-"')
      .refine((s) => !RESERVED_SOURCES.has(s), 'is reserved for the ledger and its provider endpoints')
      .optional(),
  })
  .strict();
export type IngestEvent = z.infer<typeof ingestEventSchema>;

/** Sources that only the ledger's own endpoints may write. */
export const RESERVED_SOURCES = new Set(['stripe', 'paddle', 'ledger', 'admin', 'catalog']);
export const DEFAULT_INGEST_SOURCE = 'api';
