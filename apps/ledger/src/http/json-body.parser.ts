import type { FastifyInstance, FastifyRequest } from 'fastify';

/** A body that did not parse; the guard raises its error only after authentication. */
export class UnparsedBody {
  constructor(readonly error: Error) {}
}

const JSON_SUBTYPE = /^application\/[\w.+-]+\+json(\s*;.*)?$/i;

/**
 * JSON bodies: the raw bytes are kept (signatures are computed over them) and a body that
 * fails to parse becomes an `UnparsedBody` rather than an early 400, so credentials and
 * signatures are judged first: an unauthenticated sender learns nothing about the body.
 * Size limits and media types are still enforced before anything is read.
 */
export function registerJsonBodyParser(fastify: FastifyInstance): void {
  // Fastify's own parser: secure against prototype poisoning, empty bodies refused.
  const parse = fastify.getDefaultJsonParser('error', 'error');
  const parser = (req: FastifyRequest, body: Buffer, done: (err: Error | null, body?: unknown) => void): void => {
    (req as FastifyRequest & { rawBody?: Buffer }).rawBody = body;
    parse(req, body.toString('utf8'), (err, value) => done(null, err ? new UnparsedBody(err) : value));
  };
  fastify.removeContentTypeParser(['application/json']);
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, parser);
  fastify.addContentTypeParser(JSON_SUBTYPE, { parseAs: 'buffer' }, parser);
}
