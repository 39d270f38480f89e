/**
 * npm run bench:verify — the verifier's decision path, in one run:
 * - in-process `check()` calls per second beside a bare `Map.get` over the same data
 *   (100,000 subjects; target ≥ 2M checks/s);
 * - the edge verifier (built, its own process) `GET /v1/check` requests per second beside the
 *   same server's `/health` (autocannon from this process, 64 connections; targets ≥ 20,000/s and
 *   ≥ 0.7× /health);
 * - cold start from the disk cache (spawn → listening, and → first fresh decision) and RSS at
 *   100,000 and 1,000,000 subjects (targets: cold start ≤ 5 s, RSS at 1M ≤ 600 MB).
 * No ledger or database: manifests and shards are signed here with libs/snapshots and a
 * generated key, written into a DirectoryCache, and the same manifest is served as "latest"
 * by a loopback server (so the started verifier finds nothing new, as after a restart).
 */
import autocannon from 'autocannon';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ManifestChain, ShardSet, subjectEntry, type SubjectEntry } from '../../libs/snapshots/src/index.js';
import { createVerifier } from '../../libs/verifier/src/index.js';
import { createDirectoryCache } from '../../libs/verifier/src/node/index.js';
import { spawnEdgeProcess } from '../../test/support/edge-process.js';
import { printTable, writeResults, type Row } from '../support/bench-kit.js';

const DAY = 86_400_000;
const TOKEN = 'bench-snapshots-token';
const FEATURES = ['api', 'seats', 'projects', 'sso', 'exports'] as const;

function entryFor(i: number, now: number): SubjectEntry {
  const until = new Date(now + ((i % 60) + 1) * DAY).toISOString();
  const sub = `api:sub_${i}`;
  const origin = { kind: 'subscription', subscription: sub, plan: 'pro' } as const;
  return subjectEntry(
    {
      plans: [{ plan: i % 4 === 0 ? 'enterprise' : 'pro', tier: i % 4 === 0 ? 3 : 2, valid_until: until, subscription: sub }],
      features: [
        { feature: 'api', value: true, valid_until: until, origin },
        { feature: 'seats', value: 1 + (i % 40), valid_until: until, origin },
        { feature: 'projects', value: 50, valid_until: until, origin },
        ...(i % 4 === 0 ? [{ feature: 'sso', value: true, valid_until: until, origin }] : []),
      ],
      unknown_plans: [],
    },
    [],
  )!;
}

interface Fixture {
  readonly dir: string;
  readonly jws: string;
  readonly jwk: Record<string, unknown>;
  readonly subjects: number;
}

/** Signs a snapshot of `subjects` subjects and writes it as a verifier's directory cache. */
async function buildCache(subjects: number, now: number): Promise<Fixture> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const kid = 'bench-key';
  const set = ShardSet.build(256, (function* () {
    for (let i = 0; i < subjects; i++) yield [`org_${i}`, entryFor(i, now)] as const;
  })(), 1);
  const chain = new ManifestChain({ issuer: 'http://bench', ttlS: 3600, shardCount: 256 });
  const { jws, claims } = await chain.publish({ ver: subjects, now: new Date(now), shards: set.manifestEntries(), classes: { api: 'A', sso: 'A', exports: 'C' } }, { kid, key: privateKey });
  const dir = await mkdtemp(path.join(os.tmpdir(), `verify-bench-${subjects}-`));
  const shards: Record<string, string> = {};
  for (const s of claims.shards) shards[s.sha256] = set.bytesByHash(s.sha256)!.toString('utf8');
  await createDirectoryCache(dir).save({ v: 1, manifest: jws, shards, highestSeq: claims.seq, highestVer: claims.ver, timeFloor: now, keyEvidence: [] });
  return { dir, jws, jwk: { ...publicKey.export({ format: 'jwk' }), kid }, subjects };
}

/** Answers /v1/snapshots/latest with `jws` (nothing new for a verifier that holds it); no SSE. */
async function latestServer(jws: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    if (req.url === '/v1/snapshots/latest') res.writeHead(200, { 'content-type': 'application/jwt', etag: '"bench"' }).end(jws);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** check() in this process, beside Map.get over the same subjects and features. */
async function inProcess(fx: Fixture, ledgerUrl: string): Promise<{ check: number; map: number }> {
  const verifier = createVerifier({ ledgerUrl, token: TOKEN, trustedKeys: [fx.jwk], useSse: false, pollS: 3600, cache: createDirectoryCache(fx.dir) });
  await verifier.start();
  if (verifier.state().status !== 'fresh') throw new Error(`verifier not fresh: ${JSON.stringify(verifier.state())}`);
  const now = Date.now();
  const map = new Map<string, Record<string, boolean | number>>();
  for (let i = 0; i < fx.subjects; i++) {
    const e = entryFor(i, now);
    map.set(`org_${i}`, Object.fromEntries(Object.entries(e.features).map(([f, g]) => [f, g[0]!.value])));
  }
  const names = Array.from({ length: fx.subjects }, (_, i) => `org_${i}`);
  const n = 4_000_000;
  let sink = 0;
  const time = (fn: (s: string, f: string) => unknown): number => {
    for (let i = 0; i < 200_000; i++) fn(names[i % names.length]!, FEATURES[i % 5]!); // warm-up
    const t = performance.now();
    for (let i = 0; i < n; i++) if (fn(names[(i * 7919) % names.length]!, FEATURES[i % 5]!)) sink++;
    return n / ((performance.now() - t) / 1000);
  };
  const check = time((s, f) => verifier.check(s, f).allowed);
  const mapRate = time((s, f) => map.get(s)?.[f] ?? false);
  await verifier.stop();
  if (sink < 0) process.stdout.write('');
  return { check, map: mapRate };
}

async function coldStart(fx: Fixture, ledgerUrl: string): Promise<{ listenMs: number; firstDecisionMs: number; rss: number; rssAfterLoad: number; stop: () => Promise<unknown>; url: string }> {
  const t = performance.now();
  const edge = await spawnEdgeProcess({
    LEDGER_URL: ledgerUrl,
    LEDGER_TOKEN: TOKEN,
    VERIFIER_TRUSTED_KEYS: JSON.stringify([fx.jwk]),
    VERIFIER_CACHE_DIR: fx.dir,
    VERIFIER_POLL_S: '3600',
    LOG_LEVEL: 'info',
  });
  const listenMs = performance.now() - t;
  let firstDecisionMs: number;
  for (;;) {
    const r = await fetch(`${edge.url}/v1/check?subject=org_1&feature=api`);
    const d = (await r.json()) as { source: string };
    if (d.source === 'fresh') {
      firstDecisionMs = performance.now() - t;
      break;
    }
    if (performance.now() - t > 60_000) throw new Error(`no fresh decision: ${JSON.stringify(d)}\n${edge.output()}`);
  }
  const rss = rssMb(edge.child.pid!);
  // decide for every subject once, then let the GC settle: the steady-state footprint
  for (let i = 0; i < 2000; i++) await fetch(`${edge.url}/v1/check?subject=org_${(i * 7919) % fx.subjects}&feature=seats`).then((r) => r.arrayBuffer());
  await new Promise((r) => setTimeout(r, 1500));
  return { listenMs, firstDecisionMs, rss, rssAfterLoad: rssMb(edge.child.pid!), stop: () => edge.kill('SIGTERM'), url: edge.url };
}

async function rate(opts: autocannon.Options) {
  const r = await autocannon({ connections: 64, duration: 10, ...opts });
  return { rate: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors };
}

async function main(): Promise<void> {
  const now = Date.now();
  const rows: Row[] = [];
  const extra: Record<string, unknown> = {};
  const small = await buildCache(100_000, now);
  const ledger = await latestServer(small.jws);
  try {
    const inproc = await inProcess(small, ledger.url);
    rows.push({ scenario: 'in-process check(), 100,000 subjects', rate: inproc.check, unit: 'checks/s', p50_ms: NaN, p99_ms: NaN, note: `${(inproc.check / inproc.map).toFixed(2)}× Map.get; target ≥ 2,000,000/s` });
    rows.push({ scenario: 'bare Map.get over the same data', rate: inproc.map, unit: 'gets/s', p50_ms: NaN, p99_ms: NaN, note: 'ceiling' });

    const cold100k = await coldStart(small, ledger.url);
    const paths = Array.from({ length: 1000 }, (_, i) => ({ method: 'GET' as const, path: `/v1/check?subject=org_${(i * 7919) % small.subjects}&feature=${FEATURES[i % 5]}` }));
    const health = await rate({ url: `${cold100k.url}/health` });
    const check = await rate({ url: cold100k.url, requests: paths });
    await cold100k.stop();
    rows.push({ scenario: 'edge GET /health (same server)', rate: health.rate, unit: 'req/s', p50_ms: health.p50, p99_ms: health.p99, note: 'ceiling' });
    rows.push({ scenario: 'edge GET /v1/check (1000 subjects × 5 features)', rate: check.rate, unit: 'req/s', p50_ms: check.p50, p99_ms: check.p99, note: `${(check.rate / health.rate).toFixed(2)}× /health; targets ≥ 20,000/s, ≥ 0.7×` });
    extra.http = { health, check };
    rows.push({ scenario: 'cold start from disk, 100,000 subjects', rate: NaN, unit: '', p50_ms: cold100k.firstDecisionMs, p99_ms: NaN, note: `listening after ${cold100k.listenMs.toFixed(0)} ms; RSS ${cold100k.rss.toFixed(0)} MB, ${cold100k.rssAfterLoad.toFixed(0)} MB after load` });
    await rm(small.dir, { recursive: true, force: true });
    ledger.server.close();

    const large = await buildCache(1_000_000, now);
    const ledger1m = await latestServer(large.jws);
    const cold1m = await coldStart(large, ledger1m.url);
    await cold1m.stop();
    ledger1m.server.close();
    await rm(large.dir, { recursive: true, force: true });
    rows.push({ scenario: 'cold start from disk, 1,000,000 subjects', rate: NaN, unit: '', p50_ms: cold1m.firstDecisionMs, p99_ms: NaN, note: `listening after ${cold1m.listenMs.toFixed(0)} ms; RSS ${cold1m.rss.toFixed(0)} MB, ${cold1m.rssAfterLoad.toFixed(0)} MB after load; targets ≤ 5000 ms, ≤ 600 MB` });
    extra.cold_start = {
      '100k': { listen_ms: cold100k.listenMs, first_fresh_decision_ms: cold100k.firstDecisionMs, rss_mb: cold100k.rss, rss_after_load_mb: cold100k.rssAfterLoad },
      '1m': { listen_ms: cold1m.listenMs, first_fresh_decision_ms: cold1m.firstDecisionMs, rss_mb: cold1m.rss, rss_after_load_mb: cold1m.rssAfterLoad },
    };

    printTable('verify (p50 ms column: cold start time to the first fresh decision)', rows);
    const file = await writeResults('verify', { rows, ...extra });
    process.stdout.write(`\nresults: ${file}\n`);
  } finally {
    ledger.server.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
