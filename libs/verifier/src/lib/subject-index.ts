import type { Shard } from './shard.js';

const EMPTY = -1;
/** Slot layout in `slots`: shard id, offset of the subject's grant count in that shard, hash. */
const STRIDE = 3;

/**
 * Subject → where its grants are (shard id and offset into that shard's `grants`), as an
 * open-addressing table (linear probing, at most half full) in one Int32Array. Names are not
 * stored here: a candidate slot is confirmed against the name kept just before the subject's
 * grants (see `Shard`), so a lookup touches the table and then the one run of memory that the
 * decision reads anyway, and no string or Map entry exists per subject. Hashes are seeded per
 * index, so subject names cannot be chosen to collide in every verifier.
 */
export class SubjectIndex {
  /** `STRIDE` numbers per slot; `slots[p] === EMPTY` for a free slot. */
  private slots: Int32Array;
  private mask: number;
  private count = 0;

  constructor(
    private readonly seed: number,
    expected = 0,
  ) {
    const capacity = capacityFor(expected);
    this.slots = new Int32Array(capacity * STRIDE).fill(EMPTY);
    this.mask = capacity - 1;
  }

  get size(): number {
    return this.count;
  }

  /**
   * The slot of `subject` (pass it to {@link shardOf} and {@link offsetOf}), or -1. `shards`
   * must be those the index was filled from.
   */
  find(subject: string, shards: readonly Shard[]): number {
    const length = subject.length;
    const hash = hashString(subject, this.seed);
    const slots = this.slots;
    const mask = this.mask;
    for (let p = hash & mask; ; p = (p + 1) & mask) {
      const at = p * STRIDE;
      const shardId = slots[at]!;
      if (shardId === EMPTY) return -1;
      if (slots[at + 2] !== hash) continue;
      const shard = shards[shardId]!;
      const offset = slots[at + 1]!;
      const grants = shard.grants;
      if (grants[offset - 1] !== length) continue;
      const chars = shard.chars;
      const start = (offset - 1 - ((length + 3) >> 2)) * 4;
      let k = 0;
      while (k < length && chars[start + k] === subject.charCodeAt(k)) k++;
      if (k === length) return at;
    }
  }

  shardOf(slot: number): number {
    return this.slots[slot]!;
  }

  offsetOf(slot: number): number {
    return this.slots[slot + 1]!;
  }

  /** Indexes every subject that belongs in `shard` (its `home`), replacing a same-named entry. */
  addShard(shard: Shard, shards: readonly Shard[]): void {
    for (let i = 0; i < shard.size; i++) {
      if (shard.home[i] !== 1) continue;
      const offset = shard.offsets[i]!;
      const hash = hashRecord(shard, offset, this.seed);
      const existing = this.findRecord(shard, offset, hash, shards);
      if (existing >= 0) {
        this.slots[existing] = shard.id;
        this.slots[existing + 1] = offset;
        continue;
      }
      if ((this.count + 1) * 2 > this.mask + 1) this.grow();
      this.insert(shard.id, offset, hash);
    }
  }

  /** Removes the entries that point into `shard` (a shard being replaced or dropped). */
  removeShard(shard: Shard): void {
    const slots = this.slots;
    const mask = this.mask;
    for (let i = 0; i < shard.size; i++) {
      if (shard.home[i] !== 1) continue;
      const offset = shard.offsets[i]!;
      const hash = hashRecord(shard, offset, this.seed);
      for (let p = hash & mask; ; p = (p + 1) & mask) {
        const at = p * STRIDE;
        if (slots[at] === EMPTY) break;
        if (slots[at] === shard.id && slots[at + 1] === offset) {
          this.deleteAt(p);
          break;
        }
      }
    }
  }

  /** The slot holding the name stored at `offset` of `shard`, looked up among `shards`, or -1. */
  private findRecord(shard: Shard, offset: number, hash: number, shards: readonly Shard[]): number {
    const length = shard.grants[offset - 1]!;
    const start = (offset - 1 - ((length + 3) >> 2)) * 4;
    const slots = this.slots;
    const mask = this.mask;
    for (let p = hash & mask; ; p = (p + 1) & mask) {
      const at = p * STRIDE;
      const shardId = slots[at]!;
      if (shardId === EMPTY) return -1;
      if (slots[at + 2] !== hash) continue;
      const other = shardId === shard.id ? shard : shards[shardId];
      if (!other) continue;
      const otherOffset = slots[at + 1]!;
      if (other.grants[otherOffset - 1] !== length) continue;
      const otherStart = (otherOffset - 1 - ((length + 3) >> 2)) * 4;
      let k = 0;
      while (k < length && other.chars[otherStart + k] === shard.chars[start + k]) k++;
      if (k === length) return at;
    }
  }

  private insert(shardId: number, offset: number, hash: number): void {
    const slots = this.slots;
    const mask = this.mask;
    let p = hash & mask;
    while (slots[p * STRIDE] !== EMPTY) p = (p + 1) & mask;
    slots[p * STRIDE] = shardId;
    slots[p * STRIDE + 1] = offset;
    slots[p * STRIDE + 2] = hash;
    this.count += 1;
  }

  /** Backward-shift deletion: later entries of the probe run move up, so no tombstones. */
  private deleteAt(hole: number): void {
    const slots = this.slots;
    const mask = this.mask;
    let i = hole;
    for (let j = (i + 1) & mask; slots[j * STRIDE] !== EMPTY; j = (j + 1) & mask) {
      const home = slots[j * STRIDE + 2]! & mask;
      // j's entry may fill the hole at i unless its home lies cyclically in (i, j]
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (stays) continue;
      slots.copyWithin(i * STRIDE, j * STRIDE, j * STRIDE + STRIDE);
      i = j;
    }
    slots.fill(EMPTY, i * STRIDE, i * STRIDE + STRIDE);
    this.count -= 1;
  }

  private grow(): void {
    const old = this.slots;
    const capacity = (this.mask + 1) * 2;
    this.slots = new Int32Array(capacity * STRIDE).fill(EMPTY);
    this.mask = capacity - 1;
    this.count = 0;
    for (let at = 0; at < old.length; at += STRIDE) if (old[at] !== EMPTY) this.insert(old[at]!, old[at + 1]!, old[at + 2]!);
  }
}

function capacityFor(expected: number): number {
  let capacity = 16;
  while (capacity < expected * 2) capacity *= 2;
  return capacity;
}

/** A seeded 32-bit hash of UTF-16 code units (FNV-1a steps, then a murmur3 finalizer). */
function hashString(s: string, seed: number): number {
  let h = seed;
  for (let k = 0; k < s.length; k++) h = Math.imul(h ^ s.charCodeAt(k), 0x01000193);
  return finish(h);
}

/** {@link hashString} of the name stored before `offset` in `shard`. */
function hashRecord(shard: Shard, offset: number, seed: number): number {
  const length = shard.grants[offset - 1]!;
  const start = (offset - 1 - ((length + 3) >> 2)) * 4;
  const chars = shard.chars;
  let h = seed;
  for (let k = 0; k < length; k++) h = Math.imul(h ^ chars[start + k]!, 0x01000193);
  return finish(h);
}

function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  // a non-negative int32, so it compares equal to what the Int32Array stores
  return h & 0x7fffffff;
}
