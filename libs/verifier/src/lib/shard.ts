import { SnapshotRejectedError } from '../errors.js';
import { isRecord, type ShardEntry } from './manifest.js';
import { sha256Hex, shardOf } from './sha256.js';
import { scanShard } from './shard-scan.js';

/**
 * Feature name → small integer, shared by every shard a verifier holds (add-only; a catalog
 * has tens of features), so that grants are stored as numbers and compared as numbers.
 */
export class FeatureIds {
  private readonly ids = new Map<string, number>();

  /** The id of `feature`, or `undefined` when no shard ever named it (then nothing grants it). */
  get(feature: string): number | undefined {
    return this.ids.get(feature);
  }

  intern(feature: string): number {
    let id = this.ids.get(feature);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(feature, id);
    }
    return id;
  }
}

/**
 * A verified shard, indexed compactly: no object or string per subject or per grant. Subject `i`
 * (in document order) has its grants at `grants[offsets[i]]`: their number `k`, then `k` records
 * of three numbers: `featureId * 2 + numeric` (a {@link FeatureIds} id; `numeric` 1 for a
 * number, 0 for a boolean), the value (the number, or 1/0 for true/false), and `valid_until`
 * (exclusive end, epoch ms; `Infinity` for no expiry). Just before that count: the subject's
 * length in UTF-16 code units, and before it the code units themselves, four to a number (read
 * through `chars`, a view of the same memory; see {@link subjectName}). One subject's name and
 * grants are contiguous, so a lookup and a decision read one short run of memory.
 */
export interface Shard {
  readonly id: number;
  readonly sha256: string;
  readonly ver: number;
  /** Number of subjects in the shard. */
  readonly size: number;
  /** 1 where the subject belongs in this shard (`shardOf(subject) === id`): only those are looked up. */
  readonly home: Uint8Array;
  readonly offsets: Uint32Array;
  readonly grants: Float64Array;
  /** `grants`' memory as UTF-16 code units: subject names. */
  readonly chars: Uint16Array;
  /** SHA-256 hex of an API key, then its subject, flattened: `[hash, subject, hash, subject, …]`. */
  readonly apiKeys: readonly string[];
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/** No lone surrogate (so UTF-8 encoding is lossless); `false` where the runtime cannot tell. */
function isWellFormed(text: string): boolean {
  const check = (text as { isWellFormed?: () => boolean }).isWellFormed;
  return typeof check === 'function' && check.call(text);
}
const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Verifies shard bytes against their manifest entry (size, SHA-256, then `shard` id) before
 * anything else reads them, validates every subject, and indexes them compactly.
 * `shardCount` places subjects (see {@link Shard.home}); `features` interns feature names.
 */
export async function readShard(source: Uint8Array | string, entry: ShardEntry, shardCount: number, features: FeatureIds): Promise<Shard> {
  return (await readShardText(source, entry, shardCount, features)).shard;
}

/** {@link readShard}, also giving the shard's exact text (for a cache that has not got it yet). */
export async function readShardText(
  source: Uint8Array | string,
  entry: ShardEntry,
  shardCount: number,
  features: FeatureIds,
): Promise<{ shard: Shard; text: string }> {
  const bytes = typeof source === 'string' ? encoder.encode(source) : source;
  if (bytes.byteLength > entry.bytes) {
    throw new SnapshotRejectedError('shard_too_large', `shard ${entry.id} has ${bytes.byteLength} bytes, the manifest says ${entry.bytes}`);
  }
  const hash = await sha256Hex(bytes);
  if (hash !== entry.sha256) {
    throw new SnapshotRejectedError('shard_hash_mismatch', `shard ${entry.id} hashes to ${hash}, the manifest says ${entry.sha256}`);
  }
  let text: string;
  try {
    // a well-formed string is exactly what its verified UTF-8 bytes decode to: keep it, not a copy
    text = typeof source === 'string' && isWellFormed(source) ? source : decoder.decode(bytes);
  } catch {
    throw new SnapshotRejectedError('shard_invalid', `shard ${entry.id}: not UTF-8 JSON`);
  }
  // the ledger's canonical encoding is read in one pass; anything else through JSON.parse
  const index = scanCanonical(text, entry.id, features) ?? parseGeneric(text, entry.id, features);
  const { subjects, ...rest } = index;
  const home = new Uint8Array(subjects.length);
  for (let i = 0; i < home.length; i++) home[i] = shardOf(subjects[i]!, shardCount) === entry.id ? 1 : 0;
  return { shard: { id: entry.id, sha256: entry.sha256, size: subjects.length, home, ...rest }, text };
}

/** Where subject `i`'s name starts in `shard.chars`, and its length. */
export function nameAt(grants: Float64Array, at: number): { start: number; length: number } {
  const length = grants[at - 1]!;
  return { start: (at - 1 - ((length + 3) >> 2)) * 4, length };
}

/** The name of subject `i` of `shard` (document order). */
export function subjectName(shard: Shard, i: number): string {
  const { start, length } = nameAt(shard.grants, shard.offsets[i]!);
  let out = '';
  for (let k = 0; k < length; k++) out += String.fromCharCode(shard.chars[start + k]!);
  return out;
}

type ShardIndex = Omit<Shard, 'id' | 'sha256' | 'home' | 'size'> & { readonly subjects: readonly string[] };

function scanCanonical(text: string, id: number, features: FeatureIds): ShardIndex | null {
  const builder = new GrantBuilder();
  const subjects: string[] = [];
  const apiKeys: string[] = [];
  const scanned = scanShard(text, id, {
    subject: (name) => builder.subject(subjects.push(name) - 1, name),
    feature: (name) => features.intern(name),
    grant: (feature, value, numeric, until) => builder.grant(feature, value, numeric, until),
    apiKey: (hash, subject) => apiKeys.push(hash, subject),
  });
  if (!scanned) return null;
  return { ver: scanned.ver, subjects, ...builder.finish(subjects.length), apiKeys };
}

/** Any JSON encoding, validated subject by subject; throws `shard_invalid` naming the fault. */
function parseGeneric(text: string, id: number, features: FeatureIds): ShardIndex {
  const fail = (what: string): never => {
    throw new SnapshotRejectedError('shard_invalid', `shard ${id}: ${what}`);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return fail('not UTF-8 JSON');
  }
  if (!isRecord(doc)) return fail('not an object');
  if (doc.shard !== id) return fail(`its "shard" is ${String(doc.shard)}`);
  if (!Number.isSafeInteger(doc.ver) || (doc.ver as number) < 0) return fail('"ver" is not a non-negative integer');
  if (!isRecord(doc.subjects)) return fail('"subjects" is not an object');
  const subjects = Object.keys(doc.subjects);
  const builder = new GrantBuilder();
  const apiKeys: string[] = [];
  for (let i = 0; i < subjects.length; i++) {
    const subject = subjects[i]!;
    const raw = doc.subjects[subject];
    if (!isRecord(raw)) return fail(`subject ${subject} is not an object`);
    builder.subject(i, subject);
    readSubject(raw, subject, builder, apiKeys, features, (what) => fail(`subject ${subject}: ${what}`));
  }
  return { ver: doc.ver as number, subjects, ...builder.finish(subjects.length), apiKeys };
}

function readSubject(
  raw: Record<string, unknown>,
  subject: string,
  out: GrantBuilder,
  apiKeys: string[],
  features: FeatureIds,
  fail: (what: string) => never,
): void {
  const rawFeatures = raw.features ?? {};
  if (!isRecord(rawFeatures)) return fail('"features" is not an object');
  for (const feature of Object.keys(rawFeatures)) {
    const grants = rawFeatures[feature];
    if (!Array.isArray(grants)) return fail(`features.${feature} is not an array`);
    const fid = features.intern(feature);
    for (const grant of grants as unknown[]) {
      if (!isRecord(grant)) return fail(`a grant of ${feature} is not an object`);
      const { value, valid_until: validUntil } = grant;
      let numeric: boolean;
      if (typeof value === 'boolean') numeric = false;
      else if (typeof value === 'number' && Number.isFinite(value)) numeric = true;
      else return fail(`a grant of ${feature} has a value that is neither boolean nor number`);
      let until: number;
      if (validUntil === null) until = Infinity;
      else {
        until = typeof validUntil === 'string' ? Date.parse(validUntil) : Number.NaN;
        if (!Number.isFinite(until)) return fail(`a grant of ${feature} has an invalid valid_until`);
      }
      out.grant(fid, numeric ? (value as number) : value ? 1 : 0, numeric, until);
    }
  }
  const keys = raw.api_keys ?? [];
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string' && HEX64.test(k))) {
    return fail('"api_keys" is not an array of SHA-256 hex');
  }
  for (const key of keys as string[]) apiKeys.push(key, subject);
}

/** Accumulates subjects' names and grant records into one growable Float64Array, trimmed at the end. */
class GrantBuilder {
  private offsets = new Uint32Array(64);
  private data = new Float64Array(256);
  private chars = new Uint16Array(this.data.buffer);
  private n = 0;
  private current = -1;

  /** Grants from now on belong to subject `i`, named `name` (subjects come in order 0, 1, 2, …). */
  subject(i: number, name: string): void {
    if (i >= this.offsets.length) this.offsets = grow(this.offsets, new Uint32Array(this.offsets.length * 2));
    const words = (name.length + 3) >> 2;
    this.reserve(words + 2);
    const chars = this.chars;
    const start = this.n * 4;
    for (let k = 0; k < name.length; k++) chars[start + k] = name.charCodeAt(k);
    chars.fill(0, start + name.length, (this.n + words) * 4);
    this.n += words;
    this.data[this.n++] = name.length;
    this.offsets[i] = this.n;
    this.current = this.n;
    this.data[this.n++] = 0;
  }

  grant(feature: number, value: number, numeric: boolean, until: number): void {
    this.reserve(3);
    const d = this.data;
    d[this.current]! += 1;
    d[this.n] = feature * 2 + (numeric ? 1 : 0);
    d[this.n + 1] = value;
    d[this.n + 2] = until;
    this.n += 3;
  }

  finish(subjects: number): Pick<Shard, 'offsets' | 'grants' | 'chars'> {
    const grants = this.data.slice(0, this.n);
    return { offsets: this.offsets.slice(0, subjects), grants, chars: new Uint16Array(grants.buffer, grants.byteOffset, grants.length * 4) };
  }

  private reserve(k: number): void {
    if (this.n + k <= this.data.length) return;
    let size = this.data.length * 2;
    while (this.n + k > size) size *= 2;
    this.data = grow(this.data, new Float64Array(size));
    this.chars = new Uint16Array(this.data.buffer);
  }
}

function grow<T extends Uint32Array | Float64Array>(from: T, to: T): T {
  to.set(from as never);
  return to;
}
