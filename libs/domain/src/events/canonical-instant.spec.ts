import fc from 'fast-check';
import { canonicalInstant, isCanonicalInstant } from './canonical-instant.js';
import { isoInstant } from './subscription.events.js';

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

describe('canonicalInstant (the schema’s normalisation)', () => {
  it('is toISOString() of every instant the schema accepts, in every shape senders use (property)', () => {
    const shapes = (d: Date): string[] => {
      const iso = d.toISOString();
      const hours = (d.getUTCMinutes() % 14) - 7;
      const offset = new Date(d.getTime() + hours * 3_600_000).toISOString().slice(0, 23);
      return [iso, `${iso.slice(0, 19)}Z`, `${iso.slice(0, 22)}Z`, `${iso.slice(0, 23)}456Z`, `${offset}${hours < 0 ? '-' : '+'}${String(Math.abs(hours)).padStart(2, '0')}:00`];
    };
    fc.assert(
      fc.property(fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }), (d) => {
        for (const s of shapes(d)) {
          const parsed = isoInstant.safeParse(s);
          expect([s, parsed.success]).toEqual([s, true]);
          if (parsed.success) expect([s, parsed.data]).toEqual([s, new Date(s).toISOString()]);
          expect(canonicalInstant(s)).toBe(new Date(s).toISOString());
        }
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('isoInstant on what is not an instant', () => {
  it('answers an issue, never throws, for any string or value (property)', () => {
    const near = fc.oneof(
      fc.string(),
      fc.constantFrom('yesterday', '2026-02-30T10:00:00Z', '2026-11-24T10:00:00', `2026-11-24T10:00:00.${'1'.repeat(30)}Z`, ''),
      fc.date({ noInvalidDate: true }).map((d) => `${d.toISOString().slice(0, 19)}${'9'.repeat(25)}Z`),
    );
    fc.assert(
      fc.property(fc.oneof(near, fc.anything()), (v) => {
        const parsed = isoInstant.safeParse(v);
        if (parsed.success) expect(parsed.data).toBe(new Date(parsed.data).toISOString());
        else expect(parsed.error.issues.length).toBeGreaterThan(0);
      }),
      { numRuns: 2_000 },
    );
  });
});
