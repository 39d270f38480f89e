// A synchronous SHA-256 so that a shard's subjects can be placed (checked to belong in it) while
// it is indexed. Only used for shard placement; every integrity check uses crypto.subtle.

const K = Uint32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

const rotr = (x: number, n: number): number => (x >>> n) | (x << (32 - n));

const INITIAL = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/**
 * Runs the compression function over `blocks` already padded 64-byte blocks of `block`,
 * updating the state `h` in place; `w` is the message-schedule scratch.
 */
function compress(block: Uint8Array, blocks: number, h: Uint32Array, w: Uint32Array): void {
  for (let b = 0; b < blocks; b++) {
    const o = b * 64;
    for (let i = 0; i < 16; i++) {
      const j = o + i * 4;
      w[i] = (block[j]! << 24) | (block[j + 1]! << 16) | (block[j + 2]! << 8) | block[j + 3]!;
    }
    for (let i = 16; i < 64; i++) {
      const w15 = w[i - 15]!;
      const w2 = w[i - 2]!;
      const s0 = rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 >>> 3);
      const s1 = rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
    }
    let a = h[0]!, bb = h[1]!, c = h[2]!, d = h[3]!, e = h[4]!, f = h[5]!, g = h[6]!, hh = h[7]!;
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & bb) ^ (a & c) ^ (bb & c))) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = bb;
      bb = a;
      a = (t1 + t2) | 0;
    }
    h[0] = (h[0]! + a) | 0;
    h[1] = (h[1]! + bb) | 0;
    h[2] = (h[2]! + c) | 0;
    h[3] = (h[3]! + d) | 0;
    h[4] = (h[4]! + e) | 0;
    h[5] = (h[5]! + f) | 0;
    h[6] = (h[6]! + g) | 0;
    h[7] = (h[7]! + hh) | 0;
  }
}

/** SHA-256 of `bytes`, as 8 big-endian 32-bit words. */
export function sha256Words(bytes: Uint8Array): Uint32Array {
  const blocks = (bytes.length + 9 + 63) >>> 6;
  const padded = new Uint8Array(blocks * 64);
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(bytes.length / 0x20000000));
  view.setUint32(padded.length - 4, (bytes.length * 8) >>> 0);
  const h = Uint32Array.from(INITIAL);
  compress(padded, blocks, h, new Uint32Array(64));
  return h;
}

const encoder = new TextEncoder();

/** Padded message blocks of short ASCII subjects and the hash state, reused by {@link shardOf}. */
const FAST_BLOCKS = 4;
const fastBlock = new Uint8Array(FAST_BLOCKS * 64);
const fastH = new Uint32Array(8);
const fastW = new Uint32Array(64);

/**
 * The shard a subject lives in: `uint32_be(sha256(utf8(subject))[0..4]) mod shardCount`.
 * Subjects of printable ASCII up to 247 characters (every valid subject id) are hashed in
 * place, without allocating; anything else goes through {@link sha256Words}.
 */
export function shardOf(subject: string, shardCount: number): number {
  const length = subject.length;
  if (length > FAST_BLOCKS * 64 - 9) return sha256Words(encoder.encode(subject))[0]! % shardCount;
  const block = fastBlock;
  for (let i = 0; i < length; i++) {
    const c = subject.charCodeAt(i);
    if (c > 0x7f) return sha256Words(encoder.encode(subject))[0]! % shardCount;
    block[i] = c;
  }
  const blocks = (length + 9 + 63) >>> 6;
  const end = blocks * 64;
  block[length] = 0x80;
  block.fill(0, length + 1, end - 4);
  const bits = length * 8;
  block[end - 4] = bits >>> 24;
  block[end - 3] = (bits >>> 16) & 0xff;
  block[end - 2] = (bits >>> 8) & 0xff;
  block[end - 1] = bits & 0xff;
  fastH.set(INITIAL);
  compress(block, blocks, fastH, fastW);
  return fastH[0]! % shardCount;
}

/** Lowercase hex of the SHA-256 of `data` (Web Crypto). */
export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === 'string' ? encoder.encode(data) : data;
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return toHex(new Uint8Array(digest));
}

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0');
  return out;
}
