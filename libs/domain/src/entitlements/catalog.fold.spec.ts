import type { Catalog } from '../catalog/catalog.schema.js';
import { EMPTY_CATALOG } from '../catalog/catalog.schema.js';
import { evolveCatalog } from './catalog.fold.js';
import { resolvePlan } from './plan.resolver.js';
import { replaySubject } from './subject.replay.js';
import { at, catalog, catalogEvent, log, policy, subscriptionEvent, T0 } from './entitlement-test.fixtures.js';

const withPro = (projects: number, lookupKeys: string[] = []): Catalog => ({
  plans: [{ id: 'pro', tier: 2, stripe: { lookup_keys: lookupKeys, prices: [], products: [] }, features: { projects } }],
  classes: {},
});

describe('catalog changes', () => {
  it('evaluates each position with the catalog in force there', () => {
    const events = log(
      catalogEvent('cat_1', withPro(50)),
      subscriptionEvent({ id: 'evt_1', occurred_at: T0 }),
      catalogEvent('cat_2', withPro(80)),
    );

    expect(replaySubject(events.slice(0, 2), 'org_42', policy, at(T0)).features['projects']?.value).toBe(50);
    expect(replaySubject(events, 'org_42', policy, at(T0)).features['projects']?.value).toBe(80);
  });

  it('a plan unknown to the old catalog grants once a catalog that knows it is published', () => {
    const stripeRefs = { provider: 'stripe' as const, lookup_keys: ['pro_2027'], prices: [], products: [] };
    const events = log(
      catalogEvent('cat_1', withPro(50, ['pro_monthly'])),
      subscriptionEvent({ id: 'evt_1', occurred_at: T0, source: 'stripe', sub: { plan: null }, plan_refs: stripeRefs }),
      catalogEvent('cat_2', withPro(50, ['pro_monthly', 'pro_2027'])),
    );

    expect(replaySubject(events.slice(0, 2), 'org_42', policy, at(T0))).toMatchObject({
      plan: null,
      unknown_plans: [{ subscription: 'stripe:sub_1', plan: null, plan_refs: stripeRefs }],
    });
    expect(replaySubject(events, 'org_42', policy, at(T0))).toMatchObject({ plan: 'pro', unknown_plans: [] });
  });

  it('before any catalog, every plan is unknown', () => {
    const events = log(subscriptionEvent({ id: 'evt_1', occurred_at: T0 }));
    expect(replaySubject(events, 'org_42', policy, at(T0)).unknown_plans).toHaveLength(1);
  });

  it('evolveCatalog replaces the catalog whole and ignores other events and malformed catalogs', () => {
    const [published] = log(catalogEvent('cat_1', catalog));
    if (!published) throw new Error('fixture');

    expect(evolveCatalog(EMPTY_CATALOG, published)).toEqual({ fold: catalog });
    expect(evolveCatalog(catalog, { ...published, type: 'grant.added' })).toEqual({ fold: catalog, note: 'ignored_type' });
    expect(evolveCatalog(catalog, { ...published, data: { catalog: { plans: 'none' } } })).toEqual({
      fold: catalog,
      note: 'malformed_event',
    });
  });
});

describe('resolvePlan', () => {
  const c: Catalog = {
    plans: [
      { id: 'by_product', tier: 1, stripe: { lookup_keys: [], prices: [], products: ['prod_x'] }, paddle: { prices: [], products: ['pro_x'] }, features: {} },
      { id: 'by_price', tier: 1, stripe: { lookup_keys: [], prices: ['price_x'], products: [] }, paddle: { prices: ['pri_x'], products: [] }, features: {} },
      { id: 'by_key', tier: 1, stripe: { lookup_keys: ['key_x'], prices: [], products: [] }, features: {} },
    ],
    classes: {},
  };
  const stripe = (lookup_keys: string[], prices: string[], products: string[]) => ({ provider: 'stripe' as const, lookup_keys, prices, products });

  it('prefers a plan id, then Stripe lookup key over price over product', () => {
    expect(resolvePlan(c, 'by_product', stripe(['key_x'], [], []))?.id).toBe('by_product');
    expect(resolvePlan(c, null, stripe(['key_x'], ['price_x'], ['prod_x']))?.id).toBe('by_key');
    expect(resolvePlan(c, null, stripe(['key_unknown'], ['price_x'], ['prod_x']))?.id).toBe('by_price');
    expect(resolvePlan(c, null, stripe([], [], ['prod_x']))?.id).toBe('by_product');
    expect(resolvePlan(c, 'missing', stripe([], ['price_x'], []))?.id).toBe('by_price');
  });

  it('matches Paddle by price, then product', () => {
    const paddle = (prices: string[], products: string[]) => ({ provider: 'paddle' as const, lookup_keys: [], prices, products });
    expect(resolvePlan(c, null, paddle(['pri_x'], ['pro_x']))?.id).toBe('by_price');
    expect(resolvePlan(c, null, paddle([], ['pro_x']))?.id).toBe('by_product');
  });

  it('returns null when nothing matches', () => {
    expect(resolvePlan(c, 'missing', null)).toBeNull();
    expect(resolvePlan(c, null, stripe(['nope'], ['nope'], ['nope']))).toBeNull();
  });
});
