import { existsSync } from 'node:fs';
import path from 'node:path';
import { spawnLedgerProcess } from './support/ledger-process.js';
import { INGEST_TOKEN, http, subscriptionEvent, testEnv } from './support/ledger-harness.js';
import { scratchDir } from './support/scratch.js';

/**
 * The quick start's own database: with DATABASE_URL unset the ledger starts an embedded
 * PostgreSQL, and on SIGINT or SIGTERM it must stop in order (the app drains, then the
 * database stops), keep what it acknowledged, and start again on the same data.
 */
describe('the ledger on its embedded PostgreSQL', () => {
  it('stops in order on SIGINT and SIGTERM, and keeps what it acknowledged across restarts', async () => {
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
  }, 120_000);
});
