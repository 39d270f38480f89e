import { createHash } from 'node:crypto';
import type pg from 'pg';
import { openStoreDatabase, sessionsWaitingOnLock, type TestDatabase } from '../../../test/support/test-database.js';
import { until } from '../../../test/support/wait.js';
import {
  AppendQueueFullError,
  AppendRejectedError,
  createPool,
  IdempotencyConflictError,
  JsonText,
  LogFollower,
  LogNotifier,
  PostgresEventStore,
  WrongExpectedVersionError,
  type AppendResult,
  type NewEvent,
  type RecordedEvent,
} from './index.js';

const hash = (v: unknown): Buffer => createHash('sha256').update(JSON.stringify(v)).digest();

function event(source: string, id: string, body: unknown = { id }, streamId = `s-${id}`): NewEvent {
  return { streamId, type: 'test.happened', source, sourceEventId: id, payloadHash: hash(body), data: body };
}

describe('PostgresEventStore', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let store: PostgresEventStore;
  let close: () => Promise<void>;
  beforeAll(async () => ({ db, pool, store, close } = await openStoreDatabase()));
  afterAll(() => close());

  /**
   * Runs `append` on a store of its own while another session holds the log lock. Once the
   * append's `statement` waits on that lock, `meanwhile` writes as another appender would
   * (given the head it locked) and commits, which lets the append go on.
   */
  async function appendWhileLocked(
    statement: string,
    append: (s: PostgresEventStore) => Promise<AppendResult>,
    meanwhile: (other: pg.PoolClient, head: number) => Promise<void>,
  ): Promise<{ result: AppendResult; replanned: number; head: number }> {
    const p = createPool({ connectionString: db.url, max: 1 });
    let replanned = 0;
    const s = new PostgresEventStore(p, { observer: { groupCommitted: (g) => void (replanned += g.replanned ? 1 : 0) } });
    const other = await pool.connect();
    try {
      await other.query('BEGIN');
      const { rows } = await other.query<{ position: string }>('SELECT position FROM log_head FOR UPDATE');
      const head = Number(rows[0]!.position);
      const pending = append(s);
      // The append must be seen waiting on the lock: otherwise `meanwhile` would not come
      // between its look-ups and its insert, and the test would not test that path.
      await until(`the append to wait on the log lock (${statement})`, async () => (await sessionsWaitingOnLock(pool, statement)) > 0);
      await meanwhile(other, head);
      await other.query('COMMIT');
      return { result: await pending, replanned, head };
    } finally {
      // A failure before the COMMIT must not leave the log locked for the tests after this one.
      await other.query('ROLLBACK').catch(() => undefined);
      other.release(true);
      await s.close();
      await p.end();
    }
  }

  it('gives 16 concurrent writers gap-free positions that a follower sees exactly once, in order', async () => {
    const writers = 16;
    const perWriter = 500;
    const total = writers * perWriter;
    const startHead = await store.head();

    const notifier = new LogNotifier(db.url);
    await notifier.start();
    const seen: RecordedEvent[] = [];
    const abort = new AbortController();
    const followerPool = createPool({ connectionString: db.url, max: 1 });
    const follower = new LogFollower(new PostgresEventStore(followerPool), notifier, { batchSize: 137 });
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const following = follower.run(startHead, async (batch) => {
      seen.push(...batch);
      if (seen.length >= total) resolveDone();
    }, abort.signal);

    // Each writer is its own store and pool (as separate processes would be), with several
    // appends in flight so group commit and cross-process lock contention both happen.
    const pools = Array.from({ length: writers }, () => createPool({ connectionString: db.url, max: 1 }));
    const stores = pools.map((p) => new PostgresEventStore(p));
    const acked = new Map<string, number>();
    await Promise.all(
      stores.map(async (s, w) => {
        const inFlight = 4;
        for (let i = 0; i < perWriter; i += inFlight) {
          const ids = Array.from({ length: Math.min(inFlight, perWriter - i) }, (_, k) => `w${w}-${i + k}`);
          const results = await Promise.all(ids.map((id) => s.append({ events: [event('conc', id)] })));
          results.forEach((r) => acked.set(r.events[0]!.sourceEventId, r.events[0]!.position));
        }
      }),
    );
    await done;
    abort.abort();
    await following;
    await notifier.stop();
    await Promise.all(stores.map((s) => s.close()));
    await Promise.all([...pools, followerPool].map((p) => p.end()));

    const positions = [...acked.values()].sort((a, b) => a - b);
    expect(positions).toEqual(Array.from({ length: total }, (_, i) => startHead + i + 1));
    expect(seen.map((e) => e.position)).toEqual(positions);
    expect(new Set(seen.map((e) => e.sourceEventId)).size).toBe(total);
    for (const e of seen) expect(acked.get(e.sourceEventId)).toBe(e.position);
    expect(await store.head()).toBe(startHead + total);
  });

  it('records a redelivery once and answers its original position', async () => {
    const first = await store.append({ events: [event('dedupe', 'evt-1', { a: 1 })] });
    const again = await store.append({ events: [event('dedupe', 'evt-1', { a: 1 })] });
    expect(first.events[0]!.duplicate).toBe(false);
    expect(again.events[0]).toEqual({ ...first.events[0], duplicate: true });
    const { rows } = await pool.query(
      "SELECT count(*)::int AS n FROM events WHERE source = 'dedupe' AND source_event_id = 'evt-1'",
    );
    expect(rows[0].n).toBe(1);
  });

  it('treats the same id from another source as another event', async () => {
    const a = await store.append({ events: [event('src-a', 'shared-id')] });
    const b = await store.append({ events: [event('src-b', 'shared-id')] });
    expect(b.events[0]!.duplicate).toBe(false);
    expect(b.events[0]!.position).toBeGreaterThan(a.events[0]!.position);
  });

  it('refuses the same id with a different body and writes nothing', async () => {
    const first = await store.append({ events: [event('conflict', 'evt-9', { v: 1 })] });
    const head = await store.head();
    const err = await store.append({ events: [event('conflict', 'evt-9', { v: 2 })] }).catch((e) => e);
    expect(err).toBeInstanceOf(IdempotencyConflictError);
    expect(err.code).toBe('IDEMPOTENCY_CONFLICT');
    expect(err.position).toBe(first.events[0]!.position);
    expect(await store.head()).toBe(head);
  });

  it('enforces expected versions per stream', async () => {
    const stream = 'subject-ev';
    await store.append({
      events: [event('ev', 'a', { n: 1 }, stream)],
      expectedVersions: { [stream]: 'no_stream' },
    });
    await store.append({ events: [event('ev', 'b', { n: 2 }, stream)], expectedVersions: { [stream]: 1 } });
    const stale = await store
      .append({ events: [event('ev', 'c', { n: 3 }, stream)], expectedVersions: { [stream]: 1 } })
      .catch((e) => e);
    expect(stale).toBeInstanceOf(WrongExpectedVersionError);
    expect(stale).toMatchObject({ code: 'WRONG_EXPECTED_VERSION', streamId: stream, actual: 2 });
    const exists = await store
      .append({ events: [event('ev', 'd', { n: 4 }, stream)], expectedVersions: { [stream]: 'no_stream' } })
      .catch((e) => e);
    expect(exists).toBeInstanceOf(WrongExpectedVersionError);
    expect((await store.readStream(stream)).map((e) => [e.sourceEventId, e.streamVersion])).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
  });

  it('lets exactly one of many appends stating the same expected version win, round after round, and loses no acknowledged write', async () => {
    // Separate stores (as separate processes would be), two appends from each at once, so the
    // contenders meet both inside one store's group and across sessions under the log lock.
    const stores = Array.from({ length: 5 }, () => {
      const p = createPool({ connectionString: db.url, max: 1 });
      return { p, s: new PostgresEventStore(p) };
    });
    const stream = 'raced-versions';
    const rounds = 12;
    const won: AppendResult[] = [];
    try {
      for (let round = 0; round < rounds; round++) {
        const expected = round === 0 ? 'no_stream' : round;
        const results = await Promise.allSettled(
          stores.flatMap(({ s }, w) =>
            [0, 1].map((k) =>
              s.append({ events: [event('raced', `r${round}-w${w}-${k}`, { round, w, k }, stream)], expectedVersions: { [stream]: expected } }),
            ),
          ),
        );
        const winners = results.filter((r): r is PromiseFulfilledResult<AppendResult> => r.status === 'fulfilled');
        expect(winners).toHaveLength(1);
        expect(winners[0]!.value.events[0]).toMatchObject({ streamVersion: round + 1, duplicate: false });
        won.push(winners[0]!.value);
        for (const r of results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')) {
          expect(r.reason).toBeInstanceOf(WrongExpectedVersionError);
          expect(r.reason).toMatchObject({ code: 'WRONG_EXPECTED_VERSION', streamId: stream, expected, actual: round + 1 });
        }
      }
    } finally {
      await Promise.all(stores.map(({ s }) => s.close()));
      await Promise.all(stores.map(({ p }) => p.end()));
    }
    // Every acknowledged write is there, at the version and position it was acknowledged at,
    // and nothing else is: no refused append left an event behind.
    const recorded = await store.readStream(stream);
    expect(recorded.map((e) => [e.sourceEventId, e.streamVersion, e.position])).toEqual(
      won.map((r, i) => [r.events[0]!.sourceEventId, i + 1, r.events[0]!.position]),
    );
    const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE source = 'raced'");
    expect(rows[0]!.n).toBe(rounds);
  });

  it('takes only the expected versions a request states (a stream named like an Object member included)', async () => {
    const [planned, direct] = await Promise.all([
      // A redelivery in the unit sends it through the planned path...
      store.append({ events: [event('own', 'o0', { n: 0 }, 'constructor')] }).then(() =>
        store.append({ events: [event('own', 'o0', { n: 0 }, 'constructor'), event('own', 'o1', { n: 1 }, 'constructor')], expectedVersions: {} }),
      ),
      // ...a unit of new events through the one-statement path.
      store.append({ events: [event('own', 'o2', { n: 2 }, 'toString')], expectedVersions: {} }),
    ]);
    expect(planned.events.map((e) => e.streamVersion)).toEqual([1, 2]);
    expect(direct.events[0]!.streamVersion).toBe(1);
  });

  it('commits a batch all or nothing', async () => {
    await store.append({ events: [event('batch', 'x2', { v: 'original' })] });
    const head = await store.head();
    const err = await store
      .append({
        events: [event('batch', 'x1'), event('batch', 'x2', { v: 'changed' }), event('batch', 'x3')],
      })
      .catch((e) => e);
    expect(err).toBeInstanceOf(IdempotencyConflictError);
    expect(await store.head()).toBe(head);
    const { rows } = await pool.query("SELECT source_event_id FROM events WHERE source = 'batch'");
    expect(rows.map((r) => r.source_event_id)).toEqual(['x2']);
  });

  it('rejects one unit of a group without failing the others', async () => {
    await store.append({ events: [event('group', 'g0', { v: 1 })] });
    const results = await Promise.allSettled([
      store.append({ events: [event('group', 'g1')] }),
      store.append({ events: [event('group', 'g0', { v: 2 })] }),
      store.append({ events: [event('group', 'g2')] }),
      store.append({ events: [event('group', 'g1')] }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const [a, , , d] = results;
    if (a?.status !== 'fulfilled' || d?.status !== 'fulfilled') throw new Error('expected both to commit');
    expect(d.value.events[0]).toMatchObject({ position: a.value.events[0]!.position, duplicate: true });
  });

  it('names the position of an event with the same id and another body queued in the same group', async () => {
    const [first, second] = await Promise.allSettled([
      store.append({ events: [event('same-group', 'q1', { v: 1 })] }),
      store.append({ events: [event('same-group', 'q1', { v: 2 })] }),
    ]);
    if (first?.status !== 'fulfilled' || second?.status !== 'rejected') throw new Error('expected the first to commit, the second to be refused');
    expect(second.reason).toBeInstanceOf(IdempotencyConflictError);
    expect(second.reason.position).toBe(first.value.events[0]!.position);
  });

  it('keeps one stream contiguous and each id recorded once when separate stores contend', async () => {
    // Separate stores (as separate processes would be) on one stream and one event id: stream
    // versions are brought up to date under the lock, and for the shared ids the look-ups may go
    // stale under each other, when the locked re-plan must decide.
    const stores = Array.from({ length: 6 }, () => {
      const p = createPool({ connectionString: db.url, max: 1 });
      return { p, s: new PostgresEventStore(p) };
    });
    const stream = 'contended';
    const startHead = await store.head();
    const perStore = 40;
    const appended = await Promise.all(
      stores.map(({ s }, w) =>
        Promise.all(Array.from({ length: perStore }, (_, i) => s.append({ events: [event('contend', `c-${w}-${i}`, { w, i }, stream)] }))),
      ),
    );
    // The same delivery from every store at once: recorded once, the others answered as duplicates.
    const same = await Promise.all(stores.map(({ s }) => s.append({ events: [event('contend', 'same', { same: true }, 'other')] })));
    // The same id with other bodies at once: one recorded, every other refused naming it.
    const clash = await Promise.allSettled(stores.map(({ s }, w) => s.append({ events: [event('contend', 'clash', { w }, 'clash')] })));
    await Promise.all(stores.map(({ s }) => s.close()));
    await Promise.all(stores.map(({ p }) => p.end()));

    const versions = (await store.readStream(stream)).map((e) => e.streamVersion);
    expect(versions).toEqual(Array.from({ length: stores.length * perStore }, (_, i) => i + 1));
    const positions = appended.flat().map((r) => r.events[0]!.position).sort((a, b) => a - b);
    expect(positions).toEqual(Array.from({ length: positions.length }, (_, i) => startHead + i + 1));

    const recorded = same.filter((r) => !r.events[0]!.duplicate);
    expect(recorded).toHaveLength(1);
    for (const r of same) expect(r.events[0]!.position).toBe(recorded[0]!.events[0]!.position);

    const won = clash.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    const at = won[0]!.status === 'fulfilled' ? won[0]!.value.events[0]!.position : -1;
    for (const r of clash.filter((c) => c.status === 'rejected')) {
      expect(r.reason).toBeInstanceOf(IdempotencyConflictError);
      expect(r.reason.position).toBe(at);
    }
    const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE source = 'contend' AND source_event_id IN ('same', 'clash')");
    expect(rows[0]!.n).toBe(2);
    expect(await store.head()).toBe(startHead + stores.length * perStore + 2);
    // Which of them collided depends on timing; the next test makes a collision certain.
  });

  it('refuses, writing nothing of it, an append that would queue more than maxQueuedEvents while the writers wait', async () => {
    const p = createPool({ connectionString: db.url, max: 3 });
    const s = new PostgresEventStore(p, { maxQueuedEvents: 10, writers: 2 });
    const other = await pool.connect();
    const tag = 'queue-full';
    const events = (prefix: string, n: number): NewEvent[] => Array.from({ length: n }, (_, i) => event(tag, `${prefix}${i}`));
    try {
      await other.query('BEGIN');
      await other.query('SELECT position FROM log_head FOR UPDATE');
      // Both writers hold a group that waits on the log lock (one at a time: a writer takes
      // everything queued when it starts).
      const waitingGroups = (n: number): Promise<void> =>
        until(`${n} groups to wait on the log lock`, async () => (await sessionsWaitingOnLock(pool, 'ledger_append_new_events')) === n);
      const inFlight = [s.append({ events: events('a', 1) })];
      await waitingGroups(1);
      inFlight.push(s.append({ events: events('b', 1) }));
      await waitingGroups(2);
      // Up to the limit, requests queue; the one that would pass it is refused at once.
      const queued = [s.append({ events: events('c', 6) }), s.append({ events: events('d', 4) })];
      expect(s.queuedEventCount).toBe(10);
      const refused = await s.append({ events: events('e', 1) }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(AppendQueueFullError);
      expect(refused).toMatchObject({ code: 'APPEND_QUEUE_FULL', queued: 10, limit: 10 });
      expect(s.queuedEventCount).toBe(10);
      // A control event (an admin action already made) is queued past the limit.
      queued.push(s.append({ events: events('f', 1), bypassQueueLimit: true }));
      expect(s.queuedEventCount).toBe(11);

      await other.query('COMMIT');
      const results = await Promise.all([...inFlight, ...queued]);
      expect(results.flatMap((r) => r.events.map((e) => e.sourceEventId)).sort()).toEqual(
        ['a0', 'b0', ...events('c', 6).map((e) => e.sourceEventId), ...events('d', 4).map((e) => e.sourceEventId), 'f0'].sort(),
      );
      expect(s.queuedEventCount).toBe(0);
      const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE source = $1 AND source_event_id LIKE 'e%'", [tag]);
      expect(rows[0]!.n).toBe(0);
      // Once the queue has room, appends are taken again.
      expect((await s.append({ events: events('e', 1) })).events[0]).toMatchObject({ sourceEventId: 'e0', duplicate: false });
    } finally {
      // A failure before the COMMIT must not leave the log locked for the tests after this one.
      await other.query('ROLLBACK').catch(() => undefined);
      other.release(true);
      await s.close();
      await p.end();
    }
  });

  it('plans a group again under the lock when its event was recorded after its look-up', async () => {
    // The group's look-up finds nothing and it waits on the lock; meanwhile another appender
    // records the same event.
    const { result, replanned, head } = await appendWhileLocked(
      'ledger_append_new_events',
      (s) => s.append({ events: [event('race', 'r1', { v: 1 })] }),
      async (other, locked) => {
        await other.query(
          "INSERT INTO events (position, stream_id, stream_version, type, source, source_event_id, payload_hash, data) VALUES ($1, 's-r1', 1, 'test.happened', 'race', 'r1', $2, '{}')",
          [locked + 1, hash({ v: 1 })],
        );
        await other.query('UPDATE log_head SET position = $1', [locked + 1]);
      },
    );
    expect(result.events[0]).toMatchObject({ position: head + 1, streamVersion: 1, duplicate: true });
    expect(replanned).toBe(1);
    expect(await store.head()).toBe(head + 1);
  });

  it.each([
    // 64 streams or more: read before the lock, then merged with a scan of the rows in between.
    ['64 streams, a few events in between', 62, 3],
    // More than 16 rows per stream in between: each stream looked up again under the lock.
    ['64 streams, many events in between', 62, 16 * 64 + 1],
    // Fewer streams: looked up under the lock.
    ['2 streams', 0, 3],
  ])('numbers new events after the versions their streams gained while they waited on the lock (%s)', async (_label, fillers, between) => {
    const tag = `gained-${fillers}-${between}`;
    await store.append({ events: [event(tag, 'g0', { n: 0 }, `${tag}-x`)] });
    // The group (x at 1, y new, and `fillers` streams of one event each) waits on the lock;
    // meanwhile another appender writes x, y and a stream the group does not hold, in turn.
    const { result, replanned, head } = await appendWhileLocked(
      'ledger_append_new_events',
      (s) =>
        s.append({
          events: [
            event(tag, 'g1', { n: 1 }, `${tag}-x`),
            event(tag, 'g2', { n: 2 }, `${tag}-y`),
            event(tag, 'g3', { n: 3 }, `${tag}-x`),
            ...Array.from({ length: fillers }, (_, i) => event(tag, `f${i}`, { i }, `${tag}-f${i}`)),
          ],
        }),
      async (other, locked) => {
        await other.query(
          `INSERT INTO events (position, stream_id, stream_version, type, source, source_event_id, payload_hash, data)
           SELECT $1::bigint + i + 1, $2 || (ARRAY['x', 'y', 'z'])[i % 3 + 1],
                  CASE i % 3 WHEN 0 THEN i / 3 + 2 ELSE i / 3 + 1 END,
                  'test.happened', $2, 'other-' || i, sha256(i::text::bytea), '{}'
             FROM generate_series(0, $3::int - 1) AS i`,
          [locked, `${tag}-`, between],
        );
        await other.query('UPDATE log_head SET position = $1', [locked + between]);
      },
    );
    const x = Math.ceil(between / 3) + 1;
    const y = Math.floor((between + 1) / 3);
    expect(result.events.slice(0, 3).map((e) => [e.sourceEventId, e.position, e.streamVersion, e.duplicate])).toEqual([
      ['g1', head + between + 1, x + 1, false],
      ['g2', head + between + 2, y + 1, false],
      ['g3', head + between + 3, x + 2, false],
    ]);
    expect(result.events.slice(3).every((e) => e.streamVersion === 1)).toBe(true);
    // Numbered right the first time: not refused by the stream key and planned again.
    expect(replanned).toBe(0);
    for (const [stream, last] of [[`${tag}-x`, x + 2], [`${tag}-y`, y + 1]] as const) {
      expect((await store.readStream(stream)).map((e) => e.streamVersion)).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    }
  });

  it('numbers several events of one stream in one group after the versions the stream had', async () => {
    const p = createPool({ connectionString: db.url, max: 1 });
    const groups: number[] = [];
    const s = new PostgresEventStore(p, { observer: { groupCommitted: (g) => void groups.push(g.units) } });
    try {
      await s.append({ events: [event('seq', 'a1', { n: 1 }, 'seq-stream')] });
      // Queued together while the first group commits: one group of two units.
      const [x, y] = await Promise.all([
        s.append({ events: [event('seq', 'a2', { n: 2 }, 'seq-stream'), event('seq', 'a3', { n: 3 }, 'seq-stream')] }),
        s.append({ events: [event('seq', 'a4', { n: 4 }, 'seq-stream')], expectedVersions: { 'seq-stream': 'any' } }),
      ]);
      expect(groups).toEqual([1, 2]);
      const answered = [...x.events, ...y.events];
      expect(answered.map((e) => [e.sourceEventId, e.streamVersion])).toEqual([['a2', 2], ['a3', 3], ['a4', 4]]);
      const recorded = await store.readStream('seq-stream');
      expect(recorded.map((e) => [e.sourceEventId, e.streamVersion, e.position])).toEqual([
        ['a1', 1, recorded[0]!.position],
        ...answered.map((e) => [e.sourceEventId, e.streamVersion, e.position]),
      ]);
    } finally {
      await s.close();
      await p.end();
    }
  });

  it('plans a group holding a redelivery again under the lock when its stream moved after its read', async () => {
    await store.append({ events: [event('moved', 'm0', { n: 0 }, 'moved-stream')] });
    const [original] = (await store.readStream('moved-stream')).map((e) => e.position);
    // A redelivery and a new event on the same stream: planned here (stream at version 1), then
    // another appender writes version 2 of the stream while the group waits on the lock.
    const { result, replanned, head } = await appendWhileLocked(
      'ledger_append(',
      (s) => s.append({ events: [event('moved', 'm0', { n: 0 }, 'moved-stream'), event('moved', 'm1', { n: 1 }, 'moved-stream')] }),
      async (other, locked) => {
        await other.query(
          "INSERT INTO events (position, stream_id, stream_version, type, source, source_event_id, payload_hash, data) VALUES ($1, 'moved-stream', 2, 'test.happened', 'moved', 'other', $2, '{}')",
          [locked + 1, hash({ other: true })],
        );
        await other.query('UPDATE log_head SET position = $1', [locked + 1]);
      },
    );
    expect(result.events).toMatchObject([
      { sourceEventId: 'm0', position: original, streamVersion: 1, duplicate: true },
      { sourceEventId: 'm1', position: head + 2, streamVersion: 3, duplicate: false },
    ]);
    expect(replanned).toBe(1);
    expect((await store.readStream('moved-stream')).map((e) => e.sourceEventId)).toEqual(['m0', 'other', 'm1']);
  });

  it.each([
    // A lone surrogate: valid in a JS string, refused by jsonb.
    ['the database refuses', 'refused', { text: '\ud800' }],
    ['cannot be serialised', 'unser', { n: 1n }],
    // JSON text that is not one JSON value: the group's array of data would not parse, or
    // would hold more values than the group has events.
    ['is JSON text that does not parse', 'badtext', new JsonText('{"a":')],
    ['is JSON text of two values', 'twotext', new JsonText('{"a":1},{"b":2}')],
  ])('fails only a unit whose data %s, and commits the rest of its group', async (_why, source, data) => {
    const p = createPool({ connectionString: db.url, max: 1 });
    const s = new PostgresEventStore(p);
    try {
      await s.append({ events: [event(source, 'warm')] });
      const results = await Promise.allSettled([
        s.append({ events: [event(source, 'ok1')] }),
        s.append({ events: [{ ...event(source, 'bad'), data }] }),
        s.append({ events: [event(source, 'ok2')] }),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(AppendRejectedError);
      const { rows } = await pool.query('SELECT source_event_id FROM events WHERE source = $1 ORDER BY position', [source]);
      expect(rows.map((r) => r.source_event_id)).toEqual(['warm', 'ok1', 'ok2']);
    } finally {
      await s.close();
      await p.end();
    }
  });

  it('records U+0000, which jsonb and text cannot hold, as U+FFFD in either append path', async () => {
    const body = { note: 'a\u0000b', nested: ['\u0000'], 'k\u0000': 1 };
    const withNul = (e: NewEvent): NewEvent => ({ ...e, subject: 'org\u0000', metadata: { by: '\u0000' }, raw: 'raw\u0000' });
    // New events take ledger_append_new_events; a unit stating a version takes ledger_append.
    const fresh = await store.append({ events: [withNul(event('nul', 'n1', body))] });
    const planned = await store.append({ events: [withNul(event('nul', 'n2', body, 's-nul-2'))], expectedVersions: { 's-nul-2': 'no_stream' } });
    for (const [result, stream] of [[fresh, 's-n1'], [planned, 's-nul-2']] as const) {
      expect(result.events[0]!.duplicate).toBe(false);
      const recorded = await store.readStream(stream);
      expect(recorded.map((e) => [e.data, e.subject, e.metadata])).toEqual([[{ note: 'a\uFFFDb', nested: ['\uFFFD'], 'k\uFFFD': 1 }, 'org\uFFFD', { by: '\uFFFD' }]]);
      const { rows } = await pool.query<{ raw: string }>('SELECT raw FROM events WHERE position = $1', [recorded[0]!.position]);
      expect(rows[0]!.raw).toBe('raw\uFFFD');
    }
    // Data given as JSON text goes by the same rule.
    await store.append({ events: [{ ...event('nul', 'n4'), data: new JsonText('{"note":"a\\u0000b","k\\u0000":"\\\\u0000"}') }] });
    expect((await store.readStream('s-n4'))[0]!.data).toEqual({ note: 'a\uFFFDb', 'k\uFFFD': '\\u0000' });
    // A literal backslash-u-0000 in the text is not a NUL and stays as it is.
    await store.append({ events: [event('nul', 'n3', { note: '\\u0000' })] });
    expect((await store.readStream('s-n3'))[0]!.data).toEqual({ note: '\\u0000' });
  });

  it('stores data given as JSON text as it stores the value, in either append path', async () => {
    const value = { occurred_at: '2026-11-24T10:00:00.000Z', subscription: { id: 'sub_1', quantity: 2, tags: ['a', 'ü'] }, plan_refs: null };
    const text = (e: NewEvent): NewEvent => ({ ...e, data: new JsonText(JSON.stringify(value)) });
    await store.append({ events: [text(event('jt', 'j1', value))] });
    await store.append({ events: [text(event('jt', 'j2', value, 's-jt-2'))], expectedVersions: { 's-jt-2': 'no_stream' } });
    await store.append({ events: [event('jt', 'j3', value, 's-jt-3')] });
    const { rows } = await pool.query<{ same: boolean }>(
      "SELECT count(DISTINCT data) = 1 AND count(*) = 3 AS same FROM events WHERE source = 'jt'",
    );
    expect(rows[0]!.same).toBe(true);
    for (const stream of ['s-j1', 's-jt-2']) expect((await store.readStream(stream))[0]!.data).toEqual(value);
    // A redelivery given as text is the same event.
    const again = await store.append({ events: [text(event('jt', 'j1', value))] });
    expect(again.events[0]!.duplicate).toBe(true);
  });

  it('refuses, writing nothing, events it could not store faithfully', async () => {
    const head = await store.head();
    const refused: NewEvent[] = [
      // Identities are refused, not rewritten: a redelivery must find the same event.
      event('bad', 'id\u0000'),
      event('bad\u0000', 'x1'),
      event('bad', 'x2', {}, 's\ud800'),
      { ...event('bad', 'x3'), data: null },
      { ...event('bad', 'x4'), data: undefined },
      { ...event('bad', 'x6'), data: new JsonText(' null ') },
      { ...event('bad', 'x5'), occurredAt: '2026-11-24T10:00:00' },
    ];
    for (const e of refused) await expect(store.append({ events: [e] })).rejects.toBeInstanceOf(AppendRejectedError);
    expect(await store.head()).toBe(head);
  });

  it('has the append functions refuse misaligned columns and JSON null data', async () => {
    const columns = (datas: string, subjects: Array<string | null>): unknown[] => [
      ['s-f1'], [1], [1], ['t'], ['fn'], ['f1'], subjects, [Buffer.alloc(32)], datas, '[{}]', [null], [null], 'unused',
    ];
    const call = 'SELECT * FROM ledger_append_new_events($1::text[], $2::int[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bytea[], $9::jsonb, $10::jsonb, $11::text[], $12::timestamptz[], $13::text)';
    const head = await store.head();
    await expect(pool.query(call, columns('[{}]', [null, null]))).rejects.toMatchObject({ code: '22023' });
    await expect(pool.query(call, columns('[{}, {}]', [null]))).rejects.toMatchObject({ code: '22023' });
    await expect(pool.query(call, columns('{}', [null]))).rejects.toMatchObject({ code: '22023' });
    await expect(pool.query(call, columns('[null]', [null]))).rejects.toMatchObject({ code: '23514' });
    expect(await store.head()).toBe(head);
  });

  it('takes occurred_at as a Date or as an ISO-8601 instant, in either append path', async () => {
    const given: Array<Date | string> = [new Date('2026-11-24T10:00:00.123Z'), '2026-11-24T11:00:00.123+01:00'];
    for (const [i, occurredAt] of given.entries()) {
      await store.append({ events: [{ ...event('when', `w${i}`), occurredAt }] });
      await store.append({ events: [{ ...event('when', `v${i}`, {}, `s-when-${i}`), occurredAt }], expectedVersions: { [`s-when-${i}`]: 'no_stream' } });
    }
    const { rows } = await pool.query<{ source_event_id: string; occurred_at: Date }>("SELECT source_event_id, occurred_at FROM events WHERE source = 'when' ORDER BY source_event_id");
    expect(rows.map((r) => [r.source_event_id, r.occurred_at.toISOString()])).toEqual(
      ['v0', 'v1', 'w0', 'w1'].map((id) => [id, '2026-11-24T10:00:00.123Z']),
    );
  });

  it('refuses to rewrite the log', async () => {
    await expect(pool.query('UPDATE events SET type = $1', ['tampered'])).rejects.toThrow(/append-only/);
    await expect(pool.query('DELETE FROM events')).rejects.toThrow(/append-only/);
  });
});
