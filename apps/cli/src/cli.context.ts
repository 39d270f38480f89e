import { CliError } from './cli.errors.js';
import { LedgerClient } from './ledger.client.js';
import { colorsFor, paint, type Paint } from './output.format.js';

/** Where the CLI writes and what it reads from its environment (a test passes its own). */
export interface CliIo {
  readonly stdout: { write(chunk: string): unknown; isTTY?: boolean };
  readonly stderr: { write(chunk: string): unknown; isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
}

/** The options every command takes, resolved (flags, then environment, then defaults). */
export interface GlobalOptions {
  readonly url: string;
  readonly token: string | undefined;
  readonly json: boolean;
}

/**
 * What a command needs: the ledger client and the two outputs. With `--json` stdout carries
 * exactly one JSON document (the answer, or the problem on failure); human text otherwise.
 * Diagnostics always go to stderr.
 */
export class CliContext {
  readonly client: LedgerClient;
  readonly paint: Paint;
  readonly errPaint: Paint;
  private printed = false;

  constructor(
    readonly io: CliIo,
    readonly options: GlobalOptions,
  ) {
    this.client = new LedgerClient({ url: options.url, token: options.token });
    this.paint = paint(!options.json && colorsFor(io.stdout, io.env));
    this.errPaint = paint(colorsFor(io.stderr, io.env));
  }

  get json(): boolean {
    return this.options.json;
  }

  /** The command's answer: `data` as JSON, or `human(paint)` as text. Once per run. */
  result<T>(data: T, human: (p: Paint) => string): void {
    if (this.printed) throw new Error('a command prints one result');
    this.printed = true;
    if (this.json) this.io.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
    else this.io.stdout.write(`${human(this.paint)}\n`);
  }

  /** A line for a human on stderr (progress, notes); silent with `--json`. */
  note(line: string): void {
    if (!this.json) this.io.stderr.write(`${line}\n`);
  }

  /** Reports a failure: `error: <title>: <detail>` on stderr and, with `--json`, the problem on stdout unless a result was printed. */
  reportError(err: CliError): void {
    const lines = [`${this.errPaint('red', 'error:')} ${err.message}`];
    for (const e of err.problem.errors ?? []) lines.push(`  ${e.path}: ${e.message}`);
    this.io.stderr.write(`${lines.join('\n')}\n`);
    if (this.json && !this.printed) {
      this.printed = true;
      this.io.stdout.write(`${JSON.stringify(err.problem, null, 2)}\n`);
    }
  }
}

export function resolveToken(flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  return flag || env.LEDGER_TOKEN || env.LEDGER_ADMIN_TOKEN || undefined;
}
