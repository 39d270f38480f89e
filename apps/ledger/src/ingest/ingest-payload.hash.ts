import { hash } from 'node:crypto';
import type { IngestEvent, SubscriptionState } from '@app/domain';
import { sha256OfCanonical } from '@app/billing';

/** The members of a validated subscription, in the order canonical JSON sorts them. */
const SORTED_MEMBERS = [
  'cancel_at',
  'cancel_at_period_end',
  'current_period_end',
  'ended_at',
  'id',
  'plan',
  'quantity',
  'status',
  'subject',
  'trial_end',
] as const satisfies ReadonlyArray<keyof SubscriptionState>;

const PREFIXES = SORTED_MEMBERS.map((k, i) => `${i === 0 ? '' : ','}"${k}":`);

/**
 * The "same body" hash of an ingest event: SHA-256 of the canonical JSON of its type,
 * occurred_at and subscription, which stored events' hashes were made with. The schema's
 * output has a fixed shape (a plain object, strict, every optional member defaulted, values of
 * JSON's own types), so its canonical form is written straight in sorted order; anything else
 * (a member the schema gained and this list lacks, an object of another kind) goes through the
 * generic canonical JSON.
 */
export function ingestPayloadHash(e: Pick<IngestEvent, 'type' | 'occurred_at' | 'subscription'>): Buffer {
  const s = e.subscription as unknown as Record<string, unknown>;
  if (
    typeof e.type !== 'string' ||
    typeof e.occurred_at !== 'string' ||
    s === null ||
    typeof s !== 'object' ||
    Object.getPrototypeOf(s) !== Object.prototype ||
    Object.keys(s).length !== SORTED_MEMBERS.length
  ) {
    return generic(e);
  }
  let out = `{"occurred_at":${JSON.stringify(e.occurred_at)},"subscription":{`;
  for (let i = 0; i < SORTED_MEMBERS.length; i++) {
    const k = SORTED_MEMBERS[i]!;
    if (!Object.hasOwn(s, k)) return generic(e);
    const v = s[k];
    const t = typeof v;
    if (!(v === null || t === 'string' || t === 'boolean' || (t === 'number' && Number.isFinite(v)))) return generic(e);
    out += PREFIXES[i]! + JSON.stringify(v);
  }
  out += `},"type":${JSON.stringify(e.type)}}`;
  return hash('sha256', out, 'buffer');
}

const generic = (e: Pick<IngestEvent, 'type' | 'occurred_at' | 'subscription'>): Buffer =>
  sha256OfCanonical({ type: e.type, occurred_at: e.occurred_at, subscription: e.subscription });
