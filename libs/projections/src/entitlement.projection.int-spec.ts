import { createHash } from 'node:crypto';
import pg from 'pg';
import { PostgresEventStore, readEvents, type NewEvent } from '@app/event-store';
import { createTestDatabase, testPool, type TestDatabase } from '../../../test/support/test-database.js';
import { DEFAULT_POLICY, TWO_PLAN_CATALOG } from '../../../test/support/projection-check.js';
import { createTablesLike, entitlementTables, EntitlementProjection, LIVE_TABLES } from './index.js';


let seq = 0;
function subscriptionEvent(subscription: string, subject: string, plan: string, status = 'active'): NewEvent {
  seq += 1;
  const data = {
    occurred_at: new Date(Date.UTC(2026, 10, 1, 0, 0, seq)).toISOString(),
    subscription: { id: subscription, subject, plan, status, quantity: 1, current_period_end: '2099-01-01T00:00:00.000Z', cancel_at_period_end: false, cancel_at: null, ended_at: null, trial_end: null },
    plan_refs: null,
  };
  return {
    streamId: `subscription:api:${subscription}`,
    type: 'subscription.updated',
    source: 'api',
    sourceEventId: `evt_${seq}`,
    subject,
    payloadHash: createHash('sha256').update(JSON.stringify(data)).digest(),
    data,
  };
}

async function dump(db: pg.ClientBase, t = LIVE_TABLES): Promise<unknown[]> {
  const subjects = await db.query(`SELECT subject, sources, position FROM ${t.subjects} ORDER BY subject`);
  const subscriptions = await db.query(`SELECT key, subject, fold FROM ${t.subscriptions} ORDER BY key`);
  return [subjects.rows, subscriptions.rows];
}

describe('EntitlementProjection.apply', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let client: pg.Client;
  beforeAll(async () => {
    db = await createTestDatabase();
    pool = testPool(db.url, 4);
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    await pool?.end();
    await db?.drop();
  });

  it('gives in small batches what a rebuild gives: subjects with several subscriptions, subscriptions that move', async () => {
    const store = new PostgresEventStore(pool);
    const catalog: NewEvent = { streamId: 'catalog', type: 'catalog.published', source: 'catalog', sourceEventId: 'c1', payloadHash: Buffer.alloc(32, 1), data: { catalog: TWO_PLAN_CATALOG, hash: 'c1' } };
    const events: NewEvent[] = [
      catalog,
      subscriptionEvent('sub_a1', 'org_a', 'basic'),
      subscriptionEvent('sub_b1', 'org_b', 'basic'),
      // org_a gets a second subscription in a later batch; the first is not touched again there.
      subscriptionEvent('sub_x', 'org_x', 'basic'),
      subscriptionEvent('sub_a2', 'org_a', 'pro'),
      // A subscription moves from org_b to org_c: org_b keeps nothing, org_c gets pro.
      subscriptionEvent('sub_b1', 'org_c', 'pro'),
      subscriptionEvent('sub_x', 'org_x', 'pro'),
      subscriptionEvent('sub_c2', 'org_c', 'basic'),
      subscriptionEvent('sub_a2', 'org_a', 'pro'),
    ];
    for (const e of events) await store.append({ events: [e] });

    // The live path, two events per transaction, as the projector runs it.
    const projection = new EntitlementProjection(DEFAULT_POLICY);
    let position = 0;
    for (;;) {
      const batch = await readEvents(client, position, 2);
      if (batch.length === 0) break;
      await client.query('BEGIN');
      await projection.apply(client, batch);
      await client.query('COMMIT');
      position = batch[batch.length - 1]!.position;
    }

    const verify = entitlementTables('__int_verify');
    for (const sql of createTablesLike(verify)) await client.query(sql);
    await new EntitlementProjection(DEFAULT_POLICY, verify).rebuild(client, { batchSize: 1_000 });
    const live = await dump(client);
    expect(live).toEqual(await dump(client, verify));

    // And what it says is right, not only consistent.
    const sources = new Map(((live[0] as Array<{ subject: string; sources: { plans: Array<{ plan: string }> } }>)).map((r) => [r.subject, r.sources.plans.map((p) => p.plan).sort()]));
    expect(sources.get('org_a')).toEqual(['basic', 'pro']); // sub_a1 from a batch before sub_a2's
    expect(sources.get('org_b')).toEqual([]);
    expect(sources.get('org_c')).toEqual(['basic', 'pro']);
    await store.close();
  });
});
