import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, chmod, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { projectRoot, startEmbeddedDatabase, type EmbeddedDatabase } from '../../libs/event-store/src/index.js';
import { dropDatabase } from '../../test/support/test-database.js';

export interface BenchDatabase {
  readonly url: string;
  readonly serverVersion: string;
  /** The database's collation (its text indexes compare under it; the log's keys do not since migration 1200). */
  readonly collation: string;
  close(): Promise<void>;
}

/**
 * A fresh database for one benchmark run: on DATABASE_URL's server, or an embedded one; with
 * the server's default locale, or BENCH_DB_LOCALE's (e.g. en_US.UTF-8, which the server's
 * operating system must have).
 */
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
  const locale = process.env.BENCH_DB_LOCALE;
  let rows: Array<{ server_version: string; collation: string }>;
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE template0${locale ? ` LOCALE ${admin.escapeLiteral(locale)}` : ''}`);
    ({ rows } = await admin.query<{ server_version: string; collation: string }>(
      "SELECT current_setting('server_version') AS server_version, datcollate AS collation FROM pg_database WHERE datname = $1",
      [name],
    ));
  } finally {
    await admin.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    serverVersion: rows[0]!.server_version,
    collation: rows[0]!.collation,
    async close() {
      await dropDatabase(adminUrl, name);
      await embedded?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs CHECKPOINT on the server of `url`, so that the next scenario starts with no dirty page
 * left by the one before it: after a scenario that writes much (the raw 100-row INSERTs, at
 * 100,000 rows a second, write about 45 MB of heap a second) the next one would otherwise write
 * those pages back, and run the checkpoint they call for, during its own measurement. False
 * where the role may not (it needs superuser or pg_checkpoint, PostgreSQL 15 and later).
 */
export async function checkpoint(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('CHECKPOINT');
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === '42501') return false;
    throw err;
  } finally {
    await client.end();
  }
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
  /** CPU per item (µs) of the service process, the harness (load generator or client) and the database server. */
  readonly cpu_us?: CpuPerItem;
}

export interface CpuPerItem {
  /** The service process under load; null when the scenario runs none (the harness is the client). */
  readonly app: number | null;
  readonly harness: number;
  /** Every process of the PostgreSQL server; null when it does not run on this machine. */
  readonly server: number | null;
  /**
   * Of the whole machine's CPU time over the measurement, the share (%) that was idle (or waiting
   * on I/O) and the share the hypervisor gave to other guests (steal): a VM that slows down for
   * a minute shows it here. Null where /proc/stat cannot be read.
   */
  readonly idle_pct?: number | null;
  readonly steal_pct?: number | null;
}

let clockTicks: number | null = null;
/** Clock ticks per second, the unit of /proc's CPU times. */
function ticksPerSecond(): number {
  if (clockTicks === null) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** A process's status fields after its name (/proc/<pid>/stat), or null where there is none to read. */
function procStat(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** CPU time (ms) in a process's status fields, with that of the children it has reaped when `reaped`. */
function cpuMs(f: readonly string[], reaped = false): number {
  // Fields 14-17 of proc(5) (utime, stime, cutime, cstime) are 11-14 after the name.
  const ticks = Number(f[11]) + Number(f[12]) + (reaped ? Number(f[13]) + Number(f[14]) : 0);
  return (ticks * 1000) / ticksPerSecond();
}

/** CPU time (ms) of a process (see cpuMs), or null where it cannot be read. */
function processCpuMs(pid: number, reaped = false): number | null {
  const f = procStat(pid);
  return f ? cpuMs(f, reaped) : null;
}

const isPostgres = (pid: number): boolean => {
  try {
    return /postgres/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return false;
  }
};

/**
 * The PostgreSQL server's main process, when the server runs on this machine (the parent of
 * this session's backend); null otherwise, and the server's CPU is then not reported.
 */
export async function localServerPid(url: string): Promise<number | null> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const backend = rows[0]!.pid;
    const parent = Number(procStat(backend)?.[1]);
    return isPostgres(backend) && parent > 1 && isPostgres(parent) ? parent : null;
  } catch {
    return null;
  } finally {
    await client.end();
  }
}

/** CPU time (ms) of a PostgreSQL server: its main process, its live children and the children it reaped. */
function serverCpuMs(postmaster: number): number | null {
  let total = processCpuMs(postmaster, true);
  if (total === null) return null;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = procStat(Number(entry));
    if (f && Number(f[1]) === postmaster) total += cpuMs(f);
  }
  return total;
}

/** The machine's CPU time (ticks) from /proc/stat: in all, idle (with iowait), and stolen. */
function machineTicks(): { total: number; idle: number; steal: number } | null {
  try {
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest time is
    // counted in user and nice already).
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    if (f.length < 8 || f.some((n) => !Number.isFinite(n))) return null;
    return { total: f.reduce((a, b) => a + b, 0), idle: f[3]! + f[4]!, steal: f[7]! };
  } catch {
    return null;
  }
}

/**
 * Measures the CPU that a scenario costs per item, in each process involved: where a rate
 * depends on how fast this machine is at that minute, CPU per item shows where the time goes.
 * Linux only (/proc); the app and server figures are null where they cannot be read.
 *
 * @example
 * const cpu = startCpuMeter(ledger.child.pid, serverPid);
 * const r = await closedLoop(...);
 * const perEvent = cpu.stop(r.count);
 */
export function startCpuMeter(appPid: number | null | undefined, serverPid: number | null): { stop(items: number): CpuPerItem } {
  const app0 = appPid ? processCpuMs(appPid) : null;
  const server0 = serverPid ? serverCpuMs(serverPid) : null;
  const self0 = process.cpuUsage();
  const machine0 = machineTicks();
  return {
    stop(items: number): CpuPerItem {
      const self = process.cpuUsage(self0);
      const app1 = appPid ? processCpuMs(appPid) : null;
      const server1 = serverPid ? serverCpuMs(serverPid) : null;
      const machine1 = machineTicks();
      const per = (ms: number): number => (ms * 1000) / Math.max(1, items);
      const span = machine0 && machine1 ? machine1.total - machine0.total : 0;
      const share = (pick: (t: { idle: number; steal: number }) => number): number | null =>
        machine0 && machine1 && span > 0 ? (100 * (pick(machine1) - pick(machine0))) / span : null;
      return {
        app: app0 !== null && app1 !== null ? per(app1 - app0) : null,
        harness: (self.user + self.system) / Math.max(1, items),
        server: server0 !== null && server1 !== null ? per(server1 - server0) : null,
        idle_pct: share((t) => t.idle),
        steal_pct: share((t) => t.steal),
      };
    },
  };
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
  const withCpu = rows.some((r) => r.cpu_us);
  const us = (n: number | null | undefined): string => (n === null || n === undefined ? '-' : n.toFixed(n < 10 ? 1 : 0));
  const pct = (n: number | null | undefined): string => (n === null || n === undefined ? '-' : n.toFixed(0));
  const cpu = (c: CpuPerItem | undefined): string[] =>
    withCpu ? (c ? [`${us(c.app)} / ${us(c.harness)} / ${us(c.server)}`, `${pct(c.idle_pct)} / ${pct(c.steal_pct)}`] : ['', '']) : [];
  const lines = rows.map((r) => [r.scenario, `${fmt(r.rate)} ${r.unit}`, fmt(r.p50_ms), fmt(r.p99_ms), ...cpu(r.cpu_us), r.note ?? '']);
  const head = ['scenario', 'rate', 'p50 ms', 'p99 ms', ...(withCpu ? ['CPU µs/item app / harness / pg', 'idle / steal %'] : []), 'compared to'];
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const right = new Set(withCpu ? [1, 2, 3, 4, 5] : [1, 2, 3]);
  const line = (cells: string[]): string => cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
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
