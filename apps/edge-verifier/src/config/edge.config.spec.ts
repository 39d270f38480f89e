import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadEdgeConfig } from './edge.config.js';

const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const pub = { ...publicKey.export({ format: 'jwk' }), kid: 'k1' };
const base = { LEDGER_URL: 'http://127.0.0.1:3000', LEDGER_TOKEN: 'secret-token-value', VERIFIER_TRUSTED_KEYS: JSON.stringify({ keys: [pub] }) };

const problems = (env: Record<string, string>): string[] => {
  try {
    loadEdgeConfig(env, '/srv');
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  throw new Error('expected a ConfigError');
};

describe('edge verifier config', () => {
  it('applies the documented defaults', () => {
    expect(loadEdgeConfig(base, '/srv')).toEqual({
      ledgerUrl: 'http://127.0.0.1:3000', ledgerToken: 'secret-token-value', trustedKeys: [pub], issuer: undefined,
      cacheDir: '/srv/.data/edge-verifier', graceS: 259_200, graceBS: 3600, pollS: 5, host: '127.0.0.1', port: 3001, logLevel: 'info',
    });
  });

  it('reads pinned keys from a file, as a JWKS or an array', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edge-config-'));
    try {
      writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify([pub]));
      const { VERIFIER_TRUSTED_KEYS: _k, ...noKeys } = base;
      expect(loadEdgeConfig({ ...noKeys, VERIFIER_TRUSTED_JWKS: 'jwks.json' }, dir).trustedKeys).toEqual([pub]);
      expect(problems({ ...noKeys, VERIFIER_TRUSTED_JWKS: 'missing.json' })[0]).toMatch(/cannot read .*missing\.json \(ENOENT\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names every problem and how to fix it, without echoing secrets or keys', () => {
    const out = problems({ LEDGER_URL: 'ledger', VERIFIER_GRACE_S: '-1', PORT: '70000' });
    expect(out).toEqual(expect.arrayContaining([
      expect.stringMatching(/^LEDGER_URL must be the ledger's absolute base URL/),
      expect.stringMatching(/^LEDGER_TOKEN is required: a ledger bearer token with scope snapshots:read/),
      expect.stringMatching(/^VERIFIER_GRACE_S must be a whole number/),
      expect.stringMatching(/^PORT must be below 65536/),
    ]));
    expect(problems({ ...base, VERIFIER_TRUSTED_KEYS: undefined as unknown as string })[0]).toMatch(/VERIFIER_TRUSTED_JWKS \(a file\) or VERIFIER_TRUSTED_KEYS/);
    const leaked = problems({ ...base, VERIFIER_TRUSTED_KEYS: JSON.stringify([privateKey.export({ format: 'jwk' })]) });
    expect(leaked[0]).toMatch(/PRIVATE key: pin the public key only/);
    expect(leaked.join()).not.toContain((privateKey.export({ format: 'jwk' }) as { d: string }).d);
    expect(problems({ ...base, VERIFIER_TRUSTED_KEYS: '{"keys":[{"kty":"RSA","n":"x","e":"AQAB"}]}' })[0]).toMatch(/not a public Ed25519 JWK/);
    expect(problems({ ...base, VERIFIER_TRUSTED_JWKS: 'x.json' })[0]).toMatch(/both set/);
  });
});
