import { createHash } from 'node:crypto';
import pg from 'pg';
import { createVerifier, type Verifier } from '@app/verifier';
import { createTestDatabase, type TestDatabase } from './support/test-database.js';
import { scratchDir } from './support/scratch.js';
import { ADMIN_TOKEN, INGEST_TOKEN, http, startLedger, subscriptionEvent, type RunningLedger } from './support/ledger-harness.js';
import { waitForPosition } from './support/projection-check.js';
import { sha256hex, shardOfSubject, verifyCompactJws } from './support/independent-verify.js';

const DAY = 86_400_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

describe('subject API keys: issued and revoked as events, their hashes in the shard entry', () => {
  let db: TestDatabase;
  let ledger: RunningLedger;
  let base: string;
  let verifier: Verifier;

  /** The subject's shard entry in the newest manifest with ver ≥ position, verified with node:crypto. */
  async function shardEntry(subject: string, position: number): Promise<any> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const r = await http(`${base}/v1/snapshots/latest`, { token: ADMIN_TOKEN });
      if (r.status === 200) {
        const jwks = (await http(`${base}/.well-known/jwks.json`)).body;
        const { claims } = verifyCompactJws(r.text, jwks, 'entitlements-manifest+jwt');
        if (claims.ver >= position) {
          const meta = claims.shards[shardOfSubject(subject, claims.shard_count)];
          const bytes = Buffer.from(await (await fetch(`${base}/v1/snapshots/shards/${meta.sha256}`)).arrayBuffer());
          expect(sha256hex(bytes)).toBe(meta.sha256);
          return JSON.parse(bytes.toString('utf8')).subjects[subject] ?? null;
        }
      }
      if (Date.now() > deadline) throw new Error(`no manifest reached ver ${position}`);
      await sleep(50);
    }
  }

  async function verifierAt(position: number): Promise<void> {
    const deadline = Date.now() + 20_000;
    while ((verifier.state().ver ?? 0) < position) {
      if (Date.now() > deadline) throw new Error(`verifier did not reach ver ${position}`);
      await verifier.sync().catch(() => undefined);
      await sleep(50);
    }
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    ledger = await startLedger(db.url, { LEDGER_DATA_DIR: scratchDir('ledger-apikeys') });
    base = ledger.url;
    const jwks = (await http(`${base}/.well-known/jwks.json`)).body;
    verifier = createVerifier({ ledgerUrl: base, token: ADMIN_TOKEN, trustedKeys: jwks, useSse: false, pollS: 3600 });
  });
  afterAll(async () => {
    await verifier?.stop();
    await ledger?.close();
    await db?.drop();
  });

  it('issues a key once, keeps only its SHA-256, publishes it, and a verifier maps it to the subject offline', async () => {
    const subject = 'org_keys_1';
    const sub = await http(`${base}/v1/events`, {
      token: INGEST_TOKEN,
      body: subscriptionEvent({}, { subject, plan: 'pro', current_period_end: new Date(Date.now() + 30 * DAY).toISOString() }),
    });
    expect(sub.status).toBe(200);

    const created = await http(`${base}/v1/admin/subjects/${subject}/api-keys`, { token: ADMIN_TOKEN, body: { name: 'billing worker' } });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ id: expect.stringMatching(/^ak_[0-9a-f]{16}$/), key: expect.stringMatching(/^lsk_[A-Za-z0-9_-]{43}$/), name: 'billing worker', subject, position: expect.any(Number) });
    const { key, id, position } = created.body;

    // The key is nowhere in the database in clear; its SHA-256 is in the event.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const clear = await client.query("SELECT count(*)::int AS n FROM events WHERE data::text LIKE '%' || $1 || '%' OR metadata::text LIKE '%' || $1 || '%'", [key]);
      expect(clear.rows[0].n).toBe(0);
      const ev = await client.query('SELECT type, source, subject, data FROM events WHERE position = $1', [position]);
      expect(ev.rows[0]).toMatchObject({ type: 'api_key.created', source: 'admin', subject, data: { id, sha256: sha(key), actor: expect.stringMatching(/^token:/) } });
    } finally {
      await client.end();
    }

    await waitForPosition(base, ADMIN_TOKEN, position);
    const listed = await http(`${base}/v1/admin/subjects/${subject}/api-keys`, { token: ADMIN_TOKEN });
    expect(listed.status).toBe(200);
    expect(listed.body.api_keys).toEqual([{ id, name: 'billing worker', created_at: expect.any(String), actor: expect.any(String) }]);
    expect(listed.text).not.toContain(key);
    expect(listed.text).not.toContain(sha(key));

    const entry = await shardEntry(subject, position);
    expect(entry.api_keys).toEqual([sha(key)]);
    expect(entry.plan).toBe('pro');

    await verifier.start();
    await verifierAt(position);
    expect(await verifier.authenticateApiKey(key)).toBe(subject);
    expect(await verifier.authenticateApiKey(`${key}x`)).toBeNull();
  });

  it('a subject with keys and no plan is published; revoking removes the hash; revoking again is a duplicate', async () => {
    const subject = 'org_keys_2';
    const a = (await http(`${base}/v1/admin/subjects/${subject}/api-keys`, { token: ADMIN_TOKEN, body: { name: 'a' } })).body;
    const b = (await http(`${base}/v1/admin/subjects/${subject}/api-keys`, { token: ADMIN_TOKEN, body: { name: 'b' } })).body;
    let entry = await shardEntry(subject, b.position);
    expect(entry.api_keys).toEqual([sha(a.key), sha(b.key)].sort());
    expect(entry.plan).toBeNull();

    const revoked = await http(`${base}/v1/admin/subjects/${subject}/api-keys/${a.id}`, { token: ADMIN_TOKEN, method: 'DELETE', body: { reason: 'leaked in a log' } });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toEqual({ id: a.id, subject, position: expect.any(Number), duplicate: false });
    const again = await http(`${base}/v1/admin/subjects/${subject}/api-keys/${a.id}`, { token: ADMIN_TOKEN, method: 'DELETE' });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ id: a.id, subject, position: revoked.body.position, duplicate: true });

    entry = await shardEntry(subject, revoked.body.position);
    expect(entry.api_keys).toEqual([sha(b.key)]);
    await verifierAt(revoked.body.position);
    expect(await verifier.authenticateApiKey(a.key)).toBeNull();
    expect(await verifier.authenticateApiKey(b.key)).toBe(subject);

    // The last key revoked: nothing left, so the subject leaves its shard.
    const last = await http(`${base}/v1/admin/subjects/${subject}/api-keys/${b.id}`, { token: ADMIN_TOKEN, method: 'DELETE' });
    expect(await shardEntry(subject, last.body.position)).toBeNull();

    // History shows who did what.
    const history = await http(`${base}/v1/subjects/${subject}/history`, { token: ADMIN_TOKEN });
    expect(history.body.events.map((e: any) => e.type)).toEqual(['api_key.created', 'api_key.created', 'api_key.revoked', 'api_key.revoked']);
  });

  it('refuses bad input and unknown keys with problem+json, changing nothing', async () => {
    const url = `${base}/v1/admin/subjects/org_keys_3/api-keys`;
    for (const body of [{}, { name: '' }, { name: 'x', extra: 1 }, { name: 'x'.repeat(201) }]) {
      const r = await http(url, { token: ADMIN_TOKEN, body });
      expect(r.status).toBe(400);
      expect(r.headers.get('content-type')).toContain('application/problem+json');
    }
    expect((await http(`${base}/v1/admin/subjects/bad%20subject/api-keys`, { token: ADMIN_TOKEN, body: { name: 'x' } })).status).toBe(400);
    const missing = await http(`${url}/ak_0000000000000000`, { token: ADMIN_TOKEN, method: 'DELETE' });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain('application/problem+json');
    expect((await http(`${url}/not-an-id`, { token: ADMIN_TOKEN, method: 'DELETE' })).status).toBe(404);
    // A key of another subject cannot be revoked through this one.
    const other = (await http(`${base}/v1/admin/subjects/org_keys_4/api-keys`, { token: ADMIN_TOKEN, body: { name: 'x' } })).body;
    expect((await http(`${url}/${other.id}`, { token: ADMIN_TOKEN, method: 'DELETE' })).status).toBe(404);
    const listed = await http(url, { token: ADMIN_TOKEN });
    expect(listed.body.api_keys).toEqual([]);
  });

  it('needs the admin scope: 401 without a token, 403 with another scope', async () => {
    const url = `${base}/v1/admin/subjects/org_keys_5/api-keys`;
    expect((await http(url, { body: { name: 'x' } })).status).toBe(401);
    expect((await http(url, { token: INGEST_TOKEN, body: { name: 'x' } })).status).toBe(403);
    expect((await http(url, { token: INGEST_TOKEN })).status).toBe(403);
    expect((await http(`${url}/ak_0000000000000000`, { token: INGEST_TOKEN, method: 'DELETE' })).status).toBe(403);
    expect((await http(`${url}/ak_0000000000000000`, { method: 'DELETE' })).status).toBe(401);
  });
});
