import { Injectable } from '@nestjs/common';
import { DEFAULT_INGEST_SOURCE, ingestEventSchema, type IngestEvent } from '@app/domain';
import { JsonText, PostgresEventStore, type NewEvent } from '@app/event-store';
import { encodeIngestEvent } from './ingest-payload.hash.js';
import { ValidationError, fieldErrors, type FieldError } from '../http/problem.errors.js';
import { MetricsService } from '../metrics/metrics.service.js';

export const MAX_BATCH = 1000;

export interface IngestResult {
  readonly id: string;
  readonly position: number;
  readonly duplicate: boolean;
}

const KNOWN_SOURCES = new Set([DEFAULT_INGEST_SOURCE, 'stripe', 'paddle', 'admin', 'catalog']);
/** Metric label for a source: caller-chosen names are folded so they cannot explode the series. */
export const sourceLabel = (source: string): string => (KNOWN_SOURCES.has(source) ? source : 'custom');

/** Streams of subscription state: one per subscription of a source. */
export const subscriptionStream = (source: string, subscriptionId: string): string =>
  `subscription:${source}:${subscriptionId}`;

/** Turns `POST /v1/events` bodies into log events and appends them (all or nothing). */
@Injectable()
export class IngestService {
  constructor(
    private readonly store: PostgresEventStore,
    private readonly metrics: MetricsService,
  ) {}

  /** Validates the whole body first: nothing is written unless every event is valid. */
  parse(body: unknown): { events: IngestEvent[]; batch: boolean } {
    const batch = Array.isArray(body);
    const items: unknown[] = batch ? (body as unknown[]) : [body];
    if (batch && (items.length === 0 || items.length > MAX_BATCH)) {
      throw new ValidationError(`a batch holds 1 to ${MAX_BATCH} events`, [
        { path: '(body)', message: `got ${items.length} events` },
      ]);
    }
    if (!batch && (body === null || typeof body !== 'object')) {
      throw new ValidationError('the body must be an event object or an array of events', [
        { path: '(body)', message: 'expected an object or an array' },
      ]);
    }
    const errors: FieldError[] = [];
    const events: IngestEvent[] = [];
    items.forEach((item, i) => {
      const r = ingestEventSchema.safeParse(item);
      if (r.success) events.push(r.data);
      else errors.push(...fieldErrors(r.error.issues, batch ? [i] : []));
    });
    if (errors.length > 0) {
      throw new ValidationError(
        batch ? 'one or more events are invalid; nothing was recorded' : 'the event is invalid; nothing was recorded',
        errors.slice(0, 100),
      );
    }
    return { events, batch };
  }

  async ingest(events: IngestEvent[], actor: string): Promise<IngestResult[]> {
    const metadata = { actor };
    const newEvents: NewEvent[] = events.map((e) => {
      const source = e.source ?? DEFAULT_INGEST_SOURCE;
      // The data (a SubscriptionRecordedData: occurred_at, subscription, plan_refs null) and the
      // hash of "the same body" (the same validated event, whatever its key order or spacing)
      // are written from one serialisation of the subscription.
      const encoded = encodeIngestEvent(e);
      return {
        streamId: subscriptionStream(source, e.subscription.id),
        type: e.type,
        source,
        sourceEventId: e.id,
        subject: e.subscription.subject,
        payloadHash: encoded.payloadHash,
        // The validated event itself, not the body as sent (provider webhooks keep that verbatim).
        data: new JsonText(encoded.data),
        metadata,
        // Already a canonical instant (the schema normalises it).
        occurredAt: e.occurred_at,
      };
    });
    try {
      const { events: appended } = await this.store.append({ events: newEvents });
      // One increment per label set of the request, not one per event.
      const counts = new Map<string, { source: string; result: 'appended' | 'duplicate'; n: number }>();
      const results = appended.map((a) => {
        const source = sourceLabel(a.source);
        const result = a.duplicate ? 'duplicate' : 'appended';
        const k = `${source}\u0000${result}`;
        const c = counts.get(k);
        if (c) c.n += 1;
        else counts.set(k, { source, result, n: 1 });
        return { id: a.sourceEventId, position: a.position, duplicate: a.duplicate };
      });
      for (const c of counts.values()) this.metrics.ingestEvents.inc({ source: c.source, result: c.result }, c.n);
      return results;
    } catch (err) {
      this.metrics.ingestEvents.inc({ source: sourceLabel(newEvents[0]!.source), result: 'rejected' }, newEvents.length);
      throw err;
    }
  }
}
