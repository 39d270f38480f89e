import fc from 'fast-check';
import { createTestDatabase, type TestDatabase } from './support/test-database.js';
import { ADMIN_TOKEN, INGEST_TOKEN, http, startLedger, subscriptionEvent, type RunningLedger } from './support/ledger-harness.js';
import { liveAndCleanReplay, waitForPosition } from './support/projection-check.js';

const DAY = 86_400_000;
const iso = (ms: number): string => new Date(ms).toISOString();

describe('entitlements: projection and reads', () => {
  let db: TestDatabase;
  let ledger: RunningLedger;
  let base: string;
  const now = Date.now();

  const post = async (body: unknown): Promise<number> => {
    const r = await http(`${base}/v1/events`, { token: INGEST_TOKEN, body });
    expect(r.status).toBe(200);
    return Array.isArray(body) ? r.body.results.at(-1).position : r.body.position;
  };
  const read = (subject: string, query = '', token = ADMIN_TOKEN) =>
    http(`${base}/v1/subjects/${encodeURIComponent(subject)}/entitlements${query}`, { token });

  beforeAll(async () => {
    db = await createTestDatabase();
    ledger = await startLedger(db.url);
    base = ledger.url;
  });

  afterAll(async () => {
    await ledger.close();
    await db.drop();
  });

  it("projects a subscription into the subject's entitlements", async () => {
    const cpe = iso(now + 30 * DAY);
    const position = await post(subscriptionEvent({ occurred_at: iso(now - DAY) }, { subject: 'org_read', plan: 'pro', quantity: 5, current_period_end: cpe }));
    await waitForPosition(base, ADMIN_TOKEN, position);
    const r = await read('org_read');
    expect(r.status).toBe(200);
    const until = iso(now + 31 * DAY);
    expect(r.body).toEqual({
      subject: 'org_read',
      position: expect.any(Number),
      plan: 'pro',
      features: {
        api: { value: true, valid_until: until },
        exports: { value: true, valid_until: until },
        projects: { value: 50, valid_until: until },
        seats: { value: 5, valid_until: until },
      },
      valid_until: until,
    });
    expect(r.body.position).toBeGreaterThanOrEqual(position);
  });

  it('answers a subject with nothing with plan null and no features', async () => {
    const r = await read('nobody_here');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ subject: 'nobody_here', plan: null, features: {}, valid_until: null });
  });

  it('needs entitlements:read (401 without a token, 403 with another scope) and a valid query', async () => {
    expect((await read('org_read', '', '')).status).toBe(401);
    expect((await read('org_read', '', INGEST_TOKEN)).status).toBe(403);
    const bad = await read('org_read', '?position=abc');
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].path).toBe('position');
    expect((await read('org_read', '?at=yesterday')).status).toBe(400);
    expect((await read('org_read', '?position=999999999')).status).toBe(400);
  });

  it('travels in time: ?position=N is the state right after N; ?at= between two events is the earlier state', async () => {
    const subject = 'org_travel';
    const cpe = iso(now + 30 * DAY);
    const p1 = await post(subscriptionEvent({ occurred_at: iso(now - 2 * DAY) }, { id: 'sub_travel', subject, plan: 'pro', quantity: 2, current_period_end: cpe }));
    await new Promise((r) => setTimeout(r, 50));
    const between = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 50));
    const p2 = await post(subscriptionEvent({ occurred_at: iso(now - DAY) }, { id: 'sub_travel', subject, plan: 'enterprise', quantity: 7, current_period_end: cpe }));
    await waitForPosition(base, ADMIN_TOKEN, p2);

    const atP1 = await read(subject, `?position=${p1}`);
    expect(atP1.body).toMatchObject({ position: p1, plan: 'pro', features: { seats: { value: 2 } } });
    expect(atP1.body.features.sso).toBeUndefined();
    const atP2 = await read(subject, `?position=${p2}`);
    expect(atP2.body).toMatchObject({ position: p2, plan: 'enterprise', features: { seats: { value: 7 }, sso: { value: true } } });
    const atBetween = await read(subject, `?at=${between}`);
    expect(atBetween.body).toMatchObject({ position: p1, plan: 'pro', features: { seats: { value: 2 } } });
    const before = await read(subject, `?position=${p1 - 1}`);
    expect(before.body).toMatchObject({ plan: null, features: {} });
    expect((await read(subject)).body).toMatchObject({ plan: 'enterprise' });
  });

  it('explains the history: what each event changed, or why it changed nothing', async () => {
    const subject = 'org_history';
    const cpe = iso(now + 30 * DAY);
    const sub = { id: 'sub_hist', subject, current_period_end: cpe };
    await post(subscriptionEvent({ id: 'h1', occurred_at: iso(now - 3 * DAY) }, { ...sub, plan: 'pro', quantity: 1 }));
    await post(subscriptionEvent({ id: 'h2', occurred_at: iso(now - 5 * DAY) }, { ...sub, plan: 'pro', quantity: 9 }));
    await post(subscriptionEvent({ id: 'h3', occurred_at: iso(now - 2 * DAY) }, { ...sub, plan: 'ghost', quantity: 1 }));
    const last = await post(subscriptionEvent({ id: 'h4', occurred_at: iso(now - DAY) }, { ...sub, plan: 'pro', quantity: 3 }));
    await waitForPosition(base, ADMIN_TOKEN, last);

    const h = await http(`${base}/v1/subjects/${subject}/history`, { token: ADMIN_TOKEN });
    expect(h.status).toBe(200);
    const byId = Object.fromEntries(h.body.events.map((e: any) => [e.source_event_id, e]));
    expect(byId.h1.changes).toEqual(
      expect.arrayContaining([{ feature: 'projects', from: null, to: 50 }, { feature: 'seats', from: null, to: 1 }]),
    );
    expect(byId.h1).toMatchObject({ type: 'subscription.updated', source: 'api', occurred_at: iso(now - 3 * DAY), note: null });
    expect(byId.h2).toMatchObject({ changes: [], note: 'older_than_held_state' });
    expect(byId.h3.note).toBe('unknown_plan');
    expect(byId.h3.changes).toEqual(expect.arrayContaining([{ feature: 'projects', from: 50, to: null }]));
    expect(byId.h4.changes).toEqual(expect.arrayContaining([{ feature: 'seats', from: null, to: 3 }]));
    expect(h.body.events.map((e: any) => e.position)).toEqual([...h.body.events.map((e: any) => e.position)].sort((a: number, b: number) => a - b));
    expect((await http(`${base}/v1/subjects/${subject}/history`, { token: INGEST_TOKEN })).status).toBe(403);
  });

  it('applies admin grants with expiry and revocations, as events with actor and reason', async () => {
    const subject = 'org_grants';
    const g = await http(`${base}/v1/admin/subjects/${subject}/grants`, {
      token: ADMIN_TOKEN,
      headers: { 'idempotency-key': 'grant-beta-1' },
      body: { feature: 'beta', value: true, expires_at: iso(now + 7 * DAY), reason: 'design partner' },
    });
    expect(g.status).toBe(201);
    expect(g.body.grant).toMatchObject({ subject, feature: 'beta', actor: 'token:env:LEDGER_ADMIN_TOKEN', reason: 'design partner' });
    const again = await http(`${base}/v1/admin/subjects/${subject}/grants`, {
      token: ADMIN_TOKEN,
      headers: { 'idempotency-key': 'grant-beta-1' },
      body: { feature: 'beta', value: true, expires_at: iso(now + 7 * DAY), reason: 'design partner' },
    });
    expect(again.body).toMatchObject({ position: g.body.position, duplicate: true });
    await http(`${base}/v1/admin/subjects/${subject}/grants`, {
      token: ADMIN_TOKEN,
      body: { feature: 'projects', value: 500, reason: 'migration' },
    });
    const expired = await http(`${base}/v1/admin/subjects/${subject}/grants`, {
      token: ADMIN_TOKEN,
      body: { feature: 'old', value: true, expires_at: iso(now - DAY), reason: 'expired already' },
    });
    await waitForPosition(base, ADMIN_TOKEN, expired.body.position);
    const r = await read(subject);
    expect(r.body.features).toEqual({
      beta: { value: true, valid_until: iso(now + 7 * DAY) },
      projects: { value: 500, valid_until: null },
    });

    const revoked = await http(`${base}/v1/admin/subjects/${subject}/grants/beta`, { method: 'DELETE', token: ADMIN_TOKEN, body: { reason: 'partnership over' } });
    expect(revoked.status).toBe(200);
    await waitForPosition(base, ADMIN_TOKEN, revoked.body.position);
    expect((await read(subject)).body.features).toEqual({ projects: { value: 500, valid_until: null } });

    expect((await http(`${base}/v1/admin/subjects/${subject}/grants`, { body: { feature: 'x', value: true, reason: 'r' } })).status).toBe(401);
    expect((await http(`${base}/v1/admin/subjects/${subject}/grants`, { token: INGEST_TOKEN, body: { feature: 'x', value: true, reason: 'r' } })).status).toBe(403);
    const bad = await http(`${base}/v1/admin/subjects/${subject}/grants`, { token: ADMIN_TOKEN, body: { feature: 'x', value: 'lots' } });
    expect(bad.status).toBe(400);
  });

  it('is deterministic: after a random workload through HTTP, a replay from 0 equals the live model', async () => {
    const statuses = ['trialing', 'active', 'past_due', 'canceled', 'paused', 'unpaid', 'incomplete'] as const;
    const plans = ['free', 'pro', 'enterprise', 'ghost'] as const;
    const workload = fc.sample(
      fc.record({
        sub: fc.integer({ min: 0, max: 30 }),
        subject: fc.integer({ min: 0, max: 12 }),
        status: fc.constantFrom(...statuses),
        plan: fc.constantFrom(...plans),
        quantity: fc.integer({ min: 0, max: 20 }),
        offsetDays: fc.integer({ min: -20, max: 20 }),
        ageH: fc.integer({ min: 0, max: 500 }),
        cancelAtEnd: fc.boolean(),
        kind: fc.constantFrom('event', 'event', 'event', 'event', 'grant', 'revoke', 'redeliver'),
      }),
      { numRuns: 400, seed: 20261124 },
    );
    const sent: Record<string, unknown>[] = [];
    const requests: Promise<unknown>[] = [];
    for (const [i, w] of workload.entries()) {
      const subject = `det_${w.subject}`;
      if (w.kind === 'grant') {
        requests.push(http(`${base}/v1/admin/subjects/${subject}/grants`, { token: ADMIN_TOKEN, body: { feature: `f${w.quantity % 4}`, value: w.quantity, reason: 'random' } }));
      } else if (w.kind === 'revoke') {
        requests.push(http(`${base}/v1/admin/subjects/${subject}/grants/f${w.quantity % 4}`, { method: 'DELETE', token: ADMIN_TOKEN, body: { reason: 'random' } }));
      } else if (w.kind === 'redeliver' && sent.length > 0) {
        requests.push(http(`${base}/v1/events`, { token: INGEST_TOKEN, body: sent[i % sent.length] }));
      } else {
        const e = subscriptionEvent(
          { id: `det_${i}`, occurred_at: iso(now - w.ageH * 3_600_000) },
          {
            id: `sub_det_${w.sub}`,
            subject,
            status: w.status,
            plan: w.plan,
            quantity: w.quantity,
            current_period_end: iso(now + w.offsetDays * DAY),
            cancel_at_period_end: w.cancelAtEnd,
            ended_at: w.status === 'canceled' ? iso(now + w.offsetDays * DAY) : null,
          },
        );
        sent.push(e);
        requests.push(http(`${base}/v1/events`, { token: INGEST_TOKEN, body: i % 5 === 0 ? [e] : e }));
      }
      // Up to 16 requests in flight at once.
      if (requests.length >= 16) await Promise.all(requests.splice(0));
    }
    await Promise.all(requests);
    const { head } = await (async () => {
      const r = await http(`${base}/v1/events`, { token: INGEST_TOKEN, body: subscriptionEvent({}, { subject: 'det_last' }) });
      return { head: r.body.position as number };
    })();
    await waitForPosition(base, ADMIN_TOKEN, head);

    const { live, replay } = await liveAndCleanReplay(db.url);
    expect(live.subjects.length).toBeGreaterThan(10);
    expect(replay).toEqual(live);
  });
});
