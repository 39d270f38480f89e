import { createHash } from 'node:crypto';
import { decodeShard, encodeShard, InvalidArgumentError, type SubjectEntry } from './index.js';

const DEC1 = '2026-12-01T00:00:00.000Z';
const DEC25 = '2026-12-25T10:00:00.000Z';
const KEY = 'c'.repeat(64);

const org42: SubjectEntry = {
  plan: 'pro',
  valid_until: DEC25,
  plans: [{ id: 'pro', tier: 2, valid_until: DEC25 }],
  features: {
    projects: [
      { value: 50, valid_until: DEC25 },
      { value: 100, valid_until: DEC1 },
    ],
    api: [{ value: true, valid_until: DEC25 }],
  },
  api_keys: [KEY],
};

const EXPECTED =
  '{"shard":7,"ver":1234,"subjects":{"org_42":{"plan":"pro","valid_until":"2026-12-25T10:00:00.000Z",' +
  '"plans":[{"id":"pro","tier":2,"valid_until":"2026-12-25T10:00:00.000Z"}],"features":{' +
  '"api":[{"value":true,"valid_until":"2026-12-25T10:00:00.000Z"}],' +
  '"projects":[{"value":100,"valid_until":"2026-12-01T00:00:00.000Z"},{"value":50,"valid_until":"2026-12-25T10:00:00.000Z"}]},' +
  `"api_keys":["${KEY}"]}}}`;

describe('encodeShard', () => {
  it('writes the canonical layout of docs/snapshot-format.md', () => {
    const { bytes, sha256, count } = encodeShard({ shard: 7, ver: 1234, subjects: new Map([['org_42', org42]]) });
    expect(bytes.toString('utf8')).toBe(EXPECTED);
    expect(sha256).toBe(createHash('sha256').update(EXPECTED, 'utf8').digest('hex'));
    expect(count).toBe(1);
  });

  it('gives the same bytes for the same content, whatever the input order or hints', () => {
    const shuffled: SubjectEntry = {
      plan: 'wrong hint',
      valid_until: null,
      plans: org42.plans,
      features: { api: org42.features.api ?? [], projects: [...(org42.features.projects ?? [])].reverse() },
      api_keys: [KEY, KEY],
    };
    const a = encodeShard({ shard: 7, ver: 1234, subjects: new Map([['b', org42], ['org_42', org42]]) });
    const b = encodeShard({ shard: 7, ver: 1234, subjects: new Map([['org_42', shuffled], ['b', shuffled]]) });
    expect(b.bytes.equals(a.bytes)).toBe(true);
    expect(b.sha256).toBe(a.sha256);
  });

  it('sorts subjects and features by code point, integer-like names included', () => {
    const e: SubjectEntry = { ...org42, features: { '10': [{ value: 1, valid_until: null }], '9': [{ value: 2, valid_until: null }] } };
    // U+FF5E sorts before U+1F600 by code point, after it by UTF-16 code unit.
    const subjects = new Map([['\u{1F600}', e], ['\uFF5E', e], ['42', e], ['a', e], ['10', e]]);
    const text = encodeShard({ shard: 0, ver: 0, subjects }).bytes.toString('utf8');
    const order = ['"10":', '"42":', '"a":', '"\uFF5E":', '"\u{1F600}":'].map((k) => text.indexOf(`${k}{`));
    expect(order).toEqual([...order].sort((x, y) => x - y));
    expect(text).toContain('"features":{"10":[{"value":1,"valid_until":null}],"9":[{"value":2,"valid_until":null}]}');
  });

  it('leaves out subjects with nothing granted and no keys', () => {
    const empty: SubjectEntry = { plan: null, valid_until: null, plans: [], features: {}, api_keys: [] };
    const out = encodeShard({ shard: 3, ver: 5, subjects: new Map([['gone', empty]]) });
    expect(out.bytes.toString('utf8')).toBe('{"shard":3,"ver":5,"subjects":{}}');
    expect(out.count).toBe(0);
  });

  it('refuses a subject given twice and a bad ver', () => {
    expect(() => encodeShard({ shard: 0, ver: 0, subjects: [['a', org42], ['a', org42]] })).toThrow(InvalidArgumentError);
    expect(() => encodeShard({ shard: 0, ver: -1, subjects: [] })).toThrow(InvalidArgumentError);
  });

  it('round-trips through decodeShard', () => {
    const { bytes } = encodeShard({ shard: 7, ver: 1234, subjects: new Map([['org_42', org42]]) });
    const decoded = decodeShard(bytes);
    expect(decoded.shard).toBe(7);
    expect(decoded.ver).toBe(1234);
    expect(encodeShard(decoded).bytes.equals(bytes)).toBe(true);
  });
});
