import { createHash } from 'node:crypto';
import { createPool, PostgresEventStore, type NewEvent } from '../libs/event-store/src/index.js';
import { createTestDatabase, type TestDatabase } from './support/test-database.js';
import { ADMIN_TOKEN, INGEST_TOKEN, http, spawnLedger, subscriptionEvent, type LedgerProcess } from './support/ledger-harness.js';
import { liveAndCleanReplay, progress } from './support/projection-check.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const DAY = 86_400_000;

/** Appends `count` subscription events straight to the log (a backlog for the projector). */
async function backlog(url: string, count: number): Promise<number> {
  const pool = createPool({ connectionString: url, max: 2 });
  const store = new PostgresEventStore(pool);
  const now = Date.now();
  let head = 0;
  for (let i = 0; i < count; i += 1000) {
    const events: NewEvent[] = Array.from({ length: Math.min(1000, count - i) }, (_, k) => {
      const n = i + k;
      const data = {
        occurred_at: new Date(now - (n % 97) * 3_600_000).toISOString(),
        subscription: {
          id: `sub_${n % 3000}`,
          subject: `org_${n % 1000}`,
          plan: ['free', 'pro', 'enterprise', 'ghost'][n % 4],
          status: ['active', 'trialing', 'past_due', 'canceled', 'active'][n % 5],
          quantity: n % 11,
          current_period_end: new Date(now + ((n % 40) - 10) * DAY).toISOString(),
          cancel_at_period_end: n % 7 === 0,
          cancel_at: null,
          ended_at: n % 5 === 3 ? new Date(now + ((n % 9) - 4) * DAY).toISOString() : null,
          trial_end: null,
        },
        plan_refs: null,
      };
      return {
        streamId: `subscription:api:sub_${n % 3000}`,
        type: 'subscription.updated',
        source: 'api',
        sourceEventId: `backlog_${n}`,
        subject: data.subscription.subject,
        payloadHash: createHash('sha256').update(JSON.stringify(data)).digest(),
        data,
      };
    });
    head = (await store.append({ events })).head;
  }
  await store.close();
  await pool.end();
  return head;
}

async function untilCaughtUp(url: string, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await progress(url);
    if (p.checkpoint === p.head && p.head > 0) return p.head;
    if (Date.now() > deadline) throw new Error(`projection stuck at ${p.checkpoint} of ${p.head}`);
    await sleep(50);
  }
}

async function projectorDetail(p: LedgerProcess): Promise<string> {
  const r = await http(`${p.url}/health/ready`);
  return r.body.components.find((c: { name: string }) => c.name === 'projector').detail as string;
}

describe('fault: the projector SIGKILLed mid-batch', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('resumes after restart to a read model equal to a clean replay', async () => {
    const head = await backlog(db.url, 40_000);
    const first = await spawnLedger(db.url, { LEDGER_ROLE: 'worker' });
    let at = await progress(db.url);
    while (at.checkpoint === 0) {
      await sleep(5);
      at = await progress(db.url);
    }
    await first.kill('SIGKILL');
    const killedAt = await progress(db.url);
    // Killed part-way: some batches committed, the rest not yet.
    expect(killedAt.checkpoint).toBeGreaterThan(0);
    expect(killedAt.checkpoint).toBeLessThan(head);

    const second = await spawnLedger(db.url, { LEDGER_ROLE: 'worker' });
    try {
      await untilCaughtUp(db.url);
      const { live, replay } = await liveAndCleanReplay(db.url);
      expect(live.subjects.length).toBe(1000);
      expect(replay).toEqual(live);
    } finally {
      await second.kill('SIGTERM');
    }
  }, 180_000);
});

describe('two instances on one database', () => {
  let db: TestDatabase;
  let a: LedgerProcess;
  let b: LedgerProcess;

  beforeAll(async () => {
    db = await createTestDatabase();
    // Both at once: they race for the migration lock and the projector lease.
    [a, b] = await Promise.all([spawnLedger(db.url), spawnLedger(db.url)]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a, b].map((p) => p?.kill('SIGTERM')));
    await db?.drop();
  });

  it('projects on one only; when it dies the other takes over', async () => {
    let details: string[] = [];
    for (let i = 0; i < 100; i++) {
      details = await Promise.all([projectorDetail(a), projectorDetail(b)]);
      if (details.some((d) => d.startsWith('leader'))) break;
      await sleep(100);
    }
    expect(details.filter((d) => d.startsWith('leader'))).toHaveLength(1);
    expect(details.filter((d) => d.startsWith('standby'))).toHaveLength(1);
    const [leader, standby] = details[0]!.startsWith('leader') ? [a, b] : [b, a];

    const first = await http(`${standby.url}/v1/events`, { token: INGEST_TOKEN, body: subscriptionEvent({}, { subject: 'org_ha' }) });
    expect(first.status).toBe(200);
    await untilCaughtUp(db.url);

    await leader.kill('SIGKILL');
    const second = await http(`${standby.url}/v1/events`, { token: INGEST_TOKEN, body: subscriptionEvent({}, { subject: 'org_ha', quantity: 8 }, ) });
    expect(second.status).toBe(200);
    await untilCaughtUp(db.url, 30_000);
    expect(await projectorDetail(standby)).toMatch(/^leader/);
    const read = await http(`${standby.url}/v1/subjects/org_ha/entitlements`, { token: ADMIN_TOKEN });
    expect(read.body.position).toBeGreaterThanOrEqual(second.body.position);
  }, 120_000);
});

describe('an api instance beside a worker', () => {
  let db: TestDatabase;
  let api: LedgerProcess;
  let worker: LedgerProcess;

  beforeAll(async () => {
    db = await createTestDatabase();
    worker = await spawnLedger(db.url, { LEDGER_ROLE: 'worker' });
    api = await spawnLedger(db.url, { LEDGER_ROLE: 'api' });
  }, 60_000);
  afterAll(async () => {
    await Promise.all([api, worker].map((p) => p?.kill('SIGTERM')));
    await db?.drop();
  });

  it('follows nothing (no LISTEN on the log) while the worker projects what it records', async () => {
    const components = async (p: LedgerProcess): Promise<string[]> =>
      (await http(`${p.url}/health/ready`)).body.components.map((c: { name: string }) => c.name);
    expect(await components(api)).not.toContain('log-listener');
    expect(await components(worker)).toContain('log-listener');
    const pool = createPool({ connectionString: db.url, max: 1 });
    try {
      const { rows } = await pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN ledger_events'",
      );
      expect(rows[0]!.n).toBe(1);
    } finally {
      await pool.end();
    }
    const sent = await http(`${api.url}/v1/events`, { token: INGEST_TOKEN, body: subscriptionEvent({}, { subject: 'org_roles' }) });
    expect(sent.status).toBe(200);
    await untilCaughtUp(db.url);
    const read = await http(`${worker.url}/v1/subjects/org_roles/entitlements`, { token: ADMIN_TOKEN });
    expect(read.body.position).toBeGreaterThanOrEqual(sent.body.position);
  }, 60_000);
});
