import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The service's Prometheus metrics, on a registry of its own (several apps may share a process in tests). */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly ingestEvents = new Counter({
    name: 'ledger_ingest_events_total',
    help: 'Events handed to the log, by source and result: appended, duplicate, or rejected by the store. Requests refused before (credentials, validation, size) are counted by ledger_http_request_duration_seconds with their status.',
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

  /** The highest head this instance has committed or read; see noteHead and followHead. */
  private knownHead = 0;
  private readonly headSources: Array<() => number> = [];

  readonly headPosition = new Gauge({
    name: 'ledger_log_head_position',
    help: 'Highest committed log position seen by this instance (read at start, then from its own commits and the log notifications).',
    registers: [this.registry],
    collect: () => {
      for (const source of this.headSources) this.knownHead = Math.max(this.knownHead, source());
      this.headPosition.set(this.knownHead);
    },
  });

  readonly dbCircuitOpen = new Gauge({
    name: 'ledger_db_circuit_open',
    help: '1 while appends fail fast because PostgreSQL was found unreachable.',
    registers: [this.registry],
  });

  private queueSource: () => number = () => 0;

  readonly appendQueueEvents = new Gauge({
    name: 'ledger_append_queue_events',
    help: 'Events waiting for a group commit; at LEDGER_MAX_QUEUED_EVENTS further appends get a 503.',
    registers: [this.registry],
    collect: () => {
      this.appendQueueEvents.set(this.queueSource());
    },
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Where the append queue's length is read at each scrape. */
  followAppendQueue(source: () => number): void {
    this.queueSource = source;
  }

  /** A head this instance knows of (read at start, or returned by a commit). */
  noteHead(head: number): void {
    if (head > this.knownHead) this.knownHead = head;
  }

  /** A source of the head read at each scrape (e.g. the log notifications' head). */
  followHead(source: () => number): void {
    this.headSources.push(source);
  }
}
