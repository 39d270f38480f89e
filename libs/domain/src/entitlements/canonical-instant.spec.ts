import { isCanonicalInstant } from './subscription.fold.js';

/** The definition: the strings toISOString() maps to themselves. */
const byDate = (v: string): boolean => {
  const d = new Date(v);
  return !Number.isNaN(d.getTime()) && d.toISOString() === v;
};

describe('isCanonicalInstant', () => {
  it('agrees with toISOString() round-tripping on edge cases', () => {
    const cases = [
      '2026-11-24T10:00:00.000Z',
      '2024-02-29T23:59:59.999Z',
      '2023-02-29T00:00:00.000Z',
      '2000-02-29T00:00:00.000Z',
      '1900-02-29T00:00:00.000Z',
      '2026-04-31T00:00:00.000Z',
      '2026-12-31T24:00:00.000Z',
      '2026-12-31T23:60:00.000Z',
      '2026-12-31T23:59:60.000Z',
      '2026-00-10T00:00:00.000Z',
      '2026-13-10T00:00:00.000Z',
      '2026-01-00T00:00:00.000Z',
      '0000-01-01T00:00:00.000Z',
      '9999-12-31T23:59:59.999Z',
      '2026-11-24T10:00:00Z',
      '2026-11-24T10:00:00.000+00:00',
      '2026-11-24 10:00:00.000Z',
      '+002026-11-24T10:00:00.000Z',
    ];
    for (const c of cases) expect([c, isCanonicalInstant(c)]).toEqual([c, byDate(c)]);
    expect(isCanonicalInstant(null)).toBe(false);
    expect(isCanonicalInstant(1_700_000_000_000)).toBe(false);
  });

  it('agrees on 200,000 pseudo-random dates and times, valid and not', () => {
    let seed = 42;
    const rnd = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const pad = (n: number, w: number): string => String(n).padStart(w, '0');
    for (let i = 0; i < 200_000; i++) {
      const v = `${pad(rnd(10_000), 4)}-${pad(rnd(14), 2)}-${pad(rnd(33), 2)}T${pad(rnd(26), 2)}:${pad(rnd(62), 2)}:${pad(rnd(62), 2)}.${pad(rnd(1000), 3)}Z`;
      if (isCanonicalInstant(v) !== byDate(v)) throw new Error(`disagree on ${v}`);
    }
  });
});
