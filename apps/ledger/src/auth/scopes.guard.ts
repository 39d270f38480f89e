import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { UnparsedBody } from '../http/json-body.parser.js';
import { ForbiddenError, UnauthenticatedError } from '../http/problem.errors.js';
import { AUTH_METADATA, type Principal, type RouteAuth } from './auth.decorators.js';
import { SignatureVerifier, SIGNATURE_HEADERS } from './signature.verifier.js';
import { TokenService } from './token.service.js';

type AuthedRequest = FastifyRequest & { principal?: Principal; rawBody?: Buffer };

/**
 * The one guard. A route declares `@Public()`, `@RequireScope(scope)` or
 * `@RequireSignature(scheme, scope?)`; a route that declares nothing needs `admin`.
 * Missing or invalid credentials are 401, a valid token without the scope is 403. Where a
 * signature header is present it must be valid, whatever else is sent. A body that did not
 * parse is reported (400) only to a sender who passed, so the guard raises it too.
 */
@Injectable()
export class ScopesGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenService,
    private readonly signatures: SignatureVerifier,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    await this.authorize(ctx, req);
    // Only now, with the sender judged, is a body that did not parse reported (400).
    if (req.body instanceof UnparsedBody) throw req.body.error;
    return true;
  }

  private async authorize(ctx: ExecutionContext, req: AuthedRequest): Promise<void> {
    const auth = this.reflector.getAllAndOverride<RouteAuth | undefined>(AUTH_METADATA, [
      ctx.getHandler(),
      ctx.getClass(),
    ]) ?? { scope: 'admin' };
    if (auth.public) return;

    if (auth.signature) {
      const header = SIGNATURE_HEADERS[auth.signature];
      if (req.headers[header] !== undefined || !auth.scope) {
        this.signatures.verify(auth.signature, req.rawBody ?? Buffer.alloc(0), req.headers[header]);
        req.principal = { kind: 'signature', id: auth.signature, name: `${auth.signature}-signature`, scopes: [] };
        return;
      }
    }

    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!m) {
      throw new UnauthenticatedError(
        auth.signature
          ? `send a bearer token with scope ${auth.scope} or a valid ${SIGNATURE_HEADERS[auth.signature]} header`
          : 'send Authorization: Bearer <token>',
      );
    }
    const principal = await this.tokens.authenticate(m[1]!);
    if (!principal) throw new UnauthenticatedError('the bearer token is invalid or revoked');
    const scope = auth.scope ?? 'admin';
    if (!principal.scopes.includes('admin') && !principal.scopes.includes(scope)) {
      throw new ForbiddenError(`this endpoint needs scope ${scope}`);
    }
    req.principal = principal;
  }
}
