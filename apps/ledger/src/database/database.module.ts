import { Global, Inject, Logger, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type pg from 'pg';
import { createPool, endPool, LogNotifier, PostgresEventStore } from '@app/event-store';
import { LEDGER_CONFIG, type LedgerConfig } from '../config/ledger.config.js';
import { HealthRegistry } from '../health/health.registry.js';
import { MetricsService } from '../metrics/metrics.service.js';

export const PG_POOL = Symbol('PG_POOL');
export const DATABASE_URL = Symbol('DATABASE_URL');

@Global()
@Module({
  providers: [
    {
      provide: PG_POOL,
      inject: [LEDGER_CONFIG, DATABASE_URL],
      useFactory: (config: LedgerConfig, url: string): pg.Pool => {
        const logger = new Logger('database');
        return createPool({
          connectionString: url,
          max: config.dbPoolMax,
          statementTimeoutMs: config.dbStatementTimeoutMs,
          applicationName: `entitlement-ledger:${config.role}`,
          onIdleError: (err) => logger.warn(`idle connection lost: ${err.message}`),
        });
      },
    },
    {
      provide: PostgresEventStore,
      inject: [PG_POOL, MetricsService, LEDGER_CONFIG],
      useFactory: (pool: pg.Pool, metrics: MetricsService, config: LedgerConfig): PostgresEventStore => {
        const logger = new Logger('event-store');
        return new PostgresEventStore(pool, {
          maxQueuedEvents: config.maxQueuedEvents,
          observer: {
            groupCommitted: ({ events, durationMs, head, replanned }) => {
              metrics.groupCommitEvents.observe(events);
              if (replanned) metrics.groupCommitReplans.inc();
              metrics.groupCommitDuration.observe(durationMs / 1000);
              metrics.noteHead(head);
            },
            circuitChanged: (state) => {
              metrics.dbCircuitOpen.set(state === 'open' ? 1 : 0);
              if (state === 'open') logger.warn('database unreachable: appends fail fast with 503');
              else if (state === 'closed') logger.log('database reachable again');
            },
          },
        });
      },
    },
    {
      provide: LogNotifier,
      inject: [DATABASE_URL],
      useFactory: (url: string): LogNotifier => {
        const logger = new Logger('log-notifier');
        let lastWarn = 0;
        return new LogNotifier(url, (err) => {
          // One line per 10 s at most while the database is away.
          if (Date.now() - lastWarn > 10_000) {
            lastWarn = Date.now();
            logger.warn(`LISTEN connection: ${(err as Error).message}`);
          }
        });
      },
    },
  ],
  exports: [PG_POOL, PostgresEventStore, LogNotifier],
})
export class DatabaseModule implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(LEDGER_CONFIG) private readonly config: LedgerConfig,
    @Inject(PG_POOL) private readonly pool: pg.Pool,
    private readonly store: PostgresEventStore,
    private readonly notifier: LogNotifier,
    private readonly health: HealthRegistry,
    private readonly metrics: MetricsService,
  ) {}

  async onModuleInit(): Promise<void> {
    // The head gauge starts from the log, not from 0, and an instance that only reads (a
    // worker) follows the notifications.
    this.metrics.noteHead(await this.store.head());
    this.metrics.followHead(() => this.notifier.notifiedHead);
    this.metrics.followAppendQueue(() => this.store.queuedEventCount);
    // Only the projector follows the log, and an api instance runs none: it holds no LISTEN
    // connection, and the server wakes no backend of it for every group committed.
    const follows = this.config.role !== 'api';
    if (follows) await this.notifier.start();
    this.health.register({
      name: 'database',
      class: 'A',
      // Ingest answers 503 (senders retry, nothing acknowledged is lost) and the read path
      // is served from the snapshots held in memory.
      fallback: 'snapshots',
      check: async () => {
        await this.pool.query('SELECT 1');
        return this.store.circuitOpen
          ? { status: 'degraded', detail: 'reachable again; appends resume on the next probe' }
          : { status: 'ok', detail: 'PostgreSQL reachable' };
      },
    });
    if (follows) {
      this.health.register({
        name: 'log-listener',
        class: 'B',
        check: () =>
          Promise.resolve(
            this.notifier.listening
              ? { status: 'ok', detail: 'LISTEN connected' }
              : { status: 'degraded', detail: 'LISTEN disconnected; followers poll' },
          ),
      });
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
    await this.notifier.stop();
    await endPool(this.pool);
  }
}
