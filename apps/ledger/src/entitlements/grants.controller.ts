import { randomUUID } from 'node:crypto';
import { Body, Controller, Delete, Headers, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { grantRequestSchema, revokeRequestSchema, type GrantAddedData, type GrantRevokedData } from '@app/domain';
import { AdminEvents } from '../admin/admin-events.js';
import { CurrentPrincipal, RequireScope, type Principal } from '../auth/auth.decorators.js';
import { ValidationError, fieldErrors } from '../http/problem.errors.js';
import { parseSubject } from './subject.params.js';

const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,128}$/;

/** Admin grants and revocations: events in the log, with actor and reason. */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('v1/admin/subjects/:subject/grants')
export class GrantsController {
  constructor(private readonly admin: AdminEvents) {}

  @ApiOperation({ summary: 'Grant a feature to a subject (an event with actor and reason)' })
  @ApiBody({ schema: { example: { feature: 'beta_reports', value: true, expires_at: '2027-01-01T00:00:00Z', reason: 'design partner' } } })
  @ApiCreatedResponse({ schema: { example: { position: 1301, duplicate: false, grant: { subject: 'org_42', feature: 'beta_reports', value: true, expires_at: '2027-01-01T00:00:00Z', reason: 'design partner', actor: 'token:3f9c2a7d1e5b4c68' } } } })
  @Post()
  @HttpCode(201)
  @RequireScope('admin')
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'a retry with the same key records the grant once' })
  async grant(
    @Param('subject') subject: string,
    @Body() body: unknown,
    @Headers('idempotency-key') key: string | undefined,
    @CurrentPrincipal() who: Principal,
  ): Promise<{ position: number; duplicate: boolean; grant: GrantAddedData }> {
    const s = parseSubject(subject);
    const r = grantRequestSchema.safeParse(body);
    if (!r.success) throw new ValidationError('invalid grant', fieldErrors(r.error.issues));
    const data: GrantAddedData = { subject: s, ...r.data, actor: `${who.kind}:${who.id}` };
    const result = await this.record('grant.added', s, data, key);
    return { ...result, grant: data };
  }

  @ApiOperation({ summary: 'Revoke an admin grant (an event with actor and reason)' })
  @ApiBody({ schema: { example: { reason: 'trial over' } } })
  @ApiOkResponse({ schema: { example: { position: 1302, duplicate: false, revocation: { subject: 'org_42', feature: 'beta_reports', reason: 'trial over', actor: 'token:3f9c2a7d1e5b4c68' } } } })
  @Delete(':feature')
  @HttpCode(200)
  @RequireScope('admin')
  async revoke(
    @Param('subject') subject: string,
    @Param('feature') feature: string,
    @Body() body: unknown,
    @Headers('idempotency-key') key: string | undefined,
    @CurrentPrincipal() who: Principal,
  ): Promise<{ position: number; duplicate: boolean; revocation: GrantRevokedData }> {
    const s = parseSubject(subject);
    const r = revokeRequestSchema.safeParse(body ?? {});
    if (!r.success) throw new ValidationError('invalid revocation', fieldErrors(r.error.issues));
    const data: GrantRevokedData = { subject: s, feature, reason: r.data.reason, actor: `${who.kind}:${who.id}` };
    const result = await this.record('grant.revoked', s, data, key);
    return { ...result, revocation: data };
  }

  private async record(type: string, subject: string, data: GrantAddedData | GrantRevokedData, key: string | undefined) {
    if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
      throw new ValidationError('invalid Idempotency-Key', [{ path: 'Idempotency-Key', message: 'use 1-128 letters, digits, ".", "_", ":" or "-"' }]);
    }
    const recorded = await this.admin.record({
      type,
      streamId: `grants:${subject}`,
      sourceEventId: key ? `${type}:${subject}:${key}` : `${type}:${randomUUID()}`,
      subject,
      data,
    });
    return { position: recorded.position, duplicate: recorded.duplicate };
  }
}
