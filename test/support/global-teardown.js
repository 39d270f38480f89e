import { rm } from 'node:fs/promises';

/** Stops the embedded server, if the setup started one, and removes the run's scratch directory. */
export default async function globalTeardown() {
  const held = globalThis.__LEDGER_TEST_DB__;
  if (held) {
    globalThis.__LEDGER_TEST_DB__ = undefined;
    delete process.env.DATABASE_URL;
    await held.db.stop();
  }
  const scratch = globalThis.__LEDGER_TEST_SCRATCH__;
  if (scratch) {
    globalThis.__LEDGER_TEST_SCRATCH__ = undefined;
    delete process.env.LEDGER_TEST_SCRATCH;
    await rm(scratch, { recursive: true, force: true });
  }
}
