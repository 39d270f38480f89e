/**
 * npm run bench:ingest — ingest throughput and latency beside its ceilings, in one run on one
 * database: the raw `pg` ceiling (one single-row INSERT per transaction; 100-row INSERTs),
 * Emmett's PostgreSQL appendToStream (the peer), Nest + Fastify doing one plain INSERT per request
 * (the framework's own ceiling, a separate process), and the ledger over HTTP (a separate process,
 * loaded by autocannon, LEDGER_ROLE=api): single events at 64 connections, batches of 100,
 * and signed Stripe webhooks, with the share of request time the signature check takes.
 *
 * Env: DATABASE_URL (else an embedded server), BENCH_SECONDS (default 10), BENCH_LEDGER_NODE_ARGS
 * (node options of the ledger process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/p` to profile it), BENCH_LOG_LEVEL
 * (the ledger's LOG_LEVEL: info, the default, debug or trace; the harness waits for the info line
 * "ledger listening").
 */
import autocannon from 'autocannon';
import pg from 'pg';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { benchDatabase, closedLoop, printTable, ratio, writeResults, type Row } from '../support/bench-kit.js';
import { spawnLedgerProcess } from '../../test/support/ledger-process.js';
import { spawnServiceProcess } from '../../test/support/service-process.js';
import { migrate, projectRoot } from '../../libs/event-store/src/index.js';
import { signStripeScheme, verifyStripeScheme } from '../../libs/billing/src/index.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_S = 2;
const SINGLE_CONNECTIONS = 64;
const BATCH_CONNECTIONS = 16;
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

async function rawSingle(url: string, connections: number, seconds: number): Promise<Awaited<ReturnType<typeof closedLoop>>> {
  const pool = new pg.Pool({ connectionString: url, max: connections });
  await pool.query(`CREATE TABLE IF NOT EXISTS raw_events (
    position bigserial PRIMARY KEY, stream_id text NOT NULL, type text NOT NULL, data jsonb NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now())`);
  const r = await closedLoop(connections, seconds, async () => {
    const e = event();
    await pool.query('INSERT INTO raw_events (stream_id, type, data) VALUES ($1, $2, $3)', [
      `subscription:api:${(e.subscription as { id: string }).id}`,
      e.type,
      JSON.stringify(e),
    ]);
  });
  await pool.end();
  return r;
}

async function rawMulti(url: string, connections: number, seconds: number): Promise<Awaited<ReturnType<typeof closedLoop>>> {
  const pool = new pg.Pool({ connectionString: url, max: connections });
  const r = await closedLoop(
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
  );
  await pool.end();
  return r;
}

async function emmett(url: string, connections: number, seconds: number): Promise<Awaited<ReturnType<typeof closedLoop>>> {
  const store = getPostgreSQLEventStore(url, { connectionOptions: { pooled: true } } as never);
  // First append creates Emmett's schema.
  await store.appendToStream('warmup', [{ type: 'SubscriptionUpdated', data: event() }]);
  const r = await closedLoop(connections, seconds, async (w, i) => {
    await store.appendToStream(`subscription-${w}-${i}`, [{ type: 'SubscriptionUpdated', data: event() }]);
  });
  await store.close();
  return r;
}

async function http(
  base: string,
  path: string,
  connections: number,
  seconds: number,
  body: () => unknown,
  weight: number,
  headers: (raw: string) => Record<string, string> = () => ({ authorization: `Bearer ${TOKEN}` }),
): Promise<{ rate: number; p50: number; p99: number; non2xx: number; errors: number }> {
  const result = await autocannon({
    url: `${base}${path}`,
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
  };
}

/** Single events against the plain Nest + Fastify INSERT server (its own process, like the ledger). */
async function plainNest(url: string): ReturnType<typeof http> {
  const server = await spawnServiceProcess({
    name: 'plain-nest',
    main: path.join(projectRoot(), 'dist/bench/ingest/plain-nest.main.js'),
    listeningMsg: 'plain nest listening',
    env: { DATABASE_URL: url, POOL_SIZE: String(SINGLE_CONNECTIONS) },
  });
  try {
    await http(server.url, '/v1/events', SINGLE_CONNECTIONS, WARMUP_S, event, 1);
    return await http(server.url, '/v1/events', SINGLE_CONNECTIONS, SECONDS, event, 1);
  } finally {
    await server.kill('SIGTERM');
  }
}

async function main(): Promise<void> {
  const db = await benchDatabase();
  await migrate({ databaseUrl: db.url });
  process.stdout.write(`ingest benchmark: ${SECONDS}s per scenario after ${WARMUP_S}s warm-up; PostgreSQL ${db.serverVersion}\n`);

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
    await rawSingle(db.url, SINGLE_CONNECTIONS, WARMUP_S);
    const single = await rawSingle(db.url, SINGLE_CONNECTIONS, SECONDS);
    const multi = await rawMulti(db.url, BATCH_CONNECTIONS, SECONDS);
    const peer = await emmett(db.url, SINGLE_CONNECTIONS, SECONDS);
    const plain = await plainNest(db.url);

    await http(ledger.url, '/v1/events', SINGLE_CONNECTIONS, WARMUP_S, event, 1);
    const httpSingle = await http(ledger.url, '/v1/events', SINGLE_CONNECTIONS, SECONDS, event, 1);
    const httpBatch = await http(ledger.url, '/v1/events', BATCH_CONNECTIONS, SECONDS, () => Array.from({ length: BATCH }, event), BATCH);
    const stripeSigned = (raw: string): Record<string, string> => ({
      'stripe-signature': signStripeScheme(raw, STRIPE_SECRET, Math.floor(Date.now() / 1000)),
    });
    const httpStripe = await http(ledger.url, '/v1/webhooks/stripe', SINGLE_CONNECTIONS, SECONDS, stripeEvent, 1, stripeSigned);
    const verifies = verifyRate();
    // Share of the server's time per request spent on the HMAC check (one core serves HTTP).
    const signatureShare = httpStripe.rate / verifies;

    const rows: Row[] = [
      { scenario: `raw pg: 1-row INSERT per tx, ${SINGLE_CONNECTIONS} clients`, rate: single.rate, unit: 'events/s', p50_ms: single.p50, p99_ms: single.p99, note: 'ceiling' },
      { scenario: `raw pg: ${BATCH}-row INSERT per tx, ${BATCH_CONNECTIONS} clients`, rate: multi.rate, unit: 'events/s', p50_ms: multi.p50, p99_ms: multi.p99, note: 'ceiling' },
      { scenario: `emmett appendToStream, ${SINGLE_CONNECTIONS} clients`, rate: peer.rate, unit: 'events/s', p50_ms: peer.p50, p99_ms: peer.p99, note: 'peer' },
      {
        scenario: `Nest + Fastify, one plain INSERT per request, ${SINGLE_CONNECTIONS} conns`,
        rate: plain.rate,
        unit: 'events/s',
        p50_ms: plain.p50,
        p99_ms: plain.p99,
        note: `framework ceiling; ${ratio(plain.rate, single.rate)} raw 1-row`,
      },
      {
        scenario: `ledger HTTP single events, ${SINGLE_CONNECTIONS} conns`,
        rate: httpSingle.rate,
        unit: 'events/s',
        p50_ms: httpSingle.p50,
        p99_ms: httpSingle.p99,
        note: `${ratio(httpSingle.rate, single.rate)} raw 1-row, ${ratio(httpSingle.rate, peer.rate)} emmett, ${ratio(httpSingle.rate, plain.rate)} plain Nest`,
      },
      {
        scenario: `ledger HTTP batches of ${BATCH}, ${BATCH_CONNECTIONS} conns`,
        rate: httpBatch.rate,
        unit: 'events/s',
        p50_ms: httpBatch.p50,
        p99_ms: httpBatch.p99,
        note: `${ratio(httpBatch.rate, multi.rate)} raw ${BATCH}-row`,
      },
      {
        scenario: `ledger HTTP Stripe webhooks (signed), ${SINGLE_CONNECTIONS} conns`,
        rate: httpStripe.rate,
        unit: 'events/s',
        p50_ms: httpStripe.p50,
        p99_ms: httpStripe.p99,
        note: `${ratio(httpStripe.rate, httpSingle.rate)} generic; signature check ${(signatureShare * 100).toFixed(1)}% of request time`,
      },
      { scenario: 'Stripe signature verifications in-process', rate: verifies, unit: 'checks/s', p50_ms: NaN, p99_ms: NaN, note: 'HMAC-SHA256 over the raw body' },
    ];
    printTable('ingest', rows);
    const failures = [plain, httpSingle, httpBatch, httpStripe].reduce((n, r) => n + r.non2xx + r.errors, 0);
    if (failures > 0) process.stdout.write(`\nWARNING: ${failures} HTTP requests failed or were not 2xx\n`);
    const file = await writeResults('ingest', {
      seconds: SECONDS,
      postgres: db.serverVersion,
      rows,
      ratios: {
        http_single_vs_raw_single: httpSingle.rate / single.rate,
        http_single_vs_emmett: httpSingle.rate / peer.rate,
        http_single_vs_plain_nest: httpSingle.rate / plain.rate,
        plain_nest_vs_raw_single: plain.rate / single.rate,
        http_batch_vs_raw_multi: httpBatch.rate / multi.rate,
        stripe_vs_generic: httpStripe.rate / httpSingle.rate,
        signature_share_of_request: signatureShare,
      },
      ledger_role: 'api',
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
