import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type pg from 'pg';
import { CATALOG_PUBLISHED, catalogSchema, type Catalog } from '@app/domain';
import { PostgresEventStore, WrongExpectedVersionError } from '@app/event-store';
import { CATALOG_STREAM } from '@app/projections';
import { sha256OfCanonical } from '@app/billing';
import { LEDGER_CONFIG, type LedgerConfig } from '../config/ledger.config.js';
import { PG_POOL } from '../database/database.module.js';

/** The plan catalog file could not be used; the message says where and why. */
export class CatalogFileError extends Error {
  readonly code = 'CATALOG_INVALID';
}

/** Reads and validates a `plans.json`. */
export function readCatalogFile(file: string): Catalog {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CatalogFileError(`LEDGER_PLANS (${file}): ${(err as Error).message}`);
  }
  const parsed = catalogSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new CatalogFileError(`LEDGER_PLANS (${file}) is not a valid plan catalog: ${issues}`);
  }
  return parsed.data;
}

/**
 * Loads the plan catalog at start and records it in the log as `catalog.published`, only when
 * it differs from the one in force, so history replays with the catalog of its time.
 */
@Injectable()
export class CatalogService implements OnApplicationBootstrap {
  private readonly logger = new Logger('catalog');

  constructor(
    @Inject(LEDGER_CONFIG) private readonly config: LedgerConfig,
    @Inject(PG_POOL) private readonly pool: pg.Pool,
    private readonly store: PostgresEventStore,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const file = this.config.plansPath ?? (existsSync('plans.json') ? 'plans.json' : null);
    if (!file) {
      this.logger.warn('no plan catalog (set LEDGER_PLANS or add ./plans.json): plans grant nothing');
      return;
    }
    const catalog = readCatalogFile(path.resolve(file));
    const position = await this.publish(catalog);
    if (position !== null) this.logger.log(`catalog from ${file} recorded at position ${position}`);
  }

  /** Appends the catalog unless it is the one in force; returns the new position, or null. */
  async publish(catalog: Catalog): Promise<number | null> {
    const hash = sha256OfCanonical(catalog).toString('hex');
    for (let attempt = 0; attempt < 5; attempt++) {
      const { rows } = await this.pool.query<{ hash: string | null; version: number }>(
        `SELECT data->>'hash' AS hash, stream_version AS version FROM events
          WHERE stream_id = $1 ORDER BY stream_version DESC LIMIT 1`,
        [CATALOG_STREAM],
      );
      const current = rows[0];
      if (current?.hash === hash) return null;
      const version = current?.version ?? 0;
      try {
        const { events } = await this.store.append({
          events: [
            {
              streamId: CATALOG_STREAM,
              type: CATALOG_PUBLISHED,
              source: 'catalog',
              // Unique per transition, so a catalog that comes back (A → B → A) is recorded again.
              sourceEventId: `${hash}@${version + 1}`,
              payloadHash: Buffer.from(hash, 'hex'),
              data: { catalog, hash },
              metadata: { actor: 'catalog-file' },
            },
          ],
          expectedVersions: { [CATALOG_STREAM]: version === 0 ? 'no_stream' : version },
        });
        return events[0]!.position;
      } catch (err) {
        if (!(err instanceof WrongExpectedVersionError)) throw err;
        // Another instance published at the same moment: look again.
      }
    }
    throw new Error('could not record the plan catalog: the catalog stream kept changing');
  }
}
