import type { Entitlements } from '@app/domain';
import { signCompact, TOKEN_TYP } from './compact-jws.util.js';
import { compareCodePoints, isNonNegativeInt, isPositiveInt, numericDate } from './ordering.util.js';
import { InvalidArgumentError } from './snapshot.errors.js';
import type { SigningKey } from './signing-key.types.js';

export interface CapabilityTokenInput {
  /** `LEDGER_ISSUER`. */
  readonly issuer: string;
  readonly subject: string;
  /** The ledger position the entitlements reflect. */
  readonly ver: number;
  /** The read API's answer for `subject`, evaluated at `now`. */
  readonly entitlements: Pick<Entitlements, 'plan' | 'features' | 'valid_until'>;
  readonly now: Date;
  /** `TOKEN_TTL_S`. */
  readonly ttlS: number;
  readonly key: SigningKey;
}

/** The claims of a capability token (CONTRACT.md, "Read"). */
export interface CapabilityTokenClaims {
  readonly iss: string;
  readonly sub: string;
  readonly iat: number;
  readonly nbf: number;
  readonly exp: number;
  readonly ver: number;
  readonly plan: string | null;
  /** Feature → value, for the features granted at `iat`. */
  readonly ent: Readonly<Record<string, boolean | number>>;
}

/**
 * Signs a capability token, header `{"alg":"EdDSA","kid":…,"typ":"entitlements+jwt"}`,
 * claims `{iss, sub, iat, nbf, exp, ver, plan, ent}` with `iat = nbf = now` (floored) and
 * `exp = min(iat + ttl, valid_until)` (floored: the token never outlives what it grants).
 * Entitlements whose `valid_until` is not after `now` have lapsed: the token then carries
 * `plan: null` and an empty `ent`, like a subject with nothing.
 *
 * @example
 * const { token, exp, ver } = await signCapabilityToken({
 *   issuer, subject: 'org_42', ver: 1234, entitlements: evaluateEntitlements(sources, now),
 *   now, ttlS: 900, key: ring.signingKey(),
 * });
 */
export async function signCapabilityToken(input: CapabilityTokenInput): Promise<{ token: string; exp: number; ver: number }> {
  const { issuer, subject, ver, entitlements, now, ttlS, key } = input;
  if (typeof issuer !== 'string' || issuer === '') throw new InvalidArgumentError('issuer must be non-empty');
  if (typeof subject !== 'string' || subject === '') throw new InvalidArgumentError('subject must be non-empty');
  if (!isNonNegativeInt(ver)) throw new InvalidArgumentError(`ver must be a non-negative integer, got ${ver}`);
  if (!isPositiveInt(ttlS)) throw new InvalidArgumentError('ttlS must be a positive integer (seconds)');
  const nowMs = now instanceof Date ? now.getTime() : Number.NaN;
  const iat = numericDate(now);

  let exp = iat + ttlS;
  let live = true;
  if (entitlements.valid_until !== null) {
    const untilMs = Date.parse(entitlements.valid_until);
    if (Number.isNaN(untilMs)) throw new InvalidArgumentError('entitlements.valid_until is not a date');
    live = nowMs < untilMs;
    if (live) exp = Math.min(exp, Math.floor(untilMs / 1000));
  }

  const names = live ? Object.keys(entitlements.features).sort(compareCodePoints) : [];
  const ent = Object.fromEntries(
    names.map((f) => {
      const value = entitlements.features[f]?.value;
      if (typeof value !== 'boolean' && !(typeof value === 'number' && Number.isFinite(value))) {
        throw new InvalidArgumentError(`feature ${f} must have a boolean or finite number value`);
      }
      return [f, value];
    }),
  );
  const claims: CapabilityTokenClaims = {
    iss: issuer,
    sub: subject,
    iat,
    nbf: iat,
    exp,
    ver,
    plan: live ? entitlements.plan : null,
    ent,
  };
  return { token: await signCompact(JSON.stringify(claims), TOKEN_TYP, key), exp, ver };
}
