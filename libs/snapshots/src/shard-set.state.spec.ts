import { createHash } from 'node:crypto';
import {
  decodeShard,
  InvalidShardError,
  InvalidSubjectEntryError,
  ShardSet,
  shardOf,
  type SubjectEntry,
  VerRegressionError,
} from './index.js';

const entry = (value: number): SubjectEntry => ({
  plan: null,
  valid_until: null,
  plans: [],
  features: { seats: [{ value, valid_until: null }] },
  api_keys: [],
});

/** Subjects that land in distinct shards of a 16-shard set. */
function subjectsInDistinctShards(n: number, shardCount: number): string[] {
  const found = new Map<number, string>();
  for (let i = 0; found.size < n; i++) {
    const s = `org_${i}`;
    const id = shardOf(s, shardCount);
    if (!found.has(id)) found.set(id, s);
  }
  return [...found.values()];
}

describe('ShardSet', () => {
  it('starts with every shard empty at ver 0 and hashes that match the bytes', () => {
    const set = new ShardSet(4);
    const entries = set.manifestEntries();
    expect(entries.map((e) => e.id)).toEqual([0, 1, 2, 3]);
    for (const e of entries) {
      const shard = set.shard(e.id);
      expect(shard.bytes.toString()).toBe(`{"shard":${e.id},"ver":0,"subjects":{}}`);
      expect(e.sha256).toBe(createHash('sha256').update(shard.bytes).digest('hex'));
      expect(e).toMatchObject({ count: 0, bytes: shard.bytes.length });
    }
  });

  it('re-encodes only the shard whose content changed; the others keep bytes, hash and ver', () => {
    const set = new ShardSet(16);
    const [a, b, c] = subjectsInDistinctShards(3, 16) as [string, string, string];
    expect(set.applyChanges(new Map([[a, entry(1)], [b, entry(1)], [c, entry(1)]]), 10)).toEqual(
      [a, b, c].map((s) => shardOf(s, 16)).sort((x, y) => x - y),
    );
    const before = set.manifestEntries();

    expect(set.applyChanges(new Map([[b, entry(2)]]), 20)).toEqual([shardOf(b, 16)]);
    const after = set.manifestEntries();
    for (const e of after) {
      if (e.id === shardOf(b, 16)) {
        expect(e.sha256).not.toBe(before[e.id]?.sha256);
        expect(set.shard(e.id).ver).toBe(20);
        expect(decodeShard(set.shard(e.id).bytes).ver).toBe(20);
      } else {
        expect(e).toEqual(before[e.id]);
        expect(set.shard(e.id).ver).toBe(e.id === shardOf(a, 16) || e.id === shardOf(c, 16) ? 10 : 0);
      }
      expect(createHash('sha256').update(set.shard(e.id).bytes).digest('hex')).toBe(e.sha256);
    }
    expect(set.ver).toBe(20);
  });

  it('changes nothing (not even ver) when the content is the same', () => {
    const set = new ShardSet(8);
    set.applyChanges(new Map([['org_1', entry(5)]]), 3);
    const before = set.shard(shardOf('org_1', 8));
    expect(set.applyChanges(new Map([['org_1', entry(5)], ['nobody', null]]), 9)).toEqual([]);
    expect(set.shard(before.id)).toEqual(before);
    expect(set.shard(before.id).ver).toBe(3);
  });

  it('removes a subject on null or an empty entry, and serves bytes by hash', () => {
    const set = new ShardSet(8);
    const id = shardOf('org_1', 8);
    set.applyChanges(new Map([['org_1', entry(5)]]), 3);
    expect(set.subjectCount).toBe(1);
    expect(set.entry('org_1')?.features.seats).toEqual([{ value: 5, valid_until: null }]);
    const old = set.shard(id).sha256;
    expect(set.applyChanges(new Map([['org_1', null]]), 4)).toEqual([id]);
    expect(set.subjectCount).toBe(0);
    expect(set.entry('org_1')).toBeNull();
    expect(set.shard(id).bytes.toString()).toBe(`{"shard":${id},"ver":4,"subjects":{}}`);
    expect(set.bytesByHash(old)).toBeUndefined();
    expect(set.bytesByHash(set.shard(id).sha256)?.equals(set.shard(id).bytes)).toBe(true);
  });

  it('puts each subject in the shard shardOf names', () => {
    const set = new ShardSet(16);
    const subjects = Array.from({ length: 200 }, (_, i) => `user:${i}`);
    set.applyChanges(new Map(subjects.map((s) => [s, entry(1)])), 1);
    for (const e of set.manifestEntries()) {
      for (const s of decodeShard(set.shard(e.id).bytes).subjects.keys()) expect(shardOf(s, 16)).toBe(e.id);
    }
    expect(set.manifestEntries().reduce((n, e) => n + e.count, 0)).toBe(200);
  });

  it('is all-or-nothing and refuses a lower ver', () => {
    const set = new ShardSet(8);
    set.applyChanges(new Map([['org_1', entry(5)]]), 3);
    const before = set.manifestEntries();
    const bad: SubjectEntry = { ...entry(1), api_keys: ['raw-key'] };
    expect(() => set.applyChanges(new Map([['org_2', entry(7)], ['org_3', bad]]), 4)).toThrow(InvalidSubjectEntryError);
    expect(set.manifestEntries()).toEqual(before);
    expect(() => set.applyChanges(new Map([['org_1', entry(6)]]), 2)).toThrow(VerRegressionError);
  });

  it('applies in slices with the same result as at once, pausing between slices', async () => {
    const changes = new Map(Array.from({ length: 3_000 }, (_, i) => [`org_${i}`, entry(i % 7)] as const));
    const atOnce = new ShardSet(64);
    const sliced = new ShardSet(64);
    let pauses = 0;
    const changed = await sliced.applyChangesInSlices(changes, 9, async () => {
      pauses += 1;
      await new Promise((r) => setImmediate(r));
    }, 0);
    expect(changed).toEqual(atOnce.applyChanges(changes, 9));
    expect(sliced.manifestEntries()).toEqual(atOnce.manifestEntries());
    // A slice of 0 ms pauses at every step: each block of entries checked and each shard written.
    expect(pauses).toBeGreaterThanOrEqual(64);

    const removals = new Map([...changes.keys()].filter((_, i) => i % 3 === 0).map((s) => [s, null] as const));
    expect(await sliced.applyChangesInSlices(removals, 12, () => Promise.resolve(), 0)).toEqual(atOnce.applyChanges(removals, 12));
    expect(sliced.manifestEntries()).toEqual(atOnce.manifestEntries());
  });

  it('checks every entry before a sliced apply changes any shard', async () => {
    const set = new ShardSet(8);
    set.applyChanges(new Map([['org_1', entry(5)]]), 3);
    const before = set.manifestEntries();
    const bad: SubjectEntry = { ...entry(1), api_keys: ['raw-key'] };
    const changes = new Map<string, SubjectEntry>(Array.from({ length: 600 }, (_, i) => [`org_${i + 2}`, entry(7)] as const));
    changes.set('org_bad', bad);
    await expect(set.applyChangesInSlices(changes, 4, () => Promise.resolve(), 0)).rejects.toThrow(InvalidSubjectEntryError);
    expect(set.manifestEntries()).toEqual(before);
    await expect(set.applyChangesInSlices(new Map([['org_1', entry(6)]]), 2, () => Promise.resolve())).rejects.toThrow(VerRegressionError);
  });

  it('restores from published bytes with the same hashes and vers', () => {
    const set = new ShardSet(8);
    set.applyChanges(new Map([['org_1', entry(5)], ['org_2', entry(1)]]), 3);
    set.applyChanges(new Map([['org_2', entry(2)]]), 7);
    const stored = set.manifestEntries().map((e) => set.shard(e.id).bytes);
    const restored = ShardSet.restore(8, stored);
    expect(restored.manifestEntries()).toEqual(set.manifestEntries());
    expect(restored.ver).toBe(7);
    expect(restored.subjectCount).toBe(2);
    expect(restored.applyChanges(new Map([['org_1', entry(5)]]), 8)).toEqual([]);
    expect(() => ShardSet.restore(4, stored)).toThrow(InvalidShardError);
    expect(() => ShardSet.restore(8, [Buffer.from('{"shard": 0, "ver": 0, "subjects": {}}')])).toThrow(InvalidShardError);
  });

  it('builds in one pass the same shards applyChanges gives', () => {
    const subjects = Array.from({ length: 300 }, (_, i): [string, SubjectEntry | null] => [`org_${i}`, i % 10 === 0 ? null : entry(i)]);
    const built = ShardSet.build(16, subjects, 9);
    const applied = new ShardSet(16);
    applied.applyChanges(new Map(subjects), 9);
    expect(built.manifestEntries()).toEqual(applied.manifestEntries());
    expect(built.subjectCount).toBe(270);
    expect(() => ShardSet.build(16, [['a', entry(1)], ['a', entry(2)]], 1)).toThrow(/twice/);
  });
});
