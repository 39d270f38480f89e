import type { Catalog, Plan } from '../catalog/catalog.schema.js';
import type { PlanRefs } from '../events/subscription.events.js';

const STRIPE_REF_PRIORITY = ['lookup_keys', 'prices', 'products'] as const;
const PADDLE_REF_PRIORITY = ['prices', 'products'] as const;

const overlaps = (held: readonly string[] | undefined, wanted: readonly string[]): boolean =>
  held !== undefined && wanted.some((r) => held.includes(r));

/**
 * The catalog plan a subscription names, or null when the catalog does not know it.
 * A plan id wins; otherwise provider refs match by priority (Stripe: lookup key > price >
 * product; Paddle: price > product), and within one kind the first plan in catalog order.
 *
 * @example
 * resolvePlan(catalog, null, { provider: 'stripe', lookup_keys: ['pro_monthly'], prices: [], products: [] })?.id; // 'pro'
 */
export function resolvePlan(
  catalog: Catalog,
  plan: string | null,
  refs: PlanRefs | null | undefined,
): Plan | null {
  if (plan !== null) {
    const byId = catalog.plans.find((p) => p.id === plan);
    if (byId) return byId;
  }
  if (!refs) return null;
  const provider = refs.provider;
  switch (provider) {
    case 'stripe':
      for (const kind of STRIPE_REF_PRIORITY) {
        const hit = catalog.plans.find((p) => overlaps(p.stripe?.[kind], refs[kind]));
        if (hit) return hit;
      }
      return null;
    case 'paddle':
      for (const kind of PADDLE_REF_PRIORITY) {
        const hit = catalog.plans.find((p) => overlaps(p.paddle?.[kind], refs[kind]));
        if (hit) return hit;
      }
      return null;
    default: {
      const never: never = provider;
      return never;
    }
  }
}
