import path from 'node:path';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type pg from 'pg';
import { isDatabaseUnavailable } from '@app/event-store';
import { KeyRing, type Jwks, type KeyRotation, type PublicJwk, type SigningKey } from '@app/snapshots';
import { LEDGER_CONFIG, type LedgerConfig } from '../config/ledger.config.js';
import { PG_POOL } from '../database/database.module.js';

const REFRESH_MS = 10_000;

/**
 * The instance's signing keys (`LEDGER_SIGNING_KEY`, or a ring generated in
 * `LEDGER_DATA_DIR/keys`, files 0600) and the JWKS it serves: its own ring's public keys plus
 * those every other instance registered in PostgreSQL, cached so the JWKS is served while
 * the database is down. Private key material never leaves the ring.
 */
@Injectable()
export class KeyService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('keys');
  private ring!: KeyRing;
  private registered: PublicJwk[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    @Inject(LEDGER_CONFIG) private readonly config: LedgerConfig,
    @Inject(PG_POOL) private readonly pool: pg.Pool,
  ) {}

  async onModuleInit(): Promise<void> {
    this.ring = this.config.signingKeyPath
      ? await KeyRing.fromFile(path.resolve(this.config.signingKeyPath))
      : await KeyRing.open(path.join(this.config.dataDir, 'keys'), {
          now: new Date(),
          snapshotTtlS: this.config.snapshotTtlS,
          tokenTtlS: this.config.tokenTtlS,
        });
    await this.register();
    await this.refresh();
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), REFRESH_MS);
    this.timer.unref();
    this.logger.log(`signing with key ${this.ring.signingKey().kid}`);
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  signingKey(): SigningKey {
    return this.ring.signingKey();
  }

  /** Own keys first, then other instances' registered keys not yet retired. */
  jwks(now = new Date()): Jwks {
    const own = this.ring.jwks(now).keys;
    const seen = new Set(own.map((k) => k.kid));
    return { keys: [...own, ...this.registered.filter((k) => !seen.has(k.kid))] };
  }

  /** Announces a next key, or promotes the announced one; the JWKS changes at once. */
  async rotate(): Promise<KeyRotation> {
    const rotation = await this.ring.rotate(new Date());
    await this.register();
    return rotation;
  }

  /** Publishes this ring's public keys (and their retirement dates) for the other instances. */
  private async register(): Promise<void> {
    const jwks = this.ring.jwks(new Date()).keys;
    const info = new Map(this.ring.describe().map((k) => [k.kid, k]));
    try {
      await this.pool.query(
        `INSERT INTO signing_keys (kid, jwk, state, retire_after)
         SELECT kid, jwk, state, retire_after FROM jsonb_to_recordset($1::jsonb)
           AS x(kid text, jwk jsonb, state text, retire_after timestamptz)
         ON CONFLICT (kid) DO UPDATE SET jwk = EXCLUDED.jwk, state = EXCLUDED.state,
           retire_after = EXCLUDED.retire_after, updated_at = now()`,
        [
          JSON.stringify(
            jwks.map((k) => {
              const i = info.get(k.kid);
              return { kid: k.kid, jwk: k, state: i?.state ?? 'current', retire_after: i?.retire_after ?? null };
            }),
          ),
        ],
      );
    } catch (err) {
      if (!isDatabaseUnavailable(err)) throw err;
      this.logger.warn('could not register public keys: database unavailable (retrying on refresh)');
    }
  }

  private async refresh(): Promise<void> {
    const { rows } = await this.pool.query<{ jwk: PublicJwk }>(
      'SELECT jwk FROM signing_keys WHERE retire_after IS NULL OR retire_after > now() ORDER BY kid',
    );
    this.registered = rows.map((r) => r.jwk);
  }
}
