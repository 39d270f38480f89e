/**
 * The framework reference of `npm run bench:ingest`: Nest + Fastify doing one plain INSERT per
 * request (the "Nest + Fastify doing one plain INSERT per request" figure), with none of
 * the ledger's work (no auth, validation, hashing, dedupe, positions, group commit, metrics or
 * logs). Run as its own process by the benchmark; prints one JSON line with its URL.
 *
 * Env: DATABASE_URL (required), POOL_SIZE (default 64).
 */
import 'reflect-metadata';
import { Body, Controller, HttpCode, Inject, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import pg from 'pg';

const POOL = Symbol('POOL');

interface PlainEvent {
  readonly type?: string;
  readonly subscription?: { readonly id?: string };
}

@Controller('v1/events')
class PlainEventsController {
  constructor(@Inject(POOL) private readonly pool: pg.Pool) {}

  @Post()
  @HttpCode(200)
  async record(@Body() body: PlainEvent): Promise<{ position: number }> {
    const { rows } = await this.pool.query<{ position: string }>(
      'INSERT INTO raw_events (stream_id, type, data) VALUES ($1, $2, $3) RETURNING position',
      [`subscription:api:${body.subscription?.id ?? ''}`, body.type ?? '', JSON.stringify(body)],
    );
    return { position: Number(rows[0]!.position) };
  }
}

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is required');
  const pool = new pg.Pool({ connectionString: url, max: Number(process.env.POOL_SIZE ?? 64) });

  @Module({ controllers: [PlainEventsController], providers: [{ provide: POOL, useValue: pool }] })
  class PlainModule {}

  const app = await NestFactory.create<NestFastifyApplication>(PlainModule, new FastifyAdapter(), { logger: false });
  await app.listen(0, '127.0.0.1');
  process.stdout.write(`${JSON.stringify({ msg: 'plain nest listening', url: await app.getUrl() })}\n`);
  const stop = async (): Promise<void> => {
    await app.close();
    await pool.end();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
