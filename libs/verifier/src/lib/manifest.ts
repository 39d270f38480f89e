import { compactVerify, errors } from 'jose';
import { SnapshotRejectedError } from '../errors.js';
import type { FeatureClass } from '../types.js';
import type { Keyring } from './keyring.js';
import { sha256Hex } from './sha256.js';

export const MANIFEST_TYP = 'entitlements-manifest+jwt';

export interface ShardEntry {
  readonly id: number;
  readonly sha256: string;
  readonly count: number;
  readonly bytes: number;
}

export interface Manifest {
  readonly jws: string;
  readonly kid: string;
  readonly iss: string;
  readonly seq: number;
  readonly ver: number;
  readonly iat: number;
  readonly exp: number;
  readonly prev: string | null;
  readonly shardCount: number;
  readonly shards: readonly ShardEntry[];
  readonly classes: ReadonlyMap<string, FeatureClass>;
  /** The optional `keys` claim: public JWKs the ledger vouches for (current and next). */
  readonly keys: readonly unknown[];
}

/** What a new manifest is checked against: the held one, and the highest seq/ver ever accepted. */
export interface Succession {
  readonly held: { readonly jws: string; readonly seq: number } | null;
  readonly highestSeq: number;
  readonly highestVer: number;
}

const HEX64 = /^[0-9a-f]{64}$/;
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Signature (EdDSA, trusted kid), `typ`, claim shapes and `iss`: what holds whatever the verifier holds. */
export async function verifyManifest(jws: string, keyring: Keyring, issuer: string | undefined): Promise<Manifest> {
  let verified: Awaited<ReturnType<typeof compactVerify>>;
  try {
    verified = await compactVerify(
      jws,
      keyring.resolve((kid) => new SnapshotRejectedError('unknown_key', `manifest signed with untrusted kid ${String(kid)}`)),
      { algorithms: ['EdDSA'] },
    );
  } catch (e) {
    if (e instanceof SnapshotRejectedError) throw e;
    if (e instanceof errors.JWSSignatureVerificationFailed) {
      throw new SnapshotRejectedError('signature_invalid', 'manifest signature does not verify', { cause: e });
    }
    throw new SnapshotRejectedError('manifest_invalid', `manifest is not a valid compact JWS: ${message(e)}`, { cause: e });
  }
  const { protectedHeader, payload } = verified;
  if (protectedHeader.typ !== MANIFEST_TYP) {
    throw new SnapshotRejectedError('unexpected_typ', `manifest typ is ${String(protectedHeader.typ)}, not ${MANIFEST_TYP}`);
  }
  let claims: unknown;
  try {
    claims = JSON.parse(decoder.decode(payload));
  } catch (e) {
    throw new SnapshotRejectedError('manifest_invalid', 'manifest payload is not JSON', { cause: e });
  }
  const manifest = parseClaims(claims, jws, protectedHeader.kid as string);
  if (issuer !== undefined && manifest.iss !== issuer) {
    throw new SnapshotRejectedError('issuer_mismatch', `manifest iss ${manifest.iss} is not ${issuer}`);
  }
  return manifest;
}

/** Rollback, equivocation, the `prev` chain and `iat` in the future (docs/snapshot-format.md, rules 3–4). */
export async function checkSuccession(
  next: Manifest,
  succession: Succession,
  nowMs: number,
  clockToleranceS: number,
): Promise<void> {
  const { held, highestSeq, highestVer } = succession;
  if (next.seq < highestSeq || (held && next.seq < held.seq)) {
    throw new SnapshotRejectedError('rollback', `manifest seq ${next.seq} is older than ${Math.max(highestSeq, held?.seq ?? 0)}`);
  }
  if (next.ver < highestVer) {
    throw new SnapshotRejectedError('rollback', `manifest ver ${next.ver} is older than ${highestVer}`);
  }
  if (held && next.seq === held.seq && next.jws !== held.jws) {
    throw new SnapshotRejectedError('equivocation', `two different manifests carry seq ${next.seq}`);
  }
  if (held && next.seq === held.seq + 1 && next.prev !== (await sha256Hex(held.jws))) {
    throw new SnapshotRejectedError('broken_chain', `manifest seq ${next.seq} does not chain to the held seq ${held.seq}`);
  }
  if (next.iat * 1000 > nowMs + clockToleranceS * 1000) {
    throw new SnapshotRejectedError(
      'manifest_from_future',
      `manifest iat ${new Date(next.iat * 1000).toISOString()} is ahead of now ${new Date(nowMs).toISOString()}`,
    );
  }
}

function parseClaims(claims: unknown, jws: string, kid: string): Manifest {
  const fail = (what: string): never => {
    throw new SnapshotRejectedError('manifest_invalid', `manifest claim ${what}`);
  };
  if (!isRecord(claims)) return fail('set is not an object');
  const { iss, seq, ver, iat, exp, prev, shard_count: shardCount, shards, classes, keys } = claims;
  if (typeof iss !== 'string') fail('iss is not a string');
  if (!isCount(seq) || seq < 1) fail('seq is not a positive integer');
  if (!isCount(ver)) fail('ver is not a non-negative integer');
  if (!isCount(iat)) fail('iat is not a NumericDate');
  if (!isCount(exp) || (exp as number) < (iat as number)) fail('exp is not a NumericDate at or after iat');
  if (prev !== null && (typeof prev !== 'string' || !HEX64.test(prev))) fail('prev is neither null nor SHA-256 hex');
  if (!isCount(shardCount) || shardCount < 1) fail('shard_count is not a positive integer');
  if (!Array.isArray(shards) || shards.length !== shardCount) fail('shards does not list shard_count entries');
  const entries = (shards as unknown[]).map((entry, i): ShardEntry => {
    if (!isRecord(entry) || entry.id !== i) return fail(`shards[${i}] is out of order`);
    if (typeof entry.sha256 !== 'string' || !HEX64.test(entry.sha256)) return fail(`shards[${i}].sha256 is not SHA-256 hex`);
    if (!isCount(entry.count) || !isCount(entry.bytes)) return fail(`shards[${i}] count/bytes are not integers`);
    return { id: i, sha256: entry.sha256, count: entry.count, bytes: entry.bytes };
  });
  const classMap = new Map<string, FeatureClass>();
  if (classes !== undefined) {
    if (!isRecord(classes)) fail('classes is not an object');
    for (const [feature, cls] of Object.entries(classes as Record<string, unknown>)) {
      if (cls !== 'A' && cls !== 'B' && cls !== 'C') fail(`classes.${feature} is not A, B or C`);
      classMap.set(feature, cls as FeatureClass);
    }
  }
  if (keys !== undefined && !Array.isArray(keys)) fail('keys is not an array');
  return {
    jws,
    kid,
    iss: iss as string,
    seq: seq as number,
    ver: ver as number,
    iat: iat as number,
    exp: exp as number,
    prev: prev as string | null,
    shardCount: shardCount as number,
    shards: entries,
    classes: classMap,
    keys: (keys as unknown[] | undefined) ?? [],
  };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
