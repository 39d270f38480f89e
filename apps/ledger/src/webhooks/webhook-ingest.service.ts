import { Injectable, Logger } from '@nestjs/common';
import {
  PayloadInvalidError,
  assertUtf8Body,
  mapPaddleNotification,
  mapStripeEvent,
  parseJsonBody,
  type BillingProvider,
  type MappedEvent,
} from '@app/billing';
import { PostgresEventStore, type NewEvent } from '@app/event-store';
import { ValidationError } from '../http/problem.errors.js';
import type { IngestResult } from '../ingest/ingest.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { webhookEvent } from './webhook-event.builder.js';

const PROVIDER_NAMES: Record<BillingProvider, string> = { stripe: 'Stripe event', paddle: 'Paddle notification' };

/** Turns one verified Stripe or Paddle delivery into one log event and appends it. */
@Injectable()
export class WebhookIngestService {
  private readonly logger = new Logger('webhooks');

  constructor(
    private readonly store: PostgresEventStore,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * Maps the raw body (the bytes whose signature the guard checked) and appends it. Resolves
   * after COMMIT; a redelivery resolves to the original position with `duplicate: true`.
   * `parsed` is those bytes as the JSON body parser read them, when it did; else they are
   * parsed here.
   *
   * @throws {ValidationError} the body is not a provider event (400, nothing recorded)
   * @throws IdempotencyConflictError, DatabaseUnavailableError from the store
   */
  async record(provider: BillingProvider, rawBody: Buffer | undefined, parsed?: unknown): Promise<IngestResult> {
    let event: NewEvent;
    try {
      event = this.toEvent(provider, rawBody ?? Buffer.alloc(0), parsed);
    } catch (err) {
      this.metrics.ingestEvents.inc({ source: provider, result: 'rejected' });
      throw err;
    }
    try {
      const { events } = await this.store.append({ events: [event] });
      const appended = events[0]!;
      this.metrics.ingestEvents.inc({ source: provider, result: appended.duplicate ? 'duplicate' : 'appended' });
      return { id: appended.sourceEventId, position: appended.position, duplicate: appended.duplicate };
    } catch (err) {
      this.metrics.ingestEvents.inc({ source: provider, result: 'rejected' });
      throw err;
    }
  }

  private toEvent(provider: BillingProvider, rawBody: Buffer, parsed: unknown): NewEvent {
    let mapped: MappedEvent;
    let payload: unknown;
    try {
      // The body parser has read the bytes already (they are not read twice), but leniently:
      // the raw delivery is stored as text, so it must be UTF-8 as it is.
      if (parsed !== undefined) assertUtf8Body(rawBody);
      payload = parsed === undefined ? parseJsonBody(rawBody) : parsed;
      mapped = provider === 'stripe' ? mapStripeEvent(payload) : mapPaddleNotification(payload);
    } catch (err) {
      if (!(err instanceof PayloadInvalidError)) throw err;
      throw new ValidationError(
        `the body is not a valid ${PROVIDER_NAMES[provider]}; nothing was recorded`,
        err.issues.slice(0, 100).map((i) => ({ path: i.path || '(body)', message: i.message })),
      );
    }
    if (mapped.kind === 'unmappable') {
      this.logger.warn({ provider, eventId: mapped.sourceEventId, type: mapped.providerType, reason: mapped.reason }, 'unmappable webhook recorded');
    }
    // The bytes are valid UTF-8 (checked above, or decoded strictly by parseJsonBody), so this
    // string is the delivery verbatim.
    return webhookEvent(mapped, payload, rawBody.toString('utf8'));
  }
}
