import { Body, Controller, Get, Header, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiBody, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { catalogSchema, isoInstant } from '@app/domain';
import { CurrentPrincipal, RequireScope, type Principal } from '../auth/auth.decorators.js';
import { readQuerySchema } from '../entitlements/subject.params.js';
import { ValidationError, fieldErrors } from '../http/problem.errors.js';
import { RebuildJobsService, type JobAnswer } from './rebuild-jobs.service.js';
import { ReplayService, type ReplayAnswer, type WhatIfAnswer } from './replay.service.js';

const rebuildSchema = z.object({ reason: z.string().trim().min(1).max(1000).optional() }).strict();
const whatIfSchema = z.object({ catalog: catalogSchema, at: isoInstant.optional() }).strict();

const JOB_EXAMPLE = {
  id: 'job_5f0c6a1e2b3d4c5e',
  kind: 'rebuild',
  target: 'entitlements',
  state: 'running',
  phase: 'folding',
  processed: 420000,
  total: 1000000,
  rate: 41000,
  eta_s: 15,
  actor: 'token:admin',
  reason: 'policy fix 1.4.2',
  error: null,
  result: null,
  created_at: '2026-11-24T09:00:00.000Z',
  started_at: '2026-11-24T09:00:00.010Z',
  finished_at: null,
};

@ApiTags('admin')
@ApiBearerAuth()
@Controller('v1/admin')
export class AdminJobsController {
  constructor(private readonly jobs: RebuildJobsService) {}

  /**
   * Rebuilds a projection blue/green: beside the live model, which keeps serving; then an
   * atomic swap. 409 (with the running `job`) while a rebuild of it runs on any instance.
   */
  @ApiOperation({ summary: 'Rebuild a projection blue/green (a job)' })
  @Post('projections/:name/rebuild')
  @HttpCode(202)
  @RequireScope('admin')
  @ApiBody({ required: false, schema: { example: { reason: 'policy fix 1.4.2' } } })
  @ApiAcceptedResponse({ schema: { example: { job: 'job_5f0c6a1e2b3d4c5e' } } })
  async rebuild(
    @Param('name') name: string,
    @Body() body: unknown,
    @CurrentPrincipal() who: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<{ job: string }> {
    const r = rebuildSchema.safeParse(body ?? {});
    if (!r.success) throw new ValidationError('invalid rebuild request', fieldErrors(r.error.issues));
    const job = await this.jobs.start(name, `${who.kind}:${who.id}`, r.data.reason ?? null);
    void reply.header('Location', `/v1/admin/jobs/${job}`);
    return { job };
  }

  /** A job's progress: `processed` of `total` log positions, `rate` per second, `eta_s`. */
  @ApiOperation({ summary: "A job's state and progress" })
  @Get('jobs/:id')
  @RequireScope('admin')
  @Header('Cache-Control', 'no-store')
  @ApiOkResponse({ schema: { example: JOB_EXAMPLE } })
  async job(@Param('id') id: string): Promise<JobAnswer> {
    return this.jobs.get(id);
  }

  /** The 20 most recent jobs, newest first. */
  @ApiOperation({ summary: 'Recent jobs' })
  @Get('jobs')
  @RequireScope('admin')
  @ApiOkResponse({ schema: { example: { jobs: [JOB_EXAMPLE] } } })
  async list(): Promise<{ jobs: JobAnswer[] }> {
    return { jobs: await this.jobs.list() };
  }
}

@ApiTags('admin')
@ApiBearerAuth()
@Controller('v1/admin')
export class AdminReplayController {
  constructor(private readonly replay: ReplayService) {}

  /**
   * Every subject's entitlements at a point, replayed from the log: `?position=N` (right after
   * N, evaluated when N was recorded), `?at=T` (what was recorded by T, evaluated at T), or
   * neither (the head, now). Subjects with nothing are left out.
   */
  @ApiOperation({ summary: "Every subject's entitlements at a point, replayed from the log" })
  @Get('entitlements')
  @RequireScope('admin')
  @ApiQuery({ name: 'at', required: false })
  @ApiQuery({ name: 'position', required: false })
  @ApiOkResponse({
    schema: {
      example: {
        position: 1234,
        at: '2026-11-01T00:00:00.000Z',
        subjects: [{ subject: 'org_42', plan: 'pro', features: { api: { value: true, valid_until: '2026-12-25T10:00:00.000Z' } }, valid_until: '2026-12-25T10:00:00.000Z' }],
      },
    },
  })
  async entitlements(@Query() query: unknown): Promise<ReplayAnswer> {
    const q = readQuerySchema.safeParse(query);
    if (!q.success) throw new ValidationError('invalid query', fieldErrors(q.error.issues));
    return this.replay.replay(q.data);
  }

  /**
   * A dry run of another plan catalog over the whole log: which subjects' entitlements at
   * `at` (default now) would differ, feature by feature. Nothing is written.
   */
  @ApiOperation({ summary: 'Dry-run another plan catalog over history' })
  @Post('what-if')
  @HttpCode(200)
  @RequireScope('admin')
  @ApiBody({ schema: { example: { catalog: { plans: [{ id: 'pro', tier: 2, features: { api: true, seats: 10 } }], classes: { api: 'A' } }, at: '2026-12-01T00:00:00Z' } } })
  @ApiOkResponse({
    schema: {
      example: {
        position: 1234,
        at: '2026-12-01T00:00:00.000Z',
        compared: 812,
        changed: [{ subject: 'org_42', changes: [{ feature: 'seats', from: 5, to: 10 }], before: { plan: 'pro' }, after: { plan: 'pro' } }],
      },
    },
  })
  async whatIf(@Body() body: unknown): Promise<WhatIfAnswer> {
    const r = whatIfSchema.safeParse(body);
    if (!r.success) throw new ValidationError('invalid what-if request', fieldErrors(r.error.issues));
    return this.replay.whatIf(r.data.catalog, { at: r.data.at });
  }
}
