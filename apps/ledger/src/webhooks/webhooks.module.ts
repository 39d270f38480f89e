import { Module } from '@nestjs/common';
import { WebhookIngestService } from './webhook-ingest.service.js';
import { WebhooksController } from './webhooks.controller.js';

/**
 * Stripe and Paddle webhook endpoints. Uses the globals AppModule and DatabaseModule export
 * (PostgresEventStore, MetricsService); the signature check is the app's guard.
 */
@Module({
  controllers: [WebhooksController],
  providers: [WebhookIngestService],
})
export class WebhooksModule {}
