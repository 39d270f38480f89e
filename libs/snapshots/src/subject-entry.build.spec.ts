import type { EntitlementSources, FeatureSource, PlanSource } from '@app/domain';
import { InvalidSubjectEntryError, subjectEntry } from './index.js';

const DEC1 = '2026-12-01T00:00:00.000Z';
const DEC25 = '2026-12-25T10:00:00.000Z';
const KEY_A = 'a'.repeat(64);
const KEY_B = 'b'.repeat(64);

const feature = (name: string, value: boolean | number, valid_until: string | null): FeatureSource => ({
  feature: name,
  value,
  valid_until,
  origin: { kind: 'admin_grant', source_event_id: `e-${name}-${String(value)}`, position: 1 },
});
const plan = (id: string, tier: number, valid_until: string | null): PlanSource => ({
  plan: id,
  tier,
  valid_until,
  subscription: `sub_${id}`,
});
const sources = (plans: PlanSource[], features: FeatureSource[]): EntitlementSources => ({ plans, features, unknown_plans: [] });

describe('subjectEntry', () => {
  it('lists every grant per feature, value descending then valid_until (null last)', () => {
    const entry = subjectEntry(
      sources(
        [plan('pro', 2, DEC25)],
        [
          feature('projects', 50, DEC25),
          feature('projects', 100, DEC1),
          feature('projects', 100, null),
          feature('projects', 50, DEC1),
          feature('api', true, DEC25),
        ],
      ),
      [],
    );
    expect(entry?.features).toEqual({
      api: [{ value: true, valid_until: DEC25 }],
      projects: [
        { value: 100, valid_until: DEC1 },
        { value: 100, valid_until: null },
        { value: 50, valid_until: DEC1 },
        { value: 50, valid_until: DEC25 },
      ],
    });
  });

  it('keeps a step-down grant: a higher value that ends before a lower one', () => {
    const entry = subjectEntry(sources([], [feature('projects', 50, DEC25), feature('projects', 100, DEC1)]), []);
    expect(entry?.features.projects).toEqual([
      { value: 100, valid_until: DEC1 },
      { value: 50, valid_until: DEC25 },
    ]);
    expect(entry?.valid_until).toBe(DEC25);
  });

  it('orders numbers before booleans and true before false, and lists identical grants once', () => {
    const entry = subjectEntry(
      sources([], [feature('x', false, null), feature('x', true, DEC1), feature('x', 3, null), feature('x', true, DEC1)]),
      [],
    );
    expect(entry?.features.x).toEqual([
      { value: 3, valid_until: null },
      { value: true, valid_until: DEC1 },
      { value: false, valid_until: null },
    ]);
  });

  it('gives the highest-tier plan as the hint, ties to the smaller id, ignoring time', () => {
    const entry = subjectEntry(
      sources([plan('team', 2, DEC1), plan('basic', 1, null), plan('pro', 2, DEC25)], []),
      [],
    );
    expect(entry?.plan).toBe('pro');
    expect(entry?.plans).toEqual([
      { id: 'pro', tier: 2, valid_until: DEC25 },
      { id: 'team', tier: 2, valid_until: DEC1 },
      { id: 'basic', tier: 1, valid_until: null },
    ]);
  });

  it('sets valid_until to the latest grant, or null when any grant never expires', () => {
    const bounded = subjectEntry(sources([plan('pro', 2, DEC1)], [feature('api', true, DEC25)]), []);
    expect(bounded?.valid_until).toBe(DEC25);
    const unbounded = subjectEntry(sources([plan('pro', 2, DEC1)], [feature('api', true, null)]), []);
    expect(unbounded?.valid_until).toBeNull();
    const planOnly = subjectEntry(sources([plan('free', 0, null)], []), []);
    expect(planOnly).toMatchObject({ plan: 'free', valid_until: null, features: {} });
  });

  it('normalises dates to ISO-8601 UTC with milliseconds', () => {
    const entry = subjectEntry(sources([], [feature('api', true, '2026-12-25T11:00:00+01:00')]), []);
    expect(entry?.features.api).toEqual([{ value: true, valid_until: DEC25 }]);
  });

  it('sorts and dedupes API key hashes; keys alone make an entry', () => {
    const entry = subjectEntry(sources([], []), [KEY_B, KEY_A, KEY_B]);
    expect(entry).toEqual({ plan: null, valid_until: null, plans: [], features: {}, api_keys: [KEY_A, KEY_B] });
  });

  it('is null when nothing is granted and there are no keys (unknown plans grant nothing)', () => {
    expect(subjectEntry({ plans: [], features: [], unknown_plans: [{ subscription: 's', plan: 'x', plan_refs: null }] }, [])).toBeNull();
  });

  it('refuses anything but lowercase SHA-256 hex as an API key, without echoing it', () => {
    const raw = 'sk_live_secret_value';
    const run = (): unknown => subjectEntry(sources([], []), [raw]);
    expect(run).toThrow(InvalidSubjectEntryError);
    expect(run).not.toThrow(new RegExp(raw));
    expect(() => subjectEntry(sources([], []), ['A'.repeat(64)])).toThrow(InvalidSubjectEntryError);
  });

  it('refuses a valid_until that is not a date, and non-finite values', () => {
    expect(() => subjectEntry(sources([], [feature('api', true, 'soon')]), [])).toThrow(InvalidSubjectEntryError);
    expect(() => subjectEntry(sources([], [feature('n', Number.POSITIVE_INFINITY, null)]), [])).toThrow(
      InvalidSubjectEntryError,
    );
  });
});
