import { z } from 'zod';

const featureName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'feature names use letters, digits, "_", ".", ":" and "-"');

export const featureValueSchema = z.union([
  z.boolean(),
  z.number().finite(),
  z.object({ per_unit: z.number().finite() }).strict(),
]);
export type FeatureValue = z.infer<typeof featureValueSchema>;

export const CRITICALITY_CLASSES = ['A', 'B', 'C'] as const;
export type CriticalityClass = (typeof CRITICALITY_CLASSES)[number];

const refs = z.array(z.string().min(1).max(255)).max(1000).default([]);

export const planSchema = z
  .object({
    id: z.string().min(1).max(255),
    tier: z.number().int().min(0),
    stripe: z.object({ lookup_keys: refs, prices: refs, products: refs }).strict().optional(),
    paddle: z.object({ prices: refs, products: refs }).strict().optional(),
    features: z.record(featureName, featureValueSchema),
  })
  .strict();
export type Plan = z.infer<typeof planSchema>;

/** `plans.json`, as CONTRACT.md defines it. */
export const catalogSchema = z
  .object({
    plans: z.array(planSchema).max(10_000),
    classes: z.record(featureName, z.enum(CRITICALITY_CLASSES)).default({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.plans.forEach((p, i) => {
      if (seen.has(p.id)) ctx.addIssue({ code: 'custom', path: ['plans', i, 'id'], message: `duplicate plan id ${p.id}` });
      seen.add(p.id);
    });
  });
export type Catalog = z.infer<typeof catalogSchema>;

export const EMPTY_CATALOG: Catalog = { plans: [], classes: {} };
