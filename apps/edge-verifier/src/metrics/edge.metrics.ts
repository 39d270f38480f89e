import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Decision, Verifier } from '@app/verifier';

type CheckCounter = ReturnType<Counter<'source' | 'allowed'>['labels']>;

/**
 * The edge verifier's Prometheus metrics. Decisions are counted through label children bound
 * once (the check path does no label lookup); held seq/ver/age are read from the verifier at
 * scrape time.
 */
export class EdgeMetrics {
  readonly registry = new Registry();
  private readonly checks: Counter<'source' | 'allowed'>;
  private readonly checkChildren = new Map<string, CheckCounter>();
  private readonly badRequests: Counter<'reason'>;

  constructor(verifier: Verifier, options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.checks = new Counter({ name: 'edge_verifier_checks_total', help: 'Decisions answered, by source and outcome.', labelNames: ['source', 'allowed'], registers });
    for (const source of ['fresh', 'stale', 'token', 'none']) {
      for (const allowed of ['true', 'false']) this.checkChildren.set(`${source}:${allowed}`, this.checks.labels(source, allowed));
    }
    this.badRequests = new Counter({ name: 'edge_verifier_requests_refused_total', help: 'Check requests refused before deciding (400, 401).', labelNames: ['reason'], registers });
    const syncs = new Counter({ name: 'edge_verifier_syncs_total', help: 'Manifests accepted or confirmed unchanged, by transport.', labelNames: ['via', 'changed'], registers });
    const fetched = new Counter({ name: 'edge_verifier_shards_fetched_total', help: 'Shards fetched and verified.', registers });
    const rejects = new Counter({ name: 'edge_verifier_snapshot_rejects_total', help: 'Manifests, shards or cached state rejected (the held state was kept), by reason.', labelNames: ['reason'], registers });
    const unreachable = new Counter({ name: 'edge_verifier_ledger_unreachable_total', help: 'Ledger calls that failed after retries, by error code.', labelNames: ['code'], registers });
    const transitions = new Counter({ name: 'edge_verifier_state_transitions_total', help: 'Held snapshot state changes (empty, fresh, stale, expired).', labelNames: ['from', 'to'], registers });
    for (const reason of ['rollback', 'unknown_key', 'signature_invalid', 'shard_hash_mismatch', 'manifest_from_future', 'manifest_too_large']) rejects.labels(reason);
    verifier.on('sync', (e) => {
      syncs.inc({ via: e.via, changed: String(e.changed) });
      if (e.fetchedShards > 0) fetched.inc(e.fetchedShards);
    });
    verifier.on('reject', (e) => rejects.inc({ reason: e.reason }));
    verifier.on('unreachable', (e) => unreachable.inc({ code: e.error.code }));
    verifier.on('state', (e) => transitions.inc({ from: e.from, to: e.to }));

    const held = (pick: (s: ReturnType<Verifier['state']>) => number | null) =>
      function (this: Gauge) {
        const v = pick(verifier.state());
        if (v === null) this.reset();
        else this.set(v);
      };
    new Gauge({ name: 'edge_verifier_held_seq', help: 'seq of the held manifest (absent without one).', registers, collect: held((s) => s.seq) });
    new Gauge({ name: 'edge_verifier_held_ver', help: 'Ledger position of the held manifest.', registers, collect: held((s) => s.ver) });
    new Gauge({ name: 'edge_verifier_held_age_seconds', help: 'Seconds since the held manifest was signed (iat).', registers, collect: held((s) => s.age_s) });
    new Gauge({ name: 'edge_verifier_held_stale_seconds', help: 'Seconds the held manifest is past its exp (0 while fresh).', registers, collect: held((s) => s.stale_for_s) });
    new Gauge({
      name: 'edge_verifier_state',
      help: 'Held snapshot state: 1 for the current one of empty, fresh, stale, expired.',
      labelNames: ['state'],
      registers,
      collect(this: Gauge<'state'>) {
        const now = verifier.state().status;
        for (const s of ['empty', 'fresh', 'stale', 'expired']) this.set({ state: s }, s === now ? 1 : 0);
      },
    });
  }

  decided(d: Decision): void {
    this.checkChildren.get(`${d.source}:${d.allowed}`)?.inc();
  }

  refused(reason: 'invalid_request' | 'unknown_api_key'): void {
    this.badRequests.inc({ reason });
  }
}
