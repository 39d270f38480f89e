/**
 * npm run demo — the ledger and an edge verifier on an embedded PostgreSQL, in one terminal:
 * a Stripe-shaped subscription lifecycle goes in, checks answer at the edge; then the ledger
 * is stopped and the checks keep answering from the verified snapshot, until each
 * criticality class reaches its limit (C at the manifest's expiry, B after its grace, A
 * after its much longer grace).
 *
 * Everything lives in a temporary directory that is removed at the end. Timings are shortened
 * so it runs in about a minute: manifests live 10 s (SNAPSHOT_TTL_S), class B keeps deciding
 * 10 s past expiry and class A an hour.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../libs/event-store/src/index.js';
import { spawnEdgeProcess, type EdgeProcess } from '../test/support/edge-process.js';
import { spawnLedgerProcess, type LedgerProcess } from '../test/support/ledger-process.js';

const TTL_S = 10;
const GRACE_B_S = 10;
const GRACE_A_S = 3600;
const SUBJECT = 'org_acme';
const STRIPE_SECRET = `whsec_demo_${randomBytes(12).toString('hex')}`;
const ADMIN = `demo-admin-${randomBytes(16).toString('hex')}`;
const FEATURES: ReadonlyArray<[string, string]> = [
  ['api', 'A'],
  ['seats', 'B'],
  ['exports', 'C'],
  ['sso', 'A'],
];

const tty = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number) => (s: string): string => (tty ? `\u001b[${code}m${s}\u001b[0m` : s);
const bold = paint(1);
const dim = paint(2);
const green = paint(32);
const red = paint(31);
const yellow = paint(33);
const out = (line = ''): void => void process.stdout.write(`${line}\n`);
const step = (title: string): void => out(`\n${bold(`▸ ${title}`)}`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function json(url: string, init: RequestInit = {}): Promise<any> {
  const r = await fetch(url, init);
  const text = await r.text();
  if (!r.ok) throw new Error(`${init.method ?? 'GET'} ${url}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** A Stripe `customer.subscription.*` event, signed as Stripe signs it. */
async function stripe(ledger: string, n: number, type: string, sub: Record<string, unknown>): Promise<number> {
  const now = Math.floor(Date.now() / 1000);
  const event = {
    id: `evt_demo_${n}`,
    object: 'event',
    api_version: '2025-03-31.basil',
    created: now,
    type,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    data: {
      object: {
        id: 'sub_demo_1',
        object: 'subscription',
        customer: 'cus_demo',
        cancel_at_period_end: false,
        cancel_at: null,
        ended_at: null,
        trial_end: null,
        pause_collection: null,
        metadata: { ledger_subject: SUBJECT },
        items: { object: 'list', data: [{ id: 'si_demo', quantity: 5, current_period_end: now + 30 * 86_400, price: { id: 'price_demo', lookup_key: 'pro_monthly', product: 'prod_demo' } }] },
        ...sub,
      },
    },
  };
  const body = JSON.stringify(event);
  const signature = createHmac('sha256', STRIPE_SECRET).update(`${now}.${body}`).digest('hex');
  const r = await json(`${ledger}/v1/webhooks/stripe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': `t=${now},v1=${signature}` },
    body,
  });
  out(`  ${dim('Stripe →')} ${type.padEnd(31)} status ${String(sub['status']).padEnd(9)} ${dim(`recorded at position ${r.position}`)}`);
  return r.position as number;
}

/** The edge verifier's answers for the demo subject, one line per feature. */
async function checks(edge: string): Promise<void> {
  for (const [feature, cls] of FEATURES) {
    const d = await json(`${edge}/v1/check?subject=${SUBJECT}&feature=${feature}`);
    const verdict = d.allowed ? green('allowed') : red('denied ');
    const source = d.source === 'fresh' ? green(d.source) : d.source === 'stale' ? yellow(d.source) : red(d.source);
    const stale = d.stale_for_s > 0 ? dim(` (stale for ${d.stale_for_s} s)`) : '';
    out(`  ${feature.padEnd(8)} class ${cls}  ${verdict}  value ${String(d.value).padEnd(5)} source ${source.padEnd(tty ? 14 : 5)} ${dim(d.reason)}${stale}`);
  }
}

async function until(label: string, deadline: number): Promise<void> {
  for (;;) {
    const left = Math.ceil((deadline - Date.now()) / 1000);
    if (left <= 0) break;
    if (tty) process.stdout.write(`\r  ${dim(`${label} in ${left} s…`)}   `);
    await sleep(Math.min(1000, deadline - Date.now()));
  }
  if (tty) process.stdout.write('\r\u001b[2K');
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'ledger-demo-'));
  // As root the embedded PostgreSQL runs as `postgres`, which must reach its data directory.
  await chmod(root, 0o755);
  let ledger: LedgerProcess | null = null;
  let edge: EdgeProcess | null = null;
  try {
    out(bold('Entitlement ledger demo: verifiers keep deciding while the ledger is down'));
    step('Starting the ledger on an embedded PostgreSQL');
    ledger = await spawnLedgerProcess({
      LEDGER_DATA_DIR: path.join(root, 'ledger'),
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      LEDGER_ADMIN_TOKEN: ADMIN,
      LEDGER_PLANS: path.join(projectRoot(), 'plans.json'),
      STRIPE_WEBHOOK_SECRETS: STRIPE_SECRET,
      SNAPSHOT_TTL_S: String(TTL_S),
    });
    out(`  ledger at ${ledger.url} ${dim(`(manifests live ${TTL_S} s and are re-signed every ${Math.round(TTL_S / 3)} s)`)}`);
    out(`  plans: free, pro, enterprise; classes: api A, sso A, exports C, anything else B ${dim('(plans.json)')}`);

    step('Starting an edge verifier that trusts the ledger\'s public keys, pinned once');
    const jwks = await json(`${ledger.url}/.well-known/jwks.json`);
    const jwksFile = path.join(root, 'trusted-jwks.json');
    await writeFile(jwksFile, JSON.stringify(jwks));
    const reader = await json(`${ledger.url}/v1/admin/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'edge-verifier', scopes: ['snapshots:read'] }),
    });
    const edgeEnv = {
      LEDGER_URL: ledger.url,
      LEDGER_TOKEN: reader.token as string,
      VERIFIER_TRUSTED_JWKS: jwksFile,
      VERIFIER_CACHE_DIR: path.join(root, 'edge-cache'),
      VERIFIER_GRACE_S: String(GRACE_A_S),
      VERIFIER_GRACE_B_S: String(GRACE_B_S),
      VERIFIER_POLL_S: '1',
    };
    edge = await spawnEdgeProcess(edgeEnv);
    out(`  edge verifier at ${edge.url} ${dim(`(class A decided ${GRACE_A_S} s past expiry, class B ${GRACE_B_S} s, class C not at all)`)}`);

    step(`Stripe sends a subscription lifecycle for ${SUBJECT}`);
    await stripe(ledger.url, 1, 'customer.subscription.created', { status: 'trialing' });
    const last = await stripe(ledger.url, 2, 'customer.subscription.updated', { status: 'active' });
    for (let i = 0; ; i++) {
      const h = await json(`${edge.url}/health`);
      if (h.ver >= last) break;
      if (i > 200) throw new Error('the edge verifier did not catch up');
      await sleep(100);
    }
    out(`  the edge verifier holds manifest ver ${last}: decisions are local from now on`);

    step('Checks at the edge (GET /v1/check), ledger up');
    await checks(edge.url);

    step('Stopping the ledger (and its database)');
    await ledger.kill('SIGTERM');
    ledger = null;
    const health = await json(`${edge.url}/health`);
    const expiresAt = (health.exp as number) * 1000;
    out(`  ledger stopped; the edge verifier keeps manifest seq ${health.seq}, ver ${health.ver} ${dim(`(signed ${health.age_s} s ago)`)}`);
    await checks(edge.url);

    step('Restarting the edge verifier while the ledger is still down');
    await edge.kill('SIGTERM');
    edge = await spawnEdgeProcess(edgeEnv);
    out(`  it re-verified its disk cache against the pinned keys and answers at once:`);
    await checks(edge.url);

    await until('the held manifest expires', expiresAt + 1500);
    step('Past the manifest\'s expiry: class C stops, classes A and B keep deciding (stale)');
    await checks(edge.url);

    await until(`class B's grace ends`, expiresAt + GRACE_B_S * 1000 + 1500);
    step(`Past class B's grace (${GRACE_B_S} s): only class A still decides, for up to ${GRACE_A_S} s`);
    await checks(edge.url);

    out(`\n${bold('What happened')}`);
    out('  Paying users kept their class A features through the outage, decided from state the');
    out('  verifier checked itself; convenience features (class C) stopped at expiry; every');
    out('  decision said where it came from (fresh, stale, none) and why.');
  } finally {
    await edge?.kill('SIGTERM');
    await ledger?.kill('SIGTERM');
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
