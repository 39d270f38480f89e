import type { Problem } from './ledger-api.types.js';

/**
 * A failure the CLI reports and exits 1 on. `problem` is what `--json` prints on stdout: the
 * service's own problem+json when it answered with one, else one built here in the same shape.
 */
export class CliError extends Error {
  constructor(
    readonly problem: Problem,
    options?: { cause?: unknown },
  ) {
    super(problem.detail ? `${problem.title}: ${problem.detail}` : problem.title, options);
    this.name = 'CliError';
  }

  /** A local failure (no HTTP answer): `type` is a `urn:ledger-cli:` code. */
  static local(code: string, title: string, detail?: string, options?: { cause?: unknown }): CliError {
    return new CliError({ type: `urn:ledger-cli:${code}`, title, ...(detail !== undefined ? { detail } : {}) }, options);
  }
}
