import { Controller, Get, Inject, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { EntitlementReader, type EntitlementsAnswer, type HistoryAnswer } from '@app/projections';
import { RequireScope } from '../auth/auth.decorators.js';
import { ValidationError, fieldErrors } from '../http/problem.errors.js';
import { parseSubject, readQuerySchema } from './subject.params.js';

@ApiTags('entitlements')
@ApiBearerAuth()
@Controller('v1/subjects/:subject')
export class SubjectsController {
  constructor(@Inject(EntitlementReader) private readonly reader: EntitlementReader) {}

  /**
   * A subject's entitlements now (from the read model), right after a log position
   * (`?position=N`), or as the ledger knew them at a past time (`?at=T`, evaluated at T).
   * A subject with nothing answers `plan: null` and no features.
   */
  @ApiOperation({ summary: "A subject's entitlements: now, after a position, or at a past time" })
  @Get('entitlements')
  @RequireScope('entitlements:read')
  @ApiQuery({ name: 'at', required: false, description: 'ISO-8601 time: what the ledger had recorded by then, evaluated then' })
  @ApiQuery({ name: 'position', required: false, description: 'log position: the state right after it' })
  @ApiOkResponse({
    schema: {
      example: {
        subject: 'org_42',
        position: 1234,
        plan: 'pro',
        features: { api: { value: true, valid_until: '2026-12-25T10:00:00.000Z' }, seats: { value: 5, valid_until: '2026-12-25T10:00:00.000Z' } },
        valid_until: '2026-12-25T10:00:00.000Z',
      },
    },
  })
  async entitlements(@Param('subject') subject: string, @Query() query: unknown): Promise<EntitlementsAnswer> {
    const s = parseSubject(subject);
    const q = readQuerySchema.safeParse(query);
    if (!q.success) throw new ValidationError('invalid query', fieldErrors(q.error.issues));
    const { at, position } = q.data;
    if (position !== undefined) {
      const head = await this.reader.head();
      if (position > head) {
        throw new ValidationError('that position is not in the log yet', [
          { path: 'position', message: `the log ends at ${head}` },
        ]);
      }
      return this.reader.atPosition(s, position, at ? new Date(at) : undefined);
    }
    if (at !== undefined) return this.reader.atTime(s, new Date(at));
    return this.reader.current(s, new Date());
  }

  /** Every event that touched the subject, with the entitlements it changed or why it changed nothing. */
  @ApiOperation({ summary: 'Every event that touched a subject and what it changed' })
  @ApiOkResponse({ schema: { example: { subject: 'org_42', events: [{ position: 17, type: 'subscription.updated', source: 'stripe', source_event_id: 'evt_1Q…', occurred_at: '2026-11-24T10:00:00.000Z', recorded_at: '2026-11-24T10:00:00.412Z', changes: [{ feature: 'seats', from: 5, to: 10 }], note: null }, { position: 18, type: 'subscription.updated', source: 'stripe', source_event_id: 'evt_0P…', occurred_at: '2026-11-20T09:00:00.000Z', recorded_at: '2026-11-24T10:00:01.020Z', changes: [], note: 'stale_delivery' }] } } })
  @Get('history')
  @RequireScope('admin')
  async history(@Param('subject') subject: string): Promise<HistoryAnswer> {
    return this.reader.history(parseSubject(subject));
  }
}
