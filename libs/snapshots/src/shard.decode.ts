import { isNonNegativeInt } from './ordering.util.js';
import { InvalidShardError } from './snapshot.errors.js';
import type { ShardFeatureGrant, ShardPlanGrant, SubjectEntry } from './subject-entry.build.js';

/** A shard's content as parsed from its bytes. */
export interface DecodedShard {
  readonly shard: number;
  readonly ver: number;
  /** In the order of the bytes (code point order for a canonical shard). */
  readonly subjects: ReadonlyMap<string, SubjectEntry>;
}

/**
 * Parses shard bytes and checks their shape (not their hash, nor that they are canonical:
 * re-encode with `encodeShard` and compare hashes for that).
 *
 * @throws {InvalidShardError} bytes that are not a shard
 *
 * @example
 * const { shard, ver, subjects } = decodeShard(bytes);
 * subjects.get('org_42')?.features.api; // [{ value: true, valid_until: '2026-12-25T10:00:00.000Z' }]
 */
export function decodeShard(bytes: Uint8Array): DecodedShard {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new InvalidShardError('not UTF-8 JSON');
  }
  if (!isObject(doc)) throw new InvalidShardError('not a JSON object');
  const { shard, ver, subjects } = doc;
  if (!isNonNegativeInt(shard)) throw new InvalidShardError('"shard" must be a non-negative integer');
  if (!isNonNegativeInt(ver)) throw new InvalidShardError('"ver" must be a non-negative integer');
  if (!isObject(subjects)) throw new InvalidShardError('"subjects" must be an object');
  const out = new Map<string, SubjectEntry>();
  for (const [subject, e] of Object.entries(subjects)) out.set(subject, toEntry(subject, e));
  return { shard, ver, subjects: out };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isUntil = (v: unknown): v is string | null => v === null || typeof v === 'string';

function toEntry(subject: string, e: unknown): SubjectEntry {
  const bad = (what: string): InvalidShardError => new InvalidShardError(`subject ${JSON.stringify(subject)}: ${what}`);
  if (!isObject(e)) throw bad('not an object');
  const { plan, valid_until, plans, features, api_keys } = e;
  if (plan !== null && typeof plan !== 'string') throw bad('"plan" must be a string or null');
  if (!isUntil(valid_until)) throw bad('"valid_until" must be a string or null');
  if (!Array.isArray(plans) || !isObject(features) || !Array.isArray(api_keys)) {
    throw bad('"plans", "features" and "api_keys" are required');
  }
  const planList = plans.map((p): ShardPlanGrant => {
    if (!isObject(p) || typeof p.id !== 'string' || typeof p.tier !== 'number' || !isUntil(p.valid_until)) {
      throw bad('a plan must be {id, tier, valid_until}');
    }
    return { id: p.id, tier: p.tier, valid_until: p.valid_until };
  });
  const featureEntries = Object.entries(features).map(([name, grants]): [string, ShardFeatureGrant[]] => {
    if (!Array.isArray(grants)) throw bad(`feature ${name} must list grants`);
    return [
      name,
      grants.map((g): ShardFeatureGrant => {
        const ok = isObject(g) && (typeof g.value === 'boolean' || typeof g.value === 'number') && isUntil(g.valid_until);
        if (!ok) throw bad(`a grant of ${name} must be {value, valid_until}`);
        return { value: g.value as boolean | number, valid_until: g.valid_until as string | null };
      }),
    ];
  });
  if (!api_keys.every((k) => typeof k === 'string')) throw bad('"api_keys" must hold strings');
  return {
    plan,
    valid_until,
    plans: planList,
    features: Object.fromEntries(featureEntries),
    api_keys: api_keys as string[],
  };
}
