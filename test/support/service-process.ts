import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ServiceProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code or signal. */
  readonly exited: Promise<number | string>;
  /** Everything it wrote to stdout and stderr so far (the last 256 KiB). */
  output(): string;
  /** What it wrote to stderr alone (the last 64 KiB). */
  errorOutput(): string;
  /** What it wrote to stdout alone, its log lines (the last 256 KiB). */
  logOutput(): string;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

export interface ServiceSpawn {
  /** What to call it in errors. */
  readonly name: string;
  /** The built entry point (`dist/…/main.js`). */
  readonly main: string;
  /** The pino `msg` of its "listening" line, which carries `url`. */
  readonly listeningMsg: string;
  /** The whole environment besides PATH (nothing is inherited). */
  readonly env: Record<string, string>;
  /** Options for node itself (e.g. `--cpu-prof`, which NODE_OPTIONS refuses). */
  readonly nodeArgs?: readonly string[];
}

/** The last `limit` characters or so of a stream, kept as chunks and joined when asked for. */
function tail(limit: number): { add(text: string): void; text(): string } {
  const chunks: string[] = [];
  let kept = 0;
  return {
    add(text) {
      chunks.push(text);
      kept += text.length;
      while (kept > limit && chunks.length > 1) kept -= chunks.shift()!.length;
    },
    text: () => chunks.join(''),
  };
}

/** Every service process this test file started that has not exited yet. */
const running = new Set<ChildProcess>();

/**
 * Kills whatever service processes are still running (SIGKILL). Runs after every e2e/int file
 * (test/support/after-suite.ts), so a suite whose setup failed half way never leaves a
 * process behind that would keep jest from exiting.
 */
export async function killAllServiceProcesses(): Promise<void> {
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
 * A built service as a separate process, for tests that kill it, benchmarks and the demo.
 * Needs LOG_LEVEL ≥ info; resolves once it logs that it listens (within 30 s), then keeps
 * draining its output.
 */
export async function spawnServiceProcess(spec: ServiceSpawn): Promise<ServiceProcess> {
  // Node itself, never under a wrapper that forks (killing the wrapper would orphan it).
  const child = spawn(process.execPath, [...(spec.nodeArgs ?? []), spec.main], { env: { PATH: process.env.PATH ?? '', ...spec.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(signal ?? code ?? -1);
    }),
  );
  // The last of its output, both streams and each alone, as chunks joined only when asked
  // for: a busy service logs a lot, and the process watching it (a benchmark's load
  // generator) must not pay per line.
  const all = tail(262_144);
  const errors = tail(65_536);
  const logs = tail(262_144);
  child.stderr!.on('data', (d: Buffer) => {
    const text = d.toString();
    all.add(text);
    errors.add(text);
  });
  child.stdout!.on('data', (d: Buffer) => {
    const text = d.toString();
    all.add(text);
    logs.add(text);
  });
  const output = all.text;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${spec.name} did not start in 30 s\n${output()}`));
    }, 30_000);
    // Lines are parsed only until the service says it listens (closing the reader would
    // pause the stream, and a service blocked on a full pipe stops answering).
    let found = false;
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (found) return;
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === spec.listeningMsg && entry.url) {
          clearTimeout(timer);
          found = true;
          resolve(entry.url.replace('[::1]', '127.0.0.1'));
        }
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${spec.name} exited (${code}) before listening\n${output()}`));
    });
  });
  return {
    url,
    child,
    exited,
    output,
    errorOutput: errors.text,
    logOutput: logs.text,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
