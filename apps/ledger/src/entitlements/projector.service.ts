import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type pg from 'pg';
import { Gauge, Counter } from 'prom-client';
import type { EntitlementPolicy } from '@app/domain';
import { LogNotifier } from '@app/event-store';
import { EntitlementProjection, Projector } from '@app/projections';
import { LEDGER_CONFIG, type LedgerConfig } from '../config/ledger.config.js';
import { DATABASE_URL, PG_POOL } from '../database/database.module.js';
import { HealthRegistry } from '../health/health.registry.js';
import { MetricsService } from '../metrics/metrics.service.js';

export const ENTITLEMENT_POLICY = Symbol('ENTITLEMENT_POLICY');
export const ENTITLEMENTS_PROJECTION = 'entitlements';

/** A projection this far behind, without moving for this long, is reported stalled. */
const STALL_S = 30;
const UNKNOWN_COUNT_MS = 60_000;

/**
 * Runs the entitlement projector on `worker` and `all` instances. Across instances one leads
 * (advisory lock) and the others stand by. Its lag is a metric and a class B health component
 * on every instance, whatever its role.
 */
@Injectable()
export class ProjectorService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('projector');
  private projector: Projector | null = null;
  private readonly lag: Gauge;
  private readonly leader: Gauge;
  private readonly projected: Counter;
  private readonly unknownPlans: Gauge;
  private unknownCountedAt = 0;

  constructor(
    @Inject(LEDGER_CONFIG) private readonly config: LedgerConfig,
    @Inject(DATABASE_URL) private readonly url: string,
    @Inject(PG_POOL) private readonly pool: pg.Pool,
    @Inject(ENTITLEMENT_POLICY) private readonly policy: EntitlementPolicy,
    private readonly notifier: LogNotifier,
    private readonly health: HealthRegistry,
    metrics: MetricsService,
  ) {
    const registers = [metrics.registry];
    this.lag = new Gauge({ name: 'ledger_projection_lag_events', help: 'Log head minus the projection checkpoint.', labelNames: ['projection'], registers });
    this.leader = new Gauge({ name: 'ledger_projector_leader', help: '1 while this instance runs the projection.', labelNames: ['projection'], registers });
    this.projected = new Counter({ name: 'ledger_projected_events_total', help: 'Events applied by this instance.', labelNames: ['projection'], registers });
    this.unknownPlans = new Gauge({ name: 'ledger_unknown_plan_subjects', help: 'Subjects with a subscription whose plan the catalog does not know (they are granted nothing for it).', registers });
  }

  get isLeader(): boolean {
    return this.projector?.isLeader ?? false;
  }

  onApplicationBootstrap(): void {
    this.health.register({ name: 'projector', class: 'B', check: () => this.check() });
    if (this.config.role === 'api') return;
    void this.warnWithoutAutovacuum();
    const labels = { projection: ENTITLEMENTS_PROJECTION };
    const projection = new EntitlementProjection(this.policy);
    this.projector = new Projector({
      name: ENTITLEMENTS_PROJECTION,
      connectionString: this.url,
      notifier: this.notifier,
      handler: {
        // Unknown plans grant nothing; they are reported here, in the metric and in history.
        apply: async (db, events) => {
          const result = await projection.apply(db, events);
          for (const u of result.unknownPlans) {
            this.logger.warn(`subject ${u.subject}: plan ${u.plans.map((p) => p ?? '(unresolved price)').join(', ')} is not in the catalog; it grants nothing`);
          }
          return result;
        },
      },
      batchSize: 1_000,
      observer: {
        leadershipChanged: (leader) => {
          this.leader.set(labels, leader ? 1 : 0);
          this.logger.log(leader ? 'leading the entitlement projection' : 'standing by');
        },
        batchApplied: ({ events }) => this.projected.inc(labels, events),
        error: (err) => this.logger.warn(`projector: ${(err as Error).message}`),
      },
    });
    this.projector.start();
  }

  /**
   * The read model is rewritten row by row as events arrive: without autovacuum its tables
   * bloat and keep no planner statistics, and the projector's lookups turn into table scans.
   */
  private async warnWithoutAutovacuum(): Promise<void> {
    try {
      const { rows } = await this.pool.query<{ on: boolean }>("SELECT current_setting('autovacuum')::boolean AS on");
      if (rows[0]?.on === false) {
        this.logger.warn('autovacuum is off on this PostgreSQL server: ent_* tables will bloat and lose their statistics, and the projector will slow down; turn it on (or VACUUM ANALYZE them on a schedule)');
      }
    } catch {
      // Only advice: the database may not be up yet.
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.projector?.stop();
  }

  private async check(): Promise<{ status: 'ok' | 'degraded' | 'down'; detail: string }> {
    const { rows } = await this.pool.query<{ head: string; position: string | null; idle_s: number | null }>(
      `SELECT (SELECT position FROM log_head) AS head, c.position,
              extract(epoch FROM now() - c.updated_at)::float8 AS idle_s
         FROM (SELECT 1) one LEFT JOIN projection_checkpoints c ON c.name = $1`,
      [ENTITLEMENTS_PROJECTION],
    );
    const r = rows[0]!;
    if (Date.now() - this.unknownCountedAt > UNKNOWN_COUNT_MS) {
      // A full count: at most once a minute, whoever probes readiness.
      this.unknownCountedAt = Date.now();
      const unknown = await this.pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM ent_subjects WHERE jsonb_array_length(sources->'unknown_plans') > 0",
      );
      this.unknownPlans.set(unknown.rows[0]?.n ?? 0);
    }
    const lag = Number(r.head) - Number(r.position ?? 0);
    this.lag.set({ projection: ENTITLEMENTS_PROJECTION }, lag);
    const role = this.config.role === 'api' ? 'api instance' : this.isLeader ? 'leader' : 'standby';
    const stalled = lag > 0 && (r.idle_s === null || r.idle_s > STALL_S);
    return {
      status: stalled ? 'degraded' : 'ok',
      detail: `${role}; lag ${lag} events${stalled ? `, no progress for ${STALL_S}+ s` : ''}`,
    };
  }
}
