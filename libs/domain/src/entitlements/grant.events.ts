import { z } from 'zod';
import { isoInstant } from '../events/subscription.events.js';

export const GRANT_EVENT_TYPES = ['grant.added', 'grant.revoked'] as const;
export type GrantEventType = (typeof GRANT_EVENT_TYPES)[number];

// Same rule as the catalog's feature names, so an admin grant can name any plan feature.
const featureName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'feature names use letters, digits, "_", ".", ":" and "-"');
const reason = z.string().trim().min(1, 'say why (it is kept in the history)').max(1000);
const subject = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');
const actor = z.string().min(1).max(255);

export const grantValueSchema = z.union([z.boolean(), z.number().finite()]);
export type GrantValue = z.infer<typeof grantValueSchema>;

/** Body of `POST /v1/admin/subjects/{subject}/grants`. */
export const grantRequestSchema = z
  .object({
    feature: featureName,
    value: grantValueSchema,
    expires_at: isoInstant.nullable().default(null),
    reason,
  })
  .strict();
export type GrantRequest = z.infer<typeof grantRequestSchema>;

/** Body of `DELETE /v1/admin/subjects/{subject}/grants/{feature}`. */
export const revokeRequestSchema = z.object({ reason }).strict();
export type RevokeRequest = z.infer<typeof revokeRequestSchema>;

/** Payload of `grant.added`: an admin grant of one feature, replacing any earlier admin grant of it. */
export interface GrantAddedData {
  readonly subject: string;
  readonly feature: string;
  readonly value: GrantValue;
  /** Exclusive end (ISO-8601); null: until revoked. */
  readonly expires_at: string | null;
  readonly reason: string;
  readonly actor: string;
}

/** Payload of `grant.revoked`: removes the admin grant of that feature (never a plan's feature). */
export interface GrantRevokedData {
  readonly subject: string;
  readonly feature: string;
  readonly reason: string;
  readonly actor: string;
}

export const grantAddedDataSchema = z.object({
  subject,
  feature: featureName,
  value: grantValueSchema,
  expires_at: isoInstant.nullable(),
  reason,
  actor,
});

export const grantRevokedDataSchema = z.object({ subject, feature: featureName, reason, actor });
