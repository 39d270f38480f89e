export {
  type SnapshotErrorCode,
  SnapshotError,
  InvalidArgumentError,
  InvalidSubjectEntryError,
  InvalidShardError,
  VerRegressionError,
  InvalidManifestError,
  KeyFileInsecureError,
  KeyFileInvalidError,
  KeyRingInvalidError,
  KeyRotationRefusedError,
} from './snapshot.errors.js';
export { shardOf, MAX_SHARD_COUNT } from './shard.assign.js';
export { type ShardFeatureGrant, type ShardPlanGrant, type SubjectEntry, subjectEntry } from './subject-entry.build.js';
export { type ShardInput, type EncodedShard, encodeShard } from './shard.encode.js';
export { type DecodedShard, decodeShard } from './shard.decode.js';
export { type ManifestShard, type ShardSnapshot, ShardSet } from './shard-set.state.js';
export type { ManifestClaims } from './manifest.claims.js';
export { signManifest } from './manifest.sign.js';
export { manifestHash } from './manifest.hash.js';
export { type ManifestHeader, decodeManifest } from './manifest.decode.js';
export { type ManifestChainOptions, type NextManifestInput, ManifestChain } from './manifest-chain.builder.js';
export { type CapabilityTokenInput, type CapabilityTokenClaims, signCapabilityToken } from './capability-token.sign.js';
export type { SigningKey, PublicJwk, Jwks } from './signing-key.types.js';
export { loadSigningKey } from './signing-key.load.js';
export {
  KEY_RING_FILE,
  type KeyState,
  type KeyInfo,
  type KeyRotation,
  type KeyRingOptions,
  KeyRing,
} from './key-ring.store.js';
