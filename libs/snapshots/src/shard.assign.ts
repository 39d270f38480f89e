import { hash } from 'node:crypto';
import { InvalidArgumentError } from './snapshot.errors.js';

/** Largest shard count: the shard key is a uint32. */
export const MAX_SHARD_COUNT = 2 ** 32;

/** @internal Throws unless `shardCount` is an integer in 1 … 2^32. */
export function assertShardCount(shardCount: number): void {
  if (!Number.isSafeInteger(shardCount) || shardCount < 1 || shardCount > MAX_SHARD_COUNT) {
    throw new InvalidArgumentError(`shard_count must be an integer from 1 to ${MAX_SHARD_COUNT}, got ${shardCount}`);
  }
}

/**
 * The shard a subject lives in: `uint32_be(sha256(utf8(subject))[0..4]) mod shardCount`
 * (docs/snapshot-format.md). Verifiers compute the same, so this must never change.
 *
 * @example
 * shardOf('org_42', 256); // 254
 */
export function shardOf(subject: string, shardCount: number): number {
  assertShardCount(shardCount);
  // One-shot hash: a Hash object per call costs more than the digest for short subjects.
  return hash('sha256', subject, 'buffer').readUInt32BE(0) % shardCount;
}
