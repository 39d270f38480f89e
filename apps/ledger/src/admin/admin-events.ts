import { Injectable } from '@nestjs/common';
import { PostgresEventStore, type AppendedEvent } from '@app/event-store';
import { sha256OfCanonical } from '@app/billing';

/** An admin action as recorded in the log: who did it is `data.actor`. */
export interface AdminEvent<D extends { readonly actor: string } = { readonly actor: string }> {
  readonly type: string;
  readonly streamId: string;
  /** Unique per action; a retry with the same id is recorded once. */
  readonly sourceEventId: string;
  readonly subject?: string;
  readonly data: D;
}

/** Every admin action (tokens, grants, key rotation) is an event in the log with its actor. */
@Injectable()
export class AdminEvents {
  constructor(private readonly store: PostgresEventStore) {}

  async record<D extends { readonly actor: string }>(event: AdminEvent<D>): Promise<AppendedEvent> {
    const { events } = await this.store.append({
      events: [
        {
          streamId: event.streamId,
          type: event.type,
          source: 'admin',
          sourceEventId: event.sourceEventId,
          subject: event.subject ?? null,
          payloadHash: sha256OfCanonical(event.data),
          data: event.data,
          metadata: { actor: event.data.actor },
        },
      ],
      // Recorded after the change it describes: never refused for load.
      bypassQueueLimit: true,
    });
    return events[0]!;
  }
}
