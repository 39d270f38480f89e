import path from 'node:path';
import { startEmbeddedDatabase, type EmbeddedDatabase } from '@app/event-store';
import type { LedgerConfig } from '../config/ledger.config.js';

/**
 * The database to use: `DATABASE_URL`, or the embedded PostgreSQL in `LEDGER_DATA_DIR/pg`
 * (started here; `embedded` is the caller's to stop).
 */
export async function openDatabase(
  config: LedgerConfig,
  log?: (msg: string) => void,
): Promise<{ url: string; embedded: EmbeddedDatabase | null }> {
  if (config.databaseUrl) return { url: config.databaseUrl, embedded: null };
  const embedded = await startEmbeddedDatabase({
    dataDir: path.join(config.dataDir, 'pg'),
    ...(config.embeddedPgPort ? { port: config.embeddedPgPort } : {}),
    ...(log ? { log } : {}),
  });
  return { url: embedded.connectionString, embedded };
}
