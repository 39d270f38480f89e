import { grantRequestSchema, revokeRequestSchema } from './grant.events.js';

describe('admin grant request bodies', () => {
  it('accept a grant without expiry as never expiring, and normalise an expiry to UTC', () => {
    expect(grantRequestSchema.parse({ feature: 'seats', value: 50, reason: 'pilot' })).toEqual({
      feature: 'seats',
      value: 50,
      expires_at: null,
      reason: 'pilot',
    });
    expect(
      grantRequestSchema.parse({ feature: 'beta', value: true, expires_at: '2027-01-01T01:00:00+01:00', reason: 'pilot' })
        .expires_at,
    ).toBe('2027-01-01T00:00:00.000Z');
  });

  it.each([
    ['no reason', { feature: 'beta', value: true }],
    ['a blank reason', { feature: 'beta', value: true, reason: '  ' }],
    ['a per_unit value', { feature: 'seats', value: { per_unit: 1 }, reason: 'x' }],
    ['an unknown field', { feature: 'beta', value: true, reason: 'x', subject: 'org_1' }],
    ['a feature name with spaces', { feature: 'my feature', value: true, reason: 'x' }],
    ['an expiry without a time zone', { feature: 'beta', value: true, reason: 'x', expires_at: '2027-01-01T00:00:00' }],
  ])('reject a grant with %s', (_name, body) => {
    expect(grantRequestSchema.safeParse(body).success).toBe(false);
  });

  it('require a reason to revoke', () => {
    expect(revokeRequestSchema.parse({ reason: 'ticket closed' })).toEqual({ reason: 'ticket closed' });
    expect(revokeRequestSchema.safeParse({}).success).toBe(false);
  });
});
