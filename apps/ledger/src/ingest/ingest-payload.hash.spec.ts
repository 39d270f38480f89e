import fc from 'fast-check';
import { ingestEventSchema, SUBSCRIPTION_EVENT_TYPES, SUBSCRIPTION_STATUSES } from '@app/domain';
import { sha256OfCanonical } from '@app/billing';
import { ingestPayloadHash } from './ingest-payload.hash.js';

/** The definition stored hashes were made with. */
const byDefinition = (e: { type: unknown; occurred_at: unknown; subscription: unknown }): string =>
  sha256OfCanonical({ type: e.type, occurred_at: e.occurred_at, subscription: e.subscription }).toString('hex');

const text = fc.string({ unit: 'binary', maxLength: 40 });
const instant = fc.oneof(fc.constant(null), text);
/** Objects of the schema's output shape, members in any order, strings of any code points. */
const parsedEvent = fc
  .record({
    type: text,
    occurred_at: text,
    subscription: fc.record({
      id: text,
      subject: text,
      plan: text,
      status: text,
      quantity: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
      current_period_end: instant,
      cancel_at_period_end: fc.boolean(),
      cancel_at: instant,
      ended_at: instant,
      trial_end: instant,
    }),
  })
  .chain((e) =>
    fc.shuffledSubarray(Object.keys(e.subscription), { minLength: 10, maxLength: 10 }).map((order) => ({
      ...e,
      subscription: Object.fromEntries(order.map((k) => [k, (e.subscription as Record<string, unknown>)[k]])),
    })),
  );

describe('ingestPayloadHash', () => {
  it('equals the SHA-256 of the canonical JSON for every event of the schema’s shape', () => {
    fc.assert(
      fc.property(parsedEvent, (e) => {
        expect(ingestPayloadHash(e as never).toString('hex')).toBe(byDefinition(e));
      }),
      { numRuns: 5_000 },
    );
  });

  it('equals it for what the schema itself outputs, defaults and normalised instants included', () => {
    const input = fc.record(
      {
        id: fc.stringMatching(/^[\x21-\x7e]{1,20}$/),
        type: fc.constantFrom(...SUBSCRIPTION_EVENT_TYPES),
        occurred_at: fc.constantFrom('2026-11-24T10:00:00Z', '2026-11-24T11:00:00.123456+01:00', '2026-11-24T10:00:00.000Z'),
        subscription: fc.record(
          {
            id: fc.stringMatching(/^[\x21-\x7e]{1,20}$/),
            subject: fc.stringMatching(/^[\x21-\x7e]{1,20}$/),
            plan: fc.stringMatching(/^[\x21-\x7e]{1,20}$/),
            status: fc.constantFrom(...SUBSCRIPTION_STATUSES),
            quantity: fc.integer({ min: 0, max: 1_000_000_000 }),
            current_period_end: fc.constantFrom(null, '2026-12-24T10:00:00-05:00'),
            cancel_at_period_end: fc.boolean(),
            cancel_at: fc.constantFrom(null, '2026-12-24T10:00:00Z'),
          },
          { requiredKeys: ['id', 'subject', 'plan', 'status'] },
        ),
      },
      { requiredKeys: ['id', 'type', 'occurred_at', 'subscription'] },
    );
    fc.assert(
      fc.property(input, (raw) => {
        const e = ingestEventSchema.parse(raw);
        expect(ingestPayloadHash(e).toString('hex')).toBe(byDefinition(e));
      }),
      { numRuns: 2_000 },
    );
  });

  it('falls back to the generic form for any other shape', () => {
    const base = {
      type: 'subscription.updated',
      occurred_at: '2026-11-24T10:00:00.000Z',
      subscription: {
        id: 'sub_1',
        subject: 'org_1',
        plan: 'pro',
        status: 'active',
        quantity: 1,
        current_period_end: null,
        cancel_at_period_end: false,
        cancel_at: null,
        ended_at: null,
        trial_end: null,
      },
    };
    const { trial_end: _dropped, ...nine } = base.subscription;
    const shapes = [
      { ...base, subscription: { ...base.subscription, extra: 1 } },
      { ...base, subscription: { ...nine, renamed: null } },
      { ...base, subscription: nine },
      { ...base, subscription: { ...base.subscription, quantity: Infinity } },
      { ...base, subscription: { ...base.subscription, plan: { nested: ['x', undefined] } } },
      { ...base, subscription: { ...base.subscription, trial_end: undefined } },
      { ...base, subscription: { ...base.subscription, trial_end: new Date(0) } },
      { ...base, subscription: Object.assign(Object.create(null), base.subscription) },
      { ...base, subscription: Object.assign(Object.create({ inherited: 1 }), base.subscription) },
      { ...base, subscription: Object.assign(Object.create({ plan: 'inherited' }), nine, { extra: 1 }) },
      { ...base, subscription: { ...base.subscription, toJSON: () => 'replaced' } },
      { ...base, subscription: Object.values(base.subscription) },
      { ...base, type: 7 },
    ];
    for (const e of shapes) expect(ingestPayloadHash(e as never).toString('hex')).toBe(byDefinition(e));
  });
});
