import type { JWK } from 'jose';
import type { SnapshotRejectedCode, VerifierError } from './errors.js';

/** Criticality class of a feature (see the ledger's DESIGN): A keeps working longest, C fails closed. */
export type FeatureClass = 'A' | 'B' | 'C';

/** A granted value: booleans for on/off features, numbers for limits. */
export type GrantValue = boolean | number;

/** Where a decision came from. */
export type DecisionSource = 'fresh' | 'stale' | 'token' | 'none';

/** Short, machine-friendly reason of a decision. */
export type DecisionReason =
  | 'granted'
  | 'not_granted'
  | 'expired_grant'
  | 'unknown_subject'
  | 'stale_within_grace'
  | 'past_grace'
  | 'no_snapshot'
  | 'token'
  | 'token_not_granted'
  | 'token_subject_mismatch'
  | 'token_invalid';

/** The answer of {@link Verifier.check}. */
export interface Decision {
  readonly allowed: boolean;
  /** The feature's value at "now" (`null` when not granted or not decidable). */
  readonly value: GrantValue | null;
  readonly source: DecisionSource;
  /** Ledger position of the manifest (or token) the decision came from; `null` without one. */
  readonly ver: number | null;
  /** Whole seconds the held manifest is past its `exp` (0 while fresh); `null` without a manifest. */
  readonly stale_for_s: number | null;
  readonly reason: DecisionReason;
}

/** Options of the variant of {@link Verifier.check} that may fall back to a capability token. */
export interface CheckOptions {
  /** A capability token (compact JWS) the caller presented, used when no snapshot can decide. */
  readonly token?: string;
}

/** Claims of a verified capability token. */
export interface TokenClaims {
  readonly iss: string;
  readonly sub: string;
  readonly iat: number;
  readonly nbf?: number;
  readonly exp: number;
  readonly ver: number;
  readonly plan: string | null;
  readonly ent: Readonly<Record<string, GrantValue>>;
}

/**
 * What the verifier persists: enough to start offline and to never go back in time.
 * Everything in it is re-verified on load; only `timeFloor` and `highestSeq`/`highestVer`
 * are trusted as they are, and they can only make the verifier stricter.
 */
export interface CachedState {
  readonly v: 1;
  /** Compact JWS of the last accepted manifest, or `null` before the first one. */
  readonly manifest: string | null;
  /**
   * Shard bytes (UTF-8 JSON text) by their SHA-256 hex: exactly the shards of `manifest`. Empty
   * when saving to an adapter that stores shards itself ({@link CacheAdapter.saveShard}); such an
   * adapter may also leave shards out of what `load` returns and hand them to `loadShard`.
   */
  readonly shards: Readonly<Record<string, string>>;
  /** SHA-256 hex of the manifest's shards, in id order (set by the verifier on save). */
  readonly shardHashes?: readonly string[];
  readonly highestSeq: number;
  readonly highestVer: number;
  /** Epoch milliseconds: the latest signed `iat` and clock reading observed. */
  readonly timeFloor: number;
  /** Manifests (compact JWS, oldest first) whose `keys` claim introduced trusted keys. */
  readonly keyEvidence: readonly string[];
}

/**
 * Where the verifier keeps its last-known-good state. `save` is called after each accepted
 * manifest and every few seconds (time floor): shards are immutable and content-addressed,
 * so an adapter should write a shard only when it has not got it yet.
 */
export interface CacheAdapter {
  load(): Promise<CachedState | null>;
  save(state: CachedState): Promise<void>;
  /**
   * Optional, together with `saveShard`: the adapter stores shards itself, one at a time. The
   * verifier then reads each cached shard through `loadShard` while it re-verifies them (a few at
   * a time, instead of all in `load`), hands each newly verified shard to `saveShard` once, and
   * calls `save` with empty `shards` (their hashes in `shardHashes`), so it need not keep shard
   * text in memory. `null` for a shard the adapter does not have.
   */
  loadShard?(sha256: string): Promise<string | Uint8Array | null>;
  /** Stores one verified shard (its exact text) under its SHA-256 hex; see `loadShard`. */
  saveShard?(sha256: string, text: string): Promise<void>;
}

/** A minimal `fetch`: the global one, or any WHATWG-compatible implementation. */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** Knobs of the retry and circuit breaker that guard every ledger call. */
export interface ResilienceOptions {
  /** Retries after a failed call (transport errors, 5xx, 408, 429). Default 2. */
  readonly retries?: number;
  /** First backoff delay in ms (exponential, jittered). Default 200. */
  readonly initialDelayMs?: number;
  /** Largest backoff delay in ms. Default 5000. */
  readonly maxDelayMs?: number;
  /** Consecutive failures that open the circuit. Default 5. */
  readonly breakerThreshold?: number;
  /** How long the circuit stays open before a trial call, in ms. Default 10000. */
  readonly halfOpenAfterMs?: number;
  /** Timeout of one request (SSE: until the response headers), in ms. Default 10000. */
  readonly timeoutMs?: number;
}

/** A JWK Set, as served at `/.well-known/jwks.json`. */
export interface JsonWebKeySet {
  readonly keys: readonly JWK[];
}

/** Options of {@link createVerifier}. */
export interface VerifierOptions {
  /** Base URL of the ledger (or of a CDN in front of it), e.g. `https://ledger.example.com`. */
  readonly ledgerUrl: string;
  /** Bearer token with scope `snapshots:read`. */
  readonly token: string;
  /** Pinned public keys (Ed25519 JWKs with `kid`): the root of trust. */
  readonly trustedKeys: JsonWebKeySet | readonly JWK[];
  /** Expected `iss` of manifests and tokens; unchecked when absent. */
  readonly issuer?: string;
  /** Grace after manifest `exp` for class A features, in seconds. Default 259200 (3 days). */
  readonly graceS?: number;
  /** Grace after manifest `exp` for class B features, in seconds. Default 3600. */
  readonly graceBS?: number;
  /** Poll interval in seconds (and SSE fallback). Default 5. */
  readonly pollS?: number;
  /** Feature → class overrides; they win over the manifest's `classes`. */
  readonly classes?: Readonly<Record<string, FeatureClass>>;
  readonly cache?: CacheAdapter;
  readonly fetch?: FetchLike;
  /** The clock. Default `() => new Date()`. */
  readonly now?: () => Date;
  /** Tolerance for a manifest's `iat` ahead of now and for token `exp`/`nbf`, in seconds. Default 60. */
  readonly clockToleranceS?: number;
  /** Largest manifest accepted, in bytes. Default 1048576. */
  readonly maxManifestBytes?: number;
  /** Largest shard accepted, in bytes (the manifest's `bytes` caps it further). Default 16777216. */
  readonly maxShardBytes?: number;
  /** Listen to `GET /v1/snapshots/stream` (with polling as fallback). Default true where fetch can stream. */
  readonly useSse?: boolean;
  readonly resilience?: ResilienceOptions;
}

/** Overall standing of the held snapshot. */
export type VerifierStatus = 'empty' | 'fresh' | 'stale' | 'expired';

/** A view of the verifier for health endpoints and metrics. */
export interface VerifierState {
  readonly status: VerifierStatus;
  readonly seq: number | null;
  readonly ver: number | null;
  readonly iat: number | null;
  readonly exp: number | null;
  /** Seconds since the held manifest's `iat`. */
  readonly age_s: number | null;
  readonly stale_for_s: number | null;
  /** ISO time of the last successful contact with the ledger (200 or 304). */
  readonly last_sync_at: string | null;
  readonly transport: 'stopped' | 'poll' | 'sse';
  readonly circuit: 'closed' | 'open' | 'half_open' | 'isolated';
  readonly trusted_kids: readonly string[];
  readonly last_error: { readonly code: string; readonly message: string } | null;
}

/** Payloads of the events a verifier emits. */
export interface VerifierEvents {
  /** The held snapshot moved between `empty`, `fresh`, `stale` and `expired`. */
  state: { readonly from: VerifierStatus; readonly to: VerifierStatus };
  /** A manifest was accepted (or confirmed unchanged). */
  sync: {
    readonly via: 'cache' | 'poll' | 'sse';
    readonly seq: number;
    readonly ver: number;
    readonly changed: boolean;
    readonly fetchedShards: number;
    readonly reusedShards: number;
  };
  /** A manifest, shard or cached state failed verification; the held state was kept. */
  reject: { readonly reason: SnapshotRejectedCode; readonly message: string };
  /** The ledger could not be reached (after retries); decisions continue from the held state. */
  unreachable: { readonly error: VerifierError };
}

export type VerifierEventName = keyof VerifierEvents;

/** A running verifier; see {@link createVerifier}. */
export interface Verifier {
  /** Loads and re-verifies the cache, then syncs once and keeps syncing (SSE, else polling). Never throws for an unreachable ledger. */
  start(): Promise<void>;
  /** Stops syncing and persists the time floor. */
  stop(): Promise<void>;
  /**
   * Polls the ledger once, now, outside the schedule (e.g. to read one's own write:
   * wait until `state().ver >= position`). Never throws for ledger problems: see the
   * `reject`/`unreachable` events and `state().last_error`.
   */
  sync(): Promise<VerifierState>;
  /** Decides from the held snapshot: synchronous, no IO. */
  check(subject: string, feature: string): Decision;
  /** Decides from the held snapshot, else from the presented capability token. */
  check(subject: string, feature: string, options: CheckOptions): Promise<Decision>;
  /** Verifies a capability token against the trusted keys at "now"; throws a {@link TokenError}. */
  verifyToken(jwt: string): Promise<TokenClaims>;
  /** The subject owning this API key, from the snapshot's key hashes; `null` if unknown or past class A grace. */
  authenticateApiKey(key: string): Promise<string | null>;
  state(): VerifierState;
  /** Subscribes to an event; returns the unsubscribe function. */
  on<E extends VerifierEventName>(event: E, listener: (payload: VerifierEvents[E]) => void): () => void;
}
