import { SetMetadata, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Scope } from '../config/ledger.config.js';

export const AUTH_METADATA = 'ledger:auth';

/** How a route authenticates: none, a bearer scope, and/or a webhook signature scheme. */
export interface RouteAuth {
  readonly public?: boolean;
  readonly scope?: Scope;
  /** A signature header that, when present, authenticates the request instead of a bearer. */
  readonly signature?: SignatureSchemeName;
}

export type SignatureSchemeName = 'ledger' | 'stripe' | 'paddle';

/** No credential needed. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(AUTH_METADATA, { public: true });

/** A bearer token with this scope (`admin` implies every scope). */
export const RequireScope = (scope: Scope): MethodDecorator & ClassDecorator =>
  SetMetadata(AUTH_METADATA, { scope } satisfies RouteAuth);

/** A valid signature of the scheme, or (when `scope` is given and no signature header is sent) a bearer token. */
export const RequireSignature = (signature: SignatureSchemeName, scope?: Scope): MethodDecorator =>
  SetMetadata(AUTH_METADATA, { signature, ...(scope ? { scope } : {}) } satisfies RouteAuth);

/** Who made the request: a token, or a verified signature. */
export interface Principal {
  readonly kind: 'token' | 'signature';
  /** Token id, or the signature scheme. */
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly Scope[];
}

export const CurrentPrincipal = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): Principal | undefined =>
    (ctx.switchToHttp().getRequest<{ principal?: Principal }>()).principal,
);
