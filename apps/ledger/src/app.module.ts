import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import type { Logger as PinoLogger } from 'pino';
import { AdminEvents } from './admin/admin-events.js';
import { AdminJobsController, AdminReplayController } from './admin/admin.controllers.js';
import { RebuildJobsService } from './admin/rebuild-jobs.service.js';
import { ReplayService } from './admin/replay.service.js';
import { ScopesGuard } from './auth/scopes.guard.js';
import { SignatureVerifier } from './auth/signature.verifier.js';
import { TokenService } from './auth/token.service.js';
import { TokensController } from './auth/tokens.controller.js';
import { LEDGER_CONFIG, type LedgerConfig } from './config/ledger.config.js';
import { DATABASE_URL, DatabaseModule } from './database/database.module.js';
import { HealthController } from './health/health.controller.js';
import { HealthRegistry } from './health/health.registry.js';
import { ProblemDetailsFilter } from './http/problem-details.filter.js';
import { EventsController } from './ingest/events.controller.js';
import { IngestService } from './ingest/ingest.service.js';
import { MetricsController } from './metrics/metrics.controller.js';
import { MetricsService } from './metrics/metrics.service.js';
import { WebhooksModule } from './webhooks/webhooks.module.js';
import { EntitlementsModule } from './entitlements/entitlements.module.js';
import { SnapshotsModule } from './snapshots/snapshots.module.js';

export interface AppModuleOptions {
  readonly config: LedgerConfig;
  /** The effective connection string (the embedded server's when DATABASE_URL is unset). */
  readonly databaseUrl: string;
  readonly logger: PinoLogger;
}

@Module({})
export class AppModule {
  static forRoot(options: AppModuleOptions): DynamicModule {
    return {
      module: AppModule,
      global: true,
      imports: [
        // Nest's own logs and `new Logger(…)` go to the one pino logger. No per-request middleware
        // (forRoutes: []): access lines carry reqId from Fastify's hooks, and the middleware's
        // AsyncLocalStorage and Nest's middleware layer would cost every request CPU for nothing.
        LoggerModule.forRoot({ pinoHttp: { logger: options.logger, autoLogging: false }, useExisting: true, forRoutes: [] }),
        DatabaseModule,
        EntitlementsModule,
        SnapshotsModule,
        WebhooksModule,
      ],
      controllers: [EventsController, TokensController, HealthController, MetricsController, AdminJobsController, AdminReplayController],
      providers: [
        { provide: LEDGER_CONFIG, useValue: options.config },
        { provide: DATABASE_URL, useValue: options.databaseUrl },
        MetricsService,
        HealthRegistry,
        TokenService,
        SignatureVerifier,
        IngestService,
        AdminEvents,
        RebuildJobsService,
        ReplayService,
        { provide: APP_GUARD, useClass: ScopesGuard },
        { provide: APP_FILTER, useFactory: () => new ProblemDetailsFilter(options.config.maxBody) },
      ],
      exports: [LEDGER_CONFIG, DATABASE_URL, MetricsService, HealthRegistry, IngestService, AdminEvents],
    };
  }
}
