import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { LogController } from 'fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { pino, type Logger as PinoLogger } from 'pino';
import { AppModule } from './app.module.js';
import type { LedgerConfig } from './config/ledger.config.js';
import { registerJsonBodyParser } from './http/json-body.parser.js';
import { MetricsService } from './metrics/metrics.service.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const JSON_TYPE = /^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i;

/** Headers and fields that must never reach a log line. */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["stripe-signature"]',
  'req.headers["paddle-signature"]',
  'req.headers["ledger-signature"]',
  '*.token',
  '*.secret',
  '*.password',
];

/** The longest a buffered log line waits to be written. */
const LOG_FLUSH_MS = 1_000;

export function createLogger(config: Pick<LedgerConfig, 'logLevel'>): PinoLogger {
  // Written without blocking the event loop, and buffered: a write goes out once 4 KiB of lines
  // wait, or every LOG_FLUSH_MS. One write per access line cost about 5% of an ingest
  // request's CPU. pino flushes what is left when the process exits; a SIGKILL loses at most
  // the last second of lines.
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: LOG_FLUSH_MS });
  return pino(
    { level: config.logLevel, redact: { paths: REDACT, censor: '[redacted]' }, base: { service: 'ledger' } },
    destination,
  );
}

/**
 * Builds the ledger's Nest application on Fastify (not listening yet).
 *
 * @example
 * const app = await createLedgerApp({ config, databaseUrl });
 * await app.listen({ port: 3000, host: '127.0.0.1' });
 */
export async function createLedgerApp(options: {
  config: LedgerConfig;
  databaseUrl: string;
  logger?: PinoLogger;
  /** Serve the Swagger UI at /docs (off under jest, whose VM cannot load @fastify/static). */
  docsUi?: boolean;
}): Promise<NestFastifyApplication> {
  const { config, databaseUrl } = options;
  const logger = options.logger ?? createLogger(config);
  const adapter = new FastifyAdapter({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.maxBody,
    requestIdHeader: false,
    genReqId: (req: IncomingMessage) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Requests that arrive while the server closes (on a keep-alive connection already open)
    // are answered by the onRequest hook below: problem+json with Retry-After, as every 503.
    return503OnClosing: false,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // No Nest middleware is used (see AppModule's LoggerModule), so no middie layer per request.
    skipMiddie: true,
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot({ config, databaseUrl, logger }),
    adapter,
    { bufferLogs: true, bodyParser: false },
  );
  app.useLogger(app.get(Logger));
  app.flushLogs();

  const fastify = app.getHttpAdapter().getInstance();
  registerJsonBodyParser(fastify);
  // Fastify's own errors (body parsing, limits, the media-type hook below) reach the error
  // handler Nest installs, and through it the global ProblemDetailsFilter: problem+json too.
  const metrics = app.get(MetricsService);
  // The access line holds the method, the route's pattern, the status, the time and the request
  // id (a UUID, or a header that matched REQUEST_ID): nothing a secret can be in. It is written
  // without the redaction pass, which was about 40% of the line's cost (2.5–3 µs a request).
  const accessLog = logger.child({}, { redact: [] });
  let closing = false;
  fastify.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  // Every body this API takes is JSON: refuse other media types before any parser runs.
  // Callback-style hooks: they run on every request, and an async hook costs a promise each.
  fastify.addHook('onRequest', (req, reply, done) => {
    // Set here, not in an onSend hook (one hook less per request): Fastify keeps the headers
    // set on a reply when an error answers it.
    void reply.header('x-request-id', req.id);
    if (closing) {
      // Requests in flight finish; a new one goes elsewhere (or comes back after the restart).
      void reply.header('connection', 'close');
      done(Object.assign(new Error('the service is shutting down; retry (another instance, or this one once it is back)'), { code: 'SHUTTING_DOWN', statusCode: 503 }));
      return;
    }
    const type = req.headers['content-type'];
    if (type !== undefined && !JSON_TYPE.test(type)) {
      done(Object.assign(new Error(`send the body as application/json (got ${type.split(';')[0]})`), {
        code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE',
        statusCode: 415,
      }));
      return;
    }
    done();
  });
  fastify.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    metrics.httpDuration.observe({ method: req.method, route, status: String(reply.statusCode) }, seconds);
    const line = { reqId: req.id, method: req.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 };
    if (reply.statusCode >= 500) accessLog.error(line, 'request');
    else accessLog.info(line, 'request');
    done();
  });

  const doc = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Entitlement ledger')
      .setDescription('Billing events in, signed entitlements out. Errors are RFC 9457 problem+json.')
      .setVersion('0.1.0')
      .addBearerAuth()
      .addApiKey({ type: 'apiKey', in: 'header', name: 'Ledger-Signature' }, 'Ledger-Signature')
      .build(),
  );
  SwaggerModule.setup('docs', app, doc, {
    jsonDocumentUrl: 'docs/openapi.json',
    yamlDocumentUrl: 'docs/openapi.yaml',
    ui: options.docsUi ?? true,
  });
  // No Nest signal hooks: main.ts owns SIGINT/SIGTERM (it also stops the embedded database);
  // app.close() runs the shutdown hooks either way.
  return app;
}
