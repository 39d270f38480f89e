import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/auth.decorators.js';
import { HealthRegistry } from './health.registry.js';

@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(private readonly registry: HealthRegistry) {}

  /** The process is up and its event loop answers. */
  @Public()
  @ApiOperation({ summary: 'Liveness: the process answers' })
  @ApiOkResponse({ schema: { example: { status: 'ok' } } })
  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Each component with its criticality class; 503 only when a class A path cannot be served. */
  @Public()
  @ApiOperation({ summary: 'Readiness: every component with its criticality class' })
  @ApiOkResponse({ description: 'ok or degraded: every class A path can be served', schema: { example: { status: 'degraded', components: [{ name: 'database', class: 'A', status: 'down', detail: 'PostgreSQL unreachable; snapshots served from memory' }, { name: 'snapshots', class: 'A', status: 'ok', detail: 'manifest seq 812, ver 1234, 12 s old' }, { name: 'projector', class: 'B', status: 'ok', detail: 'lag 0 events' }] } } })
  @Get('ready')
  @ApiOkResponse({ description: 'ok or degraded: every class A path can be served' })
  @ApiServiceUnavailableResponse({ description: 'down: a class A path cannot be served' })
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<unknown> {
    const report = await this.registry.report();
    void reply.status(report.status === 'down' ? 503 : 200);
    return report;
  }
}
