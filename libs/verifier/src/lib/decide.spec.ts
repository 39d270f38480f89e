import type { CriticalityClass } from '@app/domain';
import type { FeatureClass } from '../types.js';
import { evaluateGrants, graceFor, isAllowed } from './decide.js';

// The verifier stays free of the domain at runtime, but its class vocabulary must not drift.
const toDomain = (c: FeatureClass): CriticalityClass => c;
const fromDomain = (c: CriticalityClass): FeatureClass => c;

describe('evaluateGrants', () => {
  const t = Date.parse('2026-06-01T00:00:00.000Z');

  it('ORs booleans and takes the max of numbers over live grants (valid_until exclusive)', () => {
    expect(evaluateGrants([{ value: false, until: null }, { value: true, until: t + 1 }], t)).toEqual({ value: true, reason: 'granted' });
    expect(evaluateGrants([{ value: 100, until: t }, { value: 50, until: null }], t)).toEqual({ value: 50, reason: 'granted' });
    expect(evaluateGrants([{ value: 100, until: t }], t)).toEqual({ value: null, reason: 'expired_grant' });
    expect(evaluateGrants([{ value: false, until: null }], t)).toEqual({ value: false, reason: 'not_granted' });
    expect(evaluateGrants(undefined, t)).toEqual({ value: null, reason: 'not_granted' });
  });

  it('allows true and positive limits only', () => {
    expect([true, false, 1, 0, -1, null].map(isAllowed)).toEqual([true, false, true, false, false, false]);
  });

  it('gives class A and B their grace, class C none', () => {
    expect(['A', 'B', 'C'].map((c) => graceFor(fromDomain(toDomain(c as FeatureClass)), 10, 5))).toEqual([10, 5, null]);
  });
});
