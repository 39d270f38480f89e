import { createTestDatabase, type TestDatabase } from './support/test-database.js';
import { http, startLedger, type RunningLedger } from './support/ledger-harness.js';

/** CONTRACT.md's endpoints: each must be documented, with an example answer. */
const CONTRACT = [
  'POST /v1/events',
  'POST /v1/webhooks/stripe',
  'POST /v1/webhooks/paddle',
  'GET /v1/subjects/{subject}/entitlements',
  'GET /v1/subjects/{subject}/history',
  'GET /v1/subjects/{subject}/token',
  'GET /.well-known/jwks.json',
  'GET /v1/snapshots/latest',
  'GET /v1/snapshots/shards/{sha256}',
  'GET /v1/snapshots/stream',
  'POST /v1/admin/subjects/{subject}/grants',
  'DELETE /v1/admin/subjects/{subject}/grants/{feature}',
  'POST /v1/admin/subjects/{subject}/api-keys',
  'DELETE /v1/admin/subjects/{subject}/api-keys/{id}',
  'POST /v1/admin/projections/{name}/rebuild',
  'GET /v1/admin/jobs/{id}',
  'POST /v1/admin/keys/rotate',
  'POST /v1/admin/tokens',
  'DELETE /v1/admin/tokens/{id}',
  'GET /health/live',
  'GET /health/ready',
];

describe('OpenAPI document', () => {
  let db: TestDatabase;
  let ledger: RunningLedger;
  beforeAll(async () => {
    db = await createTestDatabase();
    ledger = await startLedger(db.url);
  });
  afterAll(async () => {
    await ledger?.close();
    await db?.drop();
  });

  it('documents every contract endpoint, each operation with a summary and an example', async () => {
    const r = await http(`${ledger.url}/docs/openapi.json`);
    expect(r.status).toBe(200);
    const doc = r.body;
    expect(doc.openapi).toMatch(/^3\./);
    const operations: string[] = [];
    const missing: string[] = [];
    for (const [path, ops] of Object.entries<Record<string, any>>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(ops)) {
        const name = `${method.toUpperCase()} ${path}`;
        operations.push(name);
        if (!op.summary) missing.push(`${name}: summary`);
        const responses = JSON.stringify(op.responses ?? {});
        const noContent = Object.keys(op.responses ?? {}).every((code) => code === '204');
        if (!noContent && !responses.includes('"example')) missing.push(`${name}: response example`);
        if (op.requestBody && !JSON.stringify(op.requestBody).includes('"example')) missing.push(`${name}: request example`);
      }
    }
    expect(missing).toEqual([]);
    for (const endpoint of CONTRACT) expect(operations).toContain(endpoint);
  });
});
