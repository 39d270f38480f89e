import fc from 'fast-check';
import { ingestEventSchema, SUBSCRIPTION_EVENT_TYPES, SUBSCRIPTION_STATUSES } from '@app/domain';
import { sha256OfCanonical } from '@app/billing';
import { encodeIngestEvent } from './ingest-payload.hash.js';

/** The definition stored hashes were made with. */
const byDefinition = (e: { type: unknown; occurred_at: unknown; subscription: unknown }): string =>
  sha256OfCanonical({ type: e.type, occurred_at: e.occurred_at, subscription: e.subscription }).toString('hex');

const text = fc.string({ unit: 'binary', maxLength: 40 });
const instant = fc.oneof(fc.constant(null), text);
/** Objects of the schema's output shape, members in sorted order, strings of any code points. */
const sortedEvent = fc.record({
  type: text,
  occurred_at: text,
  subscription: fc.record({
    cancel_at: instant,
    cancel_at_period_end: fc.boolean(),
    current_period_end: instant,
    ended_at: instant,
    id: text,
    plan: text,
    quantity: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
    status: text,
    subject: text,
    trial_end: instant,
  }),
});
/** The same, members in any order. */
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

/** The data the log holds for an ingest event. */
const dataOf = (e: { occurred_at: unknown; subscription: unknown }): unknown => ({ occurred_at: e.occurred_at, subscription: e.subscription, plan_refs: null });

describe('encodeIngestEvent', () => {
  it.each([
    ['in sorted order (the schema’s)', sortedEvent],
    ['in any order', parsedEvent],
  ])('hashes the canonical JSON and writes the data of every event of the schema’s shape, members %s', (_order, events) => {
    fc.assert(
      fc.property(events, (e) => {
        const encoded = encodeIngestEvent(e as never);
        expect(encoded.payloadHash.toString('hex')).toBe(byDefinition(e));
        expect(JSON.parse(encoded.data)).toEqual(JSON.parse(JSON.stringify(dataOf(e))));
      }),
      { numRuns: 5_000 },
    );
  });

  it('gets the schema’s output with its members in sorted order, the canonical one', () => {
    const e = ingestEventSchema.parse({ id: 'e1', type: 'subscription.created', occurred_at: '2026-11-24T10:00:00Z', subscription: { subject: 'org_1', id: 'sub_1', status: 'active', plan: 'pro' } });
    const members = Object.keys(e.subscription);
    expect(members).toEqual([...members].sort());
    expect(encodeIngestEvent(e).data).toBe(JSON.stringify({ occurred_at: e.occurred_at, subscription: e.subscription, plan_refs: null }));
  });

  it('hashes and writes what the schema itself outputs, defaults and normalised instants included', () => {
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
        const encoded = encodeIngestEvent(e);
        expect(encoded.payloadHash.toString('hex')).toBe(byDefinition(e));
        expect(JSON.parse(encoded.data)).toEqual(dataOf(e));
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
    for (const e of shapes) {
      const encoded = encodeIngestEvent(e as never);
      expect(encoded.payloadHash.toString('hex')).toBe(byDefinition(e));
      expect(encoded.data).toBe(JSON.stringify(dataOf(e)));
    }
  });
});
