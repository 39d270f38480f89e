/**
 * npm run bench:ingest — ingest throughput and latency beside its ceilings, in one run on one
 * database: the raw `pg` ceiling (one single-row INSERT per transaction; 100-row INSERTs),
 * Emmett's PostgreSQL appendToStream (the peer), Nest + Fastify doing one plain INSERT per request
 * (the framework's own ceiling, a separate process), and the ledger over HTTP (a separate process,
 * loaded by autocannon, LEDGER_ROLE=api): single events at 64 connections, batches of 100 at 16
 * and at 64 (each against the raw 100-row INSERT at the same number of clients),
 * and signed Stripe webhooks, with the share of request time the signature check takes. Beside
 * each rate: the CPU per event of the service process, of this harness (the load generator, or
 * the client of the raw and Emmett scenarios) and of the PostgreSQL server (when it runs on this
 * machine), which show where the time goes when the machine's speed drifts; and the share of the
 * machine's CPU that was idle and that the hypervisor stole (a VM slowed by its neighbours shows it).
 *
 * The scenarios run in BENCH_ROUNDS rounds (default 3), each round all of them back to back, so
 * every ratio is taken between figures measured a minute apart at most; the table gives each
 * scenario's median round and each ratio's median over the rounds (these VMs change speed
 * within minutes), and the JSON file every round.
 *
 * The log grows through the run (several million events by the last round), and the server's
 * cost per append grows with it; the events it held as each ledger scenario started are printed
 * under the table and kept in the JSON file.
 *
 * Every measured scenario starts after a CHECKPOINT (see bench-kit's checkpoint), where the role
 * may run one and BENCH_CHECKPOINT is not 0.
 *
 * Env: DATABASE_URL (else an embedded server), BENCH_DB_LOCALE (the benchmark database's locale,
 * e.g. en_US.UTF-8; default the server's), BENCH_SECONDS (default 10), BENCH_ROUNDS (default 3), BENCH_LEDGER_NODE_ARGS
 * (node options of the ledger process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/p` to profile it), BENCH_LOG_LEVEL
 * (the ledger's LOG_LEVEL: info, the default, debug or trace; the harness waits for the info line
 * "ledger listening").
 */
import autocannon from 'autocannon';
import pg from 'pg';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { benchDatabase, checkpoint, closedLoop, localServerPid, percentile, printTable, startCpuMeter, writeResults, type CpuPerItem, type Row } from '../support/bench-kit.js';
import { spawnLedgerProcess } from '../../test/support/ledger-process.js';
import { spawnServiceProcess, type ServiceProcess } from '../../test/support/service-process.js';
import { migrate, projectRoot } from '../../libs/event-store/src/index.js';
import { signStripeScheme, verifyStripeScheme } from '../../libs/billing/src/index.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const WARMUP_S = 2;
const SINGLE_CONNECTIONS = 64;
/** Batches at a few and at many clients: the raw ceiling peaks at few, the serialised log gains from bigger groups at many. */
const BATCH_CONNECTIONS = [16, 64] as const;
const BATCH = 100;
const TOKEN = 'bench-ingest-token-0123456789abcdef';
const STRIPE_SECRET = 'whsec_bench_0123456789abcdef';
const stripeTemplate = JSON.parse(readFileSync(`${projectRoot()}/test/fixtures/stripe/lifecycle-2-active.json`, 'utf8'));
const stripeEvent = (): Record<string, unknown> => {
  seq += 1;
  const e = structuredClone(stripeTemplate);
  e.id = `evt_bench_${process.pid}_${seq}`;
  e.data.object.id = `sub_bench_${seq % 50_000}`;
  e.created = Math.floor(Date.now() / 1000);
  return e;
};

/** Signature verifications per second in this process (the check the webhook path adds). */
function verifyRate(): number {
  const raw = Buffer.from(JSON.stringify(stripeEvent()));
  const now = new Date();
  const header = signStripeScheme(raw, STRIPE_SECRET, Math.floor(now.getTime() / 1000));
  const n = 50_000;
  const t = performance.now();
  for (let i = 0; i < n; i++) verifyStripeScheme(raw, header, { secrets: [STRIPE_SECRET], now });
  return n / ((performance.now() - t) / 1000);
}

let seq = 0;
/** The PostgreSQL server's main process when it runs on this machine (its CPU is then reported). */
let serverPid: number | null = null;
type Loop = Awaited<ReturnType<typeof closedLoop>> & { cpu: CpuPerItem };
/** A closed loop with the CPU per event it cost the harness and the server. */
async function metered(run: () => ReturnType<typeof closedLoop>): Promise<Loop> {
  const meter = startCpuMeter(null, serverPid);
  const r = await run();
  return { ...r, cpu: meter.stop(r.count) };
}

const subscription = (n: number): Record<string, unknown> => ({
  id: `sub_${n % 50_000}`,
  subject: `org_${n % 50_000}`,
  plan: 'pro',
  status: 'active',
  quantity: 5,
  current_period_end: '2026-12-24T10:00:00Z',
  cancel_at_period_end: false,
  cancel_at: null,
  ended_at: null,
  trial_end: null,
});
const event = (): Record<string, unknown> => {
  seq += 1;
  return { id: `evt_${process.pid}_${seq}`, type: 'subscription.updated', occurred_at: '2026-11-24T10:00:00Z', subscription: subscription(seq) };
};

async function rawSingle(url: string, connections: number, seconds: number): Promise<Loop> {
  const pool = new pg.Pool({ connectionString: url, max: connections });
  await pool.query(`CREATE TABLE IF NOT EXISTS raw_events (
    position bigserial PRIMARY KEY, stream_id text NOT NULL, type text NOT NULL, data jsonb NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now())`);
  const r = await metered(() => closedLoop(connections, seconds, async () => {
    const e = event();
    await pool.query('INSERT INTO raw_events (stream_id, type, data) VALUES ($1, $2, $3)', [
      `subscription:api:${(e.subscription as { id: string }).id}`,
      e.type,
      JSON.stringify(e),
    ]);
  }));
  await pool.end();
  return r;
}

async function rawMulti(url: string, connections: number, seconds: number): Promise<Loop> {
  const pool = new pg.Pool({ connectionString: url, max: connections });
  const r = await metered(() => closedLoop(
    connections,
    seconds,
    async () => {
      const events = Array.from({ length: BATCH }, event);
      await pool.query(
        'INSERT INTO raw_events (stream_id, type, data) SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[])',
        [
          events.map((e) => `subscription:api:${(e.subscription as { id: string }).id}`),
          events.map((e) => e.type),
          events.map((e) => JSON.stringify(e)),
        ],
      );
    },
    BATCH,
  ));
  await pool.end();
  return r;
}

async function emmett(url: string, connections: number, seconds: number): Promise<Loop> {
  const store = getPostgreSQLEventStore(url, { connectionOptions: { pooled: true } } as never);
  // First append creates Emmett's schema.
  await store.appendToStream('warmup', [{ type: 'SubscriptionUpdated', data: event() }]);
  const r = await metered(() => closedLoop(connections, seconds, async (w, i) => {
    await store.appendToStream(`subscription-${w}-${i}`, [{ type: 'SubscriptionUpdated', data: event() }]);
  }));
  await store.close();
  return r;
}

async function http(
  service: ServiceProcess,
  path: string,
  connections: number,
  seconds: number,
  body: () => unknown,
  weight: number,
  headers: (raw: string) => Record<string, string> = () => ({ authorization: `Bearer ${TOKEN}` }),
): Promise<{ rate: number; p50: number; p99: number; non2xx: number; errors: number; cpu: CpuPerItem }> {
  const meter = startCpuMeter(service.child.pid, serverPid);
  const result = await autocannon({
    url: `${service.url}${path}`,
    connections,
    duration: seconds,
    method: 'POST',
    requests: [
      {
        setupRequest: (req) => {
          const raw = JSON.stringify(body());
          return { ...req, body: raw, headers: { 'content-type': 'application/json', ...headers(raw) } };
        },
      },
    ],
  });
  return {
    rate: (result.requests.total * weight) / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    cpu: meter.stop(result.requests.total * weight),
  };
}

/**
 * Single events against the plain Nest + Fastify INSERT server, its own process like the ledger;
 * started for the measurement and stopped after it, so its pool does not hold connections the
 * other scenarios need (the server's max_connections).
 */
async function plainNest(url: string): ReturnType<typeof http> {
  const server = await spawnServiceProcess({
    name: 'plain-nest',
    main: path.join(projectRoot(), 'dist/bench/ingest/plain-nest.main.js'),
    listeningMsg: 'plain nest listening',
    env: { DATABASE_URL: url, POOL_SIZE: String(SINGLE_CONNECTIONS) },
  });
  try {
    await http(server, '/v1/events', SINGLE_CONNECTIONS, WARMUP_S, event, 1);
    return await http(server, '/v1/events', SINGLE_CONNECTIONS, SECONDS, event, 1);
  } finally {
    await server.kill('SIGTERM');
  }
}

/** `log`: events in the ledger's log when the scenario started (the append cost grows with it). */
type Measured = { rate: number; p50: number; p99: number; non2xx?: number; errors?: number; cpu?: CpuPerItem; log?: number };

/** Runs a ledger scenario, noting how many events the log held when it started. */
async function onLog(url: string, run: () => Promise<Measured>): Promise<Measured> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ position: string }>('SELECT position FROM log_head');
    return { ...(await run()), log: Number(rows[0]!.position) };
  } finally {
    await client.end();
  }
}

interface Round {
  readonly single: Measured;
  /** By connections: BATCH_CONNECTIONS[i]. */
  readonly multi: Measured[];
  readonly peer: Measured;
  readonly plain: Measured;
  readonly httpSingle: Measured;
  readonly httpBatch: Measured[];
  readonly httpStripe: Measured;
}

const median = (xs: readonly number[]): number => percentile([...xs].sort((a, b) => a - b), 50);

/** The round whose rate is the median one, for the table's rate and latency columns. */
const medianRound = (ms: readonly Measured[]): Measured => {
  const sorted = [...ms].sort((a, b) => a.rate - b.rate);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
};

async function main(): Promise<void> {
  const db = await benchDatabase();
  await migrate({ databaseUrl: db.url });
  serverPid = await localServerPid(db.url);
  process.stdout.write(`ingest benchmark: ${SECONDS}s per scenario after ${WARMUP_S}s warm-up; PostgreSQL ${db.serverVersion}, database collation ${db.collation}\n`);

  const ledger = await spawnLedgerProcess({
    DATABASE_URL: db.url,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    // The ingest path alone: the projector and publisher run on worker instances.
    LEDGER_ROLE: 'api',
    LEDGER_ADMIN_TOKEN: 'bench-admin-token-0123456789abcdef',
    LEDGER_INGEST_TOKEN: TOKEN,
    STRIPE_WEBHOOK_SECRETS: STRIPE_SECRET,
    LEDGER_PLANS: `${projectRoot()}/plans.json`,
  }, (process.env.BENCH_LEDGER_NODE_ARGS ?? '').split(' ').filter(Boolean));
  try {
    const stripeSigned = (raw: string): Record<string, string> => ({
      'stripe-signature': signStripeScheme(raw, STRIPE_SECRET, Math.floor(Date.now() / 1000)),
    });
    // Every scenario once before the rounds (plain Nest warms up in plainNest), so the first
    // round does not measure a JIT or a heap still growing into a load it has not seen.
    const batchOf = (): unknown => Array.from({ length: BATCH }, event);
    await rawSingle(db.url, SINGLE_CONNECTIONS, WARMUP_S);
    await http(ledger, '/v1/events', SINGLE_CONNECTIONS, WARMUP_S, event, 1);
    await emmett(db.url, SINGLE_CONNECTIONS, WARMUP_S);
    for (const c of BATCH_CONNECTIONS) {
      await rawMulti(db.url, c, WARMUP_S);
      await http(ledger, '/v1/events', c, WARMUP_S, batchOf, BATCH);
    }
    await http(ledger, '/v1/webhooks/stripe', SINGLE_CONNECTIONS, WARMUP_S, stripeEvent, 1, stripeSigned);

    // See the header: a CHECKPOINT before every measured scenario.
    const checkpoints = process.env.BENCH_CHECKPOINT !== '0' && (await checkpoint(db.url));
    const settled = async <T>(run: () => Promise<T>): Promise<T> => {
      if (checkpoints) await checkpoint(db.url);
      return run();
    };
    const rounds: Round[] = [];
    for (let r = 1; r <= ROUNDS; r++) {
      process.stdout.write(`round ${r} of ${ROUNDS}…\n`);
      // Each ceiling right before the ledger figure it is compared to.
      const single = await settled(() => rawSingle(db.url, SINGLE_CONNECTIONS, SECONDS));
      const httpSingle = await settled(() => onLog(db.url, () => http(ledger, '/v1/events', SINGLE_CONNECTIONS, SECONDS, event, 1)));
      const peer = await settled(() => emmett(db.url, SINGLE_CONNECTIONS, SECONDS));
      const plain = await settled(() => plainNest(db.url));
      const multi: Measured[] = [];
      const httpBatch: Measured[] = [];
      for (const c of BATCH_CONNECTIONS) {
        multi.push(await settled(() => rawMulti(db.url, c, SECONDS)));
        httpBatch.push(await settled(() => onLog(db.url, () => http(ledger, '/v1/events', c, SECONDS, batchOf, BATCH))));
      }
      const httpStripe = await settled(() => http(ledger, '/v1/webhooks/stripe', SINGLE_CONNECTIONS, SECONDS, stripeEvent, 1, stripeSigned));
      rounds.push({ single, multi, peer, plain, httpSingle, httpBatch, httpStripe });
    }
    const verifies = verifyRate();

    const pick = (f: (r: Round) => Measured): Measured => medianRound(rounds.map(f));
    const ratioOf = (a: (r: Round) => Measured, b: (r: Round) => Measured): number => median(rounds.map((r) => a(r).rate / b(r).rate));
    const x = (n: number): string => `${n.toFixed(2)}×`;
    /** By connections, as BATCH_CONNECTIONS. */
    const batchRatios = BATCH_CONNECTIONS.map((_c, i) => ratioOf((r) => r.httpBatch[i]!, (r) => r.multi[i]!));
    const ratios = {
      http_single_vs_raw_single: ratioOf((r) => r.httpSingle, (r) => r.single),
      http_single_vs_emmett: ratioOf((r) => r.httpSingle, (r) => r.peer),
      http_single_vs_plain_nest: ratioOf((r) => r.httpSingle, (r) => r.plain),
      plain_nest_vs_raw_single: ratioOf((r) => r.plain, (r) => r.single),
      ...Object.fromEntries(BATCH_CONNECTIONS.map((c, i) => [`http_batch_vs_raw_multi_${c}`, batchRatios[i]!])),
      stripe_vs_generic: ratioOf((r) => r.httpStripe, (r) => r.httpSingle),
      // Share of the server's time per request spent on the HMAC check (one core serves HTTP).
      signature_share_of_request: pick((r) => r.httpStripe).rate / verifies,
    };
    const row = (scenario: string, m: Measured, note: string): Row => ({ scenario, rate: m.rate, unit: 'events/s', p50_ms: m.p50, p99_ms: m.p99, note, ...(m.cpu ? { cpu_us: m.cpu } : {}) });
    const rows: Row[] = [
      row(`raw pg: 1-row INSERT per tx, ${SINGLE_CONNECTIONS} clients`, pick((r) => r.single), 'ceiling'),
      ...BATCH_CONNECTIONS.map((c, i) => row(`raw pg: ${BATCH}-row INSERT per tx, ${c} clients`, pick((r) => r.multi[i]!), 'ceiling')),
      row(`emmett appendToStream, ${SINGLE_CONNECTIONS} clients`, pick((r) => r.peer), 'peer'),
      row(
        `Nest + Fastify, one plain INSERT per request, ${SINGLE_CONNECTIONS} conns`,
        pick((r) => r.plain),
        `framework ceiling; ${x(ratios.plain_nest_vs_raw_single)} raw 1-row`,
      ),
      row(
        `ledger HTTP single events, ${SINGLE_CONNECTIONS} conns`,
        pick((r) => r.httpSingle),
        `${x(ratios.http_single_vs_raw_single)} raw 1-row, ${x(ratios.http_single_vs_emmett)} emmett, ${x(ratios.http_single_vs_plain_nest)} plain Nest`,
      ),
      ...BATCH_CONNECTIONS.map((c, i) =>
        row(`ledger HTTP batches of ${BATCH}, ${c} conns`, pick((r) => r.httpBatch[i]!), `${x(batchRatios[i]!)} raw ${BATCH}-row at ${c}`),
      ),
      row(
        `ledger HTTP Stripe webhooks (signed), ${SINGLE_CONNECTIONS} conns`,
        pick((r) => r.httpStripe),
        `${x(ratios.stripe_vs_generic)} generic; signature check ${(ratios.signature_share_of_request * 100).toFixed(1)}% of request time`,
      ),
      { scenario: 'Stripe signature verifications in-process', rate: verifies, unit: 'checks/s', p50_ms: NaN, p99_ms: NaN, note: 'HMAC-SHA256 over the raw body' },
    ];
    printTable(`ingest (median of ${ROUNDS} rounds; each ratio the median of its per-round ratios)`, rows);
    process.stdout.write(checkpoints ? 'each scenario started after a CHECKPOINT\n' : 'no CHECKPOINT between scenarios (BENCH_CHECKPOINT=0, or the role may not run one): each may write back the pages of the one before\n');
    const perRound = (name: string, f: (r: Round) => Measured): string => `${name}: ${rounds.map((r) => Math.round(f(r).rate).toLocaleString('en-US')).join(' / ')}`;
    process.stdout.write(
      `\nper round (events/s): ${[
        perRound('raw 1-row', (r) => r.single),
        perRound('ledger single', (r) => r.httpSingle),
        ...BATCH_CONNECTIONS.flatMap((c, i) => [
          perRound(`raw 100-row at ${c}`, (r) => r.multi[i]!),
          perRound(`ledger batches at ${c}`, (r) => r.httpBatch[i]!),
        ]),
      ].join('; ')}\n`,
    );
    const logAt = (name: string, f: (r: Round) => Measured): string => `${name}: ${rounds.map((r) => (f(r).log ?? 0).toLocaleString('en-US')).join(' / ')}`;
    process.stdout.write(
      `events in the log as each ledger scenario started: ${[
        logAt('single', (r) => r.httpSingle),
        ...BATCH_CONNECTIONS.map((c, i) => logAt(`batches at ${c}`, (r) => r.httpBatch[i]!)),
      ].join('; ')}\n`,
    );
    const failures = rounds.reduce(
      (n, r) => n + [r.plain, r.httpSingle, ...r.httpBatch, r.httpStripe].reduce((k, m) => k + (m.non2xx ?? 0) + (m.errors ?? 0), 0),
      0,
    );
    if (failures > 0) process.stdout.write(`\nWARNING: ${failures} HTTP requests failed or were not 2xx\n`);
    const file = await writeResults('ingest', {
      seconds: SECONDS,
      rounds_run: ROUNDS,
      postgres: db.serverVersion,
      collation: db.collation,
      rows,
      ratios,
      rounds,
      ledger_role: 'api',
      checkpoint_before_each_scenario: checkpoints,
      http_failures: failures,
    });
    process.stdout.write(`\nresults: ${file}\n`);
  } finally {
    await ledger.kill('SIGTERM');
    await db.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
