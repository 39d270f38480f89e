import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { projectRoot } from '../../libs/event-store/src/index.js';

export interface LedgerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code or signal. */
  readonly exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

/** Every ledger process this test file started that has not exited yet. */
const running = new Set<ChildProcess>();

/**
 * Kills whatever ledger processes are still running (SIGKILL). Runs after every e2e/int file
 * (test/support/after-suite.ts), so a suite whose setup failed half way never leaves a
 * process behind that would keep jest from exiting.
 */
export async function killAllLedgerProcesses(): Promise<void> {
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

/**
 * The built ledger (`dist/`, made by the pretest/prebench build) as a separate process, for
 * tests that kill it and benchmarks. Needs LOG_LEVEL ≥ info; resolves once it logs that it
 * listens, then keeps draining its output.
 */
export async function spawnLedgerProcess(env: Record<string, string>): Promise<LedgerProcess> {
  const main = path.join(projectRoot(), 'dist/apps/ledger/src/main.js');
  const child = spawn(process.execPath, [main], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(signal ?? code ?? -1);
    }),
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-65_536)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ledger did not start in 30 s\n${stderr}`));
    }, 30_000);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'ledger listening' && entry.url) {
          clearTimeout(timer);
          resolve(entry.url.replace('[::1]', '127.0.0.1'));
        }
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`ledger exited (${code}) before listening\n${stderr}`));
    });
  });
  return {
    url,
    child,
    exited,
    kill: (signal = 'SIGTERM') => {
      child.kill(signal);
      return exited;
    },
  };
}

