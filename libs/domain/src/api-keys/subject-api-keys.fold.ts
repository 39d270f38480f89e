import type { LedgerEvent } from '../events/ledger-event.js';
import { apiKeyCreatedDataSchema, apiKeyRevokedDataSchema, isApiKeyEventType } from './api-key.events.js';

/** A live API key of a subject: its hash, never the key. */
export interface SubjectApiKey {
  readonly id: string;
  readonly name: string;
  readonly sha256: string;
  readonly actor: string;
  readonly created_at: string;
  readonly position: number;
}

/**
 * A subject's live API keys, sorted by id. Admin events are the ledger's own, so the log's
 * order is their order: `position` is the last one applied and anything at or below it is a
 * redelivery.
 */
export interface SubjectApiKeysFold {
  readonly subject: string;
  readonly position: number;
  readonly keys: readonly SubjectApiKey[];
}

export const initialSubjectApiKeys = (subject: string): SubjectApiKeysFold => ({ subject, position: 0, keys: [] });

/** The SHA-256 hex digests of the live keys, sorted: what travels in the subject's shard entry. */
export const apiKeyHashes = (fold: SubjectApiKeysFold | null | undefined): string[] =>
  (fold?.keys ?? []).map((k) => k.sha256).sort();

/**
 * Folds `api_key.created` (adds a key; a second event for a known id changes nothing) and
 * `api_key.revoked` (removes it) for one subject, in log order.
 *
 * @example
 * evolveSubjectApiKeys(initialSubjectApiKeys('org_42'), createdEvent).keys
 * // [{ id: 'ak_…', name: 'ci', sha256: '9f86…', … }]
 */
export function evolveSubjectApiKeys(fold: SubjectApiKeysFold, event: LedgerEvent): SubjectApiKeysFold {
  if (!isApiKeyEventType(event.type) || event.position <= fold.position) return fold;
  if (event.type === 'api_key.created') {
    const parsed = apiKeyCreatedDataSchema.safeParse(event.data);
    if (!parsed.success || parsed.data.subject !== fold.subject) return fold;
    const d = parsed.data;
    if (fold.keys.some((k) => k.id === d.id)) return { ...fold, position: event.position };
    const key: SubjectApiKey = { id: d.id, name: d.name, sha256: d.sha256, actor: d.actor, created_at: event.recorded_at, position: event.position };
    const keys = [...fold.keys, key].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { ...fold, position: event.position, keys };
  }
  const parsed = apiKeyRevokedDataSchema.safeParse(event.data);
  if (!parsed.success || parsed.data.subject !== fold.subject) return fold;
  return { ...fold, position: event.position, keys: fold.keys.filter((k) => k.id !== parsed.data.id) };
}
