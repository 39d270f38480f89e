import { rm } from 'node:fs/promises';

export default async function globalTeardown() {
  const held = globalThis.__LEDGER_TEST_DB__;
  if (!held) return;
  globalThis.__LEDGER_TEST_DB__ = undefined;
  await held.db.stop();
  await rm(held.dir, { recursive: true, force: true });
}
