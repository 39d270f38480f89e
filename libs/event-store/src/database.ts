import pg from 'pg';
import { DatabaseUnavailableError } from './event-store.errors.js';

// int8 (bigint) as JS number: positions stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/** The timeouts of the pool's sessions unless configured otherwise. */
const DEFAULT_STATEMENT_TIMEOUT_MS = 15_000;
const DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS = 30_000;
/**
 * How much longer than the server's statement limit the client waits for an answer before it
 * gives the session up. The server's limit ends a slow statement with an error the client
 * reads; this one ends the wait when no answer can come, because the network drops the
 * packets (a partition, a firewall that drops rather than refuses, a frozen server), where
 * TCP alone would wait about 15 minutes for its retransmissions to give up.
 */
const READ_TIMEOUT_MARGIN_MS = 5_000;
/** Idle time after which TCP keepalive probes a session's connection (the OS default is 2 hours). */
const KEEPALIVE_IDLE_MS = 10_000;
/** The longest a session made outside the pool waits to be connected (the pool's own is shorter). */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Server-side limits of a session. pg sends no setting for 0, so 0 leaves the server's own
 * (usually none); give a long limit rather than 0 to lift the default.
 */
export interface SessionTimeouts {
  /** Server-side limit for any one statement; the client stops waiting for an answer READ_TIMEOUT_MARGIN_MS later. */
  readonly statementTimeoutMs?: number;
  /** Server-side limit for a transaction left idle (a crashed or stuck client); the server ends the session. */
  readonly idleInTransactionTimeoutMs?: number;
}

type SessionSettings = Pick<
  pg.ClientConfig,
  | 'statement_timeout'
  | 'idle_in_transaction_session_timeout'
  | 'query_timeout'
  | 'keepAlive'
  | 'keepAliveInitialDelayMillis'
  | 'connectionTimeoutMillis'
>;

/**
 * The pg client settings for `timeouts`, the pool's defaults where not given: for sessions
 * made outside `createPool` (a leader's session, a LISTEN session), so that a stuck query or
 * a half-open transaction cannot hold one of them, and what it has locked, forever either;
 * nor can a network that silently drops the session's packets hold its caller: connecting is
 * limited too, and `query_timeout`, the client-side limit, fails a statement with an error that
 * isDatabaseUnavailable recognises; the caller then gives the session up (see rollbackAfter), as
 * pg leaves the unanswered statement active on it.
 *
 * @example
 * const client = new pg.Client({ connectionString, ...sessionTimeouts({ statementTimeoutMs: 60_000 }) });
 */
export function sessionTimeouts(timeouts: SessionTimeouts = {}): SessionSettings {
  const statement = timeouts.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  return {
    statement_timeout: statement,
    idle_in_transaction_session_timeout: timeouts.idleInTransactionTimeoutMs ?? DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    query_timeout: statement > 0 ? statement + READ_TIMEOUT_MARGIN_MS : undefined,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
    // A connect that gets no answer (the same dropped packets) fails rather than waits.
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  };
}

export interface PoolOptions extends SessionTimeouts {
  readonly connectionString: string;
  readonly max?: number;
  readonly applicationName?: string;
  readonly connectionTimeoutMs?: number;
  /** Called for errors on idle clients (a server restart); the pool replaces them. */
  readonly onIdleError?: (err: Error) => void;
}

/**
 * Run first on each new session that commits: a 2xx means the event's commit is on disk, so a
 * session must not inherit `synchronous_commit = off` from its database or role (a commit
 * would return before its WAL is flushed, and a crash could lose an acknowledged event).
 * Every other value (local, remote_write, on, remote_apply) flushes the commit locally first
 * and is kept as set.
 */
const DURABLE_COMMIT_SQL =
  "SELECT set_config('synchronous_commit', 'on', false) WHERE current_setting('synchronous_commit') = 'off'";

/**
 * A pool whose sessions carry statement and idle-in-transaction timeouts, so a stuck
 * query or a half-open transaction cannot hold the log lock forever, and commit durably
 * whatever `synchronous_commit` their database or role sets.
 */
export function createPool(options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'entitlement-ledger',
    ...sessionTimeouts(options),
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 3_000,
    idleTimeoutMillis: 30_000,
    // Awaited before the session is handed out; should it fail, the session is closed and the
    // checkout fails with it.
    onConnect: ensureDurableCommit,
  });
  pool.on('error', (err) => options.onIdleError?.(err));
  return pool;
}

/**
 * Makes a new session commit durably (see DURABLE_COMMIT_SQL): createPool runs it on each of its
 * sessions before handing it out, and a session made outside the pool that commits (a leader's)
 * runs it after connecting.
 */
export async function ensureDurableCommit(client: Pick<pg.ClientBase, 'query'>): Promise<void> {
  await client.query(DURABLE_COMMIT_SQL);
}

/**
 * True when `err` came without an answer from the server: a read timeout, a connection lost or
 * refused. The session is then of no further use (after a read timeout pg keeps the unanswered
 * statement active on it, and the next one queues behind it): give it up. An error the server
 * answered (any SQLSTATE: a statement timeout, a deadlock, a full disk) leaves it usable.
 */
export function gotNoAnswer(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  // pg's DatabaseError: the server answered with this error.
  if (typeof (err as { severity?: unknown }).severity === 'string') return false;
  if (err instanceof DatabaseUnavailableError) return err.cause === undefined || gotNoAnswer(err.cause);
  return isDatabaseUnavailable(err);
}

/**
 * Ends the open transaction of a session after `err`: ROLLBACK, unless the session got no
 * answer (gotNoAnswer), where a ROLLBACK would wait out another read timeout before failing
 * too. The caller gives such a session up (release(true), end()); the server ends its
 * transaction with it.
 */
export async function rollbackAfter(client: Pick<pg.ClientBase, 'query'>, err: unknown): Promise<void> {
  if (gotNoAnswer(err)) return;
  await client.query('ROLLBACK').catch(() => undefined);
}

/**
 * Ends a pool and waits until its sessions have closed. pg.Pool's end() resolves once it has
 * asked every client to end, not once their connections are gone: a server stopped right after
 * it (the embedded database at shutdown) would still find them, and end them itself.
 */
export async function endPool(pool: pg.Pool, timeoutMs = 5_000): Promise<void> {
  let open = pool.totalCount;
  const closed = new Promise<void>((resolve) => {
    if (open === 0) return resolve();
    const timer = setTimeout(resolve, timeoutMs);
    pool.on('remove', () => {
      if (--open > 0) return;
      clearTimeout(timer);
      resolve();
    });
  });
  await pool.end();
  await closed;
}

const unavailableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  '57014', // query_canceled (statement_timeout)
  '25P03', // idle_in_transaction_session_timeout
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '25006', // read_only_sql_transaction (a failover left us on a standby)
]);

// SQLSTATE classes that mean "the server cannot serve now": connection exceptions (08),
// insufficient resources (53: disk full, out of memory), operator intervention (57),
// system errors (58), internal errors (XX).
const unavailableClasses = ['08', '53', '57', '58', 'XX'];

const unavailableMessages = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'connection timeout',
  'Client has encountered a connection error',
  'Client was closed and is not queryable',
  'the database system is',
  // pg's query_timeout: no answer came (the network drops the packets, or the server is frozen).
  'Query read timeout',
];

/** True when an error means "PostgreSQL is not reachable right now" rather than bad data. */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (err instanceof DatabaseUnavailableError) return true;
  // Duck-typed: errors may come from another realm (vm contexts) or wrap one another.
  if (typeof err !== 'object' || err === null) return false;
  const { code, message, errors } = err as { code?: unknown; message?: unknown; errors?: unknown };
  if (typeof code === 'string' && (unavailableCodes.has(code) || unavailableClasses.some((c) => code.startsWith(c)))) {
    return true;
  }
  if (Array.isArray(errors) && errors.some(isDatabaseUnavailable)) return true;
  return typeof message === 'string' && unavailableMessages.some((m) => message.includes(m));
}
