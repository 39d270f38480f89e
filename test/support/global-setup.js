// Plain ESM: jest loads global setup outside its transform and module mapper, so this
// uses the built library (`npm test` builds first).
import { mkdtemp, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedDatabase } from '../../dist/libs/event-store/src/index.js';

/**
 * One scratch directory per test run (LEDGER_TEST_SCRATCH; the teardown removes it) and one
 * PostgreSQL server: DATABASE_URL when set, otherwise an embedded one in the scratch
 * directory. Each suite then creates its own database on it.
 */
export default async function globalSetup() {
  if (!globalThis.__LEDGER_TEST_SCRATCH__) {
    const scratch = await mkdtemp(path.join(os.tmpdir(), 'ledger-test-run-'));
    // As root the embedded server runs as `postgres`, which must reach its data directory.
    await chmod(scratch, 0o755);
    globalThis.__LEDGER_TEST_SCRATCH__ = scratch;
    process.env.LEDGER_TEST_SCRATCH = scratch;
  }
  if (process.env.DATABASE_URL || globalThis.__LEDGER_TEST_DB__) return;
  const dir = await mkdtemp(path.join(globalThis.__LEDGER_TEST_SCRATCH__, 'pg-'));
  await chmod(dir, 0o755);
  const db = await startEmbeddedDatabase({ dataDir: path.join(dir, 'pg') });
  globalThis.__LEDGER_TEST_DB__ = { db };
  process.env.DATABASE_URL = db.connectionString;
}
