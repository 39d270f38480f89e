import { createHash } from 'node:crypto';
import { openStoreDatabase, type TestDatabase } from '../../../test/support/test-database.js';
import { until } from '../../../test/support/wait.js';
import { createPool, LogFollower, LogNotifier, PostgresEventStore, type NewEvent, type RecordedEvent } from './index.js';

function event(source: string, id: string): NewEvent {
  return { streamId: `s-${id}`, type: 'test.happened', source, sourceEventId: id, payloadHash: createHash('sha256').update(id).digest(), data: { id } };
}

/**
 * A store whose first readForward, once PostgreSQL has answered it, is held until `release`:
 * the test then commits events (and sees their notification arrive) while the follower's read
 * is, for the follower, still in flight.
 */
class HeldFirstReadStore extends PostgresEventStore {
  private held = false;
  private answered!: () => void;
  /** Resolves when the first read has been answered by the server (and is being held). */
  readonly firstReadAnswered = new Promise<void>((r) => (this.answered = r));
  release!: () => void;
  private readonly released = new Promise<void>((r) => (this.release = r));

  override async readForward(afterPosition: number, limit: number): Promise<RecordedEvent[]> {
    const events = await super.readForward(afterPosition, limit);
    if (!this.held) {
      this.held = true;
      this.answered();
      await this.released;
    }
    return events;
  }
}

describe('LogFollower', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  let close: () => Promise<void>;
  beforeAll(async () => ({ db, store, close } = await openStoreDatabase()));
  afterAll(() => close());

  it.each([
    ['nothing', 0],
    ['a partial batch', 3],
  ])('reads again, without waiting for the poll, when a notification came while its read (answering %s) was in flight', async (_label, before) => {
    const source = `missed-${before}`;
    const start = await store.head();
    for (let i = 0; i < before; i++) await store.append({ events: [event(source, `b${i}`)] });
    const notifier = new LogNotifier(db.url);
    await notifier.start();
    expect(notifier.listening).toBe(true);
    const readPool = createPool({ connectionString: db.url, max: 1 });
    const reader = new HeldFirstReadStore(readPool);
    // Longer than the test may run: only a notification can make the follower read again.
    const follower = new LogFollower(reader, notifier, { pollIntervalMs: 3_600_000, batchSize: 100 });
    const seen: RecordedEvent[] = [];
    const abort = new AbortController();
    const following = follower.run(start, async (batch) => void seen.push(...batch), abort.signal);
    try {
      await reader.firstReadAnswered;
      const late = await store.append({ events: [event(source, 'late')] });
      const position = late.events[0]!.position;
      // The notification has reached the notifier while no one waited on it.
      await until('the notification of the late event', () => notifier.notifiedHead >= position);
      reader.release();
      await until('the follower to hand over the late event', () => seen.length >= before + 1);
      expect(seen.map((e) => e.position)).toEqual(Array.from({ length: before + 1 }, (_, i) => start + i + 1));
      expect(seen.at(-1)!.sourceEventId).toBe('late');
    } finally {
      reader.release();
      abort.abort();
      await following;
      await notifier.stop();
      await reader.close();
      await readPool.end();
    }
  });

  it('sees every event exactly once, in position order, by polling alone when its notifier is not listening', async () => {
    // Never started: no LISTEN session, so no notification ever wakes the follower.
    const notifier = new LogNotifier(db.url);
    const followerPool = createPool({ connectionString: db.url, max: 1 });
    const follower = new LogFollower(new PostgresEventStore(followerPool), notifier, { pollIntervalMs: 20, batchSize: 7 });
    const start = await store.head();
    const seen: RecordedEvent[] = [];
    const abort = new AbortController();
    const following = follower.run(start, async (batch) => void seen.push(...batch), abort.signal);

    // Writers of their own (as separate processes would be), committing while the follower polls.
    const writers = 4;
    const perWriter = 60;
    const pools = Array.from({ length: writers }, () => createPool({ connectionString: db.url, max: 1 }));
    const stores = pools.map((p) => new PostgresEventStore(p));
    const acked = new Map<string, number>();
    try {
      await Promise.all(
        stores.map(async (s, w) => {
          for (let i = 0; i < perWriter; i += 3) {
            const results = await Promise.all([0, 1, 2].map((k) => s.append({ events: [event('poll', `w${w}-${i + k}`)] })));
            for (const r of results) acked.set(r.events[0]!.sourceEventId, r.events[0]!.position);
          }
        }),
      );
      // A last event after all the others: once it is seen, anything handed over twice would be too.
      const marker = await store.append({ events: [event('poll', 'marker')] });
      acked.set('marker', marker.events[0]!.position);
      await until('the follower to reach the marker', () => seen.some((e) => e.sourceEventId === 'marker'));
      expect(notifier.listening).toBe(false);
    } finally {
      abort.abort();
      await following;
      await Promise.all(stores.map((s) => s.close()));
      await Promise.all([...pools, followerPool].map((p) => p.end()));
    }

    const total = writers * perWriter + 1;
    expect(seen.map((e) => e.position)).toEqual(Array.from({ length: total }, (_, i) => start + i + 1));
    expect(new Set(seen.map((e) => e.sourceEventId)).size).toBe(total);
    for (const e of seen) expect(acked.get(e.sourceEventId)).toBe(e.position);
  });
});
