import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { EventStoreError, isDatabaseUnavailable } from '@app/event-store';
import { RequestError, type FieldError } from './problem.errors.js';

export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: readonly FieldError[];
  [extension: string]: unknown;
}

/** Seconds a sender should wait before retrying (the database unreachable, or the append queue full). */
export const RETRY_AFTER_S = 2;

/** OpenAPI: the 503 of the append endpoints (nothing of the request was acknowledged; the sender retries). */
export const RETRY_LATER = {
  description:
    'PostgreSQL unreachable (/problems/database-unavailable), or more events waiting to be written than ' +
    'LEDGER_MAX_QUEUED_EVENTS (/problems/overloaded): problem+json with Retry-After; retry the request',
};

const problemType = (slug: string): string => `/problems/${slug}`;

const byCode: Record<string, { status: number; slug: string; title: string }> = {
  UNAUTHENTICATED: { status: 401, slug: 'unauthenticated', title: 'Unauthenticated' },
  SIGNATURE_MISSING: { status: 401, slug: 'signature-invalid', title: 'Invalid signature' },
  SIGNATURE_MALFORMED: { status: 401, slug: 'signature-invalid', title: 'Invalid signature' },
  SIGNATURE_INVALID: { status: 401, slug: 'signature-invalid', title: 'Invalid signature' },
  SIGNATURE_STALE: { status: 401, slug: 'signature-stale', title: 'Stale signature' },
  FORBIDDEN: { status: 403, slug: 'forbidden', title: 'Forbidden' },
  VALIDATION_FAILED: { status: 400, slug: 'validation-failed', title: 'Invalid request' },
  PAYLOAD_INVALID: { status: 400, slug: 'validation-failed', title: 'Invalid request' },
  NOT_FOUND: { status: 404, slug: 'not-found', title: 'Not found' },
  CONFLICT: { status: 409, slug: 'conflict', title: 'Conflict' },
  IDEMPOTENCY_CONFLICT: { status: 409, slug: 'idempotency-conflict', title: 'Event id reused with a different body' },
  WRONG_EXPECTED_VERSION: { status: 409, slug: 'version-conflict', title: 'Stream version conflict' },
  APPEND_REJECTED: { status: 422, slug: 'append-rejected', title: 'Event refused by the store' },
  DATABASE_UNAVAILABLE: { status: 503, slug: 'database-unavailable', title: 'Database unavailable' },
  APPEND_QUEUE_FULL: { status: 503, slug: 'overloaded', title: 'Overloaded' },
  NOT_READY: { status: 503, slug: 'not-ready', title: 'Not ready' },
  SHUTTING_DOWN: { status: 503, slug: 'shutting-down', title: 'Shutting down' },
};

// Fastify's own request errors (body parsing, limits), by their stable codes.
const fastifyCodes: Record<string, { status: number; slug: string; title: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, slug: 'body-too-large', title: 'Body too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, slug: 'unsupported-media-type', title: 'Unsupported media type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, slug: 'malformed-request', title: 'Malformed request' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, slug: 'malformed-json', title: 'Malformed JSON' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, slug: 'malformed-json', title: 'Malformed JSON' },
};

/** Builds the problem+json body and status for any thrown value. */
export function toProblem(err: unknown, maxBody: number): ProblemDetails {
  // Nest's Fastify adapter wraps Fastify's own 4xx errors in an HttpException (the original is
  // its cause): judged by the original's code, they get their own type and detail.
  const cause = err instanceof HttpException ? (err.cause as { code?: unknown } | undefined) : undefined;
  if (typeof cause?.code === 'string' && fastifyCodes[cause.code]) return toProblem(cause, maxBody);
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : '';
  const message = err instanceof Error ? err.message : String(err);

  if (err instanceof RequestError || err instanceof EventStoreError || byCode[code]) {
    const m = byCode[code] ?? { status: 400, slug: 'bad-request', title: 'Bad request' };
    const detail =
      code === 'DATABASE_UNAVAILABLE'
        ? 'the database is unreachable; retry later'
        : code === 'APPEND_REJECTED'
          ? 'the database refused to store this event (it would refuse it again); see the server log'
          : message;
    // Our errors carry `errors`; billing's PayloadInvalidError carries `issues` of the same shape.
    const errors = (err as { errors?: FieldError[] }).errors ?? (err as { issues?: FieldError[] }).issues;
    const extensions = err instanceof RequestError ? err.extensions : undefined;
    return { ...extensions, type: problemType(m.slug), title: m.title, status: m.status, detail, ...(errors ? { errors } : {}) };
  }
  const fst = fastifyCodes[code];
  if (fst) {
    const detail = fst.status === 413 ? `the body exceeds the limit of ${maxBody} bytes` : message;
    return { type: problemType(fst.slug), title: fst.title, status: fst.status, detail };
  }
  // Body parser errors that Fastify raises without a code (e.g. JSON syntax errors).
  const statusCode = (err as { statusCode?: unknown })?.statusCode;
  if (err instanceof SyntaxError || (typeof statusCode === 'number' && statusCode === 400 && !(err instanceof HttpException))) {
    return { type: problemType('malformed-json'), title: 'Malformed JSON', status: 400, detail: message };
  }
  if (err instanceof HttpException) {
    const status = err.getStatus();
    const slug = status === 404 ? 'not-found' : status === 405 ? 'method-not-allowed' : 'http-error';
    const title = status === 404 ? 'Not found' : err.name.replace(/Exception$/, '').replace(/([a-z])([A-Z])/g, '$1 $2');
    return { type: problemType(slug), title, status, detail: message };
  }
  if (isDatabaseUnavailable(err)) {
    return {
      type: problemType('database-unavailable'),
      title: 'Database unavailable',
      status: 503,
      detail: 'the database is unreachable; retry later',
    };
  }
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    return { type: problemType('bad-request'), title: 'Bad request', status: statusCode, detail: message };
  }
  return { type: problemType('internal'), title: 'Internal error', status: 500, detail: 'an unexpected error occurred' };
}

/** Writes a problem to a Fastify reply (also used by Fastify's own error handler). */
export function sendProblem(reply: FastifyReply, request: FastifyRequest, problem: ProblemDetails): void {
  if (problem.status === 503) void reply.header('Retry-After', String(RETRY_AFTER_S));
  if (problem.status === 401) void reply.header('WWW-Authenticate', 'Bearer');
  void reply
    .status(problem.status)
    .header('Content-Type', 'application/problem+json')
    .send({ ...problem, instance: request.url.split('?')[0] });
}

/** The one place where errors become HTTP: RFC 9457 problem+json for every 4xx and 5xx. */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  constructor(private readonly maxBody: number) {}

  catch(err: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    const problem = toProblem(err, this.maxBody);
    if (problem.status >= 500 && problem.status !== 503) {
      this.logger.error({ err, reqId: request.id }, 'request failed');
    } else if (problem.status === 422) {
      this.logger.warn({ reqId: request.id, cause: (err as { cause?: Error }).cause?.message }, 'event refused by the database');
    } else if (problem.status === 503) {
      this.logger.warn({ reqId: request.id, cause: (err as Error)?.message }, problem.title.toLowerCase());
    }
    sendProblem(reply, request, problem);
  }
}
