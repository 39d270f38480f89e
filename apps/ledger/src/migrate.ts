import { migrate } from '@app/event-store';
import { ConfigError, loadLedgerConfig } from './config/ledger.config.js';
import { openDatabase } from './database/open-database.js';

/** `npm run migrate`: applies pending migrations to DATABASE_URL (or the embedded database). */
async function main(): Promise<void> {
  // The files the service reads at start are not this command's: a migration job need not
  // have the signing key or the plan catalog mounted.
  const config = loadLedgerConfig({ ...process.env, LEDGER_PLANS: undefined, LEDGER_SIGNING_KEY: undefined });
  const { url, embedded } = await openDatabase(config);
  try {
    const applied = await migrate({
      databaseUrl: url,
      log: (m) => process.stdout.write(`${m}\n`),
    });
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
  } finally {
    await embedded?.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : String((err as Error).stack ?? err)}\n`);
  process.exit(err instanceof ConfigError ? 78 : 1);
});
