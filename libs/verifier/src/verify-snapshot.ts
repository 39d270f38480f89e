import { VerifierError } from './errors.js';
import { assertPinnedKeys, Keyring } from './lib/keyring.js';
import { message, verifyManifest, type ShardEntry } from './lib/manifest.js';
import { FeatureIds, readShard } from './lib/shard.js';
import type { FeatureClass, JsonWebKeySet } from './types.js';
import type { JWK } from 'jose';

/** A shard as the manifest lists it. */
export interface SnapshotShardEntry {
  readonly id: number;
  readonly sha256: string;
  readonly count: number;
  readonly bytes: number;
}

/** What {@link verifySnapshot} checks: a manifest, the keys to trust, and where its shards come from. */
export interface SnapshotToVerify {
  /** The manifest's compact JWS. */
  readonly manifest: string;
  /** Pinned public keys (a JWKS or an array of public Ed25519 JWKs). */
  readonly trustedKeys: JsonWebKeySet | readonly JWK[];
  /** Expected `iss`; unchecked when omitted. */
  readonly issuer?: string;
  /**
   * Manifests whose `keys` claim introduced keys (a verifier cache's `keyEvidence`, oldest
   * first): each one that verifies against the keys trusted so far teaches its keys.
   */
  readonly keyEvidence?: readonly string[];
  /** The bytes of a shard, or `null` when they cannot be had (it then fails as missing). */
  readonly shard: (entry: SnapshotShardEntry) => Promise<Uint8Array | null>;
}

/** One shard's outcome: `error` is `null` when its bytes, hash, id and count all match the manifest. */
export interface SnapshotShardCheck extends SnapshotShardEntry {
  readonly subjects: number | null;
  readonly error: { readonly code: string; readonly message: string } | null;
}

/** A verified manifest's claims and every shard's check. `ok` is true when every shard passed. */
export interface SnapshotVerification {
  readonly ok: boolean;
  readonly kid: string;
  readonly iss: string;
  readonly seq: number;
  readonly ver: number;
  readonly iat: number;
  readonly exp: number;
  readonly prev: string | null;
  readonly shardCount: number;
  readonly classes: Readonly<Record<string, FeatureClass>>;
  /** Subjects over the shards that passed. */
  readonly subjects: number;
  readonly shards: readonly SnapshotShardCheck[];
}

/**
 * Verifies a published snapshot on its own, with no state: the manifest's signature, `typ`,
 * claims and `iss` against the pinned keys (throws `SnapshotRejectedError` when they
 * fail, since nothing else can then be trusted), then every shard's size, SHA-256, id and
 * subject count against the manifest (each shard's failure is reported, not thrown). Expiry
 * and succession are the caller's to judge: a lone snapshot has no predecessor.
 *
 * @example
 * ```ts
 * const report = await verifySnapshot({
 *   manifest: jws,
 *   trustedKeys: JSON.parse(await readFile('ledger-jwks.json', 'utf8')),
 *   shard: async (entry) => new Uint8Array(await (await fetch(`${url}/v1/snapshots/shards/${entry.sha256}`)).arrayBuffer()),
 * });
 * if (!report.ok) console.error(report.shards.filter((s) => s.error));
 * ```
 */
export async function verifySnapshot(input: SnapshotToVerify): Promise<SnapshotVerification> {
  const ring = await Keyring.pinned(assertPinnedKeys(input.trustedKeys));
  for (const jws of input.keyEvidence ?? []) {
    try {
      await ring.learn((await verifyManifest(jws, ring, input.issuer)).keys);
    } catch {
      // evidence no trusted key vouches for teaches nothing
    }
  }
  const manifest = await verifyManifest(input.manifest, ring, input.issuer);
  const features = new FeatureIds();
  const shards = await Promise.all(manifest.shards.map((entry) => checkShard(entry, manifest.shardCount, features, input.shard)));
  return {
    ok: shards.every((s) => s.error === null),
    kid: manifest.kid,
    iss: manifest.iss,
    seq: manifest.seq,
    ver: manifest.ver,
    iat: manifest.iat,
    exp: manifest.exp,
    prev: manifest.prev,
    shardCount: manifest.shardCount,
    classes: Object.fromEntries(manifest.classes),
    subjects: shards.reduce((n, s) => n + (s.error === null ? (s.subjects ?? 0) : 0), 0),
    shards,
  };
}

async function checkShard(
  entry: ShardEntry,
  shardCount: number,
  features: FeatureIds,
  load: (entry: SnapshotShardEntry) => Promise<Uint8Array | null>,
): Promise<SnapshotShardCheck> {
  const fail = (code: string, text: string): SnapshotShardCheck => ({ ...entry, subjects: null, error: { code, message: text } });
  let bytes: Uint8Array | null;
  try {
    bytes = await load(entry);
  } catch (e) {
    return fail('shard_unavailable', `shard ${entry.id} could not be read: ${message(e)}`);
  }
  if (bytes === null) return fail('shard_missing', `shard ${entry.id} (${entry.sha256}) is missing`);
  if (bytes.byteLength !== entry.bytes) {
    return fail('shard_size_mismatch', `shard ${entry.id} has ${bytes.byteLength} bytes, the manifest says ${entry.bytes}`);
  }
  try {
    const shard = await readShard(bytes, entry, shardCount, features);
    if (shard.size !== entry.count) {
      return fail('shard_invalid', `shard ${entry.id} holds ${shard.size} subjects, the manifest says ${entry.count}`);
    }
    return { ...entry, subjects: shard.size, error: null };
  } catch (e) {
    if (e instanceof VerifierError) return fail(e.code, e.message);
    throw e;
  }
}
