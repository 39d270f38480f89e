import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiOperation, ApiSecurity, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequireSignature, type Principal } from '../auth/auth.decorators.js';
import { RETRY_LATER } from '../http/problem-details.filter.js';
import { IngestService, type IngestResult } from './ingest.service.js';

const example = {
  id: 'evt_0001',
  type: 'subscription.updated',
  occurred_at: '2026-11-24T10:00:00Z',
  subscription: {
    id: 'sub_1',
    subject: 'org_42',
    plan: 'pro',
    status: 'active',
    quantity: 5,
    current_period_end: '2026-12-24T10:00:00Z',
    cancel_at_period_end: false,
    cancel_at: null,
    ended_at: null,
    trial_end: null,
  },
};

@ApiTags('ingest')
@Controller('v1/events')
export class EventsController {
  constructor(private readonly ingest: IngestService) {}

  /**
   * Records one subscription event, or an array of up to 1000 (all or nothing). Answers
   * only after the events are committed; a redelivery answers its original position.
   */
  @ApiOperation({ summary: 'Record one billing event or a batch of up to 1000' })
  @Post()
  @HttpCode(200)
  @RequireSignature('ledger', 'events:write')
  @ApiBearerAuth()
  @ApiSecurity('Ledger-Signature')
  @ApiBody({ description: 'one event, or an array of up to 1000', examples: { single: { value: example }, batch: { value: [example] } } })
  @ApiOkResponse({ description: 'committed', schema: { example: { id: 'evt_0001', position: 1234, duplicate: false } } })
  @ApiServiceUnavailableResponse(RETRY_LATER)
  async record(
    @Body() body: unknown,
    @CurrentPrincipal() who: Principal,
  ): Promise<IngestResult | { results: IngestResult[] }> {
    const { events, batch } = this.ingest.parse(body);
    const results = await this.ingest.ingest(events, `${who.kind}:${who.id}`);
    return batch ? { results } : results[0]!;
  }
}
