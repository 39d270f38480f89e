import { Controller, Get, Header, HttpCode, Inject, Param, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { isDatabaseUnavailable } from '@app/event-store';
import { AdminEvents } from '../admin/admin-events.js';
import { evaluateEntitlements, type EntitlementSources } from '@app/domain';
import { EntitlementReader } from '@app/projections';
import { shardOf, signCapabilityToken, type Jwks, type KeyRotation, type SubjectEntry } from '@app/snapshots';
import { CurrentPrincipal, Public, RequireScope, type Principal } from '../auth/auth.decorators.js';
import { LEDGER_CONFIG, type LedgerConfig } from '../config/ledger.config.js';
import { PG_POOL } from '../database/database.module.js';
import { NotFoundError, NotReadyError } from '../http/problem.errors.js';
import { parseSubject } from '../entitlements/subject.params.js';
import { KeyService } from './key.service.js';
import { SnapshotStore } from './snapshot.store.js';

const SHA256 = /^[0-9a-f]{64}$/;
const SSE_KEEPALIVE_MS = 15_000;
const SSE_MAX_BUFFER = 1 << 20;

/** Signed distribution: manifests, shards, the SSE stream, the JWKS and capability tokens. */
@ApiTags('snapshots')
@Controller()
export class SnapshotsController {
  constructor(
    @Inject(LEDGER_CONFIG) private readonly config: LedgerConfig,
    @Inject(PG_POOL) private readonly pool: pg.Pool,
    @Inject(EntitlementReader) private readonly reader: EntitlementReader,
    private readonly store: SnapshotStore,
    private readonly keys: KeyService,
    private readonly admin: AdminEvents,
  ) {}

  /** The latest manifest as a compact JWS; `If-None-Match` with its ETag answers 304. */
  @ApiOperation({ summary: 'The latest signed manifest (compact JWS; ETag, 304)' })
  @ApiOkResponse({ content: { 'application/jwt': { example: 'eyJhbGciOiJFZERTQSIsImtpZCI6IjE3MzI0…', schema: { type: 'string' } } } })
  @Get('v1/snapshots/latest')
  @RequireScope('snapshots:read')
  @ApiBearerAuth()
  @ApiProduces('application/jwt')
  latest(@Req() req: FastifyRequest, @Res() reply: FastifyReply): void {
    const held = this.store.latest;
    if (!held) throw new NotReadyError('no snapshot has been published yet');
    const etag = `"${held.sha256}"`;
    void reply.header('ETag', etag).header('Cache-Control', 'no-cache');
    if (ifNoneMatch(req.headers['if-none-match'], etag)) {
      void reply.status(304).send();
      return;
    }
    void reply.status(200).header('Content-Type', 'application/jwt').send(held.jws);
  }

  /** Shard bytes by their SHA-256: immutable, cacheable forever, no auth (only the manifest names them). */
  @ApiOperation({ summary: "A shard's bytes by their SHA-256 (immutable)" })
  @ApiOkResponse({ schema: { example: { shard: 12, ver: 1234, subjects: { org_42: { plan: 'pro', valid_until: '2026-12-25T10:00:00.000Z', plans: [{ id: 'pro', tier: 2, valid_until: '2026-12-25T10:00:00.000Z' }], features: { api: [{ value: true, valid_until: '2026-12-25T10:00:00.000Z' }] }, api_keys: [] } } } } })
  @Get('v1/snapshots/shards/:sha256')
  @Public()
  @ApiProduces('application/json')
  async shard(@Param('sha256') sha256: string, @Res() reply: FastifyReply): Promise<void> {
    if (!SHA256.test(sha256)) throw new NotFoundError('no such shard');
    let bytes = this.store.shard(sha256);
    if (!bytes) {
      const { rows } = await this.pool.query<{ bytes: Buffer }>('SELECT bytes FROM snapshot_shards WHERE sha256 = $1', [sha256]);
      bytes = rows[0]?.bytes;
    }
    if (!bytes) throw new NotFoundError('no such shard');
    void reply
      .header('Content-Type', 'application/json')
      .header('Cache-Control', 'public, max-age=31536000, immutable')
      .header('ETag', `"${sha256}"`)
      .send(bytes);
  }

  /** Server-Sent Events: `manifest` with the compact JWS, on connect and on every publication. */
  @ApiOperation({ summary: 'Server-Sent Events: each manifest as it is published' })
  @ApiOkResponse({ content: { 'text/event-stream': { example: 'event: manifest\ndata: eyJhbGciOiJFZERTQSIs…\n\n', schema: { type: 'string' } } } })
  @Get('v1/snapshots/stream')
  @RequireScope('snapshots:read')
  @ApiBearerAuth()
  @ApiProduces('text/event-stream')
  stream(@Req() req: FastifyRequest, @Res() reply: FastifyReply): void {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
      'x-request-id': String(req.id),
    });
    // A client that does not read is dropped (it reconnects and resyncs), never buffered forever.
    const write = (chunk: string): void => {
      if (res.writableLength > SSE_MAX_BUFFER) res.end();
      else res.write(chunk);
    };
    const send = (jws: string, seq: number): void => write(`id: ${seq}\nevent: manifest\ndata: ${jws}\n\n`);
    const held = this.store.latest;
    if (held) send(held.jws, held.seq);
    else write(': no manifest published yet\n\n');
    const off = this.store.onManifest((m) => send(m.jws, m.seq));
    const keepalive = setInterval(() => write(': keepalive\n\n'), SSE_KEEPALIVE_MS);
    const endOnShutdown = this.store.onShutdown(() => res.end());
    res.on('close', () => {
      off();
      endOnShutdown();
      clearInterval(keepalive);
    });
  }

  /** Current keys, the announced next key, and retired keys until what they signed has expired. */
  @ApiOperation({ summary: 'The public signing keys (current, next, retired)' })
  @ApiOkResponse({ schema: { example: { keys: [{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo', kid: '1732420000-a1b2', alg: 'EdDSA', use: 'sig' }] } } })
  @Get('.well-known/jwks.json')
  @Public()
  @Header('Cache-Control', 'public, max-age=60')
  jwks(): Jwks {
    return this.keys.jwks();
  }

  /**
   * A capability token for the subject (EdDSA JWT, `typ` entitlements+jwt): what it may do
   * now, for at most TOKEN_TTL_S and never past its entitlements' valid_until. While the
   * database is down it is made from the last published snapshot.
   */
  @ApiOperation({ summary: 'A capability token for a subject (EdDSA JWT)' })
  @Get('v1/subjects/:subject/token')
  @RequireScope('entitlements:read')
  @ApiBearerAuth()
  @ApiOkResponse({ schema: { example: { token: 'eyJhbGciOiJFZERTQSIs…', exp: 1795521600, ver: 1234 } } })
  async token(@Param('subject') subject: string): Promise<{ token: string; exp: number; ver: number }> {
    const s = parseSubject(subject);
    const now = new Date();
    let answer: { position: number; plan: string | null; features: Record<string, { value: boolean | number; valid_until: string | null }>; valid_until: string | null };
    try {
      answer = await this.reader.current(s, now);
    } catch (err) {
      const held = this.store.latest;
      if (!isDatabaseUnavailable(err) || !held) throw err;
      const entry = this.store.subjectEntry(s, shardOf(s, held.claims.shard_count));
      // A shard not held is "cannot tell" (503), never "nothing granted".
      if (entry === undefined) throw err;
      answer = { position: held.ver, ...evaluateEntitlements(toSources(entry), now) };
    }
    return signCapabilityToken({
      issuer: this.config.issuer,
      subject: s,
      ver: answer.position,
      entitlements: answer,
      now,
      ttlS: this.config.tokenTtlS,
      key: this.keys.signingKey(),
    });
  }

  /** Announces the next signing key; called again, promotes it. Recorded in the log. */
  @ApiOperation({ summary: 'Rotate the signing key: announce the next key, then promote it' })
  @ApiOkResponse({ schema: { example: { action: 'announced', current: '1732420000-a1b2', next: '1732506400-c3d4' } } })
  @Post('v1/admin/keys/rotate')
  @HttpCode(200)
  @RequireScope('admin')
  @ApiBearerAuth()
  async rotate(@CurrentPrincipal() who: Principal): Promise<KeyRotation> {
    const rotation = await this.keys.rotate();
    const data = { ...rotation, actor: `${who.kind}:${who.id}`, at: new Date().toISOString() };
    await this.admin.record({
      type: 'key.rotated',
      streamId: 'admin:keys',
      sourceEventId: `key.rotated:${rotation.action}:${rotation.current}:${rotation.next ?? '-'}`,
      data,
    });
    return rotation;
  }
}

function ifNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => t.trim() === etag || t.trim() === '*' || t.trim() === `W/${etag}`);
}

/** A shard entry as the domain's time-independent sources, so the domain decides (one policy). */
function toSources(entry: SubjectEntry | null): EntitlementSources {
  if (!entry) return { plans: [], features: [], unknown_plans: [] };
  return {
    plans: entry.plans.map((p) => ({ plan: p.id, tier: p.tier, valid_until: p.valid_until, subscription: 'snapshot' })),
    features: Object.entries(entry.features).flatMap(([feature, grants]) =>
      grants.map((g) => ({ feature, value: g.value, valid_until: g.valid_until, origin: { kind: 'admin_grant' as const, source_event_id: 'snapshot', position: 0 } })),
    ),
    unknown_plans: [],
  };
}
