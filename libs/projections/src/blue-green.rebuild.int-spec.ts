import { createHash } from 'node:crypto';
import pg from 'pg';
import { PostgresEventStore, readEvents, type NewEvent } from '@app/event-store';
import { createTestDatabase, testPool, type TestDatabase } from '../../../test/support/test-database.js';
import { DEFAULT_POLICY, TWO_PLAN_CATALOG, liveAndCleanReplay } from '../../../test/support/projection-check.js';
import { EntitlementProjection, rebuildBlueGreen, type RebuildProgress } from './index.js';


function subscriptionEvent(i: number, prefix: string): NewEvent {
  const data = {
    occurred_at: new Date(Date.UTC(2026, 10, 1) + i * 1000).toISOString(),
    subscription: {
      id: `${prefix}_sub_${i % 120}`,
      subject: `${prefix}_${i % 90}`,
      plan: i % 3 ? 'pro' : 'basic',
      status: i % 11 ? 'active' : 'canceled',
      quantity: 1 + (i % 5),
      current_period_end: '2099-01-01T00:00:00.000Z',
      cancel_at_period_end: false,
      cancel_at: null,
      ended_at: null,
      trial_end: null,
    },
    plan_refs: null,
  };
  return {
    streamId: `subscription:api:${prefix}_sub_${i % 120}`,
    type: 'subscription.updated',
    source: 'api',
    sourceEventId: `${prefix}_evt_${i}`,
    subject: data.subscription.subject,
    payloadHash: createHash('sha256').update(JSON.stringify(data)).digest(),
    data,
  };
}

async function appendMany(store: PostgresEventStore, prefix: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 500) {
    await store.append({ events: Array.from({ length: Math.min(500, n - i) }, (_, k) => subscriptionEvent(i + k, prefix)) });
  }
}

/** What the live projector does, in its batches: apply and move the checkpoint in one transaction. */
async function projectLive(client: pg.Client): Promise<number> {
  const projection = new EntitlementProjection(DEFAULT_POLICY);
  await client.query("INSERT INTO projection_checkpoints (name) VALUES ('entitlements') ON CONFLICT (name) DO NOTHING");
  for (;;) {
    await client.query('BEGIN');
    try {
      const { rows } = await client.query<{ position: string }>("SELECT position FROM projection_checkpoints WHERE name = 'entitlements' FOR UPDATE");
      const position = Number(rows[0]!.position);
      const events = await readEvents(client, position, 250);
      if (events.length === 0) {
        await client.query('COMMIT');
        return position;
      }
      await projection.apply(client, events);
      await client.query("UPDATE projection_checkpoints SET position = $1 WHERE name = 'entitlements'", [events.at(-1)!.position]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    }
  }
}

describe('rebuildBlueGreen', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let store: PostgresEventStore;
  const clients: pg.Client[] = [];
  const connect = async (): Promise<pg.Client> => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    db = await createTestDatabase();
    pool = testPool(db.url, 4);
    store = new PostgresEventStore(pool);
  });
  afterAll(async () => {
    for (const c of clients) await c.end();
    await store?.close();
    await pool?.end();
    await db?.drop();
  });

  it('reports progress batch by batch, catches up with what the live projector applied meanwhile, and swaps in what a clean replay gives', async () => {
    await store.append({
      events: [{ streamId: 'catalog', type: 'catalog.published', source: 'catalog', sourceEventId: 'c1', payloadHash: Buffer.alloc(32, 1), data: { catalog: TWO_PLAN_CATALOG, hash: 'c1' } }],
    });
    await appendMany(store, 'a', 6_000);
    const live = await connect();
    const target = await projectLive(live);
    expect(target).toBe(6_001);

    // While the rebuild folds, 3,000 more events arrive and the live projector applies them.
    // The rebuild's session (the test's) sends its first write into the beside tables only once
    // they have, so the rebuild meets a live checkpoint beyond its window and must catch up
    // before it swaps.
    let arriving: Promise<number> | undefined;
    const client = await connect();
    const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
    let writesHeld = 0;
    (client as { query: unknown }).query = async (...args: unknown[]): Promise<unknown> => {
      const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string }).text;
      if (/^\s*INSERT INTO ent_\w+__rebuild/i.test(text ?? '')) {
        writesHeld += 1;
        await arriving;
      }
      return query(...args);
    };
    const seen: RebuildProgress[] = [];
    const result = await rebuildBlueGreen({
      client,
      policy: DEFAULT_POLICY,
      batchSize: 200,
      onProgress: (p) => {
        seen.push(p);
        arriving ??= appendMany(store, 'b', 3_000).then(() => projectLive(live));
      },
    });
    expect(writesHeld).toBeGreaterThan(0);
    expect(await arriving!).toBe(9_001);

    // Folding: from 0, one report per batch, strictly climbing to the target it read first.
    const folding = seen.filter((p) => p.phase === 'folding');
    expect(folding[0]).toEqual({ phase: 'folding', processed: 0, total: target });
    expect(folding.length).toBe(1 + Math.ceil(target / 200));
    for (let i = 1; i < folding.length; i++) expect(folding[i]!.processed).toBeGreaterThan(folding[i - 1]!.processed);
    expect(folding.some((p) => p.processed > 0 && p.processed < p.total)).toBe(true);
    expect(folding.at(-1)!.processed).toBe(target);
    // Phases in order, processed never going back, ending in the swap at the live checkpoint.
    const order = ['folding', 'writing', 'catching_up', 'swapping'];
    for (let i = 1; i < seen.length; i++) {
      expect(order.indexOf(seen[i]!.phase)).toBeGreaterThanOrEqual(order.indexOf(seen[i - 1]!.phase));
      expect(seen[i]!.processed).toBeGreaterThanOrEqual(seen[i - 1]!.processed);
    }
    expect(seen.filter((p) => p.phase === 'writing')).toEqual([{ phase: 'writing', processed: target, total: target }]);
    expect(seen.filter((p) => p.phase === 'catching_up').at(-1)).toEqual({ phase: 'catching_up', processed: 9_001, total: 9_001 });
    expect(seen.at(-1)).toEqual({ phase: 'swapping', processed: 9_001, total: 9_001 });
    expect(result).toEqual({ position: 9_001, subjects: 180, generation: 1 });

    const { head, live: model, replay } = await liveAndCleanReplay(db.url);
    expect(head).toBe(9_001);
    expect(replay).toEqual(model);
    const beside = await live.query("SELECT count(*)::int AS n FROM pg_tables WHERE tablename LIKE 'ent\\_%\\_\\_rebuild'");
    expect(beside.rows[0].n).toBe(0);
  });
});
