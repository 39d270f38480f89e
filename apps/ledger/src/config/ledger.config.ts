import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export const SCOPES = ['admin', 'events:write', 'entitlements:read', 'snapshots:read'] as const;
export type Scope = (typeof SCOPES)[number];
export const ROLES = ['all', 'api', 'worker'] as const;

const int = (min: number, hint: string) =>
  z
    .string()
    .regex(/^\d+$/, `must be a whole number (${hint})`)
    .transform(Number)
    .refine((n) => n >= min, `must be at least ${min} (${hint})`);

/** A file the service reads at start: checked here, so a wrong path fails before anything starts. */
const readableFile = (what: string) =>
  z
    .string()
    .min(1)
    .refine((p) => {
      try {
        accessSync(p, constants.R_OK);
        return statSync(p).isFile();
      } catch {
        return false;
      }
    }, `must name a readable file (${what})`);

const list = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));

const envSchema = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// connection string, or unset for the embedded database')
    .optional(),
  LEDGER_DATA_DIR: z.string().min(1).default('./.data'),
  LEDGER_EMBEDDED_PG_PORT: int(1, 'a TCP port').refine((n) => n < 65536, 'must be below 65536').optional(),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: int(0, 'a TCP port, 0 for any free one')
    .refine((n) => n < 65536, 'must be below 65536')
    .default(3000),
  LEDGER_ROLE: z.enum(ROLES, { message: `must be one of ${ROLES.join(', ')}` }).default('all'),
  LEDGER_ISSUER: z.string().url('must be an absolute URL, e.g. https://ledger.example.com').optional(),
  LEDGER_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters (use a long random string)').optional(),
  LEDGER_INGEST_TOKEN: z.string().min(16, 'must be at least 16 characters (use a long random string)').optional(),
  LEDGER_INGEST_SECRETS: list.default([]),
  LEDGER_SIGNATURE_TOLERANCE_S: int(1, 'seconds').default(300),
  STRIPE_WEBHOOK_SECRETS: list.default([]),
  STRIPE_TOLERANCE_S: int(1, 'seconds').default(300),
  PADDLE_WEBHOOK_SECRETS: list.default([]),
  PADDLE_TOLERANCE_S: int(1, 'seconds').default(300),
  LEDGER_SIGNING_KEY: readableFile('a private JWK or PKCS#8 PEM file; unset, a key is generated in LEDGER_DATA_DIR').optional(),
  LEDGER_PLANS: readableFile('the plan catalog, JSON like ./plans.json').optional(),
  LEDGER_MAX_BODY: int(1024, 'bytes').default(1_048_576),
  SNAPSHOT_TTL_S: int(5, 'seconds').default(900),
  TOKEN_TTL_S: int(5, 'seconds').default(900),
  PAST_DUE_GRACE_S: int(0, 'seconds').default(259_200),
  RENEWAL_LEEWAY_S: int(0, 'seconds').default(86_400),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LEDGER_DB_POOL_MAX: int(2, 'connections').default(10),
  LEDGER_DB_STATEMENT_TIMEOUT_MS: int(100, 'milliseconds').default(15_000),
  // At least two full batches, so that one always fits behind another.
  LEDGER_MAX_QUEUED_EVENTS: int(2_000, 'events').default(50_000),
  LEDGER_SNAPSHOT_SHARDS: int(1, 'shards').refine((n) => n <= 65_536, 'must be at most 65536').default(256),
});

export interface LedgerConfig {
  /** Unset: the embedded PostgreSQL in `dataDir/pg`. */
  readonly databaseUrl: string | null;
  readonly dataDir: string;
  readonly embeddedPgPort: number | undefined;
  readonly host: string;
  readonly port: number;
  readonly role: (typeof ROLES)[number];
  readonly issuer: string;
  readonly adminToken: string | undefined;
  readonly ingestToken: string | undefined;
  readonly ingestSecrets: readonly string[];
  readonly signatureToleranceS: number;
  readonly stripeSecrets: readonly string[];
  readonly stripeToleranceS: number;
  readonly paddleSecrets: readonly string[];
  readonly paddleToleranceS: number;
  readonly signingKeyPath: string | undefined;
  readonly plansPath: string | undefined;
  readonly maxBody: number;
  readonly snapshotTtlS: number;
  readonly tokenTtlS: number;
  readonly pastDueGraceS: number;
  readonly renewalLeewayS: number;
  readonly logLevel: string;
  readonly dbPoolMax: number;
  /** The pool sessions' statement_timeout; the client stops waiting for an answer 5 s after it. */
  readonly dbStatementTimeoutMs: number;
  /** Events that may wait to be appended; a request that would queue more gets a 503. */
  readonly maxQueuedEvents: number;
  readonly snapshotShards: number;
}

/** A configuration the service cannot start with; the message says how to fix it. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Reads and validates the environment once. Empty variables count as unset.
 *
 * @example
 * const config = loadLedgerConfig(process.env);
 */
export function loadLedgerConfig(env: NodeJS.ProcessEnv): LedgerConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => {
        const name = String(i.path[0]);
        const got = name.includes('TOKEN') || name.includes('SECRET') || name === 'DATABASE_URL'
          ? ''
          : ` (got ${JSON.stringify(present[name])})`;
        return `${name} ${i.message}${got}`;
      }),
    );
  }
  const e = parsed.data;
  return {
    databaseUrl: e.DATABASE_URL ?? null,
    dataDir: path.resolve(e.LEDGER_DATA_DIR),
    embeddedPgPort: e.LEDGER_EMBEDDED_PG_PORT,
    host: e.HOST,
    port: e.PORT,
    role: e.LEDGER_ROLE,
    issuer: e.LEDGER_ISSUER ?? `http://${e.HOST.includes(':') ? `[${e.HOST}]` : e.HOST}:${e.PORT}`,
    adminToken: e.LEDGER_ADMIN_TOKEN,
    ingestToken: e.LEDGER_INGEST_TOKEN,
    ingestSecrets: e.LEDGER_INGEST_SECRETS,
    signatureToleranceS: e.LEDGER_SIGNATURE_TOLERANCE_S,
    stripeSecrets: e.STRIPE_WEBHOOK_SECRETS,
    stripeToleranceS: e.STRIPE_TOLERANCE_S,
    paddleSecrets: e.PADDLE_WEBHOOK_SECRETS,
    paddleToleranceS: e.PADDLE_TOLERANCE_S,
    signingKeyPath: e.LEDGER_SIGNING_KEY,
    plansPath: e.LEDGER_PLANS,
    maxBody: e.LEDGER_MAX_BODY,
    snapshotTtlS: e.SNAPSHOT_TTL_S,
    tokenTtlS: e.TOKEN_TTL_S,
    pastDueGraceS: e.PAST_DUE_GRACE_S,
    renewalLeewayS: e.RENEWAL_LEEWAY_S,
    logLevel: e.LOG_LEVEL,
    dbPoolMax: e.LEDGER_DB_POOL_MAX,
    dbStatementTimeoutMs: e.LEDGER_DB_STATEMENT_TIMEOUT_MS,
    maxQueuedEvents: e.LEDGER_MAX_QUEUED_EVENTS,
    snapshotShards: e.LEDGER_SNAPSHOT_SHARDS,
  };
}

/** Injection token of the validated config. */
export const LEDGER_CONFIG = Symbol('LEDGER_CONFIG');
