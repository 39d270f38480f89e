import fc from 'fast-check';
import { sha256Hex, sha256Words, shardOf, toHex } from './sha256.js';

const wordsHex = (bytes: Uint8Array): string => {
  const words = sha256Words(bytes);
  const out = new Uint8Array(32);
  const view = new DataView(out.buffer);
  words.forEach((w, i) => view.setUint32(i * 4, w));
  return toHex(out);
};

describe('sha256Words (synchronous, for shard placement)', () => {
  it('matches the FIPS 180-4 vectors', () => {
    const enc = new TextEncoder();
    expect(wordsHex(enc.encode(''))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(wordsHex(enc.encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(wordsHex(enc.encode('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it('agrees with crypto.subtle at every padding boundary and on random input', async () => {
    for (const length of [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000]) {
      const bytes = Uint8Array.from({ length }, (_, i) => (i * 31 + 7) & 0xff);
      expect(wordsHex(bytes)).toBe(await sha256Hex(bytes));
    }
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => wordsHex(bytes) === (await sha256Hex(bytes))),
    );
  });

  it('places a subject by the first four bytes, big-endian, modulo the shard count', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme' }), fc.integer({ min: 1, max: 4096 }), async (subject, count) => {
        const hex = await sha256Hex(subject);
        return shardOf(subject, count) === parseInt(hex.slice(0, 8), 16) % count;
      }),
    );
  });
});

describe('shardOf (in-place fast path for ASCII)', () => {
  it('agrees with crypto.subtle for ASCII subjects of every length around the block boundaries', async () => {
    for (let length = 0; length <= 300; length++) {
      const subject = Array.from({ length }, (_, i) => String.fromCharCode(0x21 + ((i * 7) % 94))).join('');
      const hex = await sha256Hex(subject);
      expect([length, shardOf(subject, 4093)]).toEqual([length, parseInt(hex.slice(0, 8), 16) % 4093]);
    }
  });
});
