import { SnapshotRejectedError } from '../errors.js';
import type { GrantValue } from '../types.js';
import { isRecord, type ShardEntry } from './manifest.js';
import { sha256Hex } from './sha256.js';

export interface Grant {
  readonly value: GrantValue;
  /** Exclusive end, epoch ms; `null` for no expiry. */
  readonly until: number | null;
}

export interface SubjectEntry {
  readonly features: ReadonlyMap<string, readonly Grant[]>;
  readonly apiKeys: readonly string[];
}

export interface Shard {
  readonly id: number;
  readonly sha256: string;
  readonly ver: number;
  /** The exact bytes as UTF-8 text, kept for the cache. */
  readonly text: string;
  readonly subjects: ReadonlyMap<string, SubjectEntry>;
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const HEX64 = /^[0-9a-f]{64}$/;

/** Verifies shard bytes against their manifest entry (hash, then `shard` id) and indexes them. */
export async function readShard(bytes: Uint8Array, entry: ShardEntry): Promise<Shard> {
  if (bytes.byteLength > entry.bytes) {
    throw new SnapshotRejectedError('shard_too_large', `shard ${entry.id} has ${bytes.byteLength} bytes, the manifest says ${entry.bytes}`);
  }
  const hash = await sha256Hex(bytes);
  if (hash !== entry.sha256) {
    throw new SnapshotRejectedError('shard_hash_mismatch', `shard ${entry.id} hashes to ${hash}, the manifest says ${entry.sha256}`);
  }
  const fail = (what: string): never => {
    throw new SnapshotRejectedError('shard_invalid', `shard ${entry.id}: ${what}`);
  };
  let text: string;
  let doc: unknown;
  try {
    text = decoder.decode(bytes);
    doc = JSON.parse(text);
  } catch {
    return fail('not UTF-8 JSON');
  }
  if (!isRecord(doc)) return fail('not an object');
  if (doc.shard !== entry.id) return fail(`its "shard" is ${String(doc.shard)}`);
  if (!Number.isSafeInteger(doc.ver) || (doc.ver as number) < 0) return fail('"ver" is not a non-negative integer');
  if (!isRecord(doc.subjects)) return fail('"subjects" is not an object');
  const subjects = new Map<string, SubjectEntry>();
  for (const [subject, raw] of Object.entries(doc.subjects)) {
    if (!isRecord(raw)) return fail(`subject ${subject} is not an object`);
    subjects.set(subject, parseSubject(raw, (what) => fail(`subject ${subject}: ${what}`)));
  }
  return { id: entry.id, sha256: entry.sha256, ver: doc.ver as number, text, subjects };
}

function parseSubject(raw: Record<string, unknown>, fail: (what: string) => never): SubjectEntry {
  const features = new Map<string, Grant[]>();
  const rawFeatures = raw.features ?? {};
  if (!isRecord(rawFeatures)) return fail('"features" is not an object');
  for (const [feature, grants] of Object.entries(rawFeatures)) {
    if (!Array.isArray(grants)) return fail(`features.${feature} is not an array`);
    features.set(
      feature,
      grants.map((grant: unknown): Grant => {
        if (!isRecord(grant)) return fail(`a grant of ${feature} is not an object`);
        const { value, valid_until: validUntil } = grant;
        if (typeof value !== 'boolean' && !(typeof value === 'number' && Number.isFinite(value))) {
          return fail(`a grant of ${feature} has a value that is neither boolean nor number`);
        }
        if (validUntil === null) return { value, until: null };
        const until = typeof validUntil === 'string' ? Date.parse(validUntil) : Number.NaN;
        if (!Number.isFinite(until)) return fail(`a grant of ${feature} has an invalid valid_until`);
        return { value, until };
      }),
    );
  }
  const apiKeys = raw.api_keys ?? [];
  if (!Array.isArray(apiKeys) || !apiKeys.every((k) => typeof k === 'string' && HEX64.test(k))) {
    return fail('"api_keys" is not an array of SHA-256 hex');
  }
  return { features, apiKeys: apiKeys as string[] };
}
