import { SnapshotRejectedError } from './errors.js';
import { createSigner, FakeLedger } from './testing/fake-ledger.fixtures.js';
import { verifySnapshot } from './verify-snapshot.js';

const S0 = Date.parse('2026-06-01T00:00:00.000Z') / 1000;

async function published(): Promise<{ ledger: FakeLedger; jws: string }> {
  const ledger = await FakeLedger.create({ shardCount: 4 });
  ledger.subjects = {
    org_1: { features: { api: [{ value: true, valid_until: null }] } },
    org_2: { features: { seats: [{ value: 3, valid_until: null }] } },
    org_3: { features: { api: [{ value: true, valid_until: null }] } },
  };
  ledger.ver = 7;
  const jws = await ledger.publish({ iat: S0, classes: { api: 'A' } });
  return { ledger, jws };
}

describe('verifySnapshot', () => {
  it('reports the claims and every shard when all of it verifies', async () => {
    const { ledger, jws } = await published();
    const report = await verifySnapshot({
      manifest: jws,
      trustedKeys: [ledger.signer.publicJwk],
      issuer: ledger.issuer,
      shard: async (e) => ledger.blobs.get(e.sha256) ?? null,
    });
    expect(report).toMatchObject({ ok: true, kid: 'k1', iss: ledger.issuer, seq: 1, ver: 7, iat: S0, exp: S0 + 900, prev: null });
    expect(report.shardCount).toBe(4);
    expect(report.subjects).toBe(3);
    expect(report.classes).toEqual({ api: 'A' });
    expect(report.shards.every((s) => s.error === null)).toBe(true);
  });

  it('throws signature_invalid / unknown_key for a manifest the pinned keys do not vouch for', async () => {
    const { ledger, jws } = await published();
    const [h, p, s] = jws.split('.') as [string, string, string];
    const flipped = `${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'BA' : 'AA'}`;
    const shard = async () => null;
    await expect(verifySnapshot({ manifest: flipped, trustedKeys: [ledger.signer.publicJwk], shard })).rejects.toMatchObject({
      code: 'signature_invalid',
    });
    const other = await createSigner('k1');
    const err = await verifySnapshot({ manifest: jws, trustedKeys: [other.publicJwk], shard }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SnapshotRejectedError);
    expect((err as SnapshotRejectedError).code).toBe('signature_invalid');
    const stranger = await createSigner('k9');
    await expect(verifySnapshot({ manifest: jws, trustedKeys: [stranger.publicJwk], shard })).rejects.toMatchObject({ code: 'unknown_key' });
  });

  it('names each shard that is missing, tampered or of the wrong size, and keeps checking the others', async () => {
    const { ledger, jws } = await published();
    const entries = (await ledger.buildShards()).filter((e) => e.count > 0);
    const [tampered, missing] = entries as [(typeof entries)[number], (typeof entries)[number]];
    const report = await verifySnapshot({
      manifest: jws,
      trustedKeys: [ledger.signer.publicJwk],
      shard: async (e) => {
        if (e.sha256 === missing.sha256) return null;
        const bytes = ledger.blobs.get(e.sha256)!;
        if (e.sha256 !== tampered.sha256) return bytes;
        const copy = new TextDecoder().decode(bytes).replace('true', 'fals');
        return new TextEncoder().encode(copy);
      },
    });
    expect(report.ok).toBe(false);
    const failed = Object.fromEntries(report.shards.filter((s) => s.error).map((s) => [s.id, s.error!.code]));
    expect(failed).toEqual({ [tampered.id]: 'shard_hash_mismatch', [missing.id]: 'shard_missing' });
  });

  it('learns keys from evidence that a pinned key vouches for', async () => {
    const { ledger } = await published();
    const next = await createSigner('k2');
    const evidence = await ledger.publish({ iat: S0 + 1, keys: [next.publicJwk] });
    const jws = await ledger.publish({ iat: S0 + 2, signer: next });
    const shard = async (e: { sha256: string }) => ledger.blobs.get(e.sha256) ?? null;
    await expect(verifySnapshot({ manifest: jws, trustedKeys: [ledger.signer.publicJwk], shard })).rejects.toMatchObject({ code: 'unknown_key' });
    const report = await verifySnapshot({ manifest: jws, trustedKeys: [ledger.signer.publicJwk], keyEvidence: [evidence], shard });
    expect(report).toMatchObject({ ok: true, kid: 'k2', seq: 3 });
  });
});
