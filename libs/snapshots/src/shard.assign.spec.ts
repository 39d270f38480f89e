import { InvalidArgumentError, shardOf } from './index.js';

// Vectors from `printf %s SUBJECT | sha256sum`: first 4 bytes read as a big-endian uint32.
const vectors: [string, number, Record<number, number>][] = [
  ['org_42', 0x3451d3fe, { 256: 254, 1000: 918, 7: 3, 1: 0 }],
  ['', 0xe3b0c442, { 256: 66, 1000: 610, 7: 1 }],
  ['é', 0x4a99557e, { 256: 126, 1000: 878, 7: 6 }],
  ['user:1', 0xabc3a47b, { 256: 123, 1000: 563, 7: 3 }],
];

describe('shardOf', () => {
  it.each(vectors)('places %j by uint32_be(sha256)[0..4] mod n', (subject, prefix, expected) => {
    for (const [n, shard] of Object.entries(expected)) {
      expect(shardOf(subject, Number(n))).toBe(shard);
      expect(prefix % Number(n)).toBe(shard);
    }
  });

  it('accepts a shard count up to 2^32', () => {
    expect(shardOf('org_42', 2 ** 32)).toBe(0x3451d3fe);
  });

  it.each([0, -1, 1.5, Number.NaN, 2 ** 32 + 1])('refuses shard count %p', (n) => {
    expect(() => shardOf('org_42', n)).toThrow(InvalidArgumentError);
  });
});
