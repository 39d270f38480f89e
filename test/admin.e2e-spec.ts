import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { createTestDatabase, testPool, type TestDatabase } from './support/test-database.js';
import { ADMIN_TOKEN, INGEST_TOKEN, TEST_PLANS, http, startLedger, subscriptionEvent, type RunningLedger } from './support/ledger-harness.js';
import { waitForPosition } from './support/projection-check.js';

const DAY = 86_400_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('admin API: scopes, replay of every subject, what-if', () => {
  let db: TestDatabase;
  let ledger: RunningLedger;
  let base: string;
  let pool: pg.Pool;
  const head = async (): Promise<number> => Number((await pool.query('SELECT position FROM log_head')).rows[0].position);

  beforeAll(async () => {
    db = await createTestDatabase();
    ledger = await startLedger(db.url);
    base = ledger.url;
    pool = testPool(db.url, 2);
  });
  afterAll(async () => {
    await pool?.end();
    await ledger?.close();
    await db?.drop();
  });

  it('every admin endpoint: 401 without a token, 403 with every other scope, and nothing changes; no token is stored in clear', async () => {
    const minted = await http(`${base}/v1/admin/tokens`, {
      token: ADMIN_TOKEN,
      body: { name: 'everything but admin', scopes: ['events:write', 'entitlements:read', 'snapshots:read'] },
    });
    expect(minted.status).toBe(201);
    const other = minted.body.token as string;
    const endpoints: Array<[string, string, unknown?]> = [
      ['POST', '/v1/admin/tokens', { name: 'x', scopes: ['admin'] }],
      ['DELETE', `/v1/admin/tokens/${minted.body.id}`],
      ['POST', '/v1/admin/subjects/org_1/grants', { feature: 'beta', value: true, reason: 'x' }],
      ['DELETE', '/v1/admin/subjects/org_1/grants/beta', { reason: 'x' }],
      ['POST', '/v1/admin/subjects/org_1/api-keys', { name: 'x' }],
      ['GET', '/v1/admin/subjects/org_1/api-keys'],
      ['DELETE', '/v1/admin/subjects/org_1/api-keys/ak_0000000000000000'],
      ['POST', '/v1/admin/keys/rotate', {}],
      ['POST', '/v1/admin/projections/entitlements/rebuild', {}],
      ['GET', '/v1/admin/jobs'],
      ['GET', '/v1/admin/jobs/job_0000000000000000'],
      ['GET', '/v1/admin/entitlements'],
      ['POST', '/v1/admin/what-if', { catalog: { plans: [] } }],
      ['GET', '/v1/subjects/org_1/history'],
    ];
    const before = await head();
    for (const [method, path, body] of endpoints) {
      const anonymous = await http(`${base}${path}`, { method, body });
      expect([path, anonymous.status]).toEqual([path, 401]);
      expect(anonymous.headers.get('content-type')).toContain('application/problem+json');
      const forbidden = await http(`${base}${path}`, { method, body, token: other });
      expect([path, forbidden.status]).toEqual([path, 403]);
      expect(forbidden.headers.get('content-type')).toContain('application/problem+json');
      const wrong = await http(`${base}${path}`, { method, body, token: `${ADMIN_TOKEN}x` });
      expect([path, wrong.status]).toEqual([path, 401]);
    }
    expect(await head()).toBe(before);
    expect((await pool.query('SELECT count(*)::int AS n FROM admin_jobs')).rows[0].n).toBe(0);

    // Tokens are kept as hashes: neither secret appears anywhere in the database.
    for (const secret of [other, ADMIN_TOKEN]) {
      const { rows } = await pool.query(
        `SELECT (SELECT count(*) FROM api_tokens t WHERE t::text LIKE '%' || $1 || '%')::int
              + (SELECT count(*) FROM events e WHERE e::text LIKE '%' || $1 || '%')::int AS n`,
        [secret],
      );
      expect(rows[0].n).toBe(0);
    }
    const row = (await pool.query('SELECT secret_hash FROM api_tokens WHERE id = $1', [minted.body.id])).rows[0];
    expect(row.secret_hash).toHaveLength(32);
  });

  it('replays every subject at a position or a time, matching the per-subject reads', async () => {
    const now = Date.now();
    const post = async (body: unknown): Promise<number> => {
      const r = await http(`${base}/v1/events`, { token: INGEST_TOKEN, body });
      expect(r.status).toBe(200);
      return r.body.position;
    };
    const subjects = ['rp_a', 'rp_b', 'rp_c', 'rp_d'];
    for (const [i, s] of subjects.entries()) {
      await post(subscriptionEvent({ occurred_at: new Date(now - 10 * DAY).toISOString() }, { id: `rp_sub_${i}`, subject: s, plan: 'pro', quantity: i + 1, current_period_end: new Date(now + 20 * DAY).toISOString() }));
    }
    const middle = await head();
    await sleep(30);
    const between = new Date();
    await sleep(30);
    const upgraded = await post(subscriptionEvent({ occurred_at: new Date(now - DAY).toISOString() }, { id: 'rp_sub_1', subject: 'rp_b', plan: 'enterprise', quantity: 9, current_period_end: new Date(now + 20 * DAY).toISOString() }));
    await post(subscriptionEvent({ type: 'subscription.deleted', occurred_at: new Date(now - DAY / 2).toISOString() }, { id: 'rp_sub_2', subject: 'rp_c', status: 'canceled', ended_at: new Date(now - DAY / 2).toISOString() }));
    await waitForPosition(base, ADMIN_TOKEN, upgraded + 1);

    const check = async (query: string, perSubject: (s: string) => string): Promise<any> => {
      const all = await http(`${base}/v1/admin/entitlements${query}`, { token: ADMIN_TOKEN });
      expect(all.status).toBe(200);
      const byName = new Map(all.body.subjects.map((x: any) => [x.subject, x]));
      for (const s of subjects) {
        const one = (await http(`${base}/v1/subjects/${s}/entitlements${perSubject(s)}`, { token: ADMIN_TOKEN })).body;
        const replayed: any = byName.get(s) ?? { plan: null, features: {}, valid_until: null };
        expect([s, { plan: replayed.plan, features: replayed.features, valid_until: replayed.valid_until }]).toEqual([s, { plan: one.plan, features: one.features, valid_until: one.valid_until }]);
      }
      return all.body;
    };
    const atMiddle = await check(`?position=${middle}`, () => `?position=${middle}`);
    expect(atMiddle.position).toBe(middle);
    expect(atMiddle.subjects.find((x: any) => x.subject === 'rp_b').plan).toBe('pro');
    const atTime = await check(`?at=${between.toISOString()}`, () => `?at=${between.toISOString()}`);
    expect(atTime.at).toBe(between.toISOString());
    expect(atTime.position).toBe(middle);
    const current = await check('', () => '');
    expect(current.subjects.find((x: any) => x.subject === 'rp_b').plan).toBe('enterprise');
    expect(current.subjects.find((x: any) => x.subject === 'rp_c')).toBeUndefined();

    expect((await http(`${base}/v1/admin/entitlements?position=99999999`, { token: ADMIN_TOKEN })).status).toBe(400);
    expect((await http(`${base}/v1/admin/entitlements?at=yesterday`, { token: ADMIN_TOKEN })).status).toBe(400);
  });

  it('what-if: a different catalog over history lists exactly the subjects it would change, and writes nothing', async () => {
    const catalog = JSON.parse(readFileSync(TEST_PLANS, 'utf8'));
    const pro = catalog.plans.find((p: any) => p.id === 'pro');
    pro.features.projects = 75;
    delete pro.features.exports;
    const dump = async (): Promise<unknown> => ({
      head: await head(),
      subjects: (await pool.query('SELECT * FROM ent_subjects ORDER BY subject')).rows,
      catalog: (await pool.query('SELECT * FROM ent_catalog')).rows,
    });
    const before = await dump();
    const r = await http(`${base}/v1/admin/what-if`, { token: ADMIN_TOKEN, body: { catalog } });
    expect(r.status).toBe(200);
    const current = (await http(`${base}/v1/admin/entitlements`, { token: ADMIN_TOKEN })).body.subjects;
    const onPro = current.filter((s: any) => s.plan === 'pro').map((s: any) => s.subject).sort();
    expect(onPro.length).toBeGreaterThan(0);
    expect(r.body.changed.map((c: any) => c.subject)).toEqual(onPro);
    for (const c of r.body.changed) {
      expect(c.changes).toEqual([
        { feature: 'exports', from: true, to: null },
        { feature: 'projects', from: 50, to: 75 },
      ]);
      expect(c.before.plan).toBe('pro');
      expect(c.after.plan).toBe('pro');
    }
    expect(r.body.compared).toBeGreaterThanOrEqual(current.length);
    expect(await dump()).toEqual(before);

    const bad = await http(`${base}/v1/admin/what-if`, { token: ADMIN_TOKEN, body: { catalog: { plans: [{ id: 'x' }] } } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.length).toBeGreaterThan(0);
  });
});
