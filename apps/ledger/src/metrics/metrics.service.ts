import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The service's Prometheus metrics, on a registry of its own (several apps may share a process in tests). */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly ingestEvents = new Counter({
    name: 'ledger_ingest_events_total',
    help: 'Events received for ingest, by source and result (appended, duplicate, rejected).',
    labelNames: ['source', 'result'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'ledger_http_request_duration_seconds',
    help: 'HTTP request latency by route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly groupCommitEvents = new Histogram({
    name: 'ledger_group_commit_events',
    help: 'Events written per group-commit transaction.',
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000],
    registers: [this.registry],
  });

  readonly groupCommitDuration = new Histogram({
    name: 'ledger_group_commit_duration_seconds',
    help: 'Duration of one group-commit transaction.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  readonly groupCommitReplans = new Counter({
    name: 'ledger_group_commit_replans_total',
    help: 'Group commits planned again under the log lock because another appender wrote one of their streams or events first.',
    registers: [this.registry],
  });

  readonly headPosition = new Gauge({
    name: 'ledger_log_head_position',
    help: 'Highest committed log position seen by this instance.',
    registers: [this.registry],
  });

  readonly dbCircuitOpen = new Gauge({
    name: 'ledger_db_circuit_open',
    help: '1 while appends fail fast because PostgreSQL was found unreachable.',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
