// Plain ESM: jest loads global setup outside its transform and module mapper, so this
// uses the built library (`npm test` builds first).
import { mkdtemp, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedDatabase } from '../../dist/libs/event-store/src/index.js';

/**
 * One PostgreSQL server per test run: DATABASE_URL when set, otherwise an embedded one
 * in a temporary directory. Each suite then creates its own database on it.
 */
export default async function globalSetup() {
  if (process.env.DATABASE_URL || globalThis.__LEDGER_TEST_DB__) return;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ledger-test-pg-'));
  await chmod(dir, 0o755);
  const db = await startEmbeddedDatabase({ dataDir: path.join(dir, 'pg') });
  globalThis.__LEDGER_TEST_DB__ = { db, dir };
  process.env.DATABASE_URL = db.connectionString;
}
