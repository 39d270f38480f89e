import 'reflect-metadata';
import path from 'node:path';
import { migrate } from '@app/event-store';
import { ConfigError, loadLedgerConfig } from './config/ledger.config.js';
import { openDatabase } from './database/open-database.js';
import { createLedgerApp, createLogger } from './ledger-app.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadLedgerConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\nFix the variables above (see README "Configuration") and start again.\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const logger = createLogger(config);

  if (!config.databaseUrl) {
    logger.info({ dir: path.join(config.dataDir, 'pg') }, 'DATABASE_URL unset: starting the embedded PostgreSQL');
  }
  const { url: databaseUrl, embedded } = await openDatabase(config, (m) =>
    logger.debug({ component: 'embedded-postgres' }, m),
  );
  if (embedded?.origin === 'taken_over') {
    logger.warn({ port: embedded.port }, 'embedded PostgreSQL was left running by a process that is gone (killed?): taking it over; it stops with this one');
  } else if (embedded) {
    logger.info({ port: embedded.port, origin: embedded.origin }, 'embedded PostgreSQL ready');
  }

  const applied = await migrate({ databaseUrl, log: (m) => logger.debug({ component: 'migrate' }, m) });
  if (applied.length > 0) logger.info({ applied }, 'migrations applied');

  const app = await createLedgerApp({ config, databaseUrl, logger });
  await app.listen({ port: config.port, host: config.host });
  logger.info({ url: await app.getUrl(), role: config.role }, 'ledger listening');
  // Supervisors and tests wait for this line: it does not wait for the log buffer to fill.
  logger.flush();

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 20_000);
    force.unref();
    await app.close().catch((err: unknown) => logger.error({ err }, 'error while closing'));
    await embedded?.stop().catch((err: unknown) => logger.error({ err }, 'error stopping PostgreSQL'));
    process.exit(0);
  };
  // embedded-postgres (through async-exit-hook) stops every server it started on these signals
  // and then exits, at once: the database would go from under the app while it drains. This
  // process stops in order instead: the app, then its database.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.removeAllListeners(signal);
    process.on(signal, () => void stop(signal));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`ledger failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
