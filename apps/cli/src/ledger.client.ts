import { CliError } from './cli.errors.js';
import type { Problem } from './ledger-api.types.js';

export interface LedgerClientOptions {
  readonly url: string;
  readonly token: string | undefined;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

export interface RequestOptions {
  readonly method?: string;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** Send without the bearer token (public paths: shards, JWKS). */
  readonly anonymous?: boolean;
}

/**
 * The ledger over HTTP: JSON in and out, the bearer token on every call, problem+json answers
 * turned into {@link CliError}. The token is only ever put in the Authorization header, never
 * in a message.
 */
export class LedgerClient {
  private readonly fetch: typeof fetch;

  constructor(private readonly options: LedgerClientOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  get url(): string {
    return this.options.url;
  }

  async json<T>(path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.request(path, options);
    const text = await res.text();
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw CliError.local('bad-answer', 'the ledger answered something that is not JSON', `${options.method ?? 'GET'} ${path}: ${text.slice(0, 200)}`, { cause: e });
    }
  }

  async bytes(path: string, options: RequestOptions = {}): Promise<{ bytes: Uint8Array; headers: Headers }> {
    const res = await this.request(path, options);
    return { bytes: new Uint8Array(await res.arrayBuffer()), headers: res.headers };
  }

  /** The raw answer of a 2xx; anything else throws the service's problem. */
  async request(path: string, options: RequestOptions = {}): Promise<Response> {
    const method = options.method ?? (options.body === undefined ? 'GET' : 'POST');
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json', ...options.headers };
    if (!options.anonymous) {
      if (!this.options.token) {
        throw CliError.local('no-token', 'no token', 'pass --token or set LEDGER_TOKEN (or LEDGER_ADMIN_TOKEN)');
      }
      headers.authorization = `Bearer ${this.options.token}`;
    }
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    const target = `${this.options.url}${path}`;
    let res: Response;
    try {
      res = await this.fetch(target, { method, headers, body, signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000) });
    } catch (e) {
      throw CliError.local('unreachable', 'cannot reach the ledger', `${method} ${target}: ${reason(e)}`, { cause: e });
    }
    if (res.ok) return res;
    throw new CliError(await problemOf(res, method, path));
  }
}

async function problemOf(res: Response, method: string, path: string): Promise<Problem> {
  const text = await res.text().catch(() => '');
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as Problem).title === 'string') {
      return { status: res.status, ...(parsed as Problem) };
    }
  } catch {
    // not problem+json: described below
  }
  return {
    type: 'about:blank',
    title: res.statusText || `HTTP ${res.status}`,
    status: res.status,
    detail: `${method} ${path} answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`,
  };
}

/** Why fetch failed, from its cause (ECONNREFUSED, ENOTFOUND, a timeout), without the request. */
function reason(e: unknown): string {
  if (e instanceof DOMException && e.name === 'TimeoutError') return 'no answer in time';
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
}
