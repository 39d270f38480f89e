/**
 * npm run bench:publish — the signed distribution path, in one run:
 * - propagation: event committed → a manifest with ver ≥ its position on the SSE stream
 *   (p50/p99 over BENCH_EVENTS events at a steady rate, real ledger process, LEDGER_ROLE=all);
 * - full publication (every shard encoded + manifest signed) for 100,000 and 1,000,000
 *   subjects, and an incremental publication after a one-subject change at 1,000,000;
 * - HTTP: 304 answers to If-None-Match and shard GETs per second, beside the same server's
 *   /health/live rate (autocannon, 32 connections).
 */
import autocannon from 'autocannon';
import { generateKeyPairSync } from 'node:crypto';
import { ManifestChain, ShardSet, subjectEntry, type SubjectEntry } from '../../libs/snapshots/src/index.js';
import { migrate, projectRoot } from '../../libs/event-store/src/index.js';
import { spawnLedgerProcess } from '../../test/support/ledger-process.js';
import { benchDatabase, percentile, printTable, writeResults, type Row } from '../support/bench-kit.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 200);
const RATE = Number(process.env.BENCH_RATE ?? 20);
const TOKEN = 'bench-admin-token-0123456789abcdef';
const DAY = 86_400_000;

function entryFor(i: number, now: number): SubjectEntry {
  const until = new Date(now + ((i % 60) + 1) * DAY).toISOString();
  return subjectEntry(
    {
      plans: [{ plan: i % 4 === 0 ? 'enterprise' : 'pro', tier: i % 4 === 0 ? 3 : 2, valid_until: until, subscription: `api:sub_${i}` }],
      features: [
        { feature: 'api', value: true, valid_until: until, origin: { kind: 'subscription', subscription: `api:sub_${i}`, plan: 'pro' } },
        { feature: 'seats', value: 1 + (i % 40), valid_until: until, origin: { kind: 'subscription', subscription: `api:sub_${i}`, plan: 'pro' } },
        { feature: 'projects', value: 50, valid_until: until, origin: { kind: 'subscription', subscription: `api:sub_${i}`, plan: 'pro' } },
      ],
      unknown_plans: [],
    },
    [],
  )!;
}

async function fullPublication(subjects: number, now: number) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const key = { kid: 'bench', key: privateKey };
  void publicKey;
  const entries = Array.from({ length: subjects }, (_, i) => [`org_${i}`, entryFor(i, now)] as const);
  let t = performance.now();
  const set = ShardSet.build(256, entries, 1);
  const chain = new ManifestChain({ issuer: 'http://bench', ttlS: 900, shardCount: 256 });
  await chain.publish({ ver: 1, now: new Date(now), shards: set.manifestEntries(), classes: {} }, key as never);
  const full = performance.now() - t;
  // One subject changes: one shard re-encoded, a manifest signed.
  const times: number[] = [];
  for (let k = 0; k < 20; k++) {
    t = performance.now();
    set.applyChanges(new Map([[`org_${(k * 7919) % subjects}`, entryFor(k + 1, now + DAY)]]), 2 + k);
    await chain.publish({ ver: 2 + k, now: new Date(now + k * 1000), shards: set.manifestEntries(), classes: {} }, key as never);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { full, incrementalP50: percentile(times, 50), incrementalP99: percentile(times, 99) };
}

async function propagation(base: string): Promise<number[]> {
  const abort = new AbortController();
  const res = await fetch(`${base}/v1/snapshots/stream`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: abort.signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const pending = new Map<number, number>(); // position → committed at
  const latencies: number[] = [];
  let buffer = '';
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let m: RegExpExecArray | null;
      while ((m = /event: manifest\ndata: (\S+)\n\n/.exec(buffer))) {
        buffer = buffer.slice(m.index + m[0].length);
        const ver = JSON.parse(Buffer.from(m[1]!.split('.')[1]!, 'base64url').toString()).ver as number;
        const at = performance.now();
        for (const [position, committed] of pending) {
          if (position <= ver) {
            latencies.push(at - committed);
            pending.delete(position);
          }
        }
      }
    }
  })();
  const started = performance.now();
  for (let i = 0; i < EVENTS; i++) {
    const due = started + (i * 1000) / RATE;
    await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
    const body = JSON.stringify({
      id: `prop_${process.pid}_${i}`, type: 'subscription.updated', occurred_at: new Date().toISOString(),
      subscription: { id: `sub_p${i % 50}`, subject: `org_p${i % 50}`, plan: 'pro', status: 'active', quantity: 1 + (i % 9), current_period_end: new Date(Date.now() + 30 * DAY).toISOString(), cancel_at_period_end: false, cancel_at: null, ended_at: null, trial_end: null },
    });
    const r = await fetch(`${base}/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body });
    const { position } = (await r.json()) as { position: number };
    pending.set(position, performance.now());
  }
  const deadline = performance.now() + 10_000;
  while (pending.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  abort.abort();
  await pump;
  if (pending.size > 0) process.stdout.write(`WARNING: ${pending.size} events never reached a manifest within 10 s\n`);
  return latencies.sort((a, b) => a - b);
}

async function rate(url: string, headers: Record<string, string> = {}) {
  const r = await autocannon({ url, connections: 32, duration: 8, headers });
  return { rate: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx };
}

async function main(): Promise<void> {
  const db = await benchDatabase();
  await migrate({ databaseUrl: db.url });
  const ledger = await spawnLedgerProcess({
    DATABASE_URL: db.url,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    LEDGER_ADMIN_TOKEN: TOKEN,
    LEDGER_PLANS: `${projectRoot()}/plans.json`,
  });
  try {
    const lat = await propagation(ledger.url);
    const latest = await fetch(`${ledger.url}/v1/snapshots/latest`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const etag = latest.headers.get('etag')!;
    const jws = await latest.text();
    const shards = JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString()).shards as { sha256: string; count: number }[];
    const busiest = [...shards].sort((a, b) => b.count - a.count)[0]!;
    const live = await rate(`${ledger.url}/health/live`);
    const notModified = await rate(`${ledger.url}/v1/snapshots/latest`, { authorization: `Bearer ${TOKEN}`, 'if-none-match': etag });
    const shardGet = await rate(`${ledger.url}/v1/snapshots/shards/${busiest.sha256}`);
    const now = Date.now();
    const p100k = await fullPublication(100_000, now);
    const p1m = await fullPublication(1_000_000, now);

    const rows: Row[] = [
      { scenario: `propagation commit → SSE manifest (${lat.length} events at ${RATE}/s)`, rate: NaN, unit: '', p50_ms: percentile(lat, 50), p99_ms: percentile(lat, 99), note: 'target p99 ≤ 1000 ms' },
      { scenario: 'GET /health/live (same server)', rate: live.rate, unit: 'req/s', p50_ms: live.p50, p99_ms: live.p99, note: 'ceiling' },
      { scenario: 'GET /v1/snapshots/latest → 304', rate: notModified.rate, unit: 'req/s', p50_ms: notModified.p50, p99_ms: notModified.p99, note: `${(notModified.rate / live.rate).toFixed(2)}× /health/live` },
      { scenario: `GET shard (${busiest.count} subjects)`, rate: shardGet.rate, unit: 'req/s', p50_ms: shardGet.p50, p99_ms: shardGet.p99, note: `${(shardGet.rate / live.rate).toFixed(2)}× /health/live` },
      { scenario: 'full publication, 100,000 subjects', rate: NaN, unit: '', p50_ms: p100k.full, p99_ms: NaN, note: '256 shards encoded + manifest signed' },
      { scenario: 'full publication, 1,000,000 subjects', rate: NaN, unit: '', p50_ms: p1m.full, p99_ms: NaN, note: '256 shards encoded + manifest signed' },
      { scenario: 'one-subject change at 1,000,000 subjects', rate: NaN, unit: '', p50_ms: p1m.incrementalP50, p99_ms: p1m.incrementalP99, note: 'one shard re-encoded + signed; target ≤ 100 ms' },
    ];
    printTable('publish', rows);
    const file = await writeResults('publish', { postgres: db.serverVersion, rows });
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
