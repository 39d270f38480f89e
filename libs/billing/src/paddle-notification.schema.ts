import { isoInstant } from '@app/domain';
import { z } from 'zod';
import { idSchema } from './mapping.helpers.js';

/** What every Paddle Billing notification must carry. Unknown members are kept. Internal. */
export const paddleNotificationSchema = z.looseObject({
  event_id: idSchema,
  event_type: z.string().min(1).max(255),
  occurred_at: isoInstant,
  data: z.looseObject({}),
});
export type PaddleNotificationEnvelope = z.output<typeof paddleNotificationSchema>;

const paddleItemSchema = z.looseObject({
  quantity: z.number().int().min(0).max(1_000_000_000).nullish(),
  price: z
    .looseObject({
      id: z.string().min(1).max(255),
      product_id: z.string().max(255).nullish(),
    })
    .nullish(),
  product: z.looseObject({ id: z.string().max(255) }).nullish(),
  trial_dates: z.looseObject({ ends_at: isoInstant.nullish() }).nullish(),
});

/** The members of a Paddle Subscription entity we read, with their documented types. Internal. */
export const paddleSubscriptionSchema = z.looseObject({
  id: z.string().nullish(),
  status: z.string().nullish(),
  customer_id: z.string().nullish(),
  custom_data: z.record(z.string(), z.unknown()).nullish(),
  items: z.array(paddleItemSchema).nullish(),
  current_billing_period: z.looseObject({ ends_at: isoInstant.nullish() }).nullish(),
  scheduled_change: z.looseObject({ action: z.string(), effective_at: isoInstant.nullish() }).nullish(),
  canceled_at: isoInstant.nullish(),
});
