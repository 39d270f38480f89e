import type { JWK } from 'jose';
import { InvalidOptionsError } from '../errors.js';
import type { CacheAdapter, FeatureClass, FetchLike, ResilienceOptions, VerifierOptions } from '../types.js';
import { assertPinnedKeys, type PublicEd25519Jwk } from './keyring.js';

export interface ResolvedOptions {
  readonly ledgerUrl: string;
  readonly token: string;
  readonly pinned: readonly PublicEd25519Jwk[];
  readonly issuer: string | undefined;
  readonly graceS: number;
  readonly graceBS: number;
  readonly pollMs: number;
  readonly classes: ReadonlyMap<string, FeatureClass>;
  readonly cache: CacheAdapter | undefined;
  readonly fetch: FetchLike;
  readonly now: () => Date;
  readonly clockToleranceS: number;
  readonly maxManifestBytes: number;
  readonly maxShardBytes: number;
  readonly useSse: boolean;
  readonly resilience: Required<ResilienceOptions>;
}

export const DEFAULTS = {
  graceS: 259_200,
  graceBS: 3_600,
  pollS: 5,
  clockToleranceS: 60,
  maxManifestBytes: 1_048_576,
  maxShardBytes: 16_777_216,
  resilience: {
    retries: 2,
    initialDelayMs: 200,
    maxDelayMs: 5_000,
    breakerThreshold: 5,
    halfOpenAfterMs: 10_000,
    timeoutMs: 10_000,
  },
} as const;

/** Validates and completes the options; every problem says which option and what it needs. */
export function resolveOptions(options: VerifierOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionsError('options must be an object');
  let base: URL;
  try {
    base = new URL(options.ledgerUrl);
  } catch {
    throw new InvalidOptionsError(`ledgerUrl must be an absolute http(s) URL, got ${String(options.ledgerUrl)}`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new InvalidOptionsError('ledgerUrl must use http or https');
  }
  if (typeof options.token !== 'string' || options.token.length === 0) {
    throw new InvalidOptionsError('token (a bearer token with scope snapshots:read) is required');
  }
  if (options.issuer !== undefined && typeof options.issuer !== 'string') throw new InvalidOptionsError('issuer must be a string');
  const fetchImpl = options.fetch ?? (typeof fetch === 'function' ? fetch.bind(globalThis) : undefined);
  if (!fetchImpl) throw new InvalidOptionsError('no global fetch on this runtime: pass options.fetch');
  const classes = new Map<string, FeatureClass>();
  for (const [feature, cls] of Object.entries(options.classes ?? {})) {
    if (cls !== 'A' && cls !== 'B' && cls !== 'C') throw new InvalidOptionsError(`classes.${feature} must be "A", "B" or "C"`);
    classes.set(feature, cls);
  }
  const r = options.resilience ?? {};
  const canStream = typeof ReadableStream === 'function' && typeof TextDecoder === 'function';
  return {
    ledgerUrl: base.toString(),
    token: options.token,
    pinned: assertPinnedKeys(options.trustedKeys as { keys: readonly JWK[] } | readonly JWK[]),
    issuer: options.issuer,
    graceS: seconds('graceS', options.graceS, DEFAULTS.graceS),
    graceBS: seconds('graceBS', options.graceBS, DEFAULTS.graceBS),
    pollMs: positive('pollS', options.pollS, DEFAULTS.pollS) * 1000,
    classes,
    cache: options.cache,
    fetch: fetchImpl,
    now: options.now ?? (() => new Date()),
    clockToleranceS: seconds('clockToleranceS', options.clockToleranceS, DEFAULTS.clockToleranceS),
    maxManifestBytes: positive('maxManifestBytes', options.maxManifestBytes, DEFAULTS.maxManifestBytes),
    maxShardBytes: positive('maxShardBytes', options.maxShardBytes, DEFAULTS.maxShardBytes),
    useSse: (options.useSse ?? true) && canStream,
    resilience: {
      retries: seconds('resilience.retries', r.retries, DEFAULTS.resilience.retries),
      initialDelayMs: seconds('resilience.initialDelayMs', r.initialDelayMs, DEFAULTS.resilience.initialDelayMs),
      maxDelayMs: seconds('resilience.maxDelayMs', r.maxDelayMs, DEFAULTS.resilience.maxDelayMs),
      breakerThreshold: positive('resilience.breakerThreshold', r.breakerThreshold, DEFAULTS.resilience.breakerThreshold),
      halfOpenAfterMs: positive('resilience.halfOpenAfterMs', r.halfOpenAfterMs, DEFAULTS.resilience.halfOpenAfterMs),
      timeoutMs: positive('resilience.timeoutMs', r.timeoutMs, DEFAULTS.resilience.timeoutMs),
    },
  };
}

function seconds(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidOptionsError(`${name} must be a finite number >= 0, got ${String(value)}`);
  }
  return value;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const n = seconds(name, value, fallback);
  if (n === 0) throw new InvalidOptionsError(`${name} must be greater than 0`);
  return n;
}
