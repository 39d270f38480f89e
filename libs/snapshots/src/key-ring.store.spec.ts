import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEY_RING_FILE, KeyFileInsecureError, KeyRing, KeyRingInvalidError } from './index.js';
import { thumbprint } from './jws-test.fixtures.js';

const T0 = new Date('2026-11-01T12:00:00.000Z');
const at = (s: number): Date => new Date(T0.getTime() + s * 1000);

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'snapshots-ring-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('KeyRing.open', () => {
  it('creates the directory 0700 and a first key in a 0600 file, and reopens the same ring', async () => {
    const dir = join(root, 'data', 'keys');
    const ring = await KeyRing.open(dir, { now: T0 });
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, KEY_RING_FILE))).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual([KEY_RING_FILE]);
    expect(ring.fixed).toBe(false);
    expect(ring.describe()).toEqual([{ kid: ring.signingKey().kid, state: 'current', created_at: T0.toISOString() }]);

    const again = await KeyRing.open(dir, { now: at(60) });
    expect(again.signingKey().kid).toBe(ring.signingKey().kid);
    expect(again.signingKey().key.equals(ring.signingKey().key)).toBe(true);
  });

  it('uses the injected generator, and publishes public JWKs only', async () => {
    const made: KeyObject[] = [];
    const generate = (): KeyObject => {
      const k = generateKeyPairSync('ed25519').privateKey;
      made.push(k);
      return k;
    };
    const ring = await KeyRing.open(join(root, 'keys'), { now: T0, generate });
    expect(made).toHaveLength(1);
    const x = String((made[0] as KeyObject).export({ format: 'jwk' }).x);
    const d = String((made[0] as KeyObject).export({ format: 'jwk' }).d);
    expect(ring.signingKey().kid).toBe(thumbprint(x));
    const jwks = ring.jwks(T0);
    expect(jwks).toEqual({ keys: [{ kty: 'OKP', crv: 'Ed25519', x, kid: thumbprint(x), alg: 'EdDSA', use: 'sig' }] });
    expect(JSON.stringify(jwks)).not.toContain(d);
    expect(JSON.stringify(ring.describe())).not.toContain(d);
    expect(JSON.stringify(ring.signingKey())).not.toContain(d);
  });

  it('refuses a ring file or directory that group or others can access', async () => {
    const dir = join(root, 'keys');
    await KeyRing.open(dir, { now: T0 });
    await chmod(join(dir, KEY_RING_FILE), 0o644);
    await expect(KeyRing.open(dir, { now: T0 })).rejects.toThrow(/chmod 600/);
    await chmod(join(dir, KEY_RING_FILE), 0o600);
    await chmod(dir, 0o755);
    await expect(KeyRing.open(dir, { now: T0 })).rejects.toThrow(KeyFileInsecureError);
    await expect(KeyRing.open(dir, { now: T0 })).rejects.toThrow(/chmod 700/);
  });

  it('refuses an inconsistent ring file without echoing it', async () => {
    const dir = join(root, 'keys');
    await mkdir(dir, { mode: 0o700 });
    const ring = await KeyRing.open(dir, { now: T0 });
    const file = join(dir, KEY_RING_FILE);
    const doc = JSON.parse(await readFile(file, 'utf8')) as { keys: { kid: string; jwk: { d: string } }[] };
    const secret = doc.keys[0]?.jwk.d ?? '';
    const { writeFile } = await import('node:fs/promises');
    await writeFile(file, JSON.stringify({ format: 1, keys: [{ ...doc.keys[0], kid: 'other' }] }));
    await expect(KeyRing.open(dir, { now: T0 })).rejects.toThrow(KeyRingInvalidError);
    await writeFile(file, `{"format":1,"keys":[{"jwk":{"d":"${secret}"`);
    const err = (await KeyRing.open(dir, { now: T0 }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(KeyRingInvalidError);
    expect(err.message).not.toContain(secret);
    expect(ring.signingKey().kid).toBe(doc.keys[0]?.kid);
  });
});

describe('KeyRing.rotate', () => {
  it('announces, then promotes; the retired key stays until retire_after; all of it persisted', async () => {
    const dir = join(root, 'keys');
    const ring = await KeyRing.open(dir, { now: T0, snapshotTtlS: 300, tokenTtlS: 900 });
    const a = ring.signingKey().kid;

    const announce = await ring.rotate(at(10));
    const b = announce.next as string;
    expect(announce).toEqual({ action: 'announced', current: a, next: b });
    expect(ring.signingKey().kid).toBe(a);
    expect(ring.describe().map((k) => [k.kid, k.state])).toEqual([[a, 'current'], [b, 'next']]);

    const promote = await ring.rotate(at(100));
    expect(promote).toEqual({ action: 'promoted', current: b, next: null });
    expect(ring.signingKey().kid).toBe(b);
    expect(ring.describe()).toContainEqual({
      kid: a, state: 'previous', created_at: T0.toISOString(),
      retired_at: at(100).toISOString(), retire_after: at(100 + 900).toISOString(),
    });
    expect(ring.jwks(at(999)).keys.map((k) => k.kid)).toEqual([b, a]);
    expect(ring.jwks(at(1000)).keys.map((k) => k.kid)).toEqual([b]);

    const reopened = await KeyRing.open(dir, { now: at(200), snapshotTtlS: 300, tokenTtlS: 900 });
    expect(reopened.signingKey().kid).toBe(b);
    expect(reopened.describe()).toEqual(ring.describe());
    expect((await stat(join(dir, KEY_RING_FILE))).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual([KEY_RING_FILE]);

    // The next cycle announces c while a is still retained; once a expires the file forgets it.
    const c = (await reopened.rotate(at(300))).next as string;
    expect(reopened.jwks(at(300)).keys.map((k) => k.kid)).toEqual([b, c, a]);
    await reopened.rotate(at(1200));
    expect(reopened.describe().map((k) => [k.kid, k.state])).toEqual([[b, 'previous'], [c, 'current']]);
  });
});
