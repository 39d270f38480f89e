import { createHash, randomBytes } from 'node:crypto';
import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type pg from 'pg';
import {
  API_KEY_CREATED,
  API_KEY_REVOKED,
  apiKeyCreateRequestSchema,
  apiKeyRevokeRequestSchema,
  isApiKeyId,
  type ApiKeyCreatedData,
  type ApiKeyRevokedData,
  type SubjectApiKeysFold,
} from '@app/domain';
import { AdminEvents } from '../admin/admin-events.js';
import { CurrentPrincipal, RequireScope, type Principal } from '../auth/auth.decorators.js';
import { PG_POOL } from '../database/database.module.js';
import { NotFoundError, ValidationError, fieldErrors } from '../http/problem.errors.js';
import { parseSubject } from './subject.params.js';

/** Prefix of every subject API key, so a leaked one is recognisable by secret scanners. */
export const API_KEY_PREFIX = 'lsk_';

/**
 * A subject's API keys, for verifiers that authenticate a customer's calls offline: the key
 * is shown once; the log and the model keep its SHA-256, which travels in the subject's shard
 * entry. Issue and revoke are events in the log with their actor.
 */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('v1/admin/subjects/:subject/api-keys')
export class ApiKeysController {
  constructor(
    private readonly admin: AdminEvents,
    @Inject(PG_POOL) private readonly pool: pg.Pool,
  ) {}

  /** Issues a key. The key is in this answer only. */
  @ApiOperation({ summary: 'Issue an API key for a subject (shown once; its SHA-256 is published)' })
  @ApiBody({ schema: { example: { name: 'ci pipeline' } } })
  @ApiCreatedResponse({ schema: { example: { id: 'ak_5e0d4c3b2a190817', key: 'lsk_q8V…', name: 'ci pipeline', subject: 'org_42', position: 1310 } } })
  @Post()
  @HttpCode(201)
  @RequireScope('admin')
  async create(
    @Param('subject') subject: string,
    @Body() body: unknown,
    @CurrentPrincipal() who: Principal,
  ): Promise<{ id: string; key: string; name: string; subject: string; position: number }> {
    const s = parseSubject(subject);
    const r = apiKeyCreateRequestSchema.safeParse(body);
    if (!r.success) throw new ValidationError('invalid API key request', fieldErrors(r.error.issues));
    const id = `ak_${randomBytes(8).toString('hex')}`;
    const key = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
    const data: ApiKeyCreatedData = {
      subject: s,
      id,
      name: r.data.name,
      sha256: createHash('sha256').update(key).digest('hex'),
      actor: `${who.kind}:${who.id}`,
    };
    const recorded = await this.admin.record({ type: API_KEY_CREATED, streamId: `api-keys:${s}`, sourceEventId: `${API_KEY_CREATED}:${id}`, subject: s, data });
    return { id, key, name: data.name, subject: s, position: recorded.position };
  }

  /** The subject's live keys as the model holds them (never the keys; not their hashes either). */
  @ApiOperation({ summary: "A subject's live API keys (ids and names)" })
  @ApiOkResponse({ schema: { example: { subject: 'org_42', position: 1310, api_keys: [{ id: 'ak_5e0d4c3b2a190817', name: 'ci pipeline', created_at: '2026-11-24T10:00:00.000Z', actor: 'token:3f9c2a7d1e5b4c68' }] } } })
  @Get()
  @RequireScope('admin')
  async list(@Param('subject') subject: string): Promise<{ subject: string; position: number; api_keys: Array<{ id: string; name: string; created_at: string; actor: string }> }> {
    const s = parseSubject(subject);
    const { rows } = await this.pool.query<{ api_keys: SubjectApiKeysFold | null; position: string }>(
      'SELECT api_keys, position FROM ent_subjects WHERE subject = $1',
      [s],
    );
    const fold = rows[0]?.api_keys;
    return {
      subject: s,
      position: Number(rows[0]?.position ?? 0),
      api_keys: (fold?.keys ?? []).map((k) => ({ id: k.id, name: k.name, created_at: k.created_at, actor: k.actor })),
    };
  }

  /** Revokes a key; revoking it again answers the first revocation (`duplicate: true`). */
  @ApiOperation({ summary: "Revoke a subject's API key" })
  @ApiBody({ schema: { example: { reason: 'leaked in a build log' } } })
  @ApiOkResponse({ schema: { example: { id: 'ak_5e0d4c3b2a190817', subject: 'org_42', position: 1311, duplicate: false } } })
  @Delete(':id')
  @HttpCode(200)
  @RequireScope('admin')
  async revoke(
    @Param('subject') subject: string,
    @Param('id') id: string,
    @Body() body: unknown,
    @CurrentPrincipal() who: Principal,
  ): Promise<{ id: string; subject: string; position: number; duplicate: boolean }> {
    const s = parseSubject(subject);
    const r = apiKeyRevokeRequestSchema.safeParse(body ?? {});
    if (!r.success) throw new ValidationError('invalid revocation', fieldErrors(r.error.issues));
    if (!isApiKeyId(id)) throw new NotFoundError(`no API key ${JSON.stringify(id.slice(0, 64))} for subject ${s}`);
    // The log decides, not the (possibly lagging) model: was it issued to this subject, and revoked?
    const { rows } = await this.pool.query<{ type: string; position: string }>(
      `SELECT type, position FROM events
        WHERE subject = $1 AND type = ANY($2::text[]) AND data->>'id' = $3
        ORDER BY position`,
      [s, [API_KEY_CREATED, API_KEY_REVOKED], id],
    );
    if (!rows.some((x) => x.type === API_KEY_CREATED)) throw new NotFoundError(`no API key ${id} for subject ${s}`);
    const earlier = rows.find((x) => x.type === API_KEY_REVOKED);
    if (earlier) return { id, subject: s, position: Number(earlier.position), duplicate: true };
    const data: ApiKeyRevokedData = { subject: s, id, reason: r.data.reason ?? null, actor: `${who.kind}:${who.id}` };
    // One revocation per key: a concurrent second one is deduplicated by the log (or 409 if it differs).
    const recorded = await this.admin.record({ type: API_KEY_REVOKED, streamId: `api-keys:${s}`, sourceEventId: `${API_KEY_REVOKED}:${id}`, subject: s, data });
    return { id, subject: s, position: recorded.position, duplicate: recorded.duplicate };
  }
}
