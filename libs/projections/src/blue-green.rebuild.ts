import type pg from 'pg';
import type { EntitlementPolicy } from '@app/domain';
import { gotNoAnswer, readEvents, rollbackAfter } from '@app/event-store';
import { EntitlementProjection } from './entitlement.projection.js';
import { LIVE_TABLES, createTablesLike, entitlementTables, type EntitlementTables } from './entitlement.tables.js';

export type RebuildPhase = 'folding' | 'writing' | 'catching_up' | 'swapping';

export interface RebuildProgress {
  readonly phase: RebuildPhase;
  /** The log position the new model has reached. */
  readonly processed: number;
  /** The live model's checkpoint, which the new one must reach before the swap. */
  readonly total: number;
}

export interface BlueGreenRebuildOptions {
  /** A dedicated session (the rebuild runs long transactions on it); the caller owns it. */
  readonly client: pg.ClientBase;
  readonly policy: EntitlementPolicy;
  readonly checkpointName?: string;
  /** Suffix of the tables built beside the live ones. */
  readonly suffix?: string;
  readonly batchSize?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: RebuildProgress) => void;
  /** Swap attempts that may time out waiting for readers' locks before giving up. */
  readonly swapAttempts?: number;
}

export interface BlueGreenRebuildResult {
  /** The checkpoint the new model took over at. */
  readonly position: number;
  readonly subjects: number;
  /** The projection's generation after the swap. */
  readonly generation: number;
}

/** Within this many events of the live checkpoint, the rest is applied inside the swap. */
const SWAP_WINDOW = 2_000;
const APPLY_BATCH = 1_000;

/**
 * Rebuilds the entitlement model blue/green: folds the log into tables beside the live ones
 * (`ent_*__rebuild`) while the live model keeps serving, follows the live checkpoint until
 * close behind it, then, in one transaction that holds the checkpoint row (so the live
 * projector waits), applies the last events and renames the new tables into place. Readers
 * see the old model or the new one, never a partial one. The checkpoint is unchanged by the
 * swap (the new model is at exactly that position) and its `generation` is bumped, so the
 * snapshot publisher compares everything once. On failure the live tables are untouched and
 * the beside tables are dropped.
 *
 * @example
 * const client = new pg.Client({ connectionString }); await client.connect();
 * const r = await rebuildBlueGreen({ client, policy, onProgress: (p) => console.log(p) });
 */
export async function rebuildBlueGreen(options: BlueGreenRebuildOptions): Promise<BlueGreenRebuildResult> {
  const { client, policy, signal } = options;
  const name = options.checkpointName ?? 'entitlements';
  const shadow = entitlementTables(options.suffix ?? '__rebuild');
  const projection = new EntitlementProjection(policy, shadow);
  const progress = (phase: RebuildPhase, processed: number, total: number): void => options.onProgress?.({ phase, processed, total });
  const liveCheckpoint = async (): Promise<number> => {
    const { rows } = await client.query<{ position: string }>('SELECT position FROM projection_checkpoints WHERE name = $1', [name]);
    return Number(rows[0]?.position ?? 0);
  };

  for (const ddl of createTablesLike(shadow)) await client.query(ddl);
  try {
    await client.query('INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [name]);
    const target = await liveCheckpoint();
    progress('folding', 0, target);
    const folded = await projection.fold(client, {
      upTo: target,
      batchSize: options.batchSize,
      signal,
      onBatch: (p) => progress('folding', p, target),
    });
    progress('writing', folded.position, target);
    await client.query('BEGIN');
    try {
      await projection.write(client, folded, signal);
      await client.query('COMMIT');
    } catch (err) {
      await rollbackAfter(client, err);
      throw err;
    }
    // Fresh tables have no planner statistics until autovacuum reaches them (never, where it is
    // off): without them the projector's per-batch lookups become whole-table scans after the swap.
    await client.query(`ANALYZE ${shadow.subjects}, ${shadow.subscriptions}, ${shadow.catalog}`);
    let position = target;

    const attempts = options.swapAttempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      // Follow the live model outside any lock until close behind it.
      for (let live = await liveCheckpoint(); live - position > SWAP_WINDOW; live = await liveCheckpoint()) {
        signal?.throwIfAborted();
        position = await applyRange(client, projection, position, Math.min(live, position + 50 * APPLY_BATCH));
        progress('catching_up', position, live);
      }
      signal?.throwIfAborted();
      progress('swapping', position, await liveCheckpoint());
      try {
        return await swap(client, projection, shadow, name, position, (p, t) => progress('swapping', p, t));
      } catch (err) {
        // 55P03 lock_not_available: readers held the live tables past lock_timeout; try again.
        if ((err as { code?: string }).code !== '55P03' || attempt >= attempts) throw err;
      }
    }
  } catch (err) {
    // A session that got no answer cannot drop them either (the next rebuild's start does).
    if (!gotNoAnswer(err)) {
      await client.query(`DROP TABLE IF EXISTS ${shadow.subjects}, ${shadow.subscriptions}, ${shadow.catalog}`).catch(() => undefined);
    }
    throw err;
  }
}

/** Applies (from, to] to the beside tables in transactions of APPLY_BATCH events. */
async function applyRange(client: pg.ClientBase, projection: EntitlementProjection, from: number, to: number, inTransaction = false): Promise<number> {
  let position = from;
  while (position < to) {
    const events = await readEvents(client, position, Math.min(APPLY_BATCH, to - position));
    if (events.length === 0) break;
    if (!inTransaction) await client.query('BEGIN');
    try {
      await projection.apply(client, events);
      if (!inTransaction) await client.query('COMMIT');
    } catch (err) {
      if (!inTransaction) await rollbackAfter(client, err);
      throw err;
    }
    position = events[events.length - 1]!.position;
  }
  return Math.max(position, to);
}

async function swap(
  client: pg.ClientBase,
  projection: EntitlementProjection,
  shadow: EntitlementTables,
  name: string,
  from: number,
  progress: (processed: number, total: number) => void,
): Promise<BlueGreenRebuildResult> {
  await client.query('BEGIN');
  try {
    await client.query("SET LOCAL lock_timeout = '5s'");
    // Holding the checkpoint row stops the live projector between two batches.
    const { rows } = await client.query<{ position: string }>('SELECT position FROM projection_checkpoints WHERE name = $1 FOR UPDATE', [name]);
    const live = Number(rows[0]!.position);
    if (live < from) throw new Error(`the live checkpoint went back (${live} < ${from})`);
    const position = await applyRange(client, projection, from, live, true);
    progress(position, live);

    const liveNames = [LIVE_TABLES.subjects, LIVE_TABLES.subscriptions, LIVE_TABLES.catalog];
    const shadowNames = [shadow.subjects, shadow.subscriptions, shadow.catalog];
    const before = await indexesOf(client, liveNames);
    for (const t of liveNames) await client.query(`ALTER TABLE ${t} RENAME TO ${t}__retired`);
    for (const [i, t] of shadowNames.entries()) await client.query(`ALTER TABLE ${t} RENAME TO ${liveNames[i]}`);
    await client.query(`DROP TABLE ${liveNames.map((t) => `${t}__retired`).join(', ')}`);
    // The new tables' indexes take the old names, so migrations can keep naming them.
    const after = await indexesOf(client, liveNames);
    for (const idx of after) {
      const old = before.find((b) => b.table === idx.table && b.shape === idx.shape);
      if (old && old.name !== idx.name) await client.query(`ALTER INDEX "${idx.name}" RENAME TO "${old.name}"`);
    }
    const gen = await client.query<{ generation: number }>(
      'UPDATE projection_checkpoints SET generation = generation + 1, updated_at = now() WHERE name = $1 RETURNING generation',
      [name],
    );
    const count = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${LIVE_TABLES.subjects}`);
    await client.query('COMMIT');
    return { position: live, subjects: count.rows[0]!.n, generation: gen.rows[0]!.generation };
  } catch (err) {
    await rollbackAfter(client, err);
    throw err;
  }
}

/** Indexes of tables by name, each with its definition minus its own name and table (its shape). */
async function indexesOf(client: pg.ClientBase, tables: string[]): Promise<Array<{ table: string; name: string; shape: string }>> {
  const { rows } = await client.query<{ table: string; name: string; def: string }>(
    `SELECT t.relname AS table, i.relname AS name, pg_get_indexdef(i.oid) AS def
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
      WHERE x.indrelid = ANY($1::text[]::regclass[])`,
    [tables],
  );
  return rows.map((r) => ({ table: r.table, name: r.name, shape: r.def.replace(/^CREATE (UNIQUE )?INDEX \S+ ON \S+ /, '$1') }));
}
