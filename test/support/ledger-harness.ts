import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { projectRoot } from '../../libs/event-store/src/index.js';
import { loadLedgerConfig } from '../../apps/ledger/src/config/ledger.config.js';
import { createLedgerApp } from '../../apps/ledger/src/ledger-app.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';
export const INGEST_TOKEN = 'test-ingest-token-0123456789abcdef';
export const INGEST_SECRET = 'whsec_test_ledger_secret';

export interface RunningLedger {
  readonly url: string;
  readonly app: NestFastifyApplication;
  close(): Promise<void>;
}

export function testEnv(databaseUrl: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'silent',
    LEDGER_ADMIN_TOKEN: ADMIN_TOKEN,
    LEDGER_INGEST_TOKEN: INGEST_TOKEN,
    LEDGER_INGEST_SECRETS: INGEST_SECRET,
    ...env,
  };
}

/** The ledger in this process, listening on a free loopback port (real HTTP, real database). */
export async function startLedger(databaseUrl: string, env: Record<string, string> = {}): Promise<RunningLedger> {
  const config = loadLedgerConfig(testEnv(databaseUrl, env));
  const app = await createLedgerApp({ config, databaseUrl, docsUi: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return { url, app, close: () => app.close() };
}

export interface LedgerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code or signal. */
  readonly exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

/**
 * The built ledger (`dist/`, made by `npm test`'s pretest build) as a separate process, for
 * tests that kill it. Resolves once it logs that it listens.
 */
export async function spawnLedger(databaseUrl: string, env: Record<string, string> = {}): Promise<LedgerProcess> {
  const main = path.join(projectRoot(), 'dist/apps/ledger/src/main.js');
  const child = spawn(process.execPath, [main], {
    env: { PATH: process.env.PATH ?? '', ...testEnv(databaseUrl, { LOG_LEVEL: 'info', ...env }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code ?? -1)),
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ledger did not start in 30 s\n${stderr}`)), 30_000);
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

/** fetch() with JSON in and out. */
export async function http(
  url: string,
  init: { method?: string; token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; body: any; text: string }> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  let body: string | undefined;
  if (init.raw !== undefined) body = init.raw;
  else if (init.body !== undefined) body = JSON.stringify(init.body);
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(url, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

let counter = 0;
/** A valid `POST /v1/events` body. */
export function subscriptionEvent(over: Record<string, unknown> = {}, sub: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  return {
    id: `evt_${process.pid}_${counter}`,
    type: 'subscription.updated',
    occurred_at: '2026-11-24T10:00:00Z',
    subscription: {
      id: `sub_${counter}`,
      subject: 'org_42',
      plan: 'pro',
      status: 'active',
      quantity: 5,
      current_period_end: '2026-12-24T10:00:00Z',
      cancel_at_period_end: false,
      cancel_at: null,
      ended_at: null,
      trial_end: null,
      ...sub,
    },
    ...over,
  };
}
