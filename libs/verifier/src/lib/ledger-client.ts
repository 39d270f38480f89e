import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  circuitBreaker,
  handleWhen,
  retry,
  wrap,
  type CircuitBreakerPolicy,
} from 'cockatiel';
import { LedgerError } from '../errors.js';
import type { FetchLike, ResilienceOptions } from '../types.js';
import { message } from './manifest.js';

export interface LedgerClientOptions {
  readonly ledgerUrl: string;
  readonly token: string;
  readonly fetch: FetchLike;
  readonly maxManifestBytes: number;
  readonly resilience: Required<ResilienceOptions>;
}

export type LatestManifest =
  | { readonly status: 'not_modified' }
  | { readonly status: 'ok'; readonly jws: string; readonly etag: string | null };

export interface LedgerClient {
  latestManifest(etag: string | null, signal: AbortSignal): Promise<LatestManifest>;
  shard(sha256: string, cap: number, signal: AbortSignal): Promise<Uint8Array>;
  /** Opens the SSE stream; the timeout covers the response headers only. */
  openStream(signal: AbortSignal): Promise<ReadableStream<Uint8Array>>;
  circuit(): 'closed' | 'open' | 'half_open' | 'isolated';
}

const decoder = new TextDecoder('utf-8', { fatal: true });

const isTransient = (e: Error): boolean => e instanceof LedgerError && e.code === 'ledger_unavailable';

/** Every ledger call goes through one retry (exponential backoff) around one circuit breaker. */
export function createLedgerClient(options: LedgerClientOptions): LedgerClient {
  const { resilience } = options;
  const base = options.ledgerUrl.endsWith('/') ? options.ledgerUrl : `${options.ledgerUrl}/`;
  const url = (path: string): string => new URL(path, base).toString();
  const breaker: CircuitBreakerPolicy = circuitBreaker(handleWhen(isTransient), {
    halfOpenAfter: resilience.halfOpenAfterMs,
    breaker: new ConsecutiveBreaker(resilience.breakerThreshold),
  });
  const policy = wrap(
    retry(handleWhen(isTransient), {
      maxAttempts: resilience.retries,
      backoff: new ExponentialBackoff({ initialDelay: resilience.initialDelayMs, maxDelay: resilience.maxDelayMs }),
    }),
    breaker,
  );

  async function guarded<T>(signal: AbortSignal, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await policy.execute(({ signal: attemptSignal }) => fn(attemptSignal), signal);
    } catch (e) {
      if (e instanceof BrokenCircuitError) throw new LedgerError('circuit_open', 'the circuit to the ledger is open', { cause: e });
      throw e;
    }
  }

  /** One attempt: fetch with a timeout; `read` runs under the same timeout unless `keepOpen`. */
  async function attempt<T>(
    signal: AbortSignal,
    target: string,
    init: RequestInit,
    read: (response: Response, abort: AbortController) => Promise<T>,
    keepOpen = false,
  ): Promise<T> {
    const controller = new AbortController();
    const unlink = link(signal, controller);
    const timer = setTimeout(() => controller.abort(), resilience.timeoutMs);
    try {
      let response: Response;
      try {
        response = await options.fetch(target, { ...init, signal: controller.signal });
      } catch (e) {
        throw new LedgerError('ledger_unavailable', `request to ${target} failed: ${message(e)}`, { cause: e });
      }
      if (keepOpen) clearTimeout(timer);
      try {
        return await read(response, controller);
      } catch (e) {
        if (e instanceof LedgerError) throw e;
        throw new LedgerError('ledger_unavailable', `reading ${target} failed: ${message(e)}`, { cause: e });
      }
    } finally {
      clearTimeout(timer);
      if (!keepOpen) unlink();
    }
  }

  const bearer = { authorization: `Bearer ${options.token}` };

  return {
    latestManifest: (etag, signal) =>
      guarded(signal, (s) =>
        attempt(
          s,
          url('v1/snapshots/latest'),
          { headers: { ...bearer, accept: 'application/jwt', ...(etag ? { 'if-none-match': etag } : {}) } },
          async (response, abort): Promise<LatestManifest> => {
            if (response.status === 304) {
              await discard(response);
              return { status: 'not_modified' };
            }
            await expectOk(response);
            const bytes = await readCapped(response, options.maxManifestBytes, abort);
            let jws: string;
            try {
              jws = decoder.decode(bytes).trim();
            } catch {
              jws = '';
            }
            return { status: 'ok', jws, etag: response.headers.get('etag') };
          },
        ),
      ),
    shard: (sha256, cap, signal) =>
      guarded(signal, (s) =>
        attempt(s, url(`v1/snapshots/shards/${sha256}`), {}, async (response, abort) => {
          await expectOk(response);
          return readCapped(response, cap, abort);
        }),
      ),
    openStream: (signal) =>
      guarded(signal, (s) =>
        attempt(
          s,
          url('v1/snapshots/stream'),
          { headers: { ...bearer, accept: 'text/event-stream', 'cache-control': 'no-cache' } },
          async (response) => {
            await expectOk(response);
            if (!response.body) throw new LedgerError('ledger_http_error', 'the snapshot stream has no body');
            return response.body;
          },
          true,
        ),
      ),
    circuit: () => {
      switch (breaker.state) {
        case CircuitState.Closed:
          return 'closed';
        case CircuitState.Open:
          return 'open';
        case CircuitState.HalfOpen:
          return 'half_open';
        default:
          return 'isolated';
      }
    },
  };
}

async function expectOk(response: Response): Promise<void> {
  if (response.ok) return;
  await discard(response);
  const { status } = response;
  if (status === 401 || status === 403) {
    throw new LedgerError('ledger_unauthorized', `the ledger refused the token (${status})`);
  }
  if (status === 408 || status === 429 || status >= 500) {
    throw new LedgerError('ledger_unavailable', `the ledger answered ${status}`);
  }
  throw new LedgerError('ledger_http_error', `the ledger answered ${status}`);
}

async function discard(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // nothing to release
  }
}

/** Reads a body, aborting as soon as it exceeds `cap` bytes (declared or streamed). */
export async function readCapped(response: Response, cap: number, abort: AbortController): Promise<Uint8Array> {
  const tooLarge = (): LedgerError => new LedgerError('response_too_large', `response exceeds ${cap} bytes`);
  const declared = response.headers.get('content-length');
  if (declared !== null && Number(declared) > cap) {
    await discard(response);
    abort.abort();
    throw tooLarge();
  }
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.byteLength > cap) throw tooLarge();
    return bytes;
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > cap) {
      void reader.cancel().catch(() => undefined);
      abort.abort();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** Aborts `child` when `parent` aborts; returns the unlink function. */
export function link(parent: AbortSignal, child: AbortController): () => void {
  if (parent.aborted) {
    child.abort();
    return () => undefined;
  }
  const onAbort = (): void => child.abort();
  parent.addEventListener('abort', onAbort, { once: true });
  return () => parent.removeEventListener('abort', onAbort);
}
