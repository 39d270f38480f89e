// Test support: a ledger double built on Web APIs only (Request → Response), so the same
// double serves the Node specs (through node:http) and the browser-like spec (as `fetch`).
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

export interface TestGrant {
  readonly value: boolean | number;
  readonly valid_until: string | null;
}

export interface TestSubject {
  readonly features: Readonly<Record<string, readonly TestGrant[]>>;
  readonly api_keys?: readonly string[];
  readonly plans?: readonly { id: string; tier: number; valid_until: string | null }[];
}

export interface Signer {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

export interface PublishOptions {
  /** NumericDate. */
  readonly iat: number;
  readonly ttlS?: number;
  readonly seq?: number;
  readonly ver?: number;
  readonly prev?: string | null;
  readonly typ?: string;
  readonly iss?: string;
  readonly signer?: Signer;
  readonly kid?: string;
  readonly keys?: readonly JWK[];
  readonly classes?: Record<string, 'A' | 'B' | 'C'>;
  /** Rewrites the claims before signing (for manifests that lie). */
  readonly mutate?: (claims: Record<string, unknown>) => void;
  /** Serve it as latest and push it to SSE listeners (default true). */
  readonly serve?: boolean;
}

export interface TokenOptions {
  readonly iat: number;
  readonly exp: number;
  readonly nbf?: number;
  readonly ver?: number;
  readonly plan?: string | null;
  readonly signer?: Signer;
  readonly typ?: string;
  readonly iss?: string;
}

export const TEST_TOKEN = 'snapshots-read-token';
const encoder = new TextEncoder();

export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === 'string' ? encoder.encode(data) : data;
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function createSigner(kid: string): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { kid, privateKey, publicJwk: { ...jwk, kid, alg: 'EdDSA', use: 'sig' } };
}

export class FakeLedger {
  subjects: Record<string, TestSubject> = {};
  ver = 0;
  seq = 0;
  latest: string | null = null;
  readonly blobs = new Map<string, Uint8Array>();
  readonly log: { method: string; path: string; status: number; ifNoneMatch: string | null }[] = [];
  /** Returns a response to short-circuit the normal routes (fault injection). */
  intercept: ((request: Request, path: string) => Response | Promise<Response> | null) | null = null;
  private readonly shardState = new Map<number, { content: string; ver: number }>();
  private readonly streams = new Set<ReadableStreamDefaultController<Uint8Array>>();

  private constructor(
    readonly signer: Signer,
    readonly issuer: string,
    readonly shardCount: number,
  ) {}

  static async create(options: { shardCount?: number; issuer?: string; kid?: string } = {}): Promise<FakeLedger> {
    return new FakeLedger(await createSigner(options.kid ?? 'k1'), options.issuer ?? 'https://ledger.test', options.shardCount ?? 4);
  }

  async shardOf(subject: string): Promise<number> {
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(subject)));
    return new DataView(digest.buffer).getUint32(0) % this.shardCount;
  }

  /** Builds the shards of the current subjects (docs/snapshot-format.md) and stores their bytes. */
  async buildShards(): Promise<{ id: number; sha256: string; count: number; bytes: number }[]> {
    const buckets: Record<string, unknown>[] = Array.from({ length: this.shardCount }, () => ({}));
    for (const subject of Object.keys(this.subjects).sort()) {
      const doc = this.subjects[subject]!;
      const grants = Object.values(doc.features).flat();
      const plans = doc.plans ?? [];
      const untils = [...grants, ...plans].map((g) => g.valid_until);
      const validUntil = untils.length === 0 || untils.includes(null) ? null : [...(untils as string[])].sort().at(-1)!;
      buckets[await this.shardOf(subject)]![subject] = {
        plan: [...plans].sort((a, b) => b.tier - a.tier)[0]?.id ?? null,
        valid_until: validUntil,
        plans,
        features: doc.features,
        api_keys: [...(doc.api_keys ?? [])].sort(),
      };
    }
    const entries = [];
    for (let id = 0; id < this.shardCount; id++) {
      const content = JSON.stringify(buckets[id]);
      const previous = this.shardState.get(id);
      const ver = previous && previous.content === content ? previous.ver : previous ? this.ver : 0;
      this.shardState.set(id, { content, ver });
      const bytes = encoder.encode(`{"shard":${id},"ver":${ver},"subjects":${content}}`);
      const sha256 = await sha256Hex(bytes);
      this.blobs.set(sha256, bytes);
      entries.push({ id, sha256, count: Object.keys(buckets[id]!).length, bytes: bytes.byteLength });
    }
    return entries;
  }

  async publish(options: PublishOptions): Promise<string> {
    const shards = await this.buildShards();
    const seq = options.seq ?? this.seq + 1;
    const prev = options.prev !== undefined ? options.prev : this.latest ? await sha256Hex(this.latest) : null;
    const claims: Record<string, unknown> = {
      iss: options.iss ?? this.issuer,
      seq,
      ver: options.ver ?? this.ver,
      iat: options.iat,
      exp: options.iat + (options.ttlS ?? 900),
      prev,
      shard_count: this.shardCount,
      shards,
      classes: options.classes ?? {},
      ...(options.keys ? { keys: options.keys } : {}),
    };
    options.mutate?.(claims);
    const signer = options.signer ?? this.signer;
    const jws = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'EdDSA', kid: options.kid ?? signer.kid, typ: options.typ ?? 'entitlements-manifest+jwt' })
      .sign(signer.privateKey);
    if (options.serve !== false) this.serve(jws);
    return jws;
  }

  /** Serves `jws` as the latest manifest and pushes it to SSE listeners. */
  serve(jws: string): void {
    this.latest = jws;
    this.seq = Math.max(this.seq, (JSON.parse(atob(jws.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as { seq: number }).seq);
    const frame = encoder.encode(`event: manifest\ndata: ${jws}\n\n`);
    for (const stream of this.streams) stream.enqueue(frame);
  }

  async token(sub: string, ent: Record<string, boolean | number>, options: TokenOptions): Promise<string> {
    const signer = options.signer ?? this.signer;
    return new SignJWT({
      iss: options.iss ?? this.issuer,
      sub,
      iat: options.iat,
      nbf: options.nbf ?? options.iat,
      exp: options.exp,
      ver: options.ver ?? this.ver,
      plan: options.plan ?? null,
      ent,
    })
      .setProtectedHeader({ alg: 'EdDSA', kid: signer.kid, typ: options.typ ?? 'entitlements+jwt' })
      .sign(signer.privateKey);
  }

  readonly handle = async (request: Request): Promise<Response> => {
    // a base path in ledgerUrl (e.g. behind a CDN prefix) is kept by the client and ignored here
    const path = new URL(request.url).pathname.replace(/^.*?(?=\/v1\/|\/\.well-known\/)/, '');
    const response = await this.route(request, path);
    this.log.push({ method: request.method, path, status: response.status, ifNoneMatch: request.headers.get('if-none-match') });
    return response;
  };

  /** `fetch` backed by this double, without any network. */
  readonly fetch = (input: string, init?: RequestInit): Promise<Response> => this.handle(new Request(input, init));

  private async route(request: Request, path: string): Promise<Response> {
    const intercepted = await this.intercept?.(request, path);
    if (intercepted) return intercepted;
    const authorized = request.headers.get('authorization') === `Bearer ${TEST_TOKEN}`;
    if (path === '/v1/snapshots/latest') {
      if (!authorized) return new Response(null, { status: 401 });
      if (!this.latest) return new Response(null, { status: 503 });
      const etag = `"${(await sha256Hex(this.latest)).slice(0, 16)}"`;
      if (request.headers.get('if-none-match') === etag) return new Response(null, { status: 304, headers: { etag } });
      return new Response(this.latest, { headers: { 'content-type': 'application/jwt', etag } });
    }
    if (path.startsWith('/v1/snapshots/shards/')) {
      const bytes = this.blobs.get(path.slice('/v1/snapshots/shards/'.length));
      if (!bytes) return new Response(null, { status: 404 });
      return new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/json' } });
    }
    if (path === '/v1/snapshots/stream') {
      if (!authorized) return new Response(null, { status: 401 });
      let controller!: ReadableStreamDefaultController<Uint8Array>;
      const body = new ReadableStream<Uint8Array>({
        start: (c) => {
          controller = c;
          this.streams.add(c);
          if (this.latest) c.enqueue(encoder.encode(`: hello\r\nevent: manifest\r\ndata: ${this.latest}\r\n\r\n`));
        },
        cancel: () => {
          this.streams.delete(controller);
        },
      });
      return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
    }
    return new Response(null, { status: 404 });
  }

  /** Ends every open SSE stream. */
  closeStreams(): void {
    for (const stream of this.streams) {
      try {
        stream.close();
      } catch {
        // already closed
      }
    }
    this.streams.clear();
  }
}
