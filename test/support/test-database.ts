import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPool, migrate, PostgresEventStore } from '../../libs/event-store/src/index.js';

export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * A fresh, migrated database for one suite on the run's server, dropped afterwards, so
 * suites run in parallel and leave nothing behind.
 */
export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error('DATABASE_URL is not set: run the tests through jest (globalSetup sets it)');
  const name = `ledger_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(base, name);
  if (options.migrate !== false) await migrate({ databaseUrl: url });
  return {
    url,
    name,
    drop: () => dropDatabase(base, name),
  };
}

/**
 * Drops `name` on the server of `adminUrl`. pg's pool.end() resolves once its clients have
 * sent Terminate, before their sessions end: FORCE at that moment would signal a backend still
 * open, and its "terminating connection" reaches a client whose pool has already let it go.
 * So this waits (briefly) for the sessions to end; FORCE is for those a killed process left.
 */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    for (let i = 0; i < 50; i++) {
      const { rows } = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
      if (rows[0]!.n === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await c.end();
  }
}

/**
 * A pool for a test's own reads. Like every pg pool it needs an 'error' listener: without
 * one, a server-side end of an idle session is an uncaught error in whatever test runs then.
 * The pool replaces such a client; a query that needs the server still fails loudly.
 */
export function testPool(url: string, max = 2): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on('error', () => undefined);
  return pool;
}

/** A suite's own database with a pool (4 sessions) and an event store on it. */
export interface StoreDatabase {
  readonly db: TestDatabase;
  readonly pool: pg.Pool;
  readonly store: PostgresEventStore;
  /** Closes the store and the pool, then drops the database. */
  close(): Promise<void>;
}

/** A fresh, migrated database with a pool and an event store on it (see StoreDatabase). */
export async function openStoreDatabase(): Promise<StoreDatabase> {
  const db = await createTestDatabase();
  const pool = createPool({ connectionString: db.url, max: 4 });
  const store = new PostgresEventStore(pool);
  return {
    db,
    pool,
    store,
    close: async () => {
      await store.close();
      await pool.end();
      await db.drop();
    },
  };
}

/** A session's statement and idle-in-transaction timeouts, as SHOW gives them (e.g. '15s'). */
export async function sessionTimeoutSettings(session: pg.Pool | pg.ClientBase): Promise<[string, string]> {
  const statement = await session.query<{ statement_timeout: string }>('SHOW statement_timeout');
  const idle = await session.query<{ idle_in_transaction_session_timeout: string }>('SHOW idle_in_transaction_session_timeout');
  return [statement.rows[0]!.statement_timeout, idle.rows[0]!.idle_in_transaction_session_timeout];
}

/**
 * How many sessions of the current database wait on a lock while running a statement that
 * contains `statement` (e.g. the append function's name). Run it outside a transaction: inside
 * one, pg_stat_activity answers from the snapshot it took first.
 */
export async function sessionsWaitingOnLock(db: Pick<pg.ClientBase, 'query'>, statement: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%' || $1 || '%'",
    [statement],
  );
  return rows[0]!.n;
}
