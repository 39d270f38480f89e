import pg from 'pg';
import { createTestDatabase, sessionTimeoutSettings, type TestDatabase } from '../../../test/support/test-database.js';
import { startTcpProxy } from '../../../test/support/tcp-proxy.js';
import { createPool, DatabaseUnavailableError, endPool, gotNoAnswer, isDatabaseUnavailable, rollbackAfter } from './index.js';

describe('createPool', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
  });

  afterAll(async () => {
    await db.drop();
  });

  it('gives its sessions the statement and idle-in-transaction timeouts, by default and as configured', async () => {
    const defaults = createPool({ connectionString: db.url, max: 1 });
    const configured = createPool({ connectionString: db.url, max: 1, statementTimeoutMs: 1_234, idleInTransactionTimeoutMs: 5_678 });
    try {
      expect(await sessionTimeoutSettings(defaults)).toEqual(['15s', '30s']);
      expect(await sessionTimeoutSettings(configured)).toEqual(['1234ms', '5678ms']);
    } finally {
      await defaults.end();
      await configured.end();
    }
  });

  it('commits durably on a database set to synchronous_commit = off, and keeps every durable setting as set', async () => {
    // Sessions opened after this inherit the database's setting.
    const alterDatabase = async (change: string): Promise<void> => {
      const admin = new pg.Client({ connectionString: db.url });
      await admin.connect();
      await admin.query(`ALTER DATABASE ${db.name} ${change}`);
      await admin.end();
    };
    const setting = async (value: string): Promise<string> => {
      await alterDatabase(`SET synchronous_commit = ${value}`);
      const pool = createPool({ connectionString: db.url, max: 1 });
      try {
        return (await pool.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]!.synchronous_commit;
      } finally {
        await pool.end();
      }
    };
    try {
      expect(await setting('off')).toBe('on');
      expect(await setting('local')).toBe('local');
      expect(await setting('remote_apply')).toBe('remote_apply');
    } finally {
      await alterDatabase('RESET synchronous_commit');
    }
  });

  it('gives up a statement that gets no answer (packets dropped) and reports the database unavailable', async () => {
    const proxy = await startTcpProxy(db.url);
    // Read timeout: the statement limit and 5 s.
    const pool = createPool({ connectionString: proxy.url(db.url), max: 1, statementTimeoutMs: 200 });
    try {
      expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
      proxy.cut();
      // The server never sees the statement, so its own limit cannot end the wait: only the client's.
      const err = await pool.query('SELECT 1').catch((e: unknown) => e);
      expect(err).toMatchObject({ message: 'Query read timeout' });
      expect(isDatabaseUnavailable(err)).toBe(true);
      proxy.restore();
      // The session given up is replaced.
      expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
    } finally {
      proxy.restore();
      await pool.end();
      await proxy.close();
    }
  }, 30_000);

  it('rolls a transaction back after an error, but sends nothing to a session that got no answer', async () => {
    const pool = createPool({ connectionString: db.url, max: 1 });
    const client = await pool.connect();
    const tableExists = async (): Promise<boolean> =>
      (await client.query<{ t: string | null }>("SELECT to_regclass('pg_temp.rolled') AS t")).rows[0]!.t !== null;
    try {
      await client.query('BEGIN');
      await client.query('CREATE TEMP TABLE rolled (x int)');
      // No answer came: no ROLLBACK is sent (it would wait out another read timeout); the caller gives the session up.
      const readTimeout = new Error('Query read timeout');
      expect(gotNoAnswer(readTimeout)).toBe(true);
      await rollbackAfter(client, readTimeout);
      await rollbackAfter(client, new DatabaseUnavailableError());
      expect(await tableExists()).toBe(true);
      // Any other error: rolled back.
      await rollbackAfter(client, new Error('a bad row'));
      expect(await tableExists()).toBe(false);
      // An error the server answered, even one that counts as "unavailable" (a statement timeout): rolled back.
      await client.query('BEGIN');
      await client.query('CREATE TEMP TABLE rolled (x int)');
      await client.query("SET LOCAL statement_timeout = '50ms'");
      const cancelled = await client.query('SELECT pg_sleep(5)').catch((e: unknown) => e);
      expect(cancelled).toMatchObject({ code: '57014' });
      expect(isDatabaseUnavailable(cancelled)).toBe(true);
      expect(gotNoAnswer(cancelled)).toBe(false);
      await rollbackAfter(client, cancelled);
      expect(await tableExists()).toBe(false);
    } finally {
      client.release(true);
      await pool.end();
    }
  });

  it('has the server cancel a statement that outlasts the statement timeout', async () => {
    const pool = createPool({ connectionString: db.url, max: 1, statementTimeoutMs: 200 });
    try {
      // Far longer than the test may run: only the timeout ends it.
      const err = await pool.query('SELECT pg_sleep(600)').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: '57014', message: expect.stringContaining('statement timeout') });
      expect(isDatabaseUnavailable(err)).toBe(true);
      // The session survives a cancelled statement.
      expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
    } finally {
      await pool.end();
    }
  });

  it('has the server end a session left idle in a transaction', async () => {
    const pool = createPool({ connectionString: db.url, max: 1, idleInTransactionTimeoutMs: 200 });
    const client = await pool.connect();
    // A checked-out client has no pool listener: the server ending its session is reported here.
    const ended = new Promise<Error>((resolve) => client.on('error', resolve));
    try {
      await client.query('BEGIN');
      await client.query('SELECT 1');
      const err = await ended;
      expect(err).toMatchObject({ code: '25P03' });
      await expect(client.query('SELECT 1')).rejects.toThrow();
    } finally {
      client.release(true);
    }
    try {
      // The pool replaces the session the server ended.
      expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
    } finally {
      await pool.end();
    }
  });

  it('endPool returns once the server has no session of the pool left', async () => {
    const name = 'end-pool-check';
    const pool = createPool({ connectionString: db.url, max: 4, applicationName: name });
    const watcher = createPool({ connectionString: db.url, max: 1 });
    try {
      // Four sessions at once, all idle in the pool by the time it ends.
      await Promise.all([0, 1, 2, 3].map(() => pool.query('SELECT pg_sleep(0.05)')));
      const sessions = async (): Promise<number> =>
        (await watcher.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [name])).rows[0]!.n;
      expect(await sessions()).toBe(4);
      await endPool(pool);
      expect(await sessions()).toBe(0);
    } finally {
      await watcher.end();
    }
  });
});
