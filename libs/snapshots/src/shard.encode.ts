import { createHash } from 'node:crypto';
import { compareCodePoints, isNonNegativeInt } from './ordering.util.js';
import { InvalidArgumentError } from './snapshot.errors.js';
import { canonicalSubjectEntry, isEmptyEntry, type SubjectEntry } from './subject-entry.build.js';

/** What {@link encodeShard} is given: the shard id, its `ver` and its subjects. */
export interface ShardInput {
  readonly shard: number;
  /** The ledger position at which this shard's content last changed (0 if never). */
  readonly ver: number;
  readonly subjects: Iterable<readonly [string, SubjectEntry]>;
}

/** A shard's exact bytes, their lowercase hex SHA-256 (its name), and how many subjects it holds. */
export interface EncodedShard {
  readonly bytes: Buffer;
  readonly sha256: string;
  readonly count: number;
}

/**
 * Encodes a shard in the canonical layout of docs/snapshot-format.md: UTF-8 JSON without
 * insignificant whitespace, keys in the pinned order, subjects and feature names sorted by
 * code point, grants sorted. The same content always gives the same bytes, hence the same
 * hash. Entries are canonicalised first; entries with nothing granted and no keys are left out.
 *
 * @throws {InvalidArgumentError} a bad shard id or ver, or a subject given twice
 * @throws {InvalidSubjectEntryError} an entry that cannot be published
 *
 * @example
 * const { bytes, sha256, count } = encodeShard({ shard: 7, ver: 1234, subjects: new Map([['org_42', entry]]) });
 * // bytes: {"shard":7,"ver":1234,"subjects":{"org_42":{"plan":"pro",…}}}
 */
export function encodeShard(input: ShardInput): EncodedShard {
  const members = new Map<string, string>();
  for (const [subject, entry] of input.subjects) {
    if (typeof subject !== 'string') throw new InvalidArgumentError('a subject must be a string');
    if (members.has(subject)) throw new InvalidArgumentError(`subject ${JSON.stringify(subject)} is given twice`);
    const json = entryJson(entry);
    if (json !== null) members.set(subject, memberBytes(subject, json));
  }
  return assembleShard(input.shard, input.ver, members).encoded;
}

/** @internal The entry's JSON in the pinned key order, or null when it is left out of shards. */
export function entryJson(entry: SubjectEntry): string | null {
  const e = canonicalSubjectEntry(entry);
  if (isEmptyEntry(e)) return null;
  const s = JSON.stringify;
  const until = (v: string | null): string => (v === null ? 'null' : s(v));
  // Pieces joined once: a flat string, not a rope of many small ones (a million ropes thrash the GC).
  const out: string[] = ['{"plan":', e.plan === null ? 'null' : s(e.plan), ',"valid_until":', until(e.valid_until), ',"plans":['];
  e.plans.forEach((p, i) => {
    out.push(i > 0 ? ',{"id":' : '{"id":', s(p.id), ',"tier":', s(p.tier), ',"valid_until":', until(p.valid_until), '}');
  });
  out.push('],"features":{');
  // Sorted here, not by the object: integer-like keys ("42") come first in a JS object.
  Object.keys(e.features)
    .sort(compareCodePoints)
    .forEach((name, i) => {
      out.push(i > 0 ? ',' : '', s(name), ':[');
      (e.features[name] ?? []).forEach((g, j) => {
        out.push(j > 0 ? ',{"value":' : '{"value":', s(g.value), ',"valid_until":', until(g.valid_until), '}');
      });
      out.push(']');
    });
  out.push('},"api_keys":', s(e.api_keys), '}');
  return out.join('');
}

/** @internal One member of `subjects`: `"<subject>":{…}`. */
export const memberBytes = (subject: string, json: string): string => [JSON.stringify(subject), json].join(':');

/** @internal Where each subject's member lies in the shard bytes: `[start, end)`. */
export type MemberIndex = Map<string, readonly [number, number]>;

/**
 * @internal Writes members (new strings, or views into the previous bytes of the shard) in
 * subject order into one buffer: re-encoding a shard is a sort and a copy, with no
 * per-subject allocation.
 */
export function assembleShard(
  shard: number,
  ver: number,
  members: ReadonlyMap<string, string | Uint8Array>,
): { encoded: EncodedShard; index: MemberIndex } {
  if (!isNonNegativeInt(shard)) throw new InvalidArgumentError(`shard must be a non-negative integer, got ${shard}`);
  if (!isNonNegativeInt(ver)) throw new InvalidArgumentError(`ver must be a non-negative integer, got ${ver}`);
  const head = `{"shard":${shard},"ver":${ver},"subjects":{`;
  const subjects = [...members.keys()].sort(compareCodePoints);
  const parts = subjects.map((k) => members.get(k) as string | Uint8Array);
  const sizes = parts.map((p) => (typeof p === 'string' ? Buffer.byteLength(p, 'utf8') : p.length));
  const total = head.length + sizes.reduce((n, x) => n + x, 0) + Math.max(0, subjects.length - 1) + 2;
  const bytes = Buffer.allocUnsafe(total);
  let offset = bytes.write(head, 0, 'latin1');
  const index: MemberIndex = new Map();
  parts.forEach((part, i) => {
    if (i > 0) bytes[offset++] = 0x2c; // ','
    const size = sizes[i] as number;
    if (typeof part === 'string') bytes.write(part, offset, size, 'utf8');
    else bytes.set(part, offset);
    index.set(subjects[i] as string, [offset, offset + size]);
    offset += size;
  });
  bytes[offset++] = 0x7d; // '}'
  bytes[offset++] = 0x7d;
  return { encoded: { bytes, sha256: createHash('sha256').update(bytes).digest('hex'), count: subjects.length }, index };
}
