import { hash } from 'node:crypto';
import { subscriptionStateSchema, type IngestEvent } from '@app/domain';
import { sha256OfCanonical } from '@app/billing';

/**
 * The members of a validated subscription (the schema's), in the order canonical JSON sorts them
 * (UTF-16 code units, as `canonicalJson`).
 */
const SORTED_MEMBERS: readonly string[] = Object.keys(subscriptionStateSchema.shape).sort();

const PREFIXES = SORTED_MEMBERS.map((k, i) => `${i === 0 ? '' : ','}"${k}":`);

type Hashed = Pick<IngestEvent, 'type' | 'occurred_at' | 'subscription'>;

/** An ingest event as the log takes it: its "same body" hash and its data's JSON text. */
export interface EncodedIngestEvent {
  /** SHA-256 of the canonical JSON of the event's type, occurred_at and subscription. */
  readonly payloadHash: Buffer;
  /** The JSON text of `{ occurred_at, subscription, plan_refs: null }`, the log event's data. */
  readonly data: string;
}

/**
 * Encodes an ingest event for the log from one serialisation of its subscription: the canonical
 * JSON of the subscription is both hashed (inside the canonical JSON of type, occurred_at and
 * subscription, which stored events' hashes were made with) and stored as the data's
 * subscription (jsonb keeps no member order, so the canonical order stores as well as any).
 *
 * The schema's output has a fixed shape: a plain object, strict, every optional member
 * defaulted, values of JSON's own types, members in the schema's order, which is the sorted one;
 * `JSON.stringify` of it is then its canonical form. Members in another order are written one
 * by one in sorted order; anything else (members other than the schema's, an object of
 * another kind) goes through the generic canonical JSON.
 */
export function encodeIngestEvent(e: Hashed): EncodedIngestEvent {
  const subscription = typeof e.type === 'string' && typeof e.occurred_at === 'string' ? canonicalSubscription(e.subscription) : null;
  if (subscription === null) {
    return {
      payloadHash: sha256OfCanonical({ type: e.type, occurred_at: e.occurred_at, subscription: e.subscription }),
      data: JSON.stringify({ occurred_at: e.occurred_at, subscription: e.subscription, plan_refs: null }),
    };
  }
  const occurred = JSON.stringify(e.occurred_at);
  return {
    payloadHash: hash('sha256', `{"occurred_at":${occurred},"subscription":${subscription},"type":${JSON.stringify(e.type)}}`, 'buffer'),
    data: `{"occurred_at":${occurred},"subscription":${subscription},"plan_refs":null}`,
  };
}

/** The canonical JSON of a subscription of the schema's output shape; null for any other. */
function canonicalSubscription(value: unknown): string | null {
  const s = value as Record<string, unknown>;
  if (s === null || typeof s !== 'object' || Object.getPrototypeOf(s) !== Object.prototype) return null;
  const keys = Object.keys(s);
  if (keys.length !== SORTED_MEMBERS.length) return null;
  let sorted = true;
  for (let i = 0; i < SORTED_MEMBERS.length; i++) {
    const k = SORTED_MEMBERS[i]!;
    if (keys[i] !== k) {
      sorted = false;
      if (!Object.hasOwn(s, k)) return null;
    }
    const v = s[k];
    const t = typeof v;
    if (!(v === null || t === 'string' || t === 'boolean' || (t === 'number' && Number.isFinite(v)))) return null;
  }
  if (sorted) return JSON.stringify(s);
  let out = '{';
  for (let i = 0; i < SORTED_MEMBERS.length; i++) out += PREFIXES[i]! + JSON.stringify(s[SORTED_MEMBERS[i]!]);
  return `${out}}`;
}
