import { Controller, HttpCode, Post, Req } from '@nestjs/common';
import { ApiBody, ApiHeader, ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { RETRY_LATER } from '../http/problem-details.filter.js';
import type { FastifyRequest } from 'fastify';
import { RequireSignature } from '../auth/auth.decorators.js';
import type { IngestResult } from '../ingest/ingest.service.js';
import { WebhookIngestService } from './webhook-ingest.service.js';

type RawRequest = FastifyRequest & { rawBody?: Buffer };

const stripeExample = {
  id: 'evt_1SPa0rLkdIwHu7ixQe7Wm2Lc',
  object: 'event',
  api_version: '2025-03-31.basil',
  created: 1794736804,
  type: 'customer.subscription.updated',
  livemode: false,
  pending_webhooks: 1,
  request: { id: null, idempotency_key: null },
  data: {
    object: {
      id: 'sub_1SKq2dLkdIwHu7ixZrW4hT9m',
      object: 'subscription',
      customer: 'cus_TGq8Zx3mPp1sVw',
      status: 'active',
      cancel_at_period_end: false,
      cancel_at: null,
      ended_at: null,
      trial_end: 1794736800,
      pause_collection: null,
      metadata: { ledger_subject: 'org_42' },
      items: {
        object: 'list',
        data: [
          {
            id: 'si_TGq8a1b2c3d4e5',
            quantity: 5,
            current_period_end: 1797328800,
            price: { id: 'price_1SKpzXLkdIwHu7ixk3Vn8Rqa', lookup_key: 'pro_monthly', product: 'prod_TGq7mN2bV5cX8z' },
          },
        ],
      },
    },
    previous_attributes: { status: 'trialing' },
  },
};

const paddleExample = {
  event_id: 'evt_01jcmq4e6g8j0m2p4r6t8w0y2a',
  event_type: 'subscription.activated',
  occurred_at: '2026-11-15T10:00:03.118204Z',
  notification_id: 'ntf_01jcmq4f7h9k1n3q5s7v9x1z3b',
  data: {
    id: 'sub_01jbz8n1p3r5t7v9x1z3b5d7f9',
    status: 'active',
    customer_id: 'ctm_01jbz8m3k5q7r9t2v4w6x8y0a2',
    custom_data: { ledger_subject: 'org_42' },
    current_billing_period: { starts_at: '2026-11-15T10:00:00.120000Z', ends_at: '2026-12-15T10:00:00.120000Z' },
    scheduled_change: null,
    canceled_at: null,
    items: [
      {
        quantity: 5,
        trial_dates: { starts_at: '2026-11-01T10:00:00.120000Z', ends_at: '2026-11-15T10:00:00.120000Z' },
        price: { id: 'pri_01jbz7c4d6f8g0h2j4k6m8n0p2', product_id: 'pro_01jbz7a1b3c5d7e9f1g3h5j7k9' },
      },
    ],
  },
};

const committed = (id: string) => ({
  description:
    'committed: subscription.* for subscription state, provider_features.updated for Stripe entitlement summaries, ' +
    'webhook.ignored for types the ledger does not use, webhook.unmappable for subscription events it cannot read; ' +
    'a redelivery answers its original position with duplicate: true',
  schema: { example: { id, position: 1234, duplicate: false } },
});

/**
 * Billing providers' webhooks. Each verified delivery becomes exactly one log event, answered
 * only after it is committed; the same event id with another type or data is a 409.
 */
@ApiTags('webhooks')
@Controller('v1/webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhookIngestService) {}

  @ApiOperation({ summary: 'Stripe webhook endpoint' })
  @Post('stripe')
  @HttpCode(200)
  @RequireSignature('stripe')
  @ApiHeader({
    name: 'Stripe-Signature',
    required: true,
    description: 't=<unix s>,v1=<hex HMAC-SHA256 of t + "." + raw body>[,v1=…] under any STRIPE_WEBHOOK_SECRETS; only v1 counts',
  })
  @ApiBody({ description: 'a Stripe event, exactly as Stripe sent it', examples: { subscription: { value: stripeExample } } })
  @ApiOkResponse(committed(stripeExample.id))
  @ApiUnauthorizedResponse({ description: 'missing, invalid or stale Stripe-Signature (problem+json)' })
  @ApiServiceUnavailableResponse(RETRY_LATER)
  stripe(@Req() req: RawRequest): Promise<IngestResult> {
    return this.webhooks.record('stripe', req.rawBody, req.body);
  }

  @ApiOperation({ summary: 'Paddle Billing webhook endpoint' })
  @Post('paddle')
  @HttpCode(200)
  @RequireSignature('paddle')
  @ApiHeader({
    name: 'Paddle-Signature',
    required: true,
    description: 'ts=<unix s>;h1=<hex HMAC-SHA256 of ts + ":" + raw body>[;h1=…] under any PADDLE_WEBHOOK_SECRETS',
  })
  @ApiBody({ description: 'a Paddle Billing notification, exactly as Paddle sent it', examples: { subscription: { value: paddleExample } } })
  @ApiOkResponse(committed(paddleExample.event_id))
  @ApiUnauthorizedResponse({ description: 'missing, invalid or stale Paddle-Signature (problem+json)' })
  @ApiServiceUnavailableResponse(RETRY_LATER)
  paddle(@Req() req: RawRequest): Promise<IngestResult> {
    return this.webhooks.record('paddle', req.rawBody, req.body);
  }
}
