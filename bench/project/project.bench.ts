/**
 * npm run bench:project — the entitlement projection over a generated log of 1,000,000
 * events across 100,000 subjects, beside the raw ceiling of reading the same events with a
 * plain `pg` cursor in the same run: live projector catch-up, rebuild from zero into fresh
 * tables, `?at=` time-travel latency; then through the service (the built ledger as its own
 * process): live lag (commit → projected) under a steady load, and a blue/green rebuild
 * through the admin API with readers running, their p99 beside the p99 without it.
 *
 * Env: DATABASE_URL (else embedded), BENCH_EVENTS (1000000), BENCH_SUBJECTS (100000),
 * BENCH_STEADY_RATE (events/s for the lag run; default: the HTTP single-event rate of the newest
 * `npm run bench:ingest` result on this checkout, else 2000), BENCH_STEADY_S (15),
 * BENCH_LEDGER_NODE_ARGS (node options of the ledger process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { readCatalogFile } from '../../apps/ledger/src/entitlements/catalog.service.js';
import {
  createPool,
  LogNotifier,
  migrate,
  PostgresEventStore,
  projectRoot,
  type NewEvent,
} from '../../libs/event-store/src/index.js';
import {
  EntitlementProjection,
  EntitlementReader,
  Projector,
  createTablesLike,
  entitlementTables,
} from '../../libs/projections/src/index.js';
import { spawnLedgerProcess } from '../../test/support/ledger-process.js';
import { benchDatabase, latestResults, percentile, printTable, writeResults, type Row } from '../support/bench-kit.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const SUBJECTS = Number(process.env.BENCH_SUBJECTS ?? 100_000);
const STEADY_S = Number(process.env.BENCH_STEADY_S ?? 15);
const POLICY = { renewalLeewayS: 86_400, pastDueGraceS: 259_200 };
const DAY = 86_400_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const say = (label: string, value: string): void => void process.stdout.write(`  ${label}: ${value}\n`);

const STATUSES = ['active', 'active', 'trialing', 'past_due', 'canceled', 'active', 'paused'];
const PLANS = ['free', 'pro', 'pro', 'enterprise'];

function subscriptionEvent(n: number, now: number, tag: string): NewEvent {
  // Subscriptions are 1.5 per subject; each gets ~6-7 deliveries, some out of order.
  const sub = n % Math.floor(SUBJECTS * 1.5);
  const data = {
    occurred_at: new Date(now - ((n * 7919) % 1000) * 60_000).toISOString(),
    subscription: {
      id: `sub_${sub}`,
      subject: `org_${sub % SUBJECTS}`,
      plan: PLANS[n % PLANS.length]!,
      status: STATUSES[(n >> 3) % STATUSES.length]!,
      quantity: 1 + (n % 25),
      current_period_end: new Date(now + ((n % 60) - 5) * DAY).toISOString(),
      cancel_at_period_end: n % 13 === 0,
      cancel_at: null,
      ended_at: null,
      trial_end: null,
    },
    plan_refs: null,
  };
  return {
    streamId: `subscription:api:sub_${sub}`,
    type: 'subscription.updated',
    source: 'api',
    sourceEventId: `${tag}_${n}`,
    subject: data.subscription.subject,
    payloadHash: createHash('sha256').update(`${tag}_${n}`).digest(),
    data,
  };
}

async function generate(store: PostgresEventStore, now: number): Promise<number> {
  const catalog = readCatalogFile(`${projectRoot()}/plans.json`);
  await store.append({
    events: [{ streamId: 'catalog', type: 'catalog.published', source: 'catalog', sourceEventId: 'bench', payloadHash: Buffer.alloc(32), data: { catalog, hash: 'bench' } }],
  });
  let head = 0;
  const chunk = 5_000;
  for (let i = 0; i < EVENTS; i += chunk * 4) {
    // Four appends in flight: the store writes them as one group commit.
    const results = await Promise.all(
      [0, 1, 2, 3].map((k) => {
        const start = i + k * chunk;
        if (start >= EVENTS) return null;
        return store.append({ events: Array.from({ length: Math.min(chunk, EVENTS - start) }, (_, j) => subscriptionEvent(start + j, now, 'gen')) });
      }),
    );
    head = Math.max(head, ...results.map((r) => r?.head ?? 0));
    if ((i / (chunk * 4)) % 10 === 0) process.stdout.write(`\r  generating: ${Math.min(i + chunk * 4, EVENTS).toLocaleString('en-US')} events`);
  }
  process.stdout.write('\n');
  return head;
}

/** The ceiling: read every event with a server-side cursor, rows parsed, nothing done. */
async function rawCursor(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('BEGIN');
  await client.query(
    `DECLARE c NO SCROLL CURSOR FOR SELECT position, stream_id, stream_version, type, source, source_event_id, subject,
       data, metadata, occurred_at, recorded_at FROM events ORDER BY position`,
  );
  let n = 0;
  const t = performance.now();
  for (;;) {
    const { rows } = await client.query('FETCH 5000 FROM c');
    if (rows.length === 0) break;
    n += rows.length;
  }
  const rate = n / ((performance.now() - t) / 1000);
  await client.query('COMMIT');
  await client.end();
  return rate;
}


const TOKEN = 'bench-admin-token-0123456789abcdef';
const READERS = 8;

interface ReadStats {
  rate: number;
  p50: number;
  p99: number;
  errors: number;
}

/** Waits until the service has published a manifest at `position` (its first full publication). */
async function untilPublished(url: string, position: number): Promise<void> {
  for (;;) {
    const r = await fetch(`${url}/v1/snapshots/latest`, { headers: { authorization: `Bearer ${TOKEN}` } });
    if (r.status === 200) {
      const claims = JSON.parse(Buffer.from((await r.text()).split('.')[1]!, 'base64url').toString()) as { ver: number };
      if (claims.ver >= position) return;
    } else await r.arrayBuffer();
    await sleep(200);
  }
}

/** READERS closed-loop readers of GET /v1/subjects/{s}/entitlements until `stop()`. */
async function reads(url: string, subject: (i: number) => string, stop: () => boolean): Promise<ReadStats> {
  const latencies: number[] = [];
  let errors = 0;
  let i = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: READERS }, async () => {
      while (!stop()) {
        const t = performance.now();
        const r = await fetch(`${url}/v1/subjects/${subject(i++)}/entitlements`, { headers: { authorization: `Bearer ${TOKEN}` } });
        await r.arrayBuffer();
        latencies.push(performance.now() - t);
        if (r.status !== 200) errors++;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { rate: latencies.length / ((performance.now() - started) / 1000), p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors };
}

/** POST …/rebuild, then polls the job until it ends. */
async function rebuildThroughApi(url: string): Promise<{ rate: number; seconds: number; position: number; subjects: number }> {
  const t = performance.now();
  const r = await fetch(`${url}/v1/admin/projections/entitlements/rebuild`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'bench:project' }),
  });
  if (r.status !== 202) throw new Error(`rebuild: ${r.status} ${await r.text()}`);
  const { job } = (await r.json()) as { job: string };
  for (;;) {
    await sleep(250);
    const j = (await (await fetch(`${url}/v1/admin/jobs/${job}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
      state: string;
      error: string | null;
      result: { position: number; subjects: number } | null;
    };
    if (j.state === 'failed') throw new Error(`rebuild failed: ${j.error}`);
    if (j.state === 'succeeded') {
      const seconds = (performance.now() - t) / 1000;
      return { rate: j.result!.position / seconds, seconds, position: j.result!.position, subjects: j.result!.subjects };
    }
  }
}

/**
 * The live projector must keep up with what ingest takes: by default the lag run appends at
 * the single-event rate the last ingest benchmark measured on this machine.
 */
async function targetRate(): Promise<{ rate: number; from: string }> {
  if (process.env.BENCH_STEADY_RATE) return { rate: Number(process.env.BENCH_STEADY_RATE), from: 'BENCH_STEADY_RATE' };
  const ingest = await latestResults('ingest');
  const rows = (ingest?.rows ?? []) as Row[];
  const single = rows.find((r) => r.scenario.startsWith('ledger HTTP single events'));
  return single ? { rate: Math.round(single.rate), from: `bench:ingest of ${String(ingest!.at)}` } : { rate: 2_000, from: 'default (no bench:ingest result here)' };
}

/**
 * Steady single appends at `rate` from this process while the service's projector
 * follows; lag = append committed → checkpoint seen at or past it (polled every 5 ms).
 */
async function steadyLag(store: PostgresEventStore, url: string, now: number, rate: number): Promise<{ lags: number[]; steadyRate: number }> {
  const watch = new pg.Client({ connectionString: url });
  await watch.connect();
  const lags: number[] = [];
  const pending = new Map<number, number>();
  let watching = true;
  const watcher = (async () => {
    while (watching || pending.size > 0) {
      const { rows } = await watch.query<{ position: string }>("SELECT position FROM projection_checkpoints WHERE name = 'entitlements'");
      const cp = Number(rows[0]?.position ?? 0);
      const seen = performance.now();
      for (const [position, committedAt] of pending) {
        if (position <= cp) {
          lags.push(seen - committedAt);
          pending.delete(position);
        }
      }
      await sleep(5);
    }
  })();
  let sent = 0;
  const steadyStart = performance.now();
  const writers: Promise<void>[] = [];
  while (performance.now() - steadyStart < STEADY_S * 1000) {
    const due = Math.floor(((performance.now() - steadyStart) / 1000) * rate);
    for (; sent < due; sent++) {
      const n = sent;
      writers.push(
        store.append({ events: [subscriptionEvent(n, now, 'steady')] }).then((r) => {
          pending.set(r.events[0]!.position, performance.now());
        }),
      );
    }
    await sleep(5);
  }
  await Promise.all(writers);
  watching = false;
  await watcher;
  await watch.end();
  lags.sort((a, b) => a - b);
  return { lags, steadyRate: sent / STEADY_S };
}

/**
 * What autovacuum does in production, done here when the server runs without it: the live
 * model was just written a million times over, and a planner without statistics scans it whole.
 */
async function maintain(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ on: boolean }>("SELECT current_setting('autovacuum')::boolean AS on");
    if (rows[0]?.on) return;
    say('autovacuum is off on this server', 'VACUUM ANALYZE of the log and the read model, as autovacuum would have done');
    await client.query('VACUUM (ANALYZE) events, ent_subjects, ent_subscriptions, ent_catalog');
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const db = await benchDatabase();
  await migrate({ databaseUrl: db.url });
  const pool = createPool({ connectionString: db.url, max: 8 });
  const store = new PostgresEventStore(pool);
  const notifier = new LogNotifier(db.url);
  await notifier.start();
  const now = Date.now();
  process.stdout.write(`projection benchmark: ${EVENTS.toLocaleString('en-US')} events over ${SUBJECTS.toLocaleString('en-US')} subjects; PostgreSQL ${db.serverVersion}\n`);

  try {
    let t = performance.now();
    const head = await generate(store, now);
    const generateRate = head / ((performance.now() - t) / 1000);
    say('generated', `${Math.round(generateRate)} events/s`);

    const cursorRate = await rawCursor(db.url);
    say('raw cursor read', `${Math.round(cursorRate)} events/s`);

    // Live projector catching up from 0 (its production batch size and code path).
    t = performance.now();
    const projector = new Projector({
      name: 'entitlements',
      connectionString: db.url,
      notifier,
      handler: new EntitlementProjection(POLICY),
      batchSize: 1_000,
    });
    projector.start();
    while (projector.checkpoint < head) await sleep(20);
    const liveRate = head / ((performance.now() - t) / 1000);
    say('live projector catch-up', `${Math.round(liveRate)} events/s`);

    await projector.stop();
    await maintain(db.url);

    // Rebuild from zero into fresh tables (the blue/green path).
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const shadow = entitlementTables('__bench');
    for (const sql of createTablesLike(shadow)) await client.query(sql);
    const finalHead = await store.head();
    t = performance.now();
    await new EntitlementProjection(POLICY, shadow).rebuild(client, { batchSize: 10_000 });
    const rebuildRate = finalHead / ((performance.now() - t) / 1000);
    say('rebuild from zero', `${Math.round(rebuildRate)} events/s`);
    await client.query(`DROP TABLE ${shadow.subjects}, ${shadow.subscriptions}, ${shadow.catalog}`);
    await client.end();

    // ?at= time travel: random subjects at random past moments, 8 at a time.
    const reader = new EntitlementReader(pool, POLICY);
    const { rows: span } = await pool.query<{ lo: Date; hi: Date }>('SELECT min(recorded_at) AS lo, max(recorded_at) AS hi FROM events');
    const lo = span[0]!.lo.getTime();
    const hi = span[0]!.hi.getTime();
    const atLatencies: number[] = [];
    let q = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (q < 2_000) {
          const i = q++;
          const subject = `org_${(i * 7_919) % SUBJECTS}`;
          const at = new Date(lo + ((hi - lo) * ((i * 31) % 100)) / 100);
          const s = performance.now();
          await reader.atTime(subject, at);
          atLatencies.push(performance.now() - s);
        }
      }),
    );
    atLatencies.sort((a, b) => a - b);
    const currentLatencies: number[] = [];
    for (let i = 0; i < 2_000; i++) {
      const s = performance.now();
      await reader.current(`org_${(i * 104_729) % SUBJECTS}`, new Date());
      currentLatencies.push(performance.now() - s);
    }
    currentLatencies.sort((a, b) => a - b);

    // Through the service: the built ledger as its own process (role all) on this database, as
    // in production. Its projector takes over from the checkpoint the in-process one left.
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'ledger-bench-data-'));
    const ledger = await spawnLedgerProcess({
      DATABASE_URL: db.url,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      LEDGER_ADMIN_TOKEN: TOKEN,
      LEDGER_PLANS: `${projectRoot()}/plans.json`,
      LEDGER_DATA_DIR: dataDir,
    }, (process.env.BENCH_LEDGER_NODE_ARGS ?? '').split(' ').filter(Boolean));
    let lags: number[] = [];
    let steadyRate = NaN;
    const target = await targetRate();
    say('steady rate for the lag run', `${target.rate}/s (${target.from})`);
    let baseline: ReadStats;
    let during: ReadStats;
    let serviceRebuild: { rate: number; seconds: number; position: number; subjects: number };
    try {
      await untilPublished(ledger.url, await store.head());
      ({ lags, steadyRate } = await steadyLag(store, db.url, now, target.rate));
      say('live lag (service process)', `p50 ${percentile(lags, 50).toFixed(1)} ms, p99 ${percentile(lags, 99).toFixed(1)} ms at ${Math.round(steadyRate)}/s`);
      const sample = (i: number): string => `org_${(i * 104_729) % SUBJECTS}`;
      const until = performance.now() + 10_000;
      baseline = await reads(ledger.url, sample, () => performance.now() > until);
      say('reads without a rebuild', `p50 ${baseline.p50.toFixed(1)} ms, p99 ${baseline.p99.toFixed(1)} ms, ${Math.round(baseline.rate)}/s`);
      let done = false;
      const duringReads = reads(ledger.url, sample, () => done);
      serviceRebuild = await rebuildThroughApi(ledger.url);
      done = true;
      during = await duringReads;
      say('rebuild through the admin API', `${Math.round(serviceRebuild.rate)} events/s (${serviceRebuild.seconds.toFixed(1)} s, ${serviceRebuild.subjects} subjects)`);
      say('reads during the rebuild', `p50 ${during.p50.toFixed(1)} ms, p99 ${during.p99.toFixed(1)} ms, ${Math.round(during.rate)}/s, ${during.errors} errors`);
    } finally {
      await ledger.kill('SIGTERM');
      await rm(dataDir, { recursive: true, force: true });
    }

    const rows: Row[] = [
      { scenario: 'raw pg cursor read of the log', rate: cursorRate, unit: 'events/s', p50_ms: NaN, p99_ms: NaN, note: 'ceiling' },
      { scenario: 'live projector catch-up (batches of 1000)', rate: liveRate, unit: 'events/s', p50_ms: NaN, p99_ms: NaN, note: `${(liveRate / cursorRate).toFixed(2)}× cursor` },
      { scenario: 'rebuild from zero (in memory, reads of 10000)', rate: rebuildRate, unit: 'events/s', p50_ms: NaN, p99_ms: NaN, note: `${(rebuildRate / cursorRate).toFixed(2)}× cursor; target ≥ 50,000/s` },
      { scenario: `live lag at a steady ${target.rate}/s (single appends; projector in the service process)`, rate: steadyRate, unit: 'events/s', p50_ms: percentile(lags, 50), p99_ms: percentile(lags, 99), note: 'commit → projected; target p99 ≤ 1000 ms' },
      { scenario: 'rebuild through the admin API (blue/green, reads running)', rate: serviceRebuild.rate, unit: 'events/s', p50_ms: NaN, p99_ms: NaN, note: `${(serviceRebuild.rate / cursorRate).toFixed(2)}× cursor; ${serviceRebuild.seconds.toFixed(1)} s incl. swap` },
      { scenario: `GET entitlements, ${READERS} readers, no rebuild`, rate: baseline.rate, unit: 'req/s', p50_ms: baseline.p50, p99_ms: baseline.p99, note: 'baseline' },
      { scenario: `GET entitlements, ${READERS} readers, during the rebuild`, rate: during.rate, unit: 'req/s', p50_ms: during.p50, p99_ms: during.p99, note: `p99 ${(during.p99 / baseline.p99).toFixed(2)}× baseline; ${during.errors} errors` },
      { scenario: '?at= time travel (replay of one subject)', rate: NaN, unit: '', p50_ms: percentile(atLatencies, 50), p99_ms: percentile(atLatencies, 99), note: `${atLatencies.length} queries, 8 concurrent` },
      { scenario: 'current read (read model)', rate: NaN, unit: '', p50_ms: percentile(currentLatencies, 50), p99_ms: percentile(currentLatencies, 99), note: `${currentLatencies.length} queries, sequential` },
      { scenario: 'generation (append 5000-event units)', rate: generateRate, unit: 'events/s', p50_ms: NaN, p99_ms: NaN, note: 'setup' },
    ];
    printTable('projection', rows);
    const file = await writeResults('project', { events: head, subjects: SUBJECTS, postgres: db.serverVersion, rows, steady_rate_from: target.from });
    process.stdout.write(`\nresults: ${file}\n`);
  } finally {
    await notifier.stop();
    await store.close();
    await pool.end();
    await db.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
