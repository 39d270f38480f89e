import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/auth.decorators.js';
import { HealthRegistry } from './health.registry.js';

@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(private readonly registry: HealthRegistry) {}

  /** The process is up and its event loop answers. */
  @Public()
  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Each component with its criticality class; 503 only when a class A path cannot be served. */
  @Public()
  @Get('ready')
  @ApiOkResponse({ description: 'ok or degraded: every class A path can be served' })
  @ApiServiceUnavailableResponse({ description: 'down: a class A path cannot be served' })
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<unknown> {
    const report = await this.registry.report();
    void reply.status(report.status === 'down' ? 503 : 200);
    return report;
  }
}
