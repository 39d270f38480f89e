import { createTestDatabase, sessionTimeoutSettings, type TestDatabase } from '../../../test/support/test-database.js';
import { until } from '../../../test/support/wait.js';
import { LeaderLease } from './index.js';

describe('LeaderLease', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
  });

  afterAll(async () => {
    await db.drop();
  });

  it.each([
    ["the pool's by default", {}, ['15s', '30s']],
    ['as given', { statementTimeoutMs: 600_000, idleInTransactionTimeoutMs: 4_000 }, ['10min', '4s']],
  ])('leads on a session whose statement and idle-in-transaction timeouts are %s', async (_label, timeouts, expected) => {
    const lease = new LeaderLease({ connectionString: db.url, name: `timeouts-${expected[0]}`, ...timeouts });
    let settings: [string, string] | null = null;
    lease.start(async (client) => {
      settings = await sessionTimeoutSettings(client);
    });
    try {
      await until('the lead to read its settings', () => settings !== null);
      expect(settings).toEqual(expected);
    } finally {
      await lease.stop();
    }
  });

  it('loses the lease, to a standby, when its lead leaves a transaction idle', async () => {
    const name = 'idle-leader';
    const stalled = new LeaderLease({ connectionString: db.url, name, idleInTransactionTimeoutMs: 200 });
    const standby = new LeaderLease({ connectionString: db.url, name, retryMs: 20 });
    let ended: unknown = null;
    stalled.start(async (client, signal) => {
      await client.query('BEGIN');
      await client.query('SELECT 1');
      // A lead that stops issuing statements mid-transaction (a stalled process): it wakes only
      // when the server ends its session, or at stop.
      ended = await new Promise((resolve) => {
        client.once('error', resolve);
        signal.addEventListener('abort', () => resolve('stopped'), { once: true });
      });
    });
    try {
      await until('the stalled lease to lead', () => stalled.isLeader);
      standby.start(async (_client, signal) => {
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      });
      await until('the standby to take over', () => standby.isLeader);
      await until('the stalled lease to step down', () => !stalled.isLeader);
      expect(ended).toMatchObject({ code: '25P03' });
    } finally {
      await stalled.stop();
      await standby.stop();
    }
  });
});
