import { generateKeyPairSync } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyFileInsecureError, KeyFileInvalidError, KeyRing, KeyRotationRefusedError, loadSigningKey } from './index.js';
import { thumbprint } from './jws-test.fixtures.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snapshots-key-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function put(name: string, content: string, mode = 0o600): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, content, { mode });
  await chmod(file, mode);
  return file;
}

const pair = generateKeyPairSync('ed25519');
const jwk = pair.privateKey.export({ format: 'jwk' });
const pem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

describe('loadSigningKey', () => {
  it('gives the same kid (the RFC 7638 thumbprint) for the PEM and the JWK of one key', async () => {
    const fromJwk = await loadSigningKey(await put('key.jwk', JSON.stringify(jwk)));
    const fromPem = await loadSigningKey(await put('key.pem', pem));
    expect(fromJwk.kid).toBe(thumbprint(String(jwk.x)));
    expect(fromPem.kid).toBe(fromJwk.kid);
    expect(fromPem.key.equals(pair.privateKey)).toBe(true);
    const noX = await loadSigningKey(await put('nox.jwk', JSON.stringify({ kty: 'OKP', crv: 'Ed25519', d: jwk.d })));
    expect(noX.kid).toBe(fromJwk.kid);
  });

  it('refuses a key file readable by group or others, saying chmod 600', async () => {
    const file = await put('key.pem', pem, 0o644);
    await expect(loadSigningKey(file)).rejects.toThrow(KeyFileInsecureError);
    await expect(loadSigningKey(file)).rejects.toThrow(/chmod 600/);
    await expect(loadSigningKey(file)).rejects.toMatchObject({ code: 'key_file_insecure' });
  });

  it('refuses what is not an Ed25519 private key, never echoing the file', async () => {
    const secret = String(jwk.d);
    const cases = [
      await put('broken.jwk', `{"kty":"OKP","crv":"Ed25519","d":"${secret}"`),
      await put('mismatch.jwk', JSON.stringify({ ...jwk, x: String(generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x) })),
      await put('public.jwk', JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: jwk.x })),
      await put('ec.pem', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()),
      await put('junk.txt', secret),
      join(dir, 'missing.pem'),
    ];
    for (const file of cases) {
      const err: unknown = await loadSigningKey(file).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KeyFileInvalidError);
      expect((err as Error).message).not.toContain(secret);
      expect((err as Error).cause).toBeUndefined();
    }
  });
});

describe('KeyRing.fromFile', () => {
  it('signs with the fixed key, publishes it alone, and refuses to rotate', async () => {
    const file = await put('key.pem', pem);
    const ring = await KeyRing.fromFile(file);
    expect(ring.fixed).toBe(true);
    expect(ring.signingKey().kid).toBe(thumbprint(String(jwk.x)));
    expect(ring.jwks(new Date()).keys).toEqual([
      { kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid: thumbprint(String(jwk.x)), alg: 'EdDSA', use: 'sig' },
    ]);
    await expect(ring.rotate(new Date())).rejects.toThrow(KeyRotationRefusedError);
    await expect(ring.rotate(new Date())).rejects.toThrow(/LEDGER_SIGNING_KEY/);
  });
});
