import { Command, CommanderError, Option } from 'commander';
import { parseBaseUrl } from './args.parse.js';
import { CliContext, resolveToken, type CliIo } from './cli.context.js';
import { CliError } from './cli.errors.js';
import { registerAdminCommands } from './commands/admin.commands.js';
import { registerMigrateCommand } from './commands/migrate.command.js';
import { registerReadCommands } from './commands/read.commands.js';
import { registerRebuildCommand } from './commands/rebuild.command.js';
import { registerVerifySnapshotCommand } from './commands/verify-snapshot.command.js';

export const DEFAULT_URL = 'http://127.0.0.1:3000';

/** Exit codes: 0 done, 1 the operation failed (the service said no, a check failed, …), 2 usage error. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

// commander's own "exits" that are not errors
const NOT_ERRORS = new Set(['commander.helpDisplayed', 'commander.version', 'commander.executeSubCommandAsync']);

/** The `ledger` program, writing to `io`; `exitCode` holds the outcome once `parseAsync` settles. */
export function createProgram(io: CliIo): { program: Command; exitCode: () => number } {
  let code: number = EXIT.ok;
  const program = new Command('ledger');

  /** Runs a command with the resolved global options; a CliError becomes exit 1, reported. */
  const run = async (command: Command, fn: (ctx: CliContext) => Promise<void>): Promise<void> => {
    const o = command.optsWithGlobals<{ url: string; token?: string; json?: boolean }>();
    const ctx = new CliContext(io, { url: o.url, token: resolveToken(o.token, io.env), json: o.json === true });
    try {
      await fn(ctx);
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      ctx.reportError(e);
      code = EXIT.failed;
    }
  };

  program
    .description('Admin and operations CLI of the entitlement ledger')
    .addOption(new Option('--url <url>', 'ledger base URL').env('LEDGER_URL').default(DEFAULT_URL).argParser(parseBaseUrl))
    .addOption(new Option('--token <token>', 'bearer token (default: $LEDGER_TOKEN, else $LEDGER_ADMIN_TOKEN)'))
    .option('--json', 'machine output: exactly one JSON document on stdout (the answer, or the problem on failure)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(s),
    });

  registerMigrateCommand(program, run);
  registerRebuildCommand(program, run);
  registerReadCommands(program, run);
  registerAdminCommands(program, run);
  registerVerifySnapshotCommand(program, run);

  // subcommands inherit the error handling and output of the program
  const inherit = (cmd: Command): void => {
    for (const sub of cmd.commands) {
      sub.exitOverride().showHelpAfterError('(run with --help for usage)').configureOutput(program.configureOutput());
      inherit(sub);
    }
  };
  inherit(program);

  return {
    program,
    exitCode: () => code,
  };
}

/** Parses `argv` and runs; resolves with the exit code (never calls process.exit). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const { program, exitCode } = createProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode();
  } catch (e) {
    if (e instanceof CommanderError) return NOT_ERRORS.has(e.code) ? EXIT.ok : EXIT.usage;
    throw e;
  }
}
