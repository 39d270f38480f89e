import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { processRunning } from '../libs/event-store/src/index.js';
import { spawnLedgerProcess } from './support/ledger-process.js';
import { INGEST_TOKEN, http, subscriptionEvent, testEnv } from './support/ledger-harness.js';
import { scratchDir } from './support/scratch.js';

/**
 * The quick start's own database: with DATABASE_URL unset the ledger starts an embedded
 * PostgreSQL, and on SIGINT or SIGTERM it must stop in order (the app drains, then the
 * database stops), keep what it acknowledged, and start again on the same data.
 */
describe('the ledger on its embedded PostgreSQL', () => {
  it('stops in order on SIGINT and SIGTERM, keeps what it acknowledged across restarts, and stops a database a killed run left behind', async () => {
    const dataDir = scratchDir('embedded-ledger');
    const { DATABASE_URL: _unused, ...env } = testEnv('unused', { LEDGER_DATA_DIR: dataDir, LOG_LEVEL: 'info' });
    const pid = path.join(dataDir, 'pg', 'postmaster.pid');
    const event = subscriptionEvent();

    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const ledger = await spawnLedgerProcess(env);
      try {
        expect(existsSync(pid)).toBe(true);
        const res = await http(`${ledger.url}/v1/events`, { token: INGEST_TOKEN, body: event });
        expect(res.status).toBe(200);
        // Recorded by the first run; the second finds it there, as the same event.
        expect(res.body.duplicate).toBe(signal === 'SIGTERM');
      } finally {
        await ledger.kill(signal);
      }
      expect(await ledger.exited).toBe(0);
      const out = ledger.output();
      expect(out).toContain('"msg":"shutting down"');
      // The database stayed up until the app had closed its connections, then stopped.
      expect(out).not.toContain('terminating connection due to administrator command');
      expect(existsSync(pid)).toBe(false);
    }

    // Killed outright, the ledger leaves its database running; the next start takes it over
    // and stops it when it stops, so a crash does not leave the database running for good.
    const killed = await spawnLedgerProcess(env);
    expect(await killed.kill('SIGKILL')).toBe('SIGKILL');
    expect(existsSync(pid)).toBe(true);
    const orphan = Number(readFileSync(pid, 'utf8').split('\n')[0]);
    expect(processRunning(orphan)).toBe(true);
    const next = await spawnLedgerProcess(env);
    try {
      const res = await http(`${next.url}/v1/events`, { token: INGEST_TOKEN, body: event });
      expect(res.body).toMatchObject({ id: event.id, duplicate: true });
      expect(next.output()).toContain('taking it over');
    } finally {
      await next.kill('SIGTERM');
    }
    expect(await next.exited).toBe(0);
    expect(existsSync(pid)).toBe(false);
    expect(processRunning(orphan)).toBe(false);
  }, 180_000);
});
