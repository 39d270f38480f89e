import path from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { projectRoot } from '../../libs/event-store/src/index.js';
import { loadLedgerConfig } from '../../apps/ledger/src/config/ledger.config.js';
import { createLedgerApp } from '../../apps/ledger/src/ledger-app.js';
import { spawnLedgerProcess, type LedgerProcess } from './ledger-process.js';
import { scratchDir } from './scratch.js';

export type { LedgerProcess };

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';
export const INGEST_TOKEN = 'test-ingest-token-0123456789abcdef';
export const INGEST_SECRET = 'whsec_test_ledger_secret';
/** The repository's example catalog (plans free, pro, enterprise; matches the provider fixtures). */
export const TEST_PLANS = path.join(projectRoot(), 'plans.json');

export interface RunningLedger {
  readonly url: string;
  readonly app: NestFastifyApplication;
  close(): Promise<void>;
}

/** Test defaults: fixed tokens and secret, quiet logs, any free port, a private data dir. */
export function testEnv(databaseUrl: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    // Keys and the like go to a temporary directory, never into the checkout.
    LEDGER_DATA_DIR: scratchDir('ledger-data'),
    DATABASE_URL: databaseUrl,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'silent',
    LEDGER_ADMIN_TOKEN: ADMIN_TOKEN,
    LEDGER_INGEST_TOKEN: INGEST_TOKEN,
    LEDGER_INGEST_SECRETS: INGEST_SECRET,
    LEDGER_PLANS: TEST_PLANS,
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
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

let counter = 0;
// Relative to when the suite loads, so that fixtures neither expire nor lose last-writer-wins to
// events tests date "now - 1 day" as the calendar moves on; second precision, like a provider's.
const LOADED_AT = Math.floor(Date.now() / 1000) * 1000;
const DEFAULT_OCCURRED_AT = new Date(LOADED_AT - 3_600_000).toISOString();
const DEFAULT_PERIOD_END = new Date(LOADED_AT + 30 * 86_400_000).toISOString();

/** A valid `POST /v1/events` body. */
export function subscriptionEvent(over: Record<string, unknown> = {}, sub: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  return {
    id: `evt_${process.pid}_${counter}`,
    type: 'subscription.updated',
    occurred_at: DEFAULT_OCCURRED_AT,
    subscription: {
      id: `sub_${counter}`,
      subject: 'org_42',
      plan: 'pro',
      status: 'active',
      quantity: 5,
      current_period_end: DEFAULT_PERIOD_END,
      cancel_at_period_end: false,
      cancel_at: null,
      ended_at: null,
      trial_end: null,
      ...sub,
    },
    ...over,
  };
}

/** The built ledger as a child process with the test defaults (see ledger-process.ts). */
export function spawnLedger(databaseUrl: string, env: Record<string, string> = {}): Promise<LedgerProcess> {
  return spawnLedgerProcess(testEnv(databaseUrl, { LOG_LEVEL: 'info', ...env }));
}
