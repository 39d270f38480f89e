import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { projectRoot } from '../../libs/event-store/src/index.js';

export interface EdgeProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code or signal. */
  readonly exited: Promise<number | string>;
  /** Everything it wrote to stdout and stderr so far (the last 256 KiB). */
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

/** Every edge verifier process this test file started that has not exited yet. */
const running = new Set<ChildProcess>();

/** SIGKILLs the edge verifiers still running; after every e2e file (test/support/after-suite.ts). */
export async function killAllEdgeProcesses(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
  running.clear();
}

export const EDGE_MAIN = (): string => path.join(projectRoot(), 'dist/apps/edge-verifier/src/main.js');

/**
 * The built edge verifier (`dist/`) as a separate process. `wrap` runs it under another
 * command (e.g. `['faketime', '-f', '-1h']`). Needs LOG_LEVEL ≥ info; resolves once it logs
 * that it listens, then keeps draining its output.
 */
export async function spawnEdgeProcess(env: Record<string, string>, options: { wrap?: readonly string[] } = {}): Promise<EdgeProcess> {
  const wrap = options.wrap ?? [];
  const argv: string[] = [...wrap, process.execPath, EDGE_MAIN()];
  const [command, ...args] = argv as [string, ...string[]];
  const child = spawn(command, args, {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(signal ?? code ?? -1);
    }),
  );
  let output = '';
  const keep = (d: Buffer | string): void => {
    output = (output + d.toString()).slice(-262_144);
  };
  child.stderr!.on('data', keep);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`edge verifier did not start in 30 s\n${output}`));
    }, 30_000);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      keep(`${line}\n`);
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'edge verifier listening' && entry.url) {
          clearTimeout(timer);
          resolve(entry.url.replace('[::1]', '127.0.0.1'));
        }
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`edge verifier exited (${code}) before listening\n${output}`));
    });
  });
  return {
    url,
    child,
    exited,
    output: () => output,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
