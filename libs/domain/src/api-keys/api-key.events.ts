import { z } from 'zod';

export const API_KEY_CREATED = 'api_key.created';
export const API_KEY_REVOKED = 'api_key.revoked';
export const API_KEY_EVENT_TYPES = [API_KEY_CREATED, API_KEY_REVOKED] as const;
export type ApiKeyEventType = (typeof API_KEY_EVENT_TYPES)[number];

export const isApiKeyEventType = (type: string): type is ApiKeyEventType =>
  (API_KEY_EVENT_TYPES as readonly string[]).includes(type);

const subject = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');
const keyId = z.string().regex(/^ak_[0-9a-f]{16}$/, 'an API key id looks like ak_ and 16 hex digits');
const actor = z.string().min(1).max(255);
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'lowercase SHA-256 hex');

/** Body of `POST /v1/admin/subjects/{subject}/api-keys`. */
export const apiKeyCreateRequestSchema = z.object({ name: z.string().trim().min(1, 'name the key (who or what uses it)').max(200) }).strict();
export type ApiKeyCreateRequest = z.infer<typeof apiKeyCreateRequestSchema>;

/** Optional body of `DELETE /v1/admin/subjects/{subject}/api-keys/{id}`. */
export const apiKeyRevokeRequestSchema = z.object({ reason: z.string().trim().min(1).max(1000).optional() }).strict();
export type ApiKeyRevokeRequest = z.infer<typeof apiKeyRevokeRequestSchema>;

/** Payload of `api_key.created`: the key itself is never recorded, only its SHA-256. */
export interface ApiKeyCreatedData {
  readonly subject: string;
  readonly id: string;
  readonly name: string;
  readonly sha256: string;
  readonly actor: string;
}

/** Payload of `api_key.revoked`. */
export interface ApiKeyRevokedData {
  readonly subject: string;
  readonly id: string;
  readonly reason: string | null;
  readonly actor: string;
}

export const apiKeyCreatedDataSchema = z.object({ subject, id: keyId, name: z.string().min(1).max(200), sha256: sha256Hex, actor });
export const apiKeyRevokedDataSchema = z.object({ subject, id: keyId, reason: z.string().max(1000).nullable(), actor });
export const isApiKeyId = (id: string): boolean => keyId.safeParse(id).success;
