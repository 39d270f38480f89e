import { z } from 'zod';
import { idSchema } from './mapping.helpers.js';

// Up to 9999-12-31: every accepted value has an ISO-8601 form.
const unixSeconds = z.number().int().min(0).max(253_402_300_799);
const idOrExpanded = z.union([z.string(), z.looseObject({ id: z.string() })]);

/** What every Stripe event must carry. Unknown members are kept. Internal. */
export const stripeEventSchema = z.looseObject({
  id: idSchema,
  type: z.string().min(1).max(255),
  created: unixSeconds,
  data: z.looseObject({ object: z.looseObject({}) }),
});
export type StripeEventEnvelope = z.output<typeof stripeEventSchema>;

const stripeItemSchema = z.looseObject({
  price: z
    .looseObject({
      id: z.string().min(1).max(255),
      lookup_key: z.string().max(255).nullish(),
      product: idOrExpanded.nullish(),
    })
    .nullish(),
  quantity: z.number().int().min(0).max(1_000_000_000).nullish(),
  // API versions 2025-03-31.basil and later keep the period on the items only.
  current_period_end: unixSeconds.nullish(),
});

/** The members of a Stripe Subscription we read, with their documented types. Internal. */
export const stripeSubscriptionSchema = z.looseObject({
  id: z.string().nullish(),
  customer: idOrExpanded.nullish(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
  status: z.string().nullish(),
  items: z.looseObject({ data: z.array(stripeItemSchema) }).nullish(),
  current_period_end: unixSeconds.nullish(),
  cancel_at_period_end: z.boolean().nullish(),
  cancel_at: unixSeconds.nullish(),
  ended_at: unixSeconds.nullish(),
  trial_end: unixSeconds.nullish(),
  pause_collection: z.looseObject({}).nullish(),
});

/** `entitlements.active_entitlement_summary`, as far as we read it. Internal. */
export const stripeEntitlementSummarySchema = z.looseObject({
  customer: idOrExpanded.nullish(),
  entitlements: z
    .looseObject({
      data: z.array(
        z.looseObject({
          lookup_key: z.string().nullish(),
          feature: z.union([z.string(), z.looseObject({ id: z.string(), lookup_key: z.string().nullish() })]).nullish(),
        }),
      ),
      has_more: z.boolean().nullish(),
    })
    .nullish(),
});
