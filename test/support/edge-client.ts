import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ADMIN_TOKEN, http } from './ledger-harness.js';
import { scratchDir } from './scratch.js';
import { waitFor } from './wait.js';

export { sleep, waitFor } from './wait.js';

/** The ledger's JWKS fetched once and pinned in a file, as an operator would. */
export async function pinLedgerKeys(ledgerUrl: string): Promise<{ file: string; kids: string[] }> {
  const r = await http(`${ledgerUrl}/.well-known/jwks.json`);
  if (r.status !== 200) throw new Error(`jwks: ${r.status}`);
  const file = path.join(scratchDir('edge-pin'), 'ledger-jwks.json');
  writeFileSync(file, JSON.stringify(r.body), { mode: 0o600 });
  return { file, kids: r.body.keys.map((k: { kid: string }) => k.kid) };
}

/** A token with scope snapshots:read only, minted through the admin API. */
export async function snapshotsToken(ledgerUrl: string): Promise<string> {
  const r = await http(`${ledgerUrl}/v1/admin/tokens`, { token: ADMIN_TOKEN, body: { name: `edge-${Date.now()}`, scopes: ['snapshots:read'] } });
  if (r.status !== 201 && r.status !== 200) throw new Error(`token: ${r.status} ${r.text}`);
  return r.body.token;
}

export async function edgeHealth(edgeUrl: string): Promise<{ status: number; body: any }> {
  const r = await http(`${edgeUrl}/health`);
  return { status: r.status, body: r.body };
}

export async function edgeCheck(edgeUrl: string, subject: string, feature: string, headers: Record<string, string> = {}): Promise<any> {
  const r = await http(`${edgeUrl}/v1/check?subject=${encodeURIComponent(subject)}&feature=${encodeURIComponent(feature)}`, { headers });
  if (r.status !== 200) throw new Error(`check ${subject}/${feature}: ${r.status} ${r.text}`);
  return r.body;
}

/** Waits until the edge verifier holds a manifest with ver ≥ position. */
export async function waitEdgeVer(edgeUrl: string, position: number, timeoutMs = 30_000): Promise<any> {
  return waitFor(`edge ver ≥ ${position}`, async () => {
    const h = await edgeHealth(edgeUrl);
    return h.body?.ver !== null && h.body?.ver >= position ? h.body : undefined;
  }, timeoutMs);
}

/** Sum of a Prometheus counter's samples whose labels include `labels`. */
export async function metric(edgeUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = (await http(`${edgeUrl}/metrics`)).text;
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{([^}]*)\})? ([-0-9.e+]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(m[4]);
  }
  return sum;
}

/**
 * The environment that sets a process's clock back one hour with Debian's libfaketime
 * (LD_PRELOAD), checked to really move a Node process's clock. The library is preloaded
 * directly rather than through the `faketime` command, which forks and would leave the real
 * process running when it is killed. Throws when libfaketime is missing: the test needing it
 * must fail, not pass.
 */
export function faketimeMinusOneHour(): Record<string, string> {
  const lib = readdirSync('/usr/lib', { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => path.join('/usr/lib', d.name, 'faketime', 'libfaketime.so.1'))
    .concat('/usr/lib/faketime/libfaketime.so.1')
    .find((f) => existsSync(f));
  if (!lib) throw new Error('libfaketime is required for this test (apt-get install -y faketime; .ci/run installs it as root)');
  const env = { LD_PRELOAD: lib, FAKETIME: '-1h' };
  const out = execFileSync(process.execPath, ['-e', 'process.stdout.write(String(Date.now()))'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  const offset = Number(out) - Date.now();
  if (!(offset < -3_500_000 && offset > -3_700_000)) throw new Error(`libfaketime did not set the clock back an hour (offset ${offset} ms)`);
  return env;
}
