import { readFileSync } from 'node:fs';
import Stripe from 'stripe';
import { BillingError, SignatureError } from './billing.errors.js';
import {
  LEDGER_SIGNATURE_HEADER,
  signStripeScheme,
  verifyStripeScheme,
} from './stripe-signature.verifier.js';

const rawBody = readFileSync(new URL('../../../test/fixtures/stripe/lifecycle-2-active.json', import.meta.url));
const payload = rawBody.toString('utf8');
const SECRET = 'whsec_test_8f3kQm2Lr7Wc1Zp9Xv4Tb6Nd';
const OLD_SECRET = 'whsec_test_old_Gh5Jk8Lm1Np4Qr7St0';
const T = 1_794_736_804; // 2026-11-15T10:00:04Z
const at = (seconds: number): Date => new Date(seconds * 1000);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return e instanceof BillingError ? e.code : `not a BillingError: ${String(e)}`;
  }
  return 'no error';
}

function stripeAccepts(body: string, header: string, secret: string, nowSeconds: number): boolean {
  try {
    Stripe.webhooks.constructEvent(body, header, secret, 300, undefined, nowSeconds * 1000);
    return true;
  } catch {
    return false;
  }
}

describe('verifyStripeScheme', () => {
  it('accepts a header made by the official stripe package', () => {
    const header = Stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET, timestamp: T });
    expect(verifyStripeScheme(rawBody, header, { secrets: [SECRET], now: at(T + 10) })).toEqual({
      timestamp: T,
      secretIndex: 0,
    });
  });

  it('signs headers that the official stripe package accepts', () => {
    const header = signStripeScheme(rawBody, SECRET, T);
    expect(header).toMatch(/^t=1794736804,v1=[0-9a-f]{64}$/);
    expect(header).toBe(Stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET, timestamp: T }));
    const event = Stripe.webhooks.constructEvent(payload, header, SECRET, 300, undefined, (T + 1) * 1000);
    expect(event.id).toBe('evt_1SPa0rLkdIwHu7ixQe7Wm2Lc');
  });

  it.each([
    ['a valid delivery', payload, SECRET, T, T + 60, true],
    ['a tampered body', payload.replace('"active"', '"trialing"'), SECRET, T, T + 60, false],
    ['the wrong secret', payload, 'whsec_someone_else', T, T + 60, false],
    ['an old timestamp', payload, SECRET, T, T + 301, false],
    ['the tolerance edge', payload, SECRET, T, T + 300, true],
  ])('agrees with the stripe package on %s', (_, body, secret, signedAt, now, accepted) => {
    const header = Stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET, timestamp: signedAt });
    const ours = codeOf(() => verifyStripeScheme(Buffer.from(body), header, { secrets: [secret], now: at(now) }));
    expect(stripeAccepts(body, header, secret, now)).toBe(accepted);
    expect(ours === 'no error').toBe(accepted);
  });

  it('verifies the raw bytes: the same JSON re-serialised is not the signed body', () => {
    const header = signStripeScheme(rawBody, SECRET, T);
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(payload)));
    expect(codeOf(() => verifyStripeScheme(reserialised, header, { secrets: [SECRET], now: at(T) }))).toBe(
      'SIGNATURE_INVALID',
    );
  });

  it.each([
    ['a tampered body', () => verifyStripeScheme(Buffer.from(payload + ' '), signStripeScheme(rawBody, SECRET, T), { secrets: [SECRET], now: at(T) }), 'SIGNATURE_INVALID'],
    ['the wrong secret', () => verifyStripeScheme(rawBody, signStripeScheme(rawBody, 'whsec_other', T), { secrets: [SECRET], now: at(T) }), 'SIGNATURE_INVALID'],
    ['a stale timestamp', () => verifyStripeScheme(rawBody, signStripeScheme(rawBody, SECRET, T), { secrets: [SECRET], now: at(T + 301) }), 'SIGNATURE_STALE'],
    ['a timestamp beyond the tolerance in the future', () => verifyStripeScheme(rawBody, signStripeScheme(rawBody, SECRET, T + 301), { secrets: [SECRET], now: at(T) }), 'SIGNATURE_STALE'],
    ['a custom tolerance', () => verifyStripeScheme(rawBody, signStripeScheme(rawBody, SECRET, T), { secrets: [SECRET], toleranceSeconds: 30, now: at(T + 31) }), 'SIGNATURE_STALE'],
    ['no header', () => verifyStripeScheme(rawBody, undefined, { secrets: [SECRET], now: at(T) }), 'SIGNATURE_MISSING'],
    ['an empty header', () => verifyStripeScheme(rawBody, '  ', { secrets: [SECRET], now: at(T) }), 'SIGNATURE_MISSING'],
    ['an empty header list', () => verifyStripeScheme(rawBody, [], { secrets: [SECRET], now: at(T) }), 'SIGNATURE_MISSING'],
    ['a header sent twice', () => verifyStripeScheme(rawBody, [signStripeScheme(rawBody, SECRET, T), signStripeScheme(rawBody, SECRET, T)], { secrets: [SECRET], now: at(T) }), 'SIGNATURE_MALFORMED'],
    ['garbage', () => verifyStripeScheme(rawBody, 'not a signature', { secrets: [SECRET], now: at(T) }), 'SIGNATURE_MALFORMED'],
    ['no timestamp', () => verifyStripeScheme(rawBody, signStripeScheme(rawBody, SECRET, T).replace(/^t=\d+,/, ''), { secrets: [SECRET], now: at(T) }), 'SIGNATURE_MALFORMED'],
    ['a non-numeric timestamp', () => verifyStripeScheme(rawBody, signStripeScheme(rawBody, SECRET, T).replace(/^t=\d+/, 't=yesterday'), { secrets: [SECRET], now: at(T) }), 'SIGNATURE_MALFORMED'],
    ['a v1 that is not hex', () => verifyStripeScheme(rawBody, `t=${T},v1=xyz`, { secrets: [SECRET], now: at(T) }), 'SIGNATURE_MALFORMED'],
    ['only a v0 signature', () => verifyStripeScheme(rawBody, signStripeScheme(rawBody, SECRET, T).replace(',v1=', ',v0='), { secrets: [SECRET], now: at(T) }), 'SIGNATURE_INVALID'],
    ['no secret configured', () => verifyStripeScheme(rawBody, signStripeScheme(rawBody, SECRET, T), { secrets: ['', ''], now: at(T) }), 'SIGNATURE_INVALID'],
  ])('rejects %s', (_, verify, code) => {
    expect(codeOf(verify)).toBe(code);
  });

  it('reports an authentic but stale header as stale, a forged stale one as invalid', () => {
    const forged = `t=${T},v1=${'0'.repeat(64)}`;
    expect(codeOf(() => verifyStripeScheme(rawBody, forged, { secrets: [SECRET], now: at(T + 10_000) }))).toBe(
      'SIGNATURE_INVALID',
    );
  });

  it('ignores v0 entries next to a valid v1', () => {
    const header = Stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET, timestamp: T });
    const withV0 = `${header},v0=${'a'.repeat(64)}`;
    expect(verifyStripeScheme(rawBody, withV0, { secrets: [SECRET], now: at(T) }).timestamp).toBe(T);
  });

  it('accepts any of several secrets during a rotation and says which matched', () => {
    const signedWithOld = Stripe.webhooks.generateTestHeaderString({ payload, secret: OLD_SECRET, timestamp: T });
    expect(verifyStripeScheme(rawBody, signedWithOld, { secrets: [SECRET, OLD_SECRET], now: at(T) }).secretIndex).toBe(1);
    expect(codeOf(() => verifyStripeScheme(rawBody, signedWithOld, { secrets: [SECRET], now: at(T) }))).toBe(
      'SIGNATURE_INVALID',
    );
  });

  it('accepts a header carrying one v1 per secret, under either secret', () => {
    const header = signStripeScheme(rawBody, [SECRET, OLD_SECRET], T);
    expect(header.split(',').filter((p) => p.startsWith('v1='))).toHaveLength(2);
    expect(verifyStripeScheme(rawBody, header, { secrets: [OLD_SECRET], now: at(T) }).secretIndex).toBe(0);
    expect(verifyStripeScheme(rawBody, header, { secrets: [SECRET], now: at(T) }).secretIndex).toBe(0);
    expect(stripeAccepts(payload, header, OLD_SECRET, T)).toBe(true);
  });

  it('serves Ledger-Signature with its own secrets and names it in errors', () => {
    const ledgerSecret = 'ledger_ingest_secret_1';
    const header = signStripeScheme('{"id":"evt_0001"}', ledgerSecret, T);
    expect(
      verifyStripeScheme(Buffer.from('{"id":"evt_0001"}'), header, {
        secrets: [ledgerSecret],
        now: at(T),
        headerName: LEDGER_SIGNATURE_HEADER,
      }).timestamp,
    ).toBe(T);
    let error: unknown;
    try {
      verifyStripeScheme(Buffer.from('{"id":"evt_0002"}'), header, {
        secrets: [ledgerSecret],
        now: at(T),
        headerName: LEDGER_SIGNATURE_HEADER,
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SignatureError);
    expect(error).toMatchObject({ code: 'SIGNATURE_INVALID', header: 'Ledger-Signature' });
    expect((error as Error).message).toContain('Ledger-Signature');
  });

  it('refuses a meaningless configuration instead of guessing', () => {
    expect(() => verifyStripeScheme(rawBody, 't=1,v1=00', { secrets: [SECRET], now: new Date(Number.NaN) })).toThrow(
      RangeError,
    );
    expect(() => signStripeScheme(rawBody, SECRET, 1.5)).toThrow(RangeError);
  });
});
