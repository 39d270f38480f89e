import { rm, chmod } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { freePort, migrate, startEmbeddedDatabase, type EmbeddedDatabase } from '../libs/event-store/src/index.js';
import { createTestDatabase, sessionsWaitingOnLock, type TestDatabase } from './support/test-database.js';
import { scratchDir } from './support/scratch.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';
import { until } from './support/wait.js';
import { INGEST_TOKEN, http, spawnLedger, startLedger, subscriptionEvent, type RunningLedger } from './support/ledger-harness.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The answer while the database cannot be reached: a 503 problem a sender retries. */
function expectDatabaseUnavailable(res: Awaited<ReturnType<typeof http>>): void {
  expect(res.status).toBe(503);
  expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status: 503, title: 'Database unavailable' });
}

/** Posts `event` again every 500 ms, as a webhook sender retries, until it is taken (30 s at most). */
async function retryUntilTaken(url: string, event: Record<string, unknown>): Promise<Awaited<ReturnType<typeof http>> | null> {
  let res: Awaited<ReturnType<typeof http>> | null = null;
  for (let i = 0; i < 60 && res?.status !== 200; i++) {
    res = await http(url, { token: INGEST_TOKEN, body: event });
    if (res.status !== 200) await sleep(500);
  }
  return res;
}

/** The ids of the ingested events in the log, in position order. */
async function ingestedIds(connectionString: string): Promise<string[]> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const { rows } = await client.query<{ source_event_id: string }>("SELECT source_event_id FROM events WHERE source = 'api' ORDER BY position");
    return rows.map((r) => r.source_event_id);
  } finally {
    await client.end();
  }
}

describe('fault: PostgreSQL stopped and started again', () => {
  let dir: string;
  let port: number;
  let database: EmbeddedDatabase | null = null;
  let ledger: RunningLedger;

  beforeAll(async () => {
    // A private cluster this test may stop: never the shared server.
    dir = scratchDir('ledger-fault-pg');
    await chmod(dir, 0o755);
    port = await freePort();
    database = await startEmbeddedDatabase({ dataDir: path.join(dir, 'pg'), port });
    await migrate({ databaseUrl: database.connectionString });
    ledger = await startLedger(database.connectionString);
  }, 120_000);

  afterAll(async () => {
    await ledger?.close();
    await database?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After while it is down and recovers by itself', async () => {
    const url = `${ledger.url}/v1/events`;
    const before = subscriptionEvent();
    expect((await http(url, { token: INGEST_TOKEN, body: before })).status).toBe(200);
    // A snapshot held in memory keeps the class A read path up through the outage.
    let readyBefore = await http(`${ledger.url}/health/ready`);
    for (const deadline = Date.now() + 30_000; readyBefore.body.status !== 'ok' && Date.now() < deadline; ) {
      await sleep(100);
      readyBefore = await http(`${ledger.url}/health/ready`);
    }
    expect(readyBefore.body.status).toBe('ok');

    await database!.stop();
    database = null;

    const during = subscriptionEvent();
    for (let i = 0; i < 5; i++) expectDatabaseUnavailable(await http(url, { token: INGEST_TOKEN, body: during }));
    const ready = await http(`${ledger.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('degraded');
    expect(ready.body.components).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'database', class: 'A', status: 'down' })]));
    expect((await http(`${ledger.url}/health/live`)).status).toBe(200);

    database = await startEmbeddedDatabase({ dataDir: path.join(dir, 'pg'), port });

    // The sender retries the refused event, as a webhook sender does; no restart of the service.
    const recovered = await retryUntilTaken(url, during);
    expect(recovered?.status).toBe(200);
    expect(recovered?.body).toMatchObject({ id: during.id, duplicate: false });
    let readyAgain = await http(`${ledger.url}/health/ready`);
    for (let i = 0; i < 20 && readyAgain.body.status !== 'ok'; i++) {
      await sleep(250);
      readyAgain = await http(`${ledger.url}/health/ready`);
    }
    expect(readyAgain.status).toBe(200);

    expect(await ingestedIds(database.connectionString)).toEqual([before.id, during.id]);
  }, 120_000);
});

describe('fault: the network to PostgreSQL cut (packets dropped, not refused)', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let ledger: RunningLedger | null = null;

  beforeAll(async () => {
    db = await createTestDatabase();
    proxy = await startTcpProxy(db.url);
    // A short statement limit: the client gives a silent session up 5 s after it.
    ledger = await startLedger(proxy.url(db.url), { LEDGER_DB_STATEMENT_TIMEOUT_MS: '1000' });
  }, 60_000);

  afterAll(async () => {
    proxy?.restore();
    await ledger?.close();
    await proxy?.close();
    await db?.drop();
  });

  it('answers 503 with Retry-After instead of hanging, and recovers by itself once the link is back', async () => {
    const url = `${ledger!.url}/v1/events`;
    const before = subscriptionEvent();
    expect((await http(url, { token: INGEST_TOKEN, body: before })).status).toBe(200);
    const opened = proxy.connections;

    proxy.cut();

    // The pool's sessions are open and get no answer; new ones never finish connecting. Every
    // request is answered (a hang would fail the test at its timeout), with the 503 a sender retries.
    const during = subscriptionEvent();
    for (let i = 0; i < 4; i++) expectDatabaseUnavailable(await http(url, { token: INGEST_TOKEN, body: during }));
    const ready = await http(`${ledger!.url}/health/ready`);
    expect(ready.body.components).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'database', class: 'A', status: 'down' })]));
    expect((await http(`${ledger!.url}/health/live`)).status).toBe(200);
    // The relay really held connections: the ones open at the cut, and new attempts.
    expect(proxy.connections).toBeGreaterThan(opened);

    proxy.restore();

    // The sender retries; the service reconnects by itself.
    const recovered = await retryUntilTaken(url, during);
    expect(recovered?.status).toBe(200);
    expect(recovered?.body).toMatchObject({ id: during.id, duplicate: false });

    expect(await ingestedIds(db.url)).toEqual([before.id, during.id]);
  }, 120_000);
});

describe('fault: events arrive faster than the database takes them', () => {
  let db: TestDatabase;
  let ledger: RunningLedger | null = null;

  beforeAll(async () => {
    db = await createTestDatabase();
    // The groups wait on the held lock for as long as the test takes: no statement limit may end it first.
    ledger = await startLedger(db.url, { LEDGER_MAX_QUEUED_EVENTS: '2000', LEDGER_DB_STATEMENT_TIMEOUT_MS: '120000' });
  }, 60_000);

  afterAll(async () => {
    await ledger?.close();
    await db?.drop();
  });

  it('answers 503 (overloaded) with Retry-After past the queue limit, writes nothing of it, and takes it once the queue drains', async () => {
    const url = `${ledger!.url}/v1/events`;
    const observer = new pg.Client({ connectionString: db.url });
    const locker = new pg.Client({ connectionString: db.url });
    await observer.connect();
    await locker.connect();
    const groupsWaiting = (n: number): Promise<void> =>
      until(`${n} append groups to wait on the log lock`, async () => (await sessionsWaitingOnLock(observer, 'ledger_append')) === n);
    const queuedGauge = async (): Promise<number> => {
      const text = (await http(`${ledger!.url}/metrics`)).text;
      return Number(/^ledger_append_queue_events (\d+)$/m.exec(text)?.[1]);
    };
    try {
      // The database stops taking events: another session holds the log lock.
      await locker.query('BEGIN');
      await locker.query('SELECT position FROM log_head FOR UPDATE');
      // Both writers hold a group waiting on the lock; then 1000 events queue behind them.
      const first = http(url, { token: INGEST_TOKEN, body: [subscriptionEvent()] });
      await groupsWaiting(1);
      const second = http(url, { token: INGEST_TOKEN, body: [subscriptionEvent()] });
      await groupsWaiting(2);
      const batches = [0, 1].map(() => Array.from({ length: 1000 }, () => subscriptionEvent()));
      const queued = batches.map((batch) => http(url, { token: INGEST_TOKEN, body: batch }));
      await until('the batches to queue', async () => (await queuedGauge()) === 2000);

      const over = subscriptionEvent();
      const refused = await http(url, { token: INGEST_TOKEN, body: over });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(refused.body).toMatchObject({ type: '/problems/overloaded', title: 'Overloaded', status: 503 });

      await locker.query('COMMIT');
      expect((await first).status).toBe(200);
      expect((await second).status).toBe(200);
      const taken = await Promise.all(queued);
      for (const t of taken) {
        expect(t.status).toBe(200);
        expect(t.body.results).toHaveLength(1000);
      }
      expect(await queuedGauge()).toBe(0);

      // Nothing of the refused request was written: its retry is recorded now, after the batches.
      const retried = await http(url, { token: INGEST_TOKEN, body: over });
      expect(retried.status).toBe(200);
      expect(retried.body).toMatchObject({ id: over.id, duplicate: false });
      const positions = taken.flatMap((t) => t.body.results.map((r: { position: number }) => r.position));
      expect(retried.body.position).toBeGreaterThan(Math.max(...positions));
    } finally {
      await locker.query('ROLLBACK').catch(() => {});
      await locker.end();
      await observer.end();
    }
  }, 120_000);
});

describe('fault: the service SIGKILLed while 16 clients post', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db.drop();
  });

  it('keeps every event that got a 2xx, at the position it was given', async () => {
    const first = await spawnLedger(db.url);
    const acked = new Map<string, number>();
    let stop = false;
    let failures = 0;
    const clients = Array.from({ length: 16 }, async (_, c) => {
      for (let i = 0; !stop; i++) {
        const event = subscriptionEvent({ id: `kill-${c}-${i}` });
        try {
          const res = await http(`${first.url}/v1/events`, { token: INGEST_TOKEN, body: event });
          if (res.status === 200) acked.set(String(event.id), res.body.position);
        } catch {
          failures += 1; // the connection died with the process: not acknowledged
        }
      }
    });
    while (acked.size < 300) await sleep(20);
    await first.kill('SIGKILL');
    stop = true;
    await Promise.all(clients);
    expect(failures).toBeGreaterThan(0);

    const second = await spawnLedger(db.url);
    try {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      const { rows } = await client.query<{ source_event_id: string; position: number }>(
        'SELECT source_event_id, position::int AS position FROM events ORDER BY position',
      );
      const head = await client.query<{ position: number }>('SELECT position::int AS position FROM log_head');
      await client.end();
      const logged = new Map(rows.map((r) => [r.source_event_id, r.position]));
      for (const [id, position] of acked) expect(logged.get(id)).toBe(position);
      // Gap-free: positions 1..head, nothing torn.
      expect(rows.map((r) => r.position)).toEqual(Array.from({ length: head.rows[0]!.position }, (_, i) => i + 1));

      // And the restarted service takes events again, after the last position.
      const res = await http(`${second.url}/v1/events`, { token: INGEST_TOKEN, body: subscriptionEvent() });
      expect(res.status).toBe(200);
      expect(res.body.position).toBe(head.rows[0]!.position + 1);
    } finally {
      await second.kill('SIGTERM');
    }
  }, 120_000);
});
