import fc from 'fast-check';
import { sha256Hex, shardOf } from './sha256.js';
import { FeatureIds, readShard, subjectName, type Shard } from './shard.js';
import { SubjectIndex } from './subject-index.js';

const SHARDS = 4;
const encoder = new TextEncoder();

/** A shard holding `names` (every one, whether it belongs there or not), each with one grant. */
async function shardOfNames(id: number, names: readonly string[], features: FeatureIds): Promise<Shard> {
  const subjects = Object.fromEntries([...names].sort().map((n, i) => [n, { features: { seats: [{ value: i + 1, valid_until: null }] } }]));
  const bytes = encoder.encode(JSON.stringify({ shard: id, ver: 1, subjects }));
  return readShard(bytes, { id, sha256: await sha256Hex(bytes), count: names.length, bytes: bytes.byteLength }, SHARDS, features);
}

/** What the index answers for `name`: the shard and the name stored where it points, or null. */
function lookup(index: SubjectIndex, shards: readonly Shard[], name: string): [number, string] | null {
  const slot = index.find(name, shards);
  if (slot < 0) return null;
  const shard = shards[index.shardOf(slot)]!;
  const i = shard.offsets.indexOf(index.offsetOf(slot));
  return [shard.id, subjectName(shard, i)];
}

// names with code units that, packed four to a float, make NaN and infinity bit patterns
const name = fc.oneof(fc.string({ minLength: 0, maxLength: 9 }), fc.string({ unit: 'binary', maxLength: 9 }), fc.constantFrom('\uffff\uffff\uffff\uffff', 'abc\uffff', 'abc\u7ff8', '\u7ff0'));

describe('SubjectIndex', () => {
  it('finds exactly the subjects that belong in the shard holding them, through shard replacements', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uniqueArray(name, { maxLength: 40 }), { minLength: SHARDS, maxLength: SHARDS }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: SHARDS - 1 }), fc.uniqueArray(name, { maxLength: 40 })), { maxLength: 4 }),
        fc.integer(),
        async (initial, updates, seed) => {
          const features = new FeatureIds();
          let shards = await Promise.all(initial.map((names, id) => shardOfNames(id, names, features)));
          const index = new SubjectIndex(seed | 0, 1);
          for (const shard of shards) index.addShard(shard, shards);
          const expectAll = (probes: readonly string[]): void => {
            for (const probe of probes) {
              const home = shardOf(probe, SHARDS);
              const expected = shards[home]!.size > 0 && Array.from({ length: shards[home]!.size }, (_, i) => subjectName(shards[home]!, i)).includes(probe) ? [home, probe] : null;
              expect([probe, lookup(index, shards, probe)]).toEqual([probe, expected]);
            }
          };
          const everyName = (): string[] => [...initial.flat(), ...updates.flatMap(([, n]) => n), 'missing', ''];
          expectAll(everyName());
          for (const [id, names] of updates) {
            const next = [...shards];
            next[id] = await shardOfNames(id, names, features);
            index.removeShard(shards[id]!);
            index.addShard(next[id]!, next);
            shards = next;
            expectAll(everyName());
          }
          let homes = 0;
          for (const shard of shards) for (let i = 0; i < shard.size; i++) homes += shard.home[i]!;
          expect(index.size).toBe(homes);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('grows as subjects are added and empties as their shards are removed', async () => {
    const features = new FeatureIds();
    const names = Array.from({ length: 3000 }, (_, i) => `org_${i}`);
    const byShard = Array.from({ length: SHARDS }, (_, id) => names.filter((n) => shardOf(n, SHARDS) === id));
    const shards = await Promise.all(byShard.map((n, id) => shardOfNames(id, n, features)));
    const index = new SubjectIndex(7);
    for (const shard of shards) index.addShard(shard, shards);
    expect(index.size).toBe(names.length);
    for (const n of names) expect(lookup(index, shards, n)).toEqual([shardOf(n, SHARDS), n]);
    expect(index.find('org_3000', shards)).toBe(-1);
    for (const shard of shards) index.removeShard(shard);
    expect(index.size).toBe(0);
    expect(index.find('org_1', shards)).toBe(-1);
  });
});
