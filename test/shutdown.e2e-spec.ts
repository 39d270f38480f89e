import net from 'node:net';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from './support/test-database.js';
import { INGEST_TOKEN, startLedger, subscriptionEvent } from './support/ledger-harness.js';
import { until } from './support/wait.js';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: any;
}

/** Splits what an HTTP/1.1 server wrote on one connection into its responses (Content-Length bodies). */
function parseResponses(data: Buffer): RawResponse[] {
  const out: RawResponse[] = [];
  let rest = data.toString('utf8');
  while (rest.startsWith('HTTP/1.1 ')) {
    const end = rest.indexOf('\r\n\r\n');
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    const length = Number(headers['content-length']);
    const body = rest.slice(end + 4, end + 4 + length);
    out.push({ status: Number(statusLine!.split(' ')[1]), headers, body: JSON.parse(body) });
    rest = rest.slice(end + 4 + length);
  }
  return out;
}

const request = (event: unknown): string => {
  const body = JSON.stringify(event);
  return `POST /v1/events HTTP/1.1\r\nHost: ledger\r\nAuthorization: Bearer ${INGEST_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
};

describe('graceful shutdown', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('finishes the request in flight and answers one that arrives while closing with a 503 problem and Retry-After, writing nothing', async () => {
    const ledger = await startLedger(db.url);
    const { port } = new URL(ledger.url);
    const first = subscriptionEvent();
    const second = subscriptionEvent();
    // The test holds the log lock, so the first append waits in the database while the service closes.
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    let closed: Promise<void> | undefined;
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT position FROM log_head FOR UPDATE');
      // One keep-alive connection: the first request now, the second once the service is closing.
      const socket = net.connect(Number(port), '127.0.0.1');
      const chunks: Buffer[] = [];
      socket.on('data', (d: Buffer) => chunks.push(d));
      const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      socket.write(request(first));
      await until('the first append to wait on the log lock', async () => {
        const { rows } = await holder.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
        );
        return rows[0]!.n > 0;
      });
      closed = ledger.close();
      // Closing has begun once the server takes no new connections.
      await until(
        'the server to refuse new connections after close()',
        () =>
          new Promise<boolean>((resolve) => {
            const probe = net.connect(Number(port), '127.0.0.1');
            probe.once('connect', () => {
              probe.destroy();
              resolve(false);
            });
            probe.once('error', () => resolve(true));
          }),
        30_000,
        20,
      );
      socket.write(request(second));
      // Answered in order: the second only after the first, whose append still waits on the lock.
      await holder.query('COMMIT');
      await ended;
      const [ok, refused, ...more] = parseResponses(Buffer.concat(chunks));
      expect(more).toEqual([]);
      expect(ok).toMatchObject({ status: 200, body: { id: first.id, position: expect.any(Number), duplicate: false } });
      expect(refused!.status).toBe(503);
      expect(refused!.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(refused!.headers['retry-after']).toMatch(/^\d+$/);
      expect(refused!.headers.connection).toBe('close');
      expect(refused!.body).toMatchObject({ type: '/problems/shutting-down', title: 'Shutting down', status: 503, detail: expect.any(String) });
    } finally {
      await holder.end();
      await (closed ?? ledger.close());
    }
    const check = new pg.Client({ connectionString: db.url });
    await check.connect();
    try {
      const { rows } = await check.query("SELECT source_event_id FROM events WHERE source = 'api' ORDER BY position");
      expect(rows.map((r) => r.source_event_id)).toEqual([first.id]);
    } finally {
      await check.end();
    }
  });
});
