import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const int = (min: number, hint: string) =>
  z
    .string()
    .regex(/^\d+$/, `must be a whole number (${hint})`)
    .transform(Number)
    .refine((n) => n >= min, `must be at least ${min} (${hint})`);

const REQUIRED: Record<string, string> = {
  LEDGER_URL: 'the ledger\'s base URL, e.g. LEDGER_URL=https://ledger.example.com',
  LEDGER_TOKEN: 'a ledger bearer token with scope snapshots:read (POST /v1/admin/tokens {"name":"edge","scopes":["snapshots:read"]})',
};

const envSchema = z.object({
  LEDGER_URL: z.string().url('must be the ledger\'s absolute base URL, e.g. https://ledger.example.com'),
  LEDGER_TOKEN: z.string().min(1, 'must be a ledger bearer token with scope snapshots:read (create one with POST /v1/admin/tokens)'),
  VERIFIER_TRUSTED_JWKS: z.string().min(1).optional(),
  VERIFIER_TRUSTED_KEYS: z.string().min(1).optional(),
  VERIFIER_ISSUER: z.string().url('must be the ledger\'s LEDGER_ISSUER, an absolute URL').optional(),
  VERIFIER_CACHE_DIR: z.string().min(1).default('./.data/edge-verifier'),
  VERIFIER_GRACE_S: int(0, 'seconds a class A feature is decided past the manifest exp').default(259_200),
  VERIFIER_GRACE_B_S: int(0, 'seconds a class B feature is decided past the manifest exp').default(3600),
  VERIFIER_POLL_S: int(1, 'seconds between polls').default(5),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: int(0, 'a TCP port, 0 for any free one')
    .refine((n) => n < 65536, 'must be below 65536')
    .default(3001),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface EdgeConfig {
  readonly ledgerUrl: string;
  /** Secret: never logged. */
  readonly ledgerToken: string;
  /** Pinned public Ed25519 JWKs (the root of trust). */
  readonly trustedKeys: readonly Record<string, unknown>[];
  readonly issuer: string | undefined;
  readonly cacheDir: string;
  readonly graceS: number;
  readonly graceBS: number;
  readonly pollS: number;
  readonly host: string;
  readonly port: number;
  readonly logLevel: string;
}

/** A configuration the edge verifier cannot start with; each problem says how to fix it. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const KEYS_HINT =
  'a JWKS {"keys":[…]} or an array of public Ed25519 JWKs (kty OKP, crv Ed25519, x, kid; no "d"); ' +
  'fetch the ledger\'s GET /.well-known/jwks.json once over a channel you trust and pin it';

/** Parses pinned keys; returns the keys or a problem. Private keys are refused, never echoed. */
function parseKeys(name: string, text: string): { keys: Record<string, unknown>[] } | { problem: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { problem: `${name} is not JSON: it must be ${KEYS_HINT}` };
  }
  const list = Array.isArray(doc) ? doc : (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list) || list.length === 0) return { problem: `${name} holds no keys: it must be ${KEYS_HINT}` };
  for (const [i, k] of list.entries()) {
    const key = k as Record<string, unknown> | null;
    if (typeof key !== 'object' || key === null) return { problem: `${name} key ${i} is not an object: it must be ${KEYS_HINT}` };
    if ('d' in key) return { problem: `${name} key ${i} is a PRIVATE key: pin the public key only (drop "d"), and rotate the ledger key if it leaked` };
    if (key.kty !== 'OKP' || key.crv !== 'Ed25519' || typeof key.x !== 'string') {
      return { problem: `${name} key ${i} is not a public Ed25519 JWK: it must be ${KEYS_HINT}` };
    }
  }
  return { keys: list as Record<string, unknown>[] };
}

/**
 * Reads and validates the environment once (empty variables count as unset), including the
 * pinned keys file.
 *
 * @example
 * const config = loadEdgeConfig(process.env);
 */
export function loadEdgeConfig(env: NodeJS.ProcessEnv, cwd = process.cwd()): EdgeConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const i of parsed.error.issues) {
      const name = String(i.path[0]);
      const got = name.includes('TOKEN') || name.includes('KEYS') || present[name] === undefined ? '' : ` (got ${JSON.stringify(present[name])})`;
      problems.push(present[name] === undefined ? `${name} is required: ${REQUIRED[name] ?? i.message}` : `${name} ${i.message}${got}`);
    }
    throw new ConfigError(problems);
  }
  const e = parsed.data;
  let trustedKeys: Record<string, unknown>[] = [];
  if (e.VERIFIER_TRUSTED_JWKS && e.VERIFIER_TRUSTED_KEYS) {
    problems.push('VERIFIER_TRUSTED_JWKS and VERIFIER_TRUSTED_KEYS are both set: pin the keys one way only');
  } else if (e.VERIFIER_TRUSTED_JWKS) {
    const file = path.resolve(cwd, e.VERIFIER_TRUSTED_JWKS);
    let text: string | null = null;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      problems.push(`VERIFIER_TRUSTED_JWKS: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}): point it at a JWKS file`);
    }
    if (text !== null) {
      const r = parseKeys(`VERIFIER_TRUSTED_JWKS (${file})`, text);
      if ('problem' in r) problems.push(r.problem);
      else trustedKeys = r.keys;
    }
  } else if (e.VERIFIER_TRUSTED_KEYS) {
    const r = parseKeys('VERIFIER_TRUSTED_KEYS', e.VERIFIER_TRUSTED_KEYS);
    if ('problem' in r) problems.push(r.problem);
    else trustedKeys = r.keys;
  } else {
    problems.push(`VERIFIER_TRUSTED_JWKS (a file) or VERIFIER_TRUSTED_KEYS (inline JSON) is required: ${KEYS_HINT}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    ledgerUrl: e.LEDGER_URL,
    ledgerToken: e.LEDGER_TOKEN,
    trustedKeys,
    issuer: e.VERIFIER_ISSUER,
    cacheDir: path.resolve(cwd, e.VERIFIER_CACHE_DIR),
    graceS: e.VERIFIER_GRACE_S,
    graceBS: e.VERIFIER_GRACE_B_S,
    pollS: e.VERIFIER_POLL_S,
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
  };
}
