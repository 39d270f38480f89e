import { mapPaddleNotification, mapStripeEvent, paddleDedupeHash, stripeDedupeHash } from '@app/billing';
import { subjectHint, webhookEvent } from './webhook-event.builder.js';

const invoice = (object: Record<string, unknown>): Record<string, unknown> => ({
  id: 'evt_1',
  object: 'event',
  type: 'invoice.paid',
  created: 1794736805,
  api_version: '2025-03-31.basil',
  data: { object: { id: 'in_1', object: 'invoice', ...object } },
});

describe('subjectHint', () => {
  it.each([
    ['the ledger subject in metadata', { customer: 'cus_1', metadata: { ledger_subject: 'org_42' } }, 'org_42'],
    ['else the customer id', { customer: 'cus_1', metadata: {} }, 'cus_1'],
    ['an expanded customer', { customer: { id: 'cus_2', object: 'customer' } }, 'cus_2'],
    ['none for an invalid ledger subject, rather than the customer', { customer: 'cus_1', metadata: { ledger_subject: 'org 42' } }, undefined],
    ['none without either', { customer: null }, undefined],
  ])('Stripe: %s', (_name, object, subject) => {
    expect(subjectHint('stripe', invoice(object))).toBe(subject);
  });

  it('Paddle: custom_data.ledger_subject, else customer_id', () => {
    const notification = (data: Record<string, unknown>) => ({ event_id: 'evt_01', event_type: 'transaction.completed', data });
    expect(subjectHint('paddle', notification({ customer_id: 'ctm_1', custom_data: { ledger_subject: 'org_7' } }))).toBe('org_7');
    expect(subjectHint('paddle', notification({ customer_id: 'ctm_1', custom_data: null }))).toBe('ctm_1');
    expect(subjectHint('paddle', { data: [] })).toBeUndefined();
  });
});

describe('webhookEvent', () => {
  it('records an unused Stripe type as webhook.ignored, with the subject and the provider time', () => {
    const payload = invoice({ customer: 'cus_1' });
    const event = webhookEvent(mapStripeEvent(payload), payload, JSON.stringify(payload));
    expect(event).toMatchObject({
      streamId: 'webhook:stripe:ignored',
      type: 'webhook.ignored',
      source: 'stripe',
      sourceEventId: 'evt_1',
      subject: 'cus_1',
      data: { provider: 'stripe', provider_type: 'invoice.paid', reason: expect.stringContaining('invoice.paid'), subject: 'cus_1' },
      metadata: { provider_type: 'invoice.paid', api_version: '2025-03-31.basil' },
      raw: JSON.stringify(payload),
      occurredAt: new Date('2026-11-15T10:00:05.000Z'),
    });
    expect(event.payloadHash.equals(stripeDedupeHash(payload))).toBe(true);
  });

  it('records a Paddle subscription without a known status as webhook.unmappable, under its customer', () => {
    const payload = {
      event_id: 'evt_01x',
      event_type: 'subscription.updated',
      occurred_at: '2026-12-01T12:00:00.000512Z',
      notification_id: 'ntf_01x',
      data: { id: 'sub_01x', status: 'exploded', customer_id: 'ctm_9', items: [] },
    };
    const event = webhookEvent(mapPaddleNotification(payload), payload, JSON.stringify(payload));
    expect(event).toMatchObject({
      streamId: 'webhook:paddle:unmappable',
      type: 'webhook.unmappable',
      subject: 'ctm_9',
      data: { provider: 'paddle', provider_type: 'subscription.updated', reason: expect.stringContaining('exploded'), subject: 'ctm_9' },
      metadata: { provider_type: 'subscription.updated' },
      occurredAt: new Date('2026-12-01T12:00:00.000Z'),
    });
    expect(event.payloadHash.equals(paddleDedupeHash(payload))).toBe(true);
  });
});
