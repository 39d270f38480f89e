import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, chmod, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { projectRoot, startEmbeddedDatabase, type EmbeddedDatabase } from '../../libs/event-store/src/index.js';
import { dropDatabase } from '../../test/support/test-database.js';

export interface BenchDatabase {
  readonly url: string;
  readonly serverVersion: string;
  close(): Promise<void>;
}

/** A fresh database for one benchmark run: on DATABASE_URL's server, or an embedded one. */
export async function benchDatabase(): Promise<BenchDatabase> {
  let embedded: EmbeddedDatabase | null = null;
  let dir: string | null = null;
  let base = process.env.DATABASE_URL;
  if (!base) {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ledger-bench-pg-'));
    await chmod(dir, 0o755);
    embedded = await startEmbeddedDatabase({ dataDir: path.join(dir, 'pg') });
    base = embedded.connectionString;
  }
  const adminUrl: string = base;
  const name = `ledger_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name} TEMPLATE template0`);
  const { rows } = await admin.query<{ server_version: string }>('SHOW server_version');
  await admin.end();
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    serverVersion: rows[0]!.server_version,
    async close() {
      await dropDatabase(adminUrl, name);
      await embedded?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export interface Row {
  readonly scenario: string;
  readonly rate: number;
  readonly unit: string;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly note?: string;
}

/**
 * Runs `op` from `concurrency` workers for `seconds` and returns completions per second and
 * latency percentiles; `weight` is how many items one call completes (events per batch).
 */
export async function closedLoop(
  concurrency: number,
  seconds: number,
  op: (worker: number, i: number) => Promise<void>,
  weight = 1,
): Promise<{ rate: number; p50: number; p99: number; count: number }> {
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  let count = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let i = 0; performance.now() < deadline; i++) {
        const t = performance.now();
        await op(w, i);
        latencies.push(performance.now() - t);
        count += weight;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { rate: count / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), count };
}

export function machine(): Record<string, unknown> {
  return {
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model ?? 'unknown',
    memory_gib: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

export function printTable(title: string, rows: readonly Row[]): void {
  const fmt = (n: number): string => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: n < 10 ? 2 : 0 }) : '-');
  const lines = rows.map((r) => [r.scenario, `${fmt(r.rate)} ${r.unit}`, fmt(r.p50_ms), fmt(r.p99_ms), r.note ?? '']);
  const head = ['scenario', 'rate', 'p50 ms', 'p99 ms', 'compared to'];
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 1 || i === 2 || i === 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  process.stdout.write(`\n${title}\n${line(head)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const l of lines) process.stdout.write(`${line(l)}\n`);
}

/** Writes the run's figures as JSON under bench/results/ (git-ignored) and returns the path. */
export async function writeResults(name: string, payload: Record<string, unknown>): Promise<string> {
  const dir = path.join(projectRoot(), 'bench', 'results');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify({ bench: name, at: new Date().toISOString(), machine: machine(), ...payload }, null, 2)}\n`);
  return file;
}

/** The newest results file `name` wrote on this checkout, parsed; null when there is none. */
export async function latestResults(name: string): Promise<Record<string, unknown> | null> {
  const dir = path.join(projectRoot(), 'bench', 'results');
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.startsWith(`${name}-`) && f.endsWith('.json')).sort();
  const newest = files[files.length - 1];
  return newest ? (JSON.parse(await readFile(path.join(dir, newest), 'utf8')) as Record<string, unknown>) : null;
}

export const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
