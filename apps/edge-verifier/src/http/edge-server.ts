import { fastify, LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { Decision, Verifier, VerifierState } from '@app/verifier';
import type { EdgeMetrics } from '../metrics/edge.metrics.js';

/** Same rule as the ledger's subject ids: printable ASCII, no spaces, at most 255 characters. */
const SUBJECT = /^[\x21-\x7e]{1,255}$/;
const FEATURE = /^[\x21-\x7e]{1,128}$/;
/** A capability token is a compact JWS of a few hundred bytes; anything far larger is not one. */
const MAX_TOKEN = 16_384;
const MAX_API_KEY = 512;

/** Compiled once by Fastify into a serializer: cheaper than JSON.stringify on the hot path. */
const DECISION_SCHEMA = {
  type: 'object',
  properties: {
    allowed: { type: 'boolean' },
    value: { type: ['boolean', 'number', 'null'] },
    source: { type: 'string' },
    ver: { type: ['integer', 'null'] },
    stale_for_s: { type: ['integer', 'null'] },
    reason: { type: 'string' },
  },
  required: ['allowed', 'value', 'source', 'ver', 'stale_for_s', 'reason'],
} as const;

export interface FieldError {
  readonly path: string;
  readonly message: string;
}

/** `GET /health`: `ok` while fresh, `degraded` while stale, `down` (503) with nothing usable. */
export interface EdgeHealth {
  readonly status: 'ok' | 'degraded' | 'down';
  readonly seq: number | null;
  readonly ver: number | null;
  readonly age_s: number | null;
  readonly source: 'fresh' | 'stale' | 'none';
  readonly last_sync_at: string | null;
  readonly iat: number | null;
  readonly exp: number | null;
  readonly stale_for_s: number | null;
  readonly transport: VerifierState['transport'];
  readonly circuit: VerifierState['circuit'];
  readonly trusted_kids: readonly string[];
  readonly last_error: string | null;
}

/**
 * `fresh` → ok; `stale` (some class still within its grace) → degraded; `empty` (nothing
 * verified held) or `expired` (past every grace: every decision is `none`) → down.
 */
export function healthOf(s: VerifierState): EdgeHealth {
  const [status, source] =
    s.status === 'fresh' ? (['ok', 'fresh'] as const) : s.status === 'stale' ? (['degraded', 'stale'] as const) : (['down', 'none'] as const);
  return {
    status,
    seq: s.seq,
    ver: s.ver,
    age_s: s.age_s,
    source,
    last_sync_at: s.last_sync_at,
    iat: s.iat,
    exp: s.exp,
    stale_for_s: s.stale_for_s,
    transport: s.transport,
    circuit: s.circuit,
    trusted_kids: s.trusted_kids,
    // the code only: messages may name URLs, never secrets, but the code is what operators alert on
    last_error: s.last_error?.code ?? null,
  };
}

function problem(reply: FastifyReply, status: number, slug: string, title: string, detail: string, errors?: readonly FieldError[]): FastifyReply {
  return reply
    .code(status)
    .type('application/problem+json')
    .send({ type: `/problems/${slug}`, title, status, detail, ...(errors ? { errors } : {}) });
}

function single(value: unknown): string | undefined | null {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : null;
}

/** The bearer credential of an Authorization header, or null when absent; throws nothing. */
function bearer(header: string | undefined): string | null | false {
  if (header === undefined) return null;
  const m = /^Bearer +(\S+) *$/i.exec(header);
  return m ? m[1]! : false;
}

export interface EdgeServerOptions {
  readonly verifier: Verifier;
  readonly metrics: EdgeMetrics;
  readonly logger: Logger;
}

/**
 * The edge verifier's HTTP surface on plain Fastify: `GET /v1/check`, `GET /health`,
 * `GET /metrics`. GET only, tiny bodies refused, no request logging (query strings may carry
 * capability tokens), every error problem+json.
 *
 * @example
 * const app = createEdgeServer({ verifier, metrics, logger });
 * await app.listen({ port: 3001, host: '127.0.0.1' });
 */
export function createEdgeServer(options: EdgeServerOptions): FastifyInstance {
  const { verifier, metrics } = options;
  const app = fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024,
    routerOptions: { maxParamLength: 256 },
    connectionTimeout: 30_000,
    requestTimeout: 10_000,
    keepAliveTimeout: 72_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    requestIdHeader: false,
  });

  app.setNotFoundHandler((req, reply) => problem(reply, 404, 'not-found', 'Not found', `no route ${req.method} ${req.url.split('?')[0]}`));
  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) options.logger.error({ err }, 'request failed');
    return problem(reply, status, status === 413 ? 'payload-too-large' : status < 500 ? 'bad-request' : 'internal-error', status < 500 ? 'Bad request' : 'Internal error', status < 500 ? err.message : 'the edge verifier failed to answer');
  });

  app.get('/v1/check', { schema: { response: { 200: DECISION_SCHEMA } } }, async (req, reply) => {
    const query = req.query as Record<string, unknown>;
    const errors: FieldError[] = [];
    const subjectParam = single(query.subject);
    const feature = single(query.feature);
    const tokenQuery = single(query.token);
    const tokenHeader = req.headers['ledger-token'];
    const apiKey = bearer(req.headers.authorization);

    if (feature === undefined) errors.push({ path: 'feature', message: 'is required' });
    else if (feature === null || !FEATURE.test(feature)) errors.push({ path: 'feature', message: 'must be one printable ASCII name without spaces, at most 128 characters' });
    if (apiKey === false) errors.push({ path: 'authorization', message: 'must be "Bearer <api key>"' });
    else if (apiKey !== null && apiKey.length > MAX_API_KEY) errors.push({ path: 'authorization', message: `API key longer than ${MAX_API_KEY} characters` });
    if (apiKey !== null && subjectParam !== undefined) {
      errors.push({ path: 'subject', message: 'give either subject or an API key (Authorization: Bearer), not both' });
    } else if (apiKey === null) {
      if (subjectParam === undefined) errors.push({ path: 'subject', message: 'is required (or authenticate with Authorization: Bearer <api key>)' });
      else if (subjectParam === null || !SUBJECT.test(subjectParam)) errors.push({ path: 'subject', message: 'must be printable ASCII without spaces, at most 255 characters' });
    }
    if (tokenQuery !== undefined && tokenHeader !== undefined) errors.push({ path: 'token', message: 'give the capability token once (Ledger-Token header or token parameter)' });
    const token = tokenQuery ?? (typeof tokenHeader === 'string' ? tokenHeader : tokenHeader === undefined ? undefined : null);
    if (token === null || (token !== undefined && (token.length === 0 || token.length > MAX_TOKEN))) {
      errors.push({ path: 'token', message: `must be one compact JWS of at most ${MAX_TOKEN} characters` });
    }
    if (errors.length > 0) {
      metrics.refused('invalid_request');
      return problem(reply, 400, 'validation-failed', 'Invalid request', errors.map((e) => `${e.path} ${e.message}`).join('; '), errors);
    }

    let subject = subjectParam as string;
    if (apiKey !== null) {
      const owner = await verifier.authenticateApiKey(apiKey as string);
      if (owner === null) {
        metrics.refused('unknown_api_key');
        return problem(reply, 401, 'unauthenticated', 'Unauthenticated', 'unknown API key (or no verified snapshot within the class A grace to authenticate it)');
      }
      subject = owner;
    }
    const decision: Decision =
      typeof token === 'string' ? await verifier.check(subject, feature as string, { token }) : verifier.check(subject, feature as string);
    metrics.decided(decision);
    return reply.header('cache-control', 'no-store').send(decision);
  });

  app.get('/health', (_req, reply) => {
    const health = healthOf(verifier.state());
    return reply
      .code(health.status === 'down' ? 503 : 200)
      .header('cache-control', 'no-store')
      .send(health);
  });

  app.get('/metrics', async (_req, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });

  return app;
}
