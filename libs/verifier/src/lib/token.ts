import { errors, jwtVerify } from 'jose';
import { TokenError } from '../errors.js';
import type { GrantValue, TokenClaims } from '../types.js';
import type { Keyring } from './keyring.js';
import { isRecord, message } from './manifest.js';

export const TOKEN_TYP = 'entitlements+jwt';

export interface TokenCheck {
  readonly keyring: Keyring;
  readonly issuer: string | undefined;
  readonly nowMs: number;
  readonly clockToleranceS: number;
}

/** A capability token: EdDSA with a trusted kid, `typ` entitlements+jwt, `iss`, `exp`/`nbf` at now. */
export async function verifyCapabilityToken(jwt: string, check: TokenCheck): Promise<TokenClaims> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(
      jwt,
      check.keyring.resolve((kid) => new TokenError('token_unknown_key', `token signed with untrusted kid ${String(kid)}`)),
      {
        algorithms: ['EdDSA'],
        typ: TOKEN_TYP,
        ...(check.issuer !== undefined ? { issuer: check.issuer } : {}),
        currentDate: new Date(check.nowMs),
        clockTolerance: check.clockToleranceS,
        requiredClaims: ['sub', 'iat', 'exp'],
      },
    ));
  } catch (e) {
    throw toTokenError(e);
  }
  const { iss, sub, iat, nbf, exp, ver, plan, ent } = payload;
  const entries = isRecord(ent) ? Object.entries(ent) : null;
  if (
    typeof iss !== 'string' ||
    typeof sub !== 'string' ||
    !Number.isSafeInteger(ver) ||
    (plan !== null && typeof plan !== 'string') ||
    entries === null ||
    !entries.every(([, v]) => typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)))
  ) {
    throw new TokenError('token_invalid', 'token claims do not match the capability token format');
  }
  return {
    iss,
    sub,
    iat: iat as number,
    ...(typeof nbf === 'number' ? { nbf } : {}),
    exp: exp as number,
    ver: ver as number,
    plan: plan as string | null,
    ent: Object.freeze(Object.fromEntries(entries)) as Record<string, GrantValue>,
  };
}

function toTokenError(e: unknown): TokenError {
  if (e instanceof TokenError) return e;
  if (e instanceof errors.JWTExpired) return new TokenError('token_expired', 'token has expired', { cause: e });
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === 'nbf') return new TokenError('token_not_yet_valid', 'token is not valid yet', { cause: e });
    if (e.claim === 'iss') return new TokenError('token_issuer_mismatch', 'token issuer is not the configured one', { cause: e });
    return new TokenError('token_invalid', `token claim ${e.claim} is invalid: ${e.message}`, { cause: e });
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) {
    return new TokenError('token_signature_invalid', 'token signature does not verify', { cause: e });
  }
  return new TokenError('token_invalid', `token is not acceptable: ${message(e)}`, { cause: e });
}
