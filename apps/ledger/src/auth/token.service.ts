import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type pg from 'pg';
import { DatabaseUnavailableError, isDatabaseUnavailable } from '@app/event-store';
import { AdminEvents } from '../admin/admin-events.js';
import { LEDGER_CONFIG, SCOPES, type LedgerConfig, type Scope } from '../config/ledger.config.js';
import { PG_POOL } from '../database/database.module.js';
import { NotFoundError } from '../http/problem.errors.js';
import type { Principal } from './auth.decorators.js';

interface StoredToken {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly hash: Buffer;
}

const TOKEN_RE = /^lgr_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const BOOTSTRAP_ID = 'bootstrap-admin';
/** Revocations on other instances take effect within this interval (CONTRACT: 5 s). */
const REFRESH_MS = 2_000;
const MISS_TTL_MS = 5_000;
const MAX_MISSES = 10_000;

const sha256 = (s: string): Buffer => hash('sha256', s, 'buffer');

/**
 * Scoped bearer tokens. Only SHA-256 hashes are stored; comparisons are constant-time.
 * Minted tokens look like `lgr_<id>_<secret>`: the id finds the record, the secret's hash
 * is compared. Tokens from the environment are compared by hash against each candidate.
 * The token set is cached in memory (refreshed every 2 s) so authentication keeps working
 * while PostgreSQL is down.
 */
@Injectable()
export class TokenService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('auth');
  private readonly envTokens: StoredToken[] = [];
  private cache = new Map<string, StoredToken>();
  /** Revoked here: a refresh that started before the revocation must not bring them back. */
  private readonly revoked = new Set<string>();
  /** Ids looked up and not found, so floods of made-up tokens cost no database work. */
  private readonly misses = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    @Inject(LEDGER_CONFIG) private readonly config: LedgerConfig,
    @Inject(PG_POOL) private readonly pool: pg.Pool,
    private readonly admin: AdminEvents,
  ) {
    if (config.adminToken) {
      this.envTokens.push({ id: 'env:LEDGER_ADMIN_TOKEN', name: 'LEDGER_ADMIN_TOKEN', scopes: ['admin'], hash: sha256(config.adminToken) });
    }
    if (config.ingestToken) {
      this.envTokens.push({ id: 'env:LEDGER_INGEST_TOKEN', name: 'LEDGER_INGEST_TOKEN', scopes: ['events:write'], hash: sha256(config.ingestToken) });
    }
  }

  async onModuleInit(): Promise<void> {
    if (!this.config.adminToken) await this.ensureBootstrapAdmin();
    await this.refresh();
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), REFRESH_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The principal of a bearer token, or null when it is not a live token. */
  async authenticate(bearer: string): Promise<Principal | null> {
    const m = TOKEN_RE.exec(bearer);
    if (m) {
      const [, id, secret] = m as unknown as [string, string, string];
      if (this.revoked.has(id)) return null;
      const stored = this.cache.get(id) ?? (await this.lookup(id));
      if (stored && timingSafeEqual(stored.hash, sha256(secret))) return principal(stored);
      return null;
    }
    const hash = sha256(bearer);
    let found: StoredToken | null = null;
    for (const t of this.envTokens) {
      // Compare against every candidate so timing does not reveal which one matched.
      if (timingSafeEqual(t.hash, hash)) found = t;
    }
    return found ? principal(found) : null;
  }

  /** Mints a token; its secret is returned once and never stored. */
  async mint(name: string, scopes: readonly Scope[], actor: string): Promise<{ id: string; token: string; scopes: Scope[] }> {
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const unique = [...new Set(scopes)].sort((a, b) => SCOPES.indexOf(a) - SCOPES.indexOf(b));
    await this.pool.query(
      'INSERT INTO api_tokens (id, name, scopes, secret_hash, created_by) VALUES ($1, $2, $3, $4, $5)',
      [id, name, unique, sha256(secret), actor],
    );
    try {
      await this.recordAdminEvent('token.created', id, { id, name, scopes: unique, actor });
    } catch (err) {
      await this.pool.query('DELETE FROM api_tokens WHERE id = $1', [id]).catch(() => undefined);
      throw err;
    }
    this.cache.set(id, { id, name, scopes: unique, hash: sha256(secret) });
    return { id, token: `lgr_${id}_${secret}`, scopes: unique };
  }

  /** Revokes at once here; other instances drop it on their next refresh (≤ 2 s). */
  async revoke(id: string, actor: string): Promise<void> {
    const { rowCount } = await this.pool.query(
      'UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL',
      [id],
    );
    this.cache.delete(id);
    this.revoked.add(id);
    if (!rowCount) throw new NotFoundError(`no live token with id ${id}`);
    await this.recordAdminEvent('token.revoked', id, { id, actor });
  }

  private async recordAdminEvent(type: string, id: string, data: { actor: string } & Record<string, unknown>): Promise<void> {
    await this.admin.record({ type, streamId: 'admin:tokens', sourceEventId: `${type}:${id}`, data });
  }

  private async lookup(id: string): Promise<StoredToken | null> {
    const missedAt = this.misses.get(id);
    if (missedAt !== undefined && Date.now() - missedAt < MISS_TTL_MS) return null;
    try {
      const { rows } = await this.pool.query<{ id: string; name: string; scopes: Scope[]; secret_hash: Buffer }>(
        'SELECT id, name, scopes, secret_hash FROM api_tokens WHERE id = $1 AND revoked_at IS NULL',
        [id],
      );
      const r = rows[0];
      if (!r) {
        if (this.misses.size >= MAX_MISSES) this.misses.clear();
        this.misses.set(id, Date.now());
        return null;
      }
      const t = { id: r.id, name: r.name, scopes: r.scopes, hash: r.secret_hash };
      this.cache.set(id, t);
      return t;
    } catch (err) {
      // "Cannot tell" is a 503, not a 401: the caller's credential may well be valid.
      if (isDatabaseUnavailable(err)) throw new DatabaseUnavailableError(err);
      throw err;
    }
  }

  private async refresh(): Promise<void> {
    const { rows } = await this.pool.query<{ id: string; name: string; scopes: Scope[]; secret_hash: Buffer }>(
      'SELECT id, name, scopes, secret_hash FROM api_tokens WHERE revoked_at IS NULL',
    );
    this.cache = new Map(
      rows.filter((r) => !this.revoked.has(r.id)).map((r) => [r.id, { id: r.id, name: r.name, scopes: r.scopes, hash: r.secret_hash }]),
    );
    this.misses.clear();
  }

  /** First start without LEDGER_ADMIN_TOKEN: make one, print it once, keep only its hash. */
  private async ensureBootstrapAdmin(): Promise<void> {
    const secret = randomBytes(32).toString('base64url');
    const id = randomBytes(8).toString('hex');
    const { rowCount } = await this.pool.query(
      `INSERT INTO api_tokens (id, name, scopes, secret_hash, created_by)
       VALUES ($1, $2, ARRAY['admin'], $3, 'bootstrap')
       ON CONFLICT (name) WHERE name = 'bootstrap-admin' DO NOTHING`,
      [id, BOOTSTRAP_ID, sha256(secret)],
    );
    if (!rowCount) return;
    // On stderr: stdout carries the JSON log lines (and a log pipeline), which this is not.
    process.stderr.write(
      [
        '',
        '  No LEDGER_ADMIN_TOKEN was set, so an admin token was generated. It is shown once',
        '  and only its hash is stored; keep it somewhere safe:',
        '',
        `    lgr_${id}_${secret}`,
        '',
        '',
      ].join('\n'),
    );
    this.logger.log(`generated bootstrap admin token ${id} (printed once to stderr)`);
  }
}

function principal(t: StoredToken): Principal {
  return { kind: 'token', id: t.id, name: t.name, scopes: t.scopes };
}
