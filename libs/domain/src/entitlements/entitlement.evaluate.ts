import { InvalidEvaluationTimeError } from './entitlement.errors.js';
import type { EntitlementSources, FeatureSource, PlanSource } from './entitlement.sources.js';
import { earliest, isLiveAt, latest } from './time.util.js';

export interface FeatureGrant {
  readonly value: boolean | number;
  /** The value holds at least until then (exclusive); null: no expiry. */
  readonly valid_until: string | null;
}

/** A subject's entitlements at one instant, in the read API's shape. */
export interface Entitlements {
  readonly plan: string | null;
  /** Keys in code-unit order, so equal entitlements serialise to equal JSON. */
  readonly features: Readonly<Record<string, FeatureGrant>>;
  /** When the answer may next change: nothing issued from it may outlive this. Null: never. */
  readonly valid_until: string | null;
}

/**
 * Combines the sources live at `at` (`at < valid_until`): booleans OR, numbers take the
 * maximum (a feature with any numeric source is numeric; its boolean sources are ignored).
 * A feature's `valid_until` is the latest among the live sources giving the winning value;
 * `plan` is the live plan with the highest tier (ties: the smaller id); the subject's
 * `valid_until` is the earliest of its features' and its plan's.
 * Throws {@link InvalidEvaluationTimeError} for an invalid Date.
 *
 * @example
 * evaluateEntitlements(sources, new Date('2026-12-01T00:00:00Z'));
 * // { plan: 'pro', features: { api: { value: true, valid_until: '2026-12-25T10:00:00.000Z' } },
 * //   valid_until: '2026-12-25T10:00:00.000Z' }
 */
export function evaluateEntitlements(sources: EntitlementSources, at: Date): Entitlements {
  const atMs = at.getTime();
  if (Number.isNaN(atMs)) throw new InvalidEvaluationTimeError();

  const live = new Map<string, FeatureSource[]>();
  for (const s of sources.features) {
    if (!isLiveAt(s.valid_until, atMs)) continue;
    const list = live.get(s.feature);
    if (list) list.push(s);
    else live.set(s.feature, [s]);
  }

  const entries: [string, FeatureGrant][] = [];
  let subjectUntil: string | null = null;
  for (const feature of [...live.keys()].sort()) {
    const grant = combine(live.get(feature) ?? []);
    entries.push([feature, grant]);
    subjectUntil = earliest(subjectUntil, grant.valid_until);
  }

  const plan = bestPlan(sources.plans.filter((p) => isLiveAt(p.valid_until, atMs)));
  if (plan) subjectUntil = earliest(subjectUntil, plan.valid_until);

  // Object.fromEntries defines own properties, so a feature named `__proto__` stays data.
  return { plan: plan?.plan ?? null, features: Object.fromEntries(entries), valid_until: subjectUntil };
}

function combine(sources: readonly FeatureSource[]): FeatureGrant {
  const numeric = sources.filter((s) => typeof s.value === 'number');
  const pool = numeric.length > 0 ? numeric : sources;
  const value =
    numeric.length > 0 ? Math.max(...numeric.map((s) => s.value as number)) : pool.some((s) => s.value === true);
  const holders = pool.filter((s) => s.value === value);
  return { value, valid_until: holders.map((s) => s.valid_until).reduce(latest) ?? null };
}

function bestPlan(plans: readonly PlanSource[]): { plan: string; valid_until: string | null } | null {
  let best: PlanSource | null = null;
  for (const p of plans) {
    if (best === null || p.tier > best.tier || (p.tier === best.tier && p.plan < best.plan)) best = p;
  }
  if (best === null) return null;
  const plan = best.plan;
  const until = plans.filter((p) => p.plan === plan).map((p) => p.valid_until).reduce(latest);
  return { plan, valid_until: until };
}

/** One feature whose value differs between two evaluations; null: not granted. */
export interface FeatureChange {
  readonly feature: string;
  readonly from: boolean | number | null;
  readonly to: boolean | number | null;
}

/**
 * The features whose value differs (granted, withdrawn or changed), by feature name; a change
 * of `valid_until` alone is not a change of value. For a subject's history.
 *
 * @example
 * diffEntitlements(before, after); // [{ feature: 'seats', from: 5, to: 10 }]
 */
export function diffEntitlements(
  before: Pick<Entitlements, 'features'>,
  after: Pick<Entitlements, 'features'>,
): FeatureChange[] {
  const value = (e: Pick<Entitlements, 'features'>, f: string): boolean | number | null =>
    Object.hasOwn(e.features, f) ? (e.features[f]?.value ?? null) : null;
  const names = [...new Set([...Object.keys(before.features), ...Object.keys(after.features)])].sort();
  return names
    .map((feature) => ({ feature, from: value(before, feature), to: value(after, feature) }))
    .filter((c) => c.from !== c.to);
}
