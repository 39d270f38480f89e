import { mappedDedupeHash, type BillingProvider, type MappedEvent } from '@app/billing';
import { PROVIDER_FEATURES_UPDATED, type ProviderFeaturesUpdatedData } from '@app/domain';
import type { NewEvent } from '@app/event-store';
import { subscriptionStream } from '../ingest/ingest.service.js';

export const WEBHOOK_IGNORED = 'webhook.ignored' as const;
export const WEBHOOK_UNMAPPABLE = 'webhook.unmappable' as const;

/** Payload of `webhook.ignored` and `webhook.unmappable`: why the delivery changed nothing. */
export interface WebhookNotUsedData {
  readonly provider: BillingProvider;
  readonly provider_type: string;
  readonly reason: string;
  readonly subject?: string;
}

// The domain's id rule (printable ASCII without spaces, 1–255), for subjects we only note.
const LEDGER_ID = /^[\x21-\x7e]{1,255}$/;

const record = (value: unknown): Record<string, unknown> | null =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;

const idOf = (value: unknown): string | null => {
  if (typeof value === 'string') return value;
  const id = record(value)?.['id'];
  return typeof id === 'string' ? id : null;
};

/**
 * The subject an unused delivery is about, when the object names one: the ledger subject in
 * its metadata, else its customer. An explicit but invalid subject gives none, so a delivery
 * is never filed under the wrong subject.
 */
export function subjectHint(provider: BillingProvider, payload: unknown): string | undefined {
  const envelope = record(payload);
  const object = provider === 'stripe' ? record(record(envelope?.['data'])?.['object']) : record(envelope?.['data']);
  if (!object) return undefined;
  const meta = record(object[provider === 'stripe' ? 'metadata' : 'custom_data']);
  const explicit = meta?.['ledger_subject'];
  if (explicit !== undefined && explicit !== null && explicit !== '') {
    return typeof explicit === 'string' && LEDGER_ID.test(explicit) ? explicit : undefined;
  }
  const customer = idOf(object[provider === 'stripe' ? 'customer' : 'customer_id']);
  return customer !== null && LEDGER_ID.test(customer) ? customer : undefined;
}

/**
 * The one log event a verified provider delivery becomes. `payload` is the parsed JSON of
 * `raw`, the exact bytes that were signed; `mapped` is what the billing adapter made of it.
 */
export function webhookEvent(mapped: MappedEvent, payload: unknown, raw: string): NewEvent {
  const provider = mapped.provider;
  const apiVersion = record(payload)?.['api_version'];
  const common = {
    source: provider,
    sourceEventId: mapped.sourceEventId,
    // Over type and data only: a retry with new delivery fields is the same event. The mapper
    // has validated the envelope; it is not validated again.
    payloadHash: mappedDedupeHash(mapped, payload),
    raw,
    occurredAt: new Date(mapped.occurredAt),
    metadata: {
      provider_type: mapped.providerType,
      ...(typeof apiVersion === 'string' ? { api_version: apiVersion } : {}),
    },
  };
  const kind = mapped.kind;
  switch (kind) {
    case 'subscription':
      return {
        ...common,
        streamId: subscriptionStream(provider, mapped.data.subscription.id),
        type: mapped.type,
        subject: mapped.data.subscription.subject,
        data: mapped.data,
      };
    case 'provider_features': {
      const data: ProviderFeaturesUpdatedData = mapped.data;
      return {
        ...common,
        streamId: `provider_features:${provider}:${data.subject}`,
        type: PROVIDER_FEATURES_UPDATED,
        subject: data.subject,
        data,
      };
    }
    case 'ignored':
    case 'unmappable': {
      const subject = subjectHint(provider, payload);
      const data: WebhookNotUsedData = {
        provider,
        provider_type: mapped.providerType,
        reason: mapped.reason,
        ...(subject === undefined ? {} : { subject }),
      };
      return {
        ...common,
        streamId: `webhook:${provider}:${kind}`,
        type: kind === 'ignored' ? WEBHOOK_IGNORED : WEBHOOK_UNMAPPABLE,
        subject: subject ?? null,
        data,
      };
    }
    default: {
      const never: never = kind;
      throw new Error(`unknown mapped event kind ${String(never)}`);
    }
  }
}
