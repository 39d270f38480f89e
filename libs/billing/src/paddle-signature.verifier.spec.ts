import { readFileSync } from 'node:fs';
import { NodeRuntime, Webhooks } from '@paddle/paddle-node-sdk';
import { BillingError } from './billing.errors.js';
import { signPaddleSignature, verifyPaddleSignature } from './paddle-signature.verifier.js';

const rawBody = readFileSync(new URL('../../../test/fixtures/paddle/lifecycle-2-activated.json', import.meta.url));
const payload = rawBody.toString('utf8');
const SECRET = 'pdl_ntfset_01jbz6x8y0a2c4e6g8j0m2p4r6_Qm8Vn2Xb4Zc6Ld1Kf3Hs5Tw7Ry9Pa';
const OLD_SECRET = 'pdl_ntfset_01j9k2m4p6r8t0v2x4z6b8d0f2_Gh5Jk8Lm1Np4Qr7St0Uv3Wx6Yz9Ab';
const T = 1_794_736_803; // 2026-11-15T10:00:03Z
const at = (seconds: number): Date => new Date(seconds * 1000);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return e instanceof BillingError ? e.code : `not a BillingError: ${String(e)}`;
  }
  return 'no error';
}

describe('verifyPaddleSignature', () => {
  // The SDK reads the wall clock (5 s tolerance) and has no signer: sign with ours, at the real time.
  beforeAll(() => NodeRuntime.initialize());
  const wallClock = (): number => Math.floor(Date.now() / 1000);

  it('signs headers that the official Paddle SDK accepts and unmarshals', async () => {
    const now = wallClock();
    const header = signPaddleSignature(rawBody, SECRET, now);
    expect(header).toMatch(/^ts=\d+;h1=[0-9a-f]{64}$/);
    await expect(new Webhooks().isSignatureValid(payload, SECRET, header)).resolves.toBe(true);
    const event = await new Webhooks().unmarshal(payload, SECRET, header);
    expect(event.eventId).toBe('evt_01jcmq4e6g8j0m2p4r6t8w0y2a');
    expect(verifyPaddleSignature(rawBody, header, { secrets: [SECRET], now: new Date(now * 1000) })).toEqual({
      timestamp: now,
      secretIndex: 0,
    });
  });

  it.each([
    ['a valid delivery', payload, SECRET, 0, true],
    ['a tampered body', payload.replace('"active"', '"paused"'), SECRET, 0, false],
    ['the wrong secret', payload, OLD_SECRET, 0, false],
    ['an old timestamp', payload, SECRET, -3600, false],
  ])('agrees with the Paddle SDK on %s', async (_, body, secret, age, accepted) => {
    const now = wallClock();
    const header = signPaddleSignature(payload, SECRET, now + age);
    const sdk = await new Webhooks().isSignatureValid(body, secret, header);
    const ours = codeOf(() => verifyPaddleSignature(Buffer.from(body), header, { secrets: [secret], now: at(now) }));
    expect(sdk).toBe(accepted);
    expect(ours === 'no error').toBe(accepted);
  });

  it('agrees with the Paddle SDK that a header without h1 is unusable', async () => {
    const header = `ts=${wallClock()}`;
    await expect(new Webhooks().isSignatureValid(payload, SECRET, header)).rejects.toThrow('Invalid webhook signature');
    expect(codeOf(() => verifyPaddleSignature(rawBody, header, { secrets: [SECRET], now: new Date() }))).toBe(
      'SIGNATURE_INVALID',
    );
  });

  it('signs exactly ts:body with HMAC-SHA256, as Paddle documents', () => {
    // printf '1794736803:{}' | openssl dgst -sha256 -hmac key
    expect(signPaddleSignature('{}', 'key', T)).toBe(
      'ts=1794736803;h1=ddead94eeb606571cc704447d4945f00fed76ef19621192e5db2f16089262d8f',
    );
  });

  it.each([
    ['a tampered body', () => verifyPaddleSignature(Buffer.from(`${payload}\n`), signPaddleSignature(rawBody, SECRET, T), { secrets: [SECRET], now: at(T) }), 'SIGNATURE_INVALID'],
    ['the wrong secret', () => verifyPaddleSignature(rawBody, signPaddleSignature(rawBody, OLD_SECRET, T), { secrets: [SECRET], now: at(T) }), 'SIGNATURE_INVALID'],
    ['a stale timestamp', () => verifyPaddleSignature(rawBody, signPaddleSignature(rawBody, SECRET, T - 301), { secrets: [SECRET], now: at(T) }), 'SIGNATURE_STALE'],
    ['a timestamp beyond the tolerance in the future', () => verifyPaddleSignature(rawBody, signPaddleSignature(rawBody, SECRET, T + 61), { secrets: [SECRET], toleranceSeconds: 60, now: at(T) }), 'SIGNATURE_STALE'],
    ['no header', () => verifyPaddleSignature(rawBody, null, { secrets: [SECRET], now: at(T) }), 'SIGNATURE_MISSING'],
    ['an empty header', () => verifyPaddleSignature(rawBody, '', { secrets: [SECRET], now: at(T) }), 'SIGNATURE_MISSING'],
    ['Stripe\'s layout', () => verifyPaddleSignature(rawBody, `t=${T},v1=${'a'.repeat(64)}`, { secrets: [SECRET], now: at(T) }), 'SIGNATURE_MALFORMED'],
    ['no timestamp', () => verifyPaddleSignature(rawBody, `h1=${'a'.repeat(64)}`, { secrets: [SECRET], now: at(T) }), 'SIGNATURE_MALFORMED'],
    ['two timestamps', () => verifyPaddleSignature(rawBody, `ts=${T};ts=${T};h1=${'a'.repeat(64)}`, { secrets: [SECRET], now: at(T) }), 'SIGNATURE_MALFORMED'],
    ['a truncated h1', () => verifyPaddleSignature(rawBody, signPaddleSignature(rawBody, SECRET, T).slice(0, -2), { secrets: [SECRET], now: at(T) }), 'SIGNATURE_MALFORMED'],
    ['no secret configured', () => verifyPaddleSignature(rawBody, signPaddleSignature(rawBody, SECRET, T), { secrets: [], now: at(T) }), 'SIGNATURE_INVALID'],
  ])('rejects %s', (_, verify, code) => {
    expect(codeOf(verify)).toBe(code);
  });

  it('accepts the edge of the tolerance on both sides', () => {
    const header = signPaddleSignature(rawBody, SECRET, T);
    expect(verifyPaddleSignature(rawBody, header, { secrets: [SECRET], now: at(T + 300) }).timestamp).toBe(T);
    expect(verifyPaddleSignature(rawBody, header, { secrets: [SECRET], now: at(T - 300) }).timestamp).toBe(T);
  });

  it('accepts any of several secrets during a rotation, and one h1 per secret', () => {
    const old = signPaddleSignature(rawBody, OLD_SECRET, T);
    expect(verifyPaddleSignature(rawBody, old, { secrets: [SECRET, OLD_SECRET], now: at(T) }).secretIndex).toBe(1);
    const both = signPaddleSignature(rawBody, [SECRET, OLD_SECRET], T);
    expect(both.split(';').filter((p) => p.startsWith('h1='))).toHaveLength(2);
    expect(verifyPaddleSignature(rawBody, both, { secrets: [OLD_SECRET], now: at(T) }).secretIndex).toBe(0);
    expect(verifyPaddleSignature(rawBody, both, { secrets: [SECRET], now: at(T) }).secretIndex).toBe(0);
  });
});
