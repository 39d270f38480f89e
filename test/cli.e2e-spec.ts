import { execFile } from 'node:child_process';
import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import pg from 'pg';
import { freePort, projectRoot } from '../libs/event-store/src/index.js';
import { createVerifier } from '../libs/verifier/src/index.js';
import { createDirectoryCache } from '../libs/verifier/src/node/index.js';
import { createTestDatabase, type TestDatabase } from './support/test-database.js';
import { scratchDir } from './support/scratch.js';
import { ADMIN_TOKEN, INGEST_TOKEN, TEST_PLANS, http, startLedger, subscriptionEvent, type RunningLedger } from './support/ledger-harness.js';
import { waitForPosition } from './support/projection-check.js';
import { waitFor } from './support/edge-client.js';

const DAY = 86_400_000;
const iso = (ms: number): string => new Date(ms).toISOString();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const MAIN = path.join(projectRoot(), 'dist/apps/cli/src/main.js');

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The built CLI as a child process (asynchronous: the ledger answering it runs in this process). */
function cli(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [MAIN, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(err);
        resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      },
    );
  });
}

/** One JSON document on stdout, nothing else. */
function json(run: Run): any {
  return JSON.parse(run.stdout);
}

describe('ledger CLI against a running ledger', () => {
  let db: TestDatabase;
  let ledger: RunningLedger;
  let base: string;
  let env: Record<string, string>;
  const now = Date.now();
  const run = (...args: string[]): Promise<Run> => cli(args, env);
  const post = async (body: unknown): Promise<number> => {
    const r = await http(`${base}/v1/events`, { token: INGEST_TOKEN, body });
    expect(r.status).toBe(200);
    return r.body.position;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    ledger = await startLedger(db.url, { LEDGER_DATA_DIR: scratchDir('ledger-cli') });
    base = ledger.url;
    env = { LEDGER_URL: base, LEDGER_TOKEN: ADMIN_TOKEN };
    const cpe = iso(now + 30 * DAY);
    const p = await post(subscriptionEvent({ occurred_at: iso(now - DAY) }, { id: 'sub_cli', subject: 'org_cli', plan: 'pro', quantity: 3, current_period_end: cpe }));
    await post(subscriptionEvent({ occurred_at: iso(now - DAY) }, { id: 'sub_cli_x', subject: 'org_cli', plan: 'no_such_plan', current_period_end: cpe }));
    await waitForPosition(base, ADMIN_TOKEN, p + 1);
  });

  afterAll(async () => {
    await ledger.close();
    await db.drop();
  });

  describe('at', () => {
    it('prints the API answer with --json, now, at a position and at a time', async () => {
      const r = await run('at', 'org_cli', '--json');
      expect(r).toMatchObject({ code: 0, stderr: '' });
      const api = await http(`${base}/v1/subjects/org_cli/entitlements`, { token: ADMIN_TOKEN });
      expect(json(r)).toEqual(api.body);
      expect(json(r).plan).toBe('pro');

      const atPosition = json(await run('at', 'org_cli', '--position', '1', '--json'));
      expect(atPosition).toEqual((await http(`${base}/v1/subjects/org_cli/entitlements?position=1`, { token: ADMIN_TOKEN })).body);

      const before = '2000-01-01T00:00:00Z';
      const atTime = json(await run('at', 'org_cli', '--at', before, '--json'));
      expect(atTime).toMatchObject({ subject: 'org_cli', plan: null, features: {} });
    });

    it('prints a table for people', async () => {
      const r = await run('at', 'org_cli');
      expect(r.code).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^org_cli {2}plan pro {2}position \d+ {2}valid until \d{4}-/);
      expect(lines[1]).toMatch(/^FEATURE\s+VALUE\s+VALID UNTIL$/);
      expect(lines).toEqual(expect.arrayContaining([expect.stringMatching(/^seats\s+3\s+\d{4}-/)]));
      expect(r.stdout).not.toContain('\x1b['); // not a terminal: no colors
    });

    it('refuses a malformed --at or --position as a usage error (exit 2), before any request', async () => {
      for (const args of [['--at', 'yesterday'], ['--position', '-1']]) {
        const r = await run('at', 'org_cli', ...args, '--json');
        expect(r.code).toBe(2);
        expect(r.stdout).toBe('');
        expect(r.stderr).toMatch(/^error: option '--(at|position) <\w+>' argument '.*' is invalid/);
      }
    });
  });

  it('history: the API answer with --json, one line per event with its changes or note for people', async () => {
    const r = await run('history', 'org_cli', '--json');
    expect(r.code).toBe(0);
    const api = await http(`${base}/v1/subjects/org_cli/history`, { token: ADMIN_TOKEN });
    expect(json(r)).toEqual(api.body);
    const human = await run('history', 'org_cli');
    const lines = human.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`org_cli: ${api.body.events.length} events`);
    expect(lines).toHaveLength(2 + api.body.events.length);
    expect(human.stdout).toMatch(/subscription\.updated\s+\S+\/\S+\s+\+api=true/);
    expect(human.stdout).toContain('(unknown_plan)');
  });

  it('grant and revoke: events in the log, values parsed, idempotency key honoured', async () => {
    const g = await run('grant', 'org_grant', 'seats', '50', '--reason', 'pilot', '--idempotency-key', 'cli-1', '--json');
    expect(g.code).toBe(0);
    expect(json(g)).toMatchObject({ duplicate: false, grant: { subject: 'org_grant', feature: 'seats', value: 50, expires_at: null, reason: 'pilot' } });
    const again = await run('grant', 'org_grant', 'seats', '50', '--reason', 'pilot', '--idempotency-key', 'cli-1', '--json');
    expect(json(again)).toMatchObject({ duplicate: true, position: json(g).position });

    const until = iso(now + 10 * DAY);
    const b = await run('grant', 'org_grant', 'beta', 'true', '--reason', 'early access', '--expires-at', until);
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(/^granted beta=true to org_grant until .* at position \d+\n$/);
    const position = Number(/position (\d+)/.exec(b.stdout)![1]);
    await waitForPosition(base, ADMIN_TOKEN, position);
    expect(json(await run('at', 'org_grant', '--json')).features).toEqual({
      seats: { value: 50, valid_until: null },
      beta: { value: true, valid_until: new Date(until).toISOString() },
    });

    const r = await run('revoke', 'org_grant', 'beta', '--reason', 'pilot over', '--json');
    expect(r.code).toBe(0);
    expect(json(r)).toMatchObject({ duplicate: false, revocation: { subject: 'org_grant', feature: 'beta', reason: 'pilot over' } });
    await waitForPosition(base, ADMIN_TOKEN, json(r).position);
    expect(Object.keys(json(await run('at', 'org_grant', '--json')).features)).toEqual(['seats']);

    // a value that is neither boolean nor number is sent as a string; the ledger refuses it (400)
    const bad = await run('grant', 'org_grant', 'tier', 'gold', '--reason', 'x', '--json');
    expect(bad.code).toBe(1);
    expect(json(bad)).toMatchObject({ status: 400, title: expect.any(String), errors: [expect.objectContaining({ path: 'value' })] });
    expect(bad.stderr).toMatch(/^error: .+\n {2}value: /);

    const noReason = await run('grant', 'org_grant', 'x', '1');
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toContain("required option '--reason <reason>' not specified");
  });

  it('tokens create: the minted token works against the API; tokens revoke: it stops working', async () => {
    const c = await run('tokens', 'create', '--name', 'cli-reader', '--scopes', 'entitlements:read, snapshots:read', '--json');
    expect(c.code).toBe(0);
    const minted = json(c);
    expect(minted).toEqual({ id: expect.any(String), token: expect.stringMatching(/^lgr_/), scopes: ['entitlements:read', 'snapshots:read'] });
    expect((await http(`${base}/v1/subjects/org_cli/entitlements`, { token: minted.token })).status).toBe(200);
    expect((await http(`${base}/v1/subjects/org_cli/history`, { token: minted.token })).status).toBe(403);
    // the CLI with that token
    expect(json(await cli(['at', 'org_cli', '--json', '--token', minted.token], { LEDGER_URL: base })).plan).toBe('pro');

    const human = await run('tokens', 'create', '--name', 'cli-human', '--scopes', 'entitlements:read');
    expect(human.stdout).toMatch(/^ID\s+SCOPES\n\w+\s+entitlements:read\ntoken: lgr_\S+\nstore it now/);

    const r = await run('tokens', 'revoke', minted.id, '--json');
    expect(r.code).toBe(0);
    expect(json(r)).toEqual({ id: minted.id, revoked: true });
    expect((await http(`${base}/v1/subjects/org_cli/entitlements`, { token: minted.token })).status).toBe(401);
  });

  it('a bad token: exit 1, the problem on stdout with --json, a clear message on stderr, the token never printed', async () => {
    const secret = 'lgr_0000000000000000_not-a-real-secret';
    const r = await cli(['history', 'org_cli', '--json'], { LEDGER_URL: base, LEDGER_TOKEN: secret });
    expect(r.code).toBe(1);
    expect(json(r)).toMatchObject({ status: 401, title: expect.any(String), detail: 'the bearer token is invalid or revoked' });
    expect(r.stderr).toBe(`error: ${json(r).title}: the bearer token is invalid or revoked\n`);
    expect(r.stdout + r.stderr).not.toContain(secret);

    const human = await cli(['history', 'org_cli'], { LEDGER_URL: base, LEDGER_ADMIN_TOKEN: secret });
    expect(human).toMatchObject({ code: 1, stdout: '' });
    expect(human.stderr).toMatch(/^error: .+: the bearer token is invalid or revoked\n$/);

    const none = await cli(['history', 'org_cli'], { LEDGER_URL: base });
    expect(none.code).toBe(1);
    expect(none.stderr).toBe('error: no token: pass --token or set LEDGER_TOKEN (or LEDGER_ADMIN_TOKEN)\n');

    const down = await cli(['at', 'org_cli', '--json'], { LEDGER_URL: `http://127.0.0.1:${await freePort()}`, LEDGER_TOKEN: secret });
    expect(down.code).toBe(1);
    expect(json(down)).toMatchObject({ type: 'urn:ledger-cli:unreachable', title: 'cannot reach the ledger', detail: expect.stringContaining('ECONNREFUSED') });
    expect(down.stdout + down.stderr).not.toContain(secret);
  });

  describe('verify-snapshot', () => {
    let jwksFile: string;
    let cacheDir: string;

    beforeAll(async () => {
      const dir = scratchDir('cli-verify');
      jwksFile = path.join(dir, 'jwks.json');
      await writeFile(jwksFile, (await http(`${base}/.well-known/jwks.json`)).text);
      // a verifier cache directory, as libs/verifier's DirectoryCache writes it
      cacheDir = path.join(dir, 'cache');
      const verifier = createVerifier({
        ledgerUrl: base,
        token: ADMIN_TOKEN,
        trustedKeys: JSON.parse(await readFile(jwksFile, 'utf8')),
        cache: createDirectoryCache(cacheDir),
        useSse: false,
      });
      const deadline = Date.now() + 20_000;
      await verifier.start();
      while (verifier.state().seq === null && Date.now() < deadline) {
        await sleep(100);
        await verifier.sync();
      }
      await verifier.stop();
      expect(verifier.state().seq).not.toBeNull();
    });

    it('verifies the live snapshot by URL against a pinned JWKS file (and a JWKS URL)', async () => {
      const r = await run('verify-snapshot', base, '--jwks', jwksFile, '--json');
      expect(r.code).toBe(0);
      const report = json(r);
      const latest = await http(`${base}/v1/snapshots/latest`, { token: ADMIN_TOKEN });
      const claims = JSON.parse(Buffer.from(latest.text.split('.')[1]!, 'base64url').toString());
      expect(report).toMatchObject({
        ok: true,
        source: base,
        manifest: { iss: claims.iss, seq: claims.seq, ver: claims.ver, iat: iso(claims.iat * 1000), exp: iso(claims.exp * 1000), shard_count: claims.shard_count },
        expired: false,
        subjects: claims.shards.reduce((n: number, s: { count: number }) => n + s.count, 0),
        failed_shards: [],
      });
      expect(report.checks.map((c: { check: string; ok: boolean }) => `${c.check}:${c.ok}`)).toEqual([
        'source:true',
        'jwks:true',
        'manifest:true',
        'shards:true',
        'expiry:true',
      ]);

      const byUrl = await run('verify-snapshot', base, '--jwks', `${base}/.well-known/jwks.json`, '--issuer', claims.iss);
      expect(byUrl.code).toBe(0);
      expect(byUrl.stdout).toMatch(new RegExp(`^${base.replace(/[.]/g, '\\.')}: verified\n`));
      expect(byUrl.stdout).toMatch(/\nseq\s+\d+\n/);
    });

    it('verifies a verifier cache directory, and fails on a tampered copy naming the shard check', async () => {
      const ok = await run('verify-snapshot', cacheDir, '--jwks', jwksFile, '--json');
      expect(ok.code).toBe(0);
      expect(json(ok)).toMatchObject({ ok: true, failed_shards: [] });

      const tampered = path.join(scratchDir('cli-tampered'), 'cache');
      await cp(cacheDir, tampered, { recursive: true });
      const state = JSON.parse(await readFile(path.join(tampered, 'state.json'), 'utf8'));
      const claims = JSON.parse(Buffer.from(state.manifest.split('.')[1]!, 'base64url').toString());
      const target = claims.shards.find((s: { count: number }) => s.count > 0);
      const file = path.join(tampered, 'shards', `${target.sha256}.json`);
      const text = await readFile(file, 'utf8');
      // the same number of bytes, one subject renamed: only the hash can tell
      const forged = text.replace(/"subjects":\{"(.)/, (_m, c: string) => `"subjects":{"${String.fromCharCode(c.charCodeAt(0) + 1)}`);
      expect(forged).not.toBe(text);
      await writeFile(file, forged);

      const r = await run('verify-snapshot', tampered, '--jwks', jwksFile, '--json');
      expect(r.code).toBe(1);
      const report = json(r);
      expect(report.ok).toBe(false);
      expect(report.checks.find((c: { check: string }) => c.check === 'shards')).toMatchObject({ ok: false, code: 'shard_hash_mismatch' });
      expect(report.failed_shards).toEqual([expect.objectContaining({ id: target.id, sha256: target.sha256 })]);
      expect(r.stderr).toMatch(/^error: snapshot verification failed at shards: 1 of \d+ shards failed/);

      const human = await run('verify-snapshot', tampered, '--jwks', jwksFile);
      expect(human.code).toBe(1);
      expect(human.stdout).toContain('NOT verified');
      expect(human.stdout).toMatch(/\nFAIL shards: 1 of \d+ shards failed/);
      expect(human.stdout).toMatch(new RegExp(`\\n {2}shard ${target.id}: shard_hash_mismatch: `));

      // a missing shard file is named too
      const missing = path.join(scratchDir('cli-missing'), 'cache');
      await cp(cacheDir, missing, { recursive: true });
      const [first] = (await readdir(path.join(missing, 'shards'))).filter((n) => n.endsWith('.json'));
      await writeFile(path.join(missing, 'shards', first!), '');
      expect(json(await run('verify-snapshot', missing, '--jwks', jwksFile, '--json')).ok).toBe(false);
    });

    it('fails at the manifest check against keys that did not sign it, and at the source for a non-cache directory', async () => {
      const { publicKey } = await generateKeyPair('EdDSA', { extractable: true });
      const foreign = path.join(scratchDir('cli-foreign'), 'jwks.json');
      const manifestKid = JSON.parse(Buffer.from(JSON.parse(await readFile(path.join(cacheDir, 'state.json'), 'utf8')).manifest.split('.')[0], 'base64url').toString()).kid;
      await writeFile(foreign, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: manifestKid, alg: 'EdDSA', use: 'sig' }] }));
      const r = await run('verify-snapshot', base, '--jwks', foreign, '--json');
      expect(r.code).toBe(1);
      expect(json(r).checks.at(-1)).toMatchObject({ check: 'manifest', ok: false, code: 'signature_invalid' });
      expect(r.stderr).toMatch(/^error: snapshot verification failed at manifest: manifest signature does not verify\n$/);

      const empty = await run('verify-snapshot', scratchDir('cli-empty'), '--jwks', jwksFile, '--json');
      expect(empty.code).toBe(1);
      expect(json(empty).checks).toEqual([expect.objectContaining({ check: 'source', ok: false, code: 'no-cache' })]);
    });
  });

  it('keys rotate: announces the next key, then promotes it (the JWKS follows)', async () => {
    const announced = await run('keys', 'rotate', '--json');
    expect(announced.code).toBe(0);
    expect(json(announced)).toMatchObject({ action: 'announced', current: expect.any(String), next: expect.any(String) });
    const kids = (await http(`${base}/.well-known/jwks.json`)).body.keys.map((k: { kid: string }) => k.kid);
    expect(kids).toEqual(expect.arrayContaining([json(announced).current, json(announced).next]));
    const promoted = await run('keys', 'rotate');
    expect(promoted.code).toBe(0);
    expect(promoted.stdout).toBe(`promoted ${json(announced).next}: it signs from now on\n`);
  });

  it('usage errors exit 2 with nothing on stdout; --help exits 0', async () => {
    for (const args of [[], ['nope'], ['at'], ['tokens', 'create', '--name', 'x'], ['at', 'x', '--url', 'ftp://x']]) {
      const r = await run(...args, '--json');
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 2, stdout: '' });
    }
    const help = await run('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('verify-snapshot');
  });
});

describe('ledger CLI migrate', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
  });
  afterAll(async () => {
    await db.drop();
  });

  it('applies every migration to a fresh DATABASE_URL, then finds it up to date', async () => {
    const first = await cli(['migrate', '--json'], { DATABASE_URL: db.url });
    expect(first.code).toBe(0);
    const applied = json(first).applied;
    expect(json(first).database).toContain(db.name);
    const files = (await readdir(path.join(projectRoot(), 'migrations'))).filter((f) => /\.(sql|js|ts)$/.test(f));
    expect(applied).toHaveLength(files.length);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT name FROM pgmigrations ORDER BY run_on, id');
      expect(rows.map((r) => r.name)).toEqual(applied);
      expect((await client.query('SELECT position FROM log_head')).rowCount).toBe(1);
    } finally {
      await client.end();
    }
    const second = await cli(['migrate'], { DATABASE_URL: db.url });
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/ is up to date\n$/);
  });
});

describe('replay, what-if, rebuild and API keys', () => {
  let db: TestDatabase;
  let ledger: RunningLedger;
  let base: string;
  let env: Record<string, string>;
  const now = Date.now();
  const run = (...args: string[]): Promise<Run> => cli(args, env);
  let position = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    ledger = await startLedger(db.url, { LEDGER_DATA_DIR: scratchDir('ledger-cli-main') });
    base = ledger.url;
    env = { LEDGER_URL: base, LEDGER_TOKEN: ADMIN_TOKEN };
    const r = await http(`${base}/v1/events`, {
      token: INGEST_TOKEN,
      body: subscriptionEvent({ occurred_at: iso(now - DAY) }, { id: 'sub_main', subject: 'org_main', plan: 'pro', quantity: 2, current_period_end: iso(now + 30 * DAY) }),
    });
    position = r.body.position;
    await waitForPosition(base, ADMIN_TOKEN, position);
  });

  afterAll(async () => {
    await ledger.close();
    await db.drop();
  });

  it('replay: every subject at a position, as the API answers it', async () => {
    const r = await run('replay', '--position', String(position), '--json');
    expect(r.code).toBe(0);
    const api = await http(`${base}/v1/admin/entitlements?position=${position}`, { token: ADMIN_TOKEN });
    expect(json(r)).toEqual(api.body);
    expect(json(r).subjects).toEqual(expect.arrayContaining([expect.objectContaining({ subject: 'org_main', plan: 'pro' })]));
    const human = await run('replay', '--position', String(position));
    expect(human.stdout).toMatch(/^position \d+: \d+ subjects?\nSUBJECT\s+PLAN\s+FEATURES\s+VALID UNTIL\n/);
    expect(human.stdout).toMatch(/org_main\s+pro\s+.*seats=2/);
  });

  it('what-if: a catalog that raises pro projects to 100 shows the diff', async () => {
    const catalog = JSON.parse(await readFile(TEST_PLANS, 'utf8'));
    const pro = catalog.plans.find((p: { id: string }) => p.id === 'pro');
    pro.features.projects = 100;
    const file = path.join(scratchDir('cli-whatif'), 'plans.json');
    await writeFile(file, JSON.stringify(catalog));
    const r = await run('what-if', '--catalog', file, '--json');
    expect(r.code).toBe(0);
    const api = await http(`${base}/v1/admin/what-if`, { token: ADMIN_TOKEN, body: { catalog } });
    // Both evaluated "now", a moment apart: everything but the time must agree.
    expect({ ...json(r), at: null }).toEqual({ ...api.body, at: null });
    expect(json(r).changed).toEqual([
      expect.objectContaining({ subject: 'org_main', changes: [{ feature: 'projects', from: 50, to: 100 }] }),
    ]);
    const human = await run('what-if', '--catalog', file);
    expect(human.stdout).toContain('org_main  plan pro\n  ~ projects: 50 → 100\n');
    expect(human.stdout).toMatch(/1 of \d+ subjects? would change \(at position \d+\)\n$/);
  });

  it('rebuild: follows the job to the end; --no-wait returns the job at once', async () => {
    const r = await run('rebuild', '--reason', 'cli test', '--json');
    expect(r.code).toBe(0);
    const job = json(r);
    expect(job).toMatchObject({ id: expect.any(String), state: 'succeeded', processed: expect.any(Number) });
    expect(job.processed).toBe(job.total);
    const api = await http(`${base}/v1/admin/jobs/${job.id}`, { token: ADMIN_TOKEN });
    expect(api.body).toMatchObject({ id: job.id, state: 'succeeded' });

    const started = await run('rebuild', 'entitlements', '--reason', 'cli test', '--no-wait', '--json');
    expect(started.code).toBe(0);
    expect(json(started)).toEqual({ job: expect.any(String) });
    const status = await run('rebuild-status', json(started).job, '--json');
    expect(json(status)).toMatchObject({ id: json(started).job, state: expect.stringMatching(/^(queued|running|succeeded)$/) });

    const unknown = await run('rebuild', 'no_such_projection', '--reason', 'x', '--json');
    expect(unknown.code).toBe(1);
    expect(json(unknown)).toMatchObject({ status: expect.any(Number) });
  });

  it('api-keys: create shows the key once; revoke removes it', async () => {
    const c = await run('api-keys', 'create', 'org_main', '--name', 'ci', '--json');
    expect(c.code).toBe(0);
    const created = json(c);
    expect(created).toEqual({ key: expect.stringMatching(/^lsk_/), id: expect.stringMatching(/^ak_/), name: 'ci', subject: 'org_main', position: expect.any(Number) });
    // The listing reads the entitlement model: it holds the key once the projector has applied it.
    await waitForPosition(base, ADMIN_TOKEN, created.position);
    const listed = await http(`${base}/v1/admin/subjects/org_main/api-keys`, { token: ADMIN_TOKEN });
    expect(listed.body.api_keys.map((k: { id: string }) => k.id)).toContain(created.id);
    const r = await run('api-keys', 'revoke', 'org_main', created.id, '--json');
    expect(r.code).toBe(0);
    expect(json(r)).toMatchObject({ id: created.id, subject: 'org_main', duplicate: false });
    // The key is shown once: the human output of create says so, and no listing shows it.
    const human = await run('api-keys', 'create', 'org_main', '--name', 'human');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/lsk_/);
    // Once the listing holds that key (the projector has applied it), it shows its id, not the key.
    const after = await waitFor('the human-created key listed', async () => {
      const r = await http(`${base}/v1/admin/subjects/org_main/api-keys`, { token: ADMIN_TOKEN });
      return r.body.api_keys.some((k: { name: string }) => k.name === 'human') ? r : undefined;
    });
    expect(after.body.api_keys.map((k: { name: string }) => k.name)).toEqual(['human']);
    expect(after.text).not.toMatch(/lsk_/);
  });
});
