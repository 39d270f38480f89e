import { Body, Controller, Delete, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiNoContentResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { SCOPES } from '../config/ledger.config.js';
import { ValidationError, fieldErrors } from '../http/problem.errors.js';
import { CurrentPrincipal, RequireScope, type Principal } from './auth.decorators.js';
import { TokenService } from './token.service.js';

const mintSchema = z
  .object({
    name: z.string().min(1).max(200),
    scopes: z.array(z.enum(SCOPES)).min(1).max(SCOPES.length),
  })
  .strict();

@ApiTags('admin')
@ApiBearerAuth()
@Controller('v1/admin/tokens')
export class TokensController {
  constructor(private readonly tokens: TokenService) {}

  /** Mints a scoped token. The secret is in this answer only. */
  @ApiOperation({ summary: 'Mint a scoped API token (shown once)' })
  @ApiBody({ schema: { example: { name: 'billing-webhooks', scopes: ['events:write'] } } })
  @ApiCreatedResponse({ schema: { example: { id: '3f9c2a7d1e5b4c68', token: 'lgr_3f9c2a7d1e5b4c68_Zq0…', scopes: ['events:write'] } } })
  @Post()
  @HttpCode(201)
  @RequireScope('admin')
  async mint(@Body() body: unknown, @CurrentPrincipal() who: Principal): Promise<{ id: string; token: string; scopes: string[] }> {
    const parsed = mintSchema.safeParse(body);
    if (!parsed.success) throw new ValidationError('invalid token request', fieldErrors(parsed.error.issues));
    return this.tokens.mint(parsed.data.name, parsed.data.scopes, `${who.kind}:${who.id}`);
  }

  /** Revokes a token: at once on this instance, within 5 s on every other. */
  @ApiOperation({ summary: 'Revoke an API token' })
  @ApiNoContentResponse({ description: 'revoked: at once here, within 5 s on every instance' })
  @Delete(':id')
  @HttpCode(204)
  @RequireScope('admin')
  async revoke(@Param('id') id: string, @CurrentPrincipal() who: Principal): Promise<void> {
    await this.tokens.revoke(id, `${who.kind}:${who.id}`);
  }
}
