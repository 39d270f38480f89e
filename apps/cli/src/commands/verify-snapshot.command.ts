import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { verifySnapshot, VerifierError, type SnapshotVerification } from '@app/verifier';
import { createDirectoryCache } from '@app/verifier/node';
import { parseBaseUrl } from '../args.parse.js';
import { CliError } from '../cli.errors.js';
import type { CliContext } from '../cli.context.js';
import { LedgerClient } from '../ledger.client.js';
import { duration, table, type Paint } from '../output.format.js';

type Run = (command: Command, fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

export type CheckName = 'source' | 'jwks' | 'manifest' | 'shards' | 'expiry';

/** What `verify-snapshot --json` prints: every check in order, and what the manifest says. */
export interface VerifyReport {
  readonly ok: boolean;
  readonly source: string;
  readonly checks: ReadonlyArray<{ readonly check: CheckName; readonly ok: boolean; readonly code?: string; readonly detail?: string }>;
  readonly manifest: {
    readonly kid: string;
    readonly iss: string;
    readonly seq: number;
    readonly ver: number;
    readonly iat: string;
    readonly exp: string;
    readonly prev: string | null;
    readonly shard_count: number;
  } | null;
  readonly age_s: number | null;
  readonly expired: boolean | null;
  readonly subjects: number | null;
  readonly failed_shards: ReadonlyArray<{ readonly id: number; readonly sha256: string; readonly code: string; readonly message: string }>;
}

interface Loaded {
  readonly manifest: string;
  readonly keyEvidence: readonly string[];
  readonly shard: (entry: { sha256: string }) => Promise<Uint8Array | null>;
}

const isUrl = (s: string): boolean => /^https?:\/\//i.test(s);

export function registerVerifySnapshotCommand(program: Command, run: Run): void {
  program
    .command('verify-snapshot')
    .description("check a published snapshot offline: the manifest's signature against pinned keys, every shard's hash and size, expiry")
    .argument('<source>', "the ledger's (or a CDN's) base URL, or a verifier cache directory")
    .requiredOption('--jwks <file|url>', 'the trusted public keys (a JWKS file, or a URL to fetch it from)')
    .option('--issuer <iss>', 'require this iss')
    .option('--allow-expired', 'do not fail on a snapshot past its exp (its signature and shards are still checked)')
    .action((source: string, opts: { jwks: string; issuer?: string; allowExpired?: boolean }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const report = await verify(ctx, source, opts);
        ctx.result(report, (p) => formatVerifyReport(report, p));
        const failed = report.checks.find((c) => !c.ok);
        if (failed) throw CliError.local('snapshot-rejected', `snapshot verification failed at ${failed.check}`, failed.detail);
      }),
    );
}

async function verify(ctx: CliContext, source: string, opts: { jwks: string; issuer?: string; allowExpired?: boolean }): Promise<VerifyReport> {
  const checks: VerifyReport['checks'][number][] = [];
  const report = (extra: Partial<VerifyReport> = {}): VerifyReport => ({
    ok: checks.every((c) => c.ok),
    source,
    checks,
    manifest: null,
    age_s: null,
    expired: null,
    subjects: null,
    failed_shards: [],
    ...extra,
  });
  let loaded: Loaded;
  try {
    loaded = isUrl(source) ? await fromUrl(ctx, source) : await fromDirectory(source);
    checks.push({ check: 'source', ok: true });
  } catch (e) {
    checks.push({ check: 'source', ok: false, code: codeOf(e), detail: messageOf(e) });
    return report();
  }
  let jwks: unknown;
  try {
    jwks = await loadJwks(opts.jwks);
    checks.push({ check: 'jwks', ok: true });
  } catch (e) {
    checks.push({ check: 'jwks', ok: false, code: codeOf(e), detail: messageOf(e) });
    return report();
  }
  let result: SnapshotVerification;
  try {
    result = await verifySnapshot({
      manifest: loaded.manifest,
      trustedKeys: jwks as Parameters<typeof verifySnapshot>[0]['trustedKeys'],
      keyEvidence: loaded.keyEvidence,
      ...(opts.issuer !== undefined ? { issuer: opts.issuer } : {}),
      shard: loaded.shard,
    });
    checks.push({ check: 'manifest', ok: true });
  } catch (e) {
    checks.push({ check: 'manifest', ok: false, code: codeOf(e), detail: messageOf(e) });
    return report();
  }
  const failed = result.shards.filter((s) => s.error !== null).map((s) => ({ id: s.id, sha256: s.sha256, code: s.error!.code, message: s.error!.message }));
  checks.push(
    failed.length === 0
      ? { check: 'shards', ok: true }
      : { check: 'shards', ok: false, code: failed[0]!.code, detail: `${failed.length} of ${result.shardCount} shards failed; first: ${failed[0]!.message}` },
  );
  const nowS = Date.now() / 1000;
  const expired = nowS > result.exp;
  const expiry = new Date(result.exp * 1000).toISOString();
  checks.push(
    !expired
      ? { check: 'expiry', ok: true }
      : {
          check: 'expiry',
          ok: opts.allowExpired === true,
          code: 'expired',
          detail: `expired at ${expiry}, ${duration(nowS - result.exp)} ago${opts.allowExpired ? ' (allowed)' : ''}`,
        },
  );
  return report({
    manifest: {
      kid: result.kid,
      iss: result.iss,
      seq: result.seq,
      ver: result.ver,
      iat: new Date(result.iat * 1000).toISOString(),
      exp: expiry,
      prev: result.prev,
      shard_count: result.shardCount,
    },
    age_s: Math.max(0, Math.floor(nowS - result.iat)),
    expired,
    subjects: result.subjects,
    failed_shards: failed,
  });
}

async function fromUrl(ctx: CliContext, raw: string): Promise<Loaded> {
  const client = new LedgerClient({ url: parseBaseUrl(raw), token: ctx.options.token });
  const res = await client.request('/v1/snapshots/latest', { headers: { accept: 'application/jwt' } });
  const manifest = (await res.text()).trim();
  return {
    manifest,
    keyEvidence: [],
    // shards are public and content-addressed: fetched without the token, as verifiers do
    shard: async (entry) => (await client.bytes(`/v1/snapshots/shards/${entry.sha256}`, { anonymous: true })).bytes,
  };
}

async function fromDirectory(dir: string): Promise<Loaded> {
  const cache = createDirectoryCache(dir);
  const state = await cache.load();
  if (!state) throw CliError.local('no-cache', 'not a verifier cache', `${dir} has no state.json`);
  if (typeof state.manifest !== 'string') throw CliError.local('no-manifest', 'the cache holds no manifest', dir);
  const encoder = new TextEncoder();
  return {
    manifest: state.manifest,
    keyEvidence: Array.isArray(state.keyEvidence) ? state.keyEvidence : [],
    // the directory cache stores shards one at a time (read here as they are checked)
    shard: async (entry) => {
      const source = await cache.loadShard!(entry.sha256);
      return typeof source === 'string' ? encoder.encode(source) : source;
    },
  };
}

async function loadJwks(where: string): Promise<unknown> {
  let text: string;
  if (isUrl(where)) {
    const url = new URL(where);
    const client = new LedgerClient({ url: url.origin, token: undefined });
    text = await (await client.request(`${url.pathname}${url.search}`, { anonymous: true })).text();
  } else {
    try {
      text = await readFile(where, 'utf8');
    } catch (e) {
      throw CliError.local('jwks-unreadable', 'cannot read the JWKS', `${where}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch {
    throw CliError.local('jwks-invalid', 'the JWKS is not JSON', where);
  }
}

function codeOf(e: unknown): string {
  if (e instanceof VerifierError) return e.code;
  if (e instanceof CliError) return e.problem.type?.replace(/^urn:ledger-cli:/, '') ?? 'error';
  return 'error';
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function formatVerifyReport(r: VerifyReport, p: Paint): string {
  const lines = [`${p('bold', r.source)}: ${r.ok ? p('green', 'verified') : p('red', 'NOT verified')}`];
  if (r.manifest) {
    const m = r.manifest;
    lines.push(
      table(
        ['CLAIM', 'VALUE'],
        [
          ['iss', m.iss],
          ['seq', String(m.seq)],
          ['ver', String(m.ver)],
          ['iat', `${m.iat} (age ${duration(r.age_s ?? 0)})`],
          ['exp', r.expired ? p('red', `${m.exp} (expired)`) : `${m.exp} (in ${duration((Date.parse(m.exp) - Date.now()) / 1000)})`],
          ['kid', m.kid],
          ['shards', `${m.shard_count}, ${m.shard_count - r.failed_shards.length} verified`],
          ['subjects', String(r.subjects ?? 0)],
        ],
        p,
      ),
    );
  }
  for (const c of r.checks) {
    lines.push(`${c.ok ? p('green', 'ok  ') : p('red', 'FAIL')} ${c.check}${c.detail ? `: ${c.detail}` : ''}`);
  }
  for (const s of r.failed_shards.slice(0, 20)) lines.push(p('red', `  shard ${s.id}: ${s.code}: ${s.message}`));
  if (r.failed_shards.length > 20) lines.push(p('red', `  … and ${r.failed_shards.length - 20} more`));
  return lines.join('\n');
}
