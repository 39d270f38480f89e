import pg from 'pg';
import {
  EntitlementProjection,
  createTablesLike,
  entitlementTables,
  type EntitlementTables,
} from '../../libs/projections/src/index.js';
import { http } from './ledger-harness.js';

export const DEFAULT_POLICY = { renewalLeewayS: 86_400, pastDueGraceS: 259_200 };

/** A plan catalog of two plans, for tests that publish their own. */
export const TWO_PLAN_CATALOG = {
  plans: [
    { id: 'basic', tier: 1, features: { api: true, seats: 1 } },
    { id: 'pro', tier: 2, features: { api: true, seats: 10 } },
  ],
  classes: {},
};

async function dump(db: pg.ClientBase, t: EntitlementTables): Promise<{ subjects: unknown[]; subscriptions: unknown[]; catalog: unknown[] }> {
  const subjects = await db.query(`SELECT subject, grants, provider_features, api_keys, sources FROM ${t.subjects} ORDER BY subject`);
  const subscriptions = await db.query(`SELECT key, subject, fold FROM ${t.subscriptions} ORDER BY key`);
  const catalog = await db.query(`SELECT catalog, position FROM ${t.catalog}`);
  return { subjects: subjects.rows, subscriptions: subscriptions.rows, catalog: catalog.rows };
}

/**
 * Rebuilds the model from position 0 into fresh `__verify` tables and returns it beside the
 * live read model (both as plain rows), then drops the copy.
 */
export async function liveAndCleanReplay(url: string, policy = DEFAULT_POLICY) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const verify = entitlementTables('__verify');
  try {
    for (const sql of createTablesLike(verify)) await client.query(sql);
    const head = Number((await client.query('SELECT position FROM log_head')).rows[0].position);
    // The rebuild path (in memory, each fold written once), against the live path (batches).
    await new EntitlementProjection(policy, verify).rebuild(client, { batchSize: 777, upTo: head });
    const live = await dump(client, entitlementTables());
    const replay = await dump(client, verify);
    return { head, live, replay };
  } finally {
    await client.query(`DROP TABLE IF EXISTS ${verify.subjects}, ${verify.subscriptions}, ${verify.catalog}`);
    await client.end();
  }
}

/** The projection checkpoint and the log head, read from the database. */
export async function progress(url: string): Promise<{ checkpoint: number; head: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT (SELECT position FROM log_head) AS head,
              coalesce((SELECT position FROM projection_checkpoints WHERE name = 'entitlements'), 0) AS checkpoint`,
    );
    return { head: Number(rows[0].head), checkpoint: Number(rows[0].checkpoint) };
  } finally {
    await client.end();
  }
}

/** Waits until the read model reflects `position` (reading your own write, as a client would). */
export async function waitForPosition(baseUrl: string, token: string, position: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await http(`${baseUrl}/v1/subjects/__probe__/entitlements`, { token });
    if (r.status === 200 && r.body.position >= position) return;
    if (Date.now() > deadline) throw new Error(`read model did not reach position ${position} (at ${r.body?.position})`);
    await new Promise((res) => setTimeout(res, 25));
  }
}
