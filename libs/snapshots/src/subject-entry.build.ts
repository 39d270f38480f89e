import type { EntitlementSources } from '@app/domain';
import { compareCodePoints, compareUntil, normalIso, SHA256_HEX } from './ordering.util.js';
import { InvalidSubjectEntryError } from './snapshot.errors.js';

/** One grant of a feature: `value` holds while `t < valid_until` (null: no expiry). */
export interface ShardFeatureGrant {
  readonly value: boolean | number;
  readonly valid_until: string | null;
}

/** One plan granted by a subscription while `t < valid_until` (null: no expiry). */
export interface ShardPlanGrant {
  readonly id: string;
  readonly tier: number;
  readonly valid_until: string | null;
}

/** A subject in a shard, time-independent (docs/snapshot-format.md, "Shard"). */
export interface SubjectEntry {
  /** Highest-tier plan ignoring time (ties: the smaller id): a hint, the verifier decides. */
  readonly plan: string | null;
  /** Latest `valid_until` of all grants; null if any grant has none, or there are none. */
  readonly valid_until: string | null;
  readonly plans: readonly ShardPlanGrant[];
  /** Feature → every grant of it, value descending then `valid_until` (null last). */
  readonly features: Readonly<Record<string, readonly ShardFeatureGrant[]>>;
  /** SHA-256 hex of the subject's live API keys, sorted. */
  readonly api_keys: readonly string[];
}

/**
 * The shard entry of one subject: every plan and feature grant with its own expiry (so the
 * verifier judges time, and the shard never needs rewriting when something expires) and the
 * hashes of the subject's live API keys. Null when nothing is granted and there are no keys:
 * such subjects are left out of shards.
 *
 * Identical grants (same value and `valid_until`) from several sources are listed once.
 *
 * @throws {InvalidSubjectEntryError} a `valid_until` that is not a date, a non-finite value,
 *   or an API key hash that is not lowercase SHA-256 hex
 *
 * @example
 * const entry = subjectEntry(entitlementSources(inputs, catalog, policy), [sha256Hex(apiKey)]);
 * // { plan: 'pro', valid_until: '2026-12-25T10:00:00.000Z',
 * //   plans: [{ id: 'pro', tier: 2, valid_until: '2026-12-25T10:00:00.000Z' }],
 * //   features: { api: [{ value: true, valid_until: '2026-12-25T10:00:00.000Z' }] },
 * //   api_keys: ['9f86d0…'] }
 */
export function subjectEntry(sources: EntitlementSources, apiKeyHashes: readonly string[]): SubjectEntry | null {
  const features: Record<string, ShardFeatureGrant[]> = Object.create(null) as Record<string, ShardFeatureGrant[]>;
  for (const f of sources.features) {
    (features[f.feature] ??= []).push({ value: f.value, valid_until: f.valid_until });
  }
  const entry = canonicalSubjectEntry({
    plan: null,
    valid_until: null,
    plans: sources.plans.map((p) => ({ id: p.plan, tier: p.tier, valid_until: p.valid_until })),
    features,
    api_keys: apiKeyHashes,
  });
  return isEmptyEntry(entry) ? null : entry;
}

/** @internal Nothing granted and no keys: the subject is left out of its shard. */
export const isEmptyEntry = (e: SubjectEntry): boolean =>
  e.plans.length === 0 && e.api_keys.length === 0 && Object.keys(e.features).length === 0;

/**
 * @internal The canonical form of an entry: validated, dates in `toISOString()` form,
 * duplicates dropped, everything sorted, and `plan` / `valid_until` derived from the grants
 * (so equal grants always give equal bytes, whatever the caller put in the hints).
 */
export function canonicalSubjectEntry(e: SubjectEntry): SubjectEntry {
  let allExpire = true;
  let latest = null as string | null;
  const until = (v: string | null, where: string): string | null => {
    if (v === null) {
      allExpire = false;
      return null;
    }
    const iso = typeof v === 'string' ? normalIso(v) : null;
    if (iso === null) throw new InvalidSubjectEntryError(`${where}.valid_until is not a date`);
    if (latest === null || compareUntil(iso, latest) > 0) latest = iso;
    return iso;
  };

  const plans = dedupe(
    e.plans.map((p, i) => {
      if (typeof p.id !== 'string' || p.id === '') throw new InvalidSubjectEntryError(`plans[${i}].id is empty`);
      if (!Number.isSafeInteger(p.tier) || p.tier < 0) {
        throw new InvalidSubjectEntryError(`plans[${i}].tier must be a non-negative integer`);
      }
      return { id: p.id, tier: p.tier, valid_until: until(p.valid_until, `plans[${i}]`) };
    }),
    comparePlans,
    (a, b) => a.id === b.id && a.tier === b.tier && a.valid_until === b.valid_until,
  );

  const entries: [string, ShardFeatureGrant[]][] = [];
  for (const name of Object.keys(e.features).sort(compareCodePoints)) {
    const grants = e.features[name] ?? [];
    if (grants.length === 0) continue;
    const list = grants.map((g, i) => {
      const ok = typeof g.value === 'boolean' || (typeof g.value === 'number' && Number.isFinite(g.value));
      if (!ok) throw new InvalidSubjectEntryError(`features.${name}[${i}].value must be a boolean or a finite number`);
      // -0 and 0 are one value in JSON.
      const value = g.value === 0 ? 0 : g.value;
      return { value, valid_until: until(g.valid_until, `features.${name}[${i}]`) };
    });
    entries.push([name, dedupe(list, compareGrants, (a, b) => a.value === b.value && a.valid_until === b.valid_until)]);
  }

  const api_keys = [...new Set(e.api_keys)].sort();
  for (const k of api_keys) {
    // Shards are served without auth: anything but a hash might be a live credential.
    if (typeof k !== 'string' || !SHA256_HEX.test(k)) {
      throw new InvalidSubjectEntryError('api_keys must hold lowercase SHA-256 hex digests, never raw keys');
    }
  }

  return {
    plan: plans[0]?.id ?? null,
    valid_until: allExpire ? latest : null,
    plans,
    // Object.fromEntries defines own properties, so a feature named `__proto__` stays data.
    features: Object.fromEntries(entries),
    api_keys,
  };
}

/** Tier descending, then id, then `valid_until` (null last): the first is the `plan` hint. */
function comparePlans(a: ShardPlanGrant, b: ShardPlanGrant): number {
  if (a.tier !== b.tier) return b.tier - a.tier;
  const byId = compareCodePoints(a.id, b.id);
  return byId !== 0 ? byId : compareUntil(a.valid_until, b.valid_until);
}

/** Value descending (numbers before booleans, true before false), then `valid_until` (null last). */
function compareGrants(a: ShardFeatureGrant, b: ShardFeatureGrant): number {
  const ra = valueRank(a.value);
  const rb = valueRank(b.value);
  if (ra !== rb) return ra - rb;
  if (typeof a.value === 'number' && typeof b.value === 'number' && a.value !== b.value) return b.value - a.value;
  return compareUntil(a.valid_until, b.valid_until);
}

// Numbers win over booleans when a feature has both (evaluateEntitlements), so they come first.
const valueRank = (v: boolean | number): number => (typeof v === 'number' ? 0 : v ? 1 : 2);

function dedupe<T>(items: T[], compare: (a: T, b: T) => number, same: (a: T, b: T) => boolean): T[] {
  items.sort(compare);
  return items.filter((x, i) => i === 0 || !same(items[i - 1] as T, x));
}
