import type { CriticalityClass } from '@app/domain';
import { canonicalManifestClaims, type ManifestClaims } from './manifest.claims.js';
import { decodeManifest } from './manifest.decode.js';
import { manifestHash } from './manifest.hash.js';
import { signManifest } from './manifest.sign.js';
import { isNonNegativeInt, isPositiveInt, numericDate } from './ordering.util.js';
import type { ManifestShard } from './shard-set.state.js';
import { InvalidArgumentError, InvalidManifestError, VerRegressionError } from './snapshot.errors.js';
import type { PublicJwk, SigningKey } from './signing-key.types.js';

export interface ManifestChainOptions {
  /** `LEDGER_ISSUER`. */
  readonly issuer: string;
  /** `SNAPSHOT_TTL_S`: `exp - iat`. */
  readonly ttlS: number;
  readonly shardCount: number;
  /** The last manifest published (persisted by the caller so `seq` survives restarts); null for the first. */
  readonly last?: { readonly seq: number; readonly jws: string } | null;
}

export interface NextManifestInput {
  /** The ledger position the snapshot reflects. */
  readonly ver: number;
  readonly now: Date;
  readonly shards: readonly ManifestShard[];
  readonly classes: Readonly<Record<string, CriticalityClass>>;
  /** Public keys to vouch for in the `keys` claim (the JWKS: current, next, previous). */
  readonly keys?: readonly PublicJwk[];
}

interface Link {
  readonly jws: string;
  readonly hash: string;
  readonly claims: ManifestClaims;
}

/**
 * The hash chain of published manifests: `seq` grows by one per manifest (re-signings
 * included), `prev` is the hash of the last one, `exp = iat + ttl`. Holds the last link only.
 *
 * @example
 * const chain = new ManifestChain({ issuer, ttlS: 900, shardCount: 256, last: await store.lastManifest() });
 * const { jws } = await chain.publish({ ver, now: new Date(), shards: set.manifestEntries(), classes }, ring.signingKey());
 */
export class ManifestChain {
  readonly #issuer: string;
  readonly #ttlS: number;
  readonly #shardCount: number;
  #last: Link | null = null;

  /** @throws {InvalidManifestError} `last` is not a manifest of this chain's shape, or its seq differs */
  constructor(options: ManifestChainOptions) {
    if (typeof options.issuer !== 'string' || options.issuer === '') throw new InvalidArgumentError('issuer must be non-empty');
    if (!isPositiveInt(options.ttlS)) throw new InvalidArgumentError('ttlS must be a positive integer (seconds)');
    if (!isPositiveInt(options.shardCount)) throw new InvalidArgumentError('shardCount must be a positive integer');
    this.#issuer = options.issuer;
    this.#ttlS = options.ttlS;
    this.#shardCount = options.shardCount;
    const last = options.last ?? null;
    if (last !== null) {
      const { claims } = decodeManifest(last.jws);
      if (claims.seq !== last.seq) throw new InvalidManifestError(`the last manifest has seq ${claims.seq}, not ${last.seq}`);
      this.#last = { jws: last.jws, hash: manifestHash(last.jws), claims };
    }
  }

  /** The last manifest of the chain (seq, JWS, its hash), or null before the first. */
  get last(): { readonly seq: number; readonly jws: string; readonly hash: string } | null {
    const l = this.#last;
    return l === null ? null : { seq: l.claims.seq, jws: l.jws, hash: l.hash };
  }

  /**
   * The claims of the next manifest. `iat` is `now` floored to seconds, but never earlier
   * than the last manifest's (a clock stepping back must not make a successor look older).
   *
   * @throws {VerRegressionError} `ver` lower than the last manifest's
   *
   * @example
   * chain.next({ ver: 1234, now, shards: set.manifestEntries(), classes: catalog.classes });
   * // { iss, seq: 8, ver: 1234, iat, exp: iat + 900, prev: '…', shard_count: 256, shards, classes }
   */
  next(input: NextManifestInput): ManifestClaims {
    if (!isNonNegativeInt(input.ver)) throw new InvalidArgumentError(`ver must be a non-negative integer, got ${input.ver}`);
    const last = this.#last?.claims;
    if (last !== undefined && input.ver < last.ver) throw new VerRegressionError(last.ver, input.ver);
    const iat = Math.max(numericDate(input.now), last?.iat ?? 0);
    return canonicalManifestClaims({
      iss: this.#issuer,
      seq: (last?.seq ?? 0) + 1,
      ver: input.ver,
      iat,
      exp: iat + this.#ttlS,
      prev: this.#last?.hash ?? null,
      shard_count: this.#shardCount,
      shards: input.shards,
      classes: input.classes,
      ...(input.keys ? { keys: input.keys } : {}),
    });
  }

  /**
   * Records `jws` as the chain's last manifest once it is published (persist it first).
   *
   * @throws {InvalidManifestError} it is not the successor of the last manifest
   *
   * @example
   * chain.append(await signManifest(chain.next(input), key));
   */
  append(jws: string): void {
    const { claims } = decodeManifest(jws);
    const expectedSeq = (this.#last?.claims.seq ?? 0) + 1;
    const expectedPrev = this.#last?.hash ?? null;
    if (claims.seq !== expectedSeq || claims.prev !== expectedPrev) {
      throw new InvalidManifestError(`expected seq ${expectedSeq} chained to the last manifest, got seq ${claims.seq}`);
    }
    this.#last = { jws, hash: manifestHash(jws), claims };
  }

  /**
   * `next`, sign, `append` in one step. Persist the returned JWS before serving it.
   *
   * @example
   * const { jws, claims, hash } = await chain.publish({ ver, now, shards, classes }, ring.signingKey());
   */
  async publish(input: NextManifestInput, key: SigningKey): Promise<{ jws: string; claims: ManifestClaims; hash: string }> {
    const claims = this.next(input);
    const jws = await signManifest(claims, key);
    this.append(jws);
    return { jws, claims, hash: manifestHash(jws) };
  }
}
