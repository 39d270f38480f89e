import fc from 'fast-check';
import { SnapshotRejectedError } from '../errors.js';
import { evaluateGrants, evaluateShardGrants, type EvaluationSlot, type Grant } from './decide.js';
import { sha256Hex, shardOf } from './sha256.js';
import { parseIsoUtc } from './shard-scan.js';
import { FeatureIds, readShard, subjectName } from './shard.js';

type RawGrant = { value: boolean | number; valid_until: string | null };
type RawSubject = { plan?: string | null; plans?: unknown[]; features: Record<string, RawGrant[]>; api_keys: string[] };

const T = Date.parse('2026-06-01T00:00:00.000Z');
const encoder = new TextEncoder();

async function read(text: string, id = 0, count = 1) {
  const bytes = encoder.encode(text);
  return readShard(bytes, { id, sha256: await sha256Hex(bytes), count: 0, bytes: bytes.byteLength }, count, new FeatureIds());
}

/** What every (subject, feature) decides at `now`, through the compact index. */
async function decisions(text: string, subjects: Record<string, RawSubject>, now: number) {
  const features = new FeatureIds();
  const bytes = encoder.encode(text);
  const shard = await readShard(bytes, { id: 0, sha256: await sha256Hex(bytes), count: 0, bytes: bytes.byteLength }, 1, features);
  const out: EvaluationSlot = { value: null, reason: 'not_granted' };
  const seen: unknown[] = [];
  Array.from({ length: shard.size }, (_, i) => subjectName(shard, i)).forEach((subject, i) => {
    for (const feature of [...Object.keys(subjects[subject]!.features), 'other']) {
      evaluateShardGrants(shard.grants, shard.offsets[i]!, features.get(feature), now, out);
      seen.push([subject, feature, out.value, out.reason]);
    }
  });
  return { seen, keys: shard.apiKeys, ver: shard.ver };
}

const grant = fc.record({
  value: fc.oneof(fc.boolean(), fc.integer({ min: -5, max: 1000 }), fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (Object.is(x, -0) ? 0 : x))), // JSON has no -0
  valid_until: fc.option(fc.integer({ min: T - 1000, max: T + 1000 }).map((ms) => new Date(ms).toISOString())),
});
const subjectsArb = fc.dictionary(
  fc.string({ minLength: 1, maxLength: 12 }),
  fc.record({
    plan: fc.option(fc.constantFrom('pro', 'free')),
    plans: fc.array(fc.record({ id: fc.string(), tier: fc.integer(), valid_until: fc.option(fc.constant('2026-01-01T00:00:00.000Z')) }), { maxLength: 2 }),
    features: fc.dictionary(fc.constantFrom('api', 'seats', 'sso', 'projects', 'ü'), fc.array(grant, { maxLength: 3 })),
    api_keys: fc.array(fc.stringMatching(/^[0-9a-f]{64}$/), { maxLength: 2 }),
  }),
);

/** The ledger's canonical form: subjects and features in ascending order, no whitespace. */
function canonical(subjects: Record<string, RawSubject>): string {
  const sorted = Object.fromEntries(
    Object.keys(subjects)
      .sort()
      .map((s) => [s, { ...subjects[s]!, features: Object.fromEntries(Object.keys(subjects[s]!.features).sort().map((f) => [f, subjects[s]!.features[f]])) }]),
  );
  return JSON.stringify({ shard: 0, ver: 3, subjects: sorted });
}

describe('readShard: the canonical one-pass reader and JSON.parse agree', () => {
  it('decides the same from the canonical encoding and from an indented one (read through JSON.parse)', async () => {
    await fc.assert(
      fc.asyncProperty(subjectsArb, fc.integer({ min: T - 1500, max: T + 1500 }), async (subjects, now) => {
        const text = canonical(subjects);
        const fast = await decisions(text, subjects, now);
        const slow = await decisions(JSON.stringify(JSON.parse(text), null, 1), subjects, now);
        expect(fast).toEqual(slow);
        // and both match the reference evaluation over grant objects
        for (const [subject, feature, value, reason] of fast.seen as [string, string, unknown, string][]) {
          const grants: Grant[] | undefined = subjects[subject]!.features[feature]?.map((g) => ({ value: g.value, until: g.valid_until === null ? null : Date.parse(g.valid_until) }));
          expect(evaluateGrants(grants, now)).toEqual({ value, reason });
        }
      }),
      { numRuns: 200 },
    );
  });

  it('rejects what the JSON.parse path rejects, whichever encoding', async () => {
    const bad = [
      '{"shard":1,"ver":1,"subjects":{}}',
      '{"shard":0,"ver":-1,"subjects":{}}',
      '{"shard":0,"ver":1,"subjects":{"a":{"features":{"api":[{"value":"yes","valid_until":null}]}}}}',
      '{"shard":0,"ver":1,"subjects":{"a":{"features":{"api":[{"value":true,"valid_until":"soon"}]}}}}',
      '{"shard":0,"ver":1,"subjects":{"a":{"features":{"api":[{"value":1e999,"valid_until":null}]}}}}',
      '{"shard":0,"ver":1,"subjects":{"a":{"api_keys":["ABC"]}}}',
      '{"shard":0,"ver":1,"subjects":{"a":[]}}',
      '{"shard":0,"ver":1,"subjects":{"a":{}}',
    ];
    for (const text of bad) await expect(read(text)).rejects.toBeInstanceOf(SnapshotRejectedError);
  });

  it('keeps JSON.parse semantics for what the canonical reader gives up on (duplicates, escapes, order)', async () => {
    const now = T;
    const dup = await decisions('{"shard":0,"ver":1,"subjects":{"b":{"features":{}},"a":{"features":{"api":[{"value":true,"valid_until":null}]},"features":{}}}}', { a: { features: {}, api_keys: [] }, b: { features: {}, api_keys: [] } }, now);
    expect(dup.seen).toEqual([
      ['b', 'other', null, 'not_granted'],
      ['a', 'other', null, 'not_granted'],
    ]);
    const escaped = await read('{"shard":0,"ver":2,"subjects":{"a\\u0062":{"features":{"api":[{"value":true,"valid_until":null}]}}}}');
    expect(Array.from({ length: escaped.size }, (_, i) => subjectName(escaped, i))).toEqual(['ab']);
  });

  it('marks the subjects that belong in the shard', async () => {
    const names = ['org_1', 'org_2', 'org_3', 'org_4', 'org_5'];
    const text = JSON.stringify({ shard: 1, ver: 0, subjects: Object.fromEntries(names.map((n) => [n, { features: {} }])) });
    const shard = await read(text, 1, 2);
    expect(Array.from(shard.home)).toEqual(names.map((n) => (shardOf(n, 2) === 1 ? 1 : 0)));
  });
});

describe('parseIsoUtc', () => {
  it('is Date.parse', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.parse('0000-01-01T00:00:00.000Z'), max: Date.parse('9999-12-31T23:59:59.999Z') }), (ms) => {
        const iso = new Date(ms).toISOString();
        return parseIsoUtc(iso) === Date.parse(iso);
      }),
    );
    for (const s of ['2026-02-30T00:00:00.000Z', '2026-04-31T10:00:00.000Z', '2026-13-01T00:00:00.000Z', '2026-01-01T24:00:00.000Z', '2026-01-01T00:00:60.000Z', '2026-01-01 00:00:00.000Z', '2026-01-01T00:00:00.000+01:00', 'x'.repeat(24), '2026-01-01']) {
      expect([s, parseIsoUtc(s)]).toEqual([s, Date.parse(s)]);
    }
  });
});
