import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * A new temporary directory for one test's data. Under `npm test` it lives inside the run's
 * scratch directory (LEDGER_TEST_SCRATCH, made by the global setup and removed by the global
 * teardown), so a run leaves nothing behind even when a suite fails half way.
 */
export function scratchDir(prefix: string): string {
  const root = process.env.LEDGER_TEST_SCRATCH ?? os.tmpdir();
  return mkdtempSync(path.join(root, `${prefix}-`));
}
