import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { projectRoot } from '../libs/event-store/src/index.js';
import { createTestDatabase, type TestDatabase } from './support/test-database.js';
import { ADMIN_TOKEN, INGEST_TOKEN, http, spawnLedger, subscriptionEvent, testEnv } from './support/ledger-harness.js';
import { spawnLedgerProcess } from './support/ledger-process.js';
import { until } from './support/wait.js';

function runMain(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(projectRoot(), 'dist/apps/ledger/src/main.js')], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe('configuration', () => {
  it.each([
    [{ PORT: 'eighty' }, /PORT must be a whole number/],
    [{ LEDGER_ROLE: 'boss' }, /LEDGER_ROLE must be one of all, api, worker/],
    [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL must be a postgres:\/\/ connection string/],
    [{ LEDGER_ADMIN_TOKEN: 'short' }, /LEDGER_ADMIN_TOKEN must be at least 16 characters/],
    [{ LEDGER_MAX_BODY: '10' }, /LEDGER_MAX_BODY must be at least 1024/],
    [{ LEDGER_PLANS: '/nonexistent/plans.json' }, /LEDGER_PLANS must name a readable file \(the plan catalog.*\(got "\/nonexistent\/plans.json"\)/],
    [{ LEDGER_SIGNING_KEY: projectRoot() }, /LEDGER_SIGNING_KEY must name a readable file \(a private JWK or PKCS#8 PEM file/],
  ])('refuses %j with a message saying how to fix it, exit 78', async (env, message) => {
    const { code, stderr } = await runMain(env);
    expect(code).toBe(78);
    expect(stderr).toMatch(message);
    expect(stderr).toMatch(/Fix the variables above/);
    // A rejected secret is never echoed back.
    if ('LEDGER_ADMIN_TOKEN' in env) expect(stderr).not.toContain('short"');
  });
});

describe('logs', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('are JSON lines with request ids and no secrets', async () => {
    const ledger = await spawnLedger(db.url);
    const lines: string[] = [];
    ledger.child.stdout!.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
    const ok = await http(`${ledger.url}/v1/events`, { token: INGEST_TOKEN, body: subscriptionEvent(), headers: { 'x-request-id': 'req-test-42' } });
    expect(ok.headers.get('x-request-id')).toBe('req-test-42');
    const bad = await http(`${ledger.url}/v1/events`, { token: 'lgr_0123456789abcdef_not-a-real-secret-value-at-all-xxxxxxxxxx', body: subscriptionEvent() });
    expect(bad.status).toBe(401);
    const minted = await http(`${ledger.url}/v1/admin/tokens`, { token: ADMIN_TOKEN, body: { name: 'x', scopes: ['events:write'] } });
    // Lines are buffered, but a quiet service still writes them within its flush interval (1 s;
    // a loaded machine runs that timer late, so the wait allows for it).
    const deadline = Date.now() + 20_000;
    while (!lines.some((l) => l.includes('"reqId":"req-test-42"')) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(lines.some((l) => l.includes('"reqId":"req-test-42"'))).toBe(true);
    await ledger.kill('SIGTERM');
    const all = lines.join('\n');
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.some((e) => e.reqId === 'req-test-42' && e.status === 200)).toBe(true);
    // Each field once per line (JSON with a repeated key is read differently by different tools).
    expect(lines.filter((l) => (l.match(/"reqId":/g) ?? []).length > 1)).toEqual([]);
    // A minted token is lgr_<id>_<secret>, and the secret (base64url) may itself hold "_".
    const mintedSecret = (minted.body.token as string).split('_').slice(2).join('_');
    expect(mintedSecret).toHaveLength(43);
    for (const secret of [ADMIN_TOKEN, INGEST_TOKEN, 'not-a-real-secret-value', mintedSecret]) {
      expect(all).not.toContain(secret);
    }
  });

  it('without LEDGER_ADMIN_TOKEN, the first start prints a generated admin token once, on stderr (never in the log lines), and stores only its hash', async () => {
    const env = testEnv(db.url, { LOG_LEVEL: 'info' });
    delete env.LEDGER_ADMIN_TOKEN;
    const first = await spawnLedgerProcess(env);
    const TOKEN = /lgr_[0-9a-f]{16}_[A-Za-z0-9_-]{43}/;
    // Written before the service listens, but stderr is another pipe: read once it has arrived.
    await until('the token on stderr', () => TOKEN.test(first.errorOutput()), 20_000, 50);
    const printed = [...first.errorOutput().matchAll(new RegExp(TOKEN, 'g'))].map((m) => m[0]);
    expect(printed).toHaveLength(1);
    const token = printed[0]!;
    const secret = token.split('_').slice(2).join('_');
    const minted = await http(`${first.url}/v1/admin/tokens`, { token, body: { name: 'by-bootstrap', scopes: ['events:write'] } });
    expect(minted.status).toBe(201);
    expect(await first.kill('SIGTERM')).toBe(0);
    expect(first.logOutput()).toContain('generated bootstrap admin token');
    expect(first.logOutput()).not.toContain(secret);

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query("SELECT id, scopes, secret_hash FROM api_tokens WHERE name = 'bootstrap-admin'");
      expect(rows).toEqual([{ id: token.split('_')[1], scopes: ['admin'], secret_hash: createHash('sha256').update(secret).digest() }]);
    } finally {
      await client.end();
    }

    // Once: a restart prints none, and the printed one keeps working.
    const second = await spawnLedgerProcess(env);
    const stderrClosed = new Promise<void>((resolve) => second.child.stderr!.once('close', () => resolve()));
    try {
      expect((await http(`${second.url}/v1/admin/tokens`, { token, body: { name: 'after-restart', scopes: ['events:write'] } })).status).toBe(201);
    } finally {
      expect(await second.kill('SIGTERM')).toBe(0);
    }
    // Read once its stderr has closed, so nothing it wrote is still on its way.
    await stderrClosed;
    expect(second.errorOutput()).not.toMatch(/lgr_/);
  });
});
