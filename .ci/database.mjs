// CI's database on the machine's PostgreSQL: `node .ci/database.mjs create NAME` waits up to
// 60 s for the server, then creates NAME; `drop NAME` drops it (WITH (FORCE)). Uses the
// project's own pg (after npm ci), so CI needs no psql. Connection from PGHOST, PGPORT, PGUSER.
import pg from 'pg';

const [command, name] = process.argv.slice(2);
if (!['create', 'drop'].includes(command) || !/^[a-z_][a-z0-9_]*$/.test(name ?? '')) {
  process.stderr.write('usage: node .ci/database.mjs create|drop NAME (lower-case letters, digits, _)\n');
  process.exit(2);
}
const config = { host: process.env.PGHOST ?? '127.0.0.1', port: Number(process.env.PGPORT ?? 5432), user: process.env.PGUSER ?? 'postgres', database: 'postgres' };

async function connect(deadline) {
  for (;;) {
    const client = new pg.Client(config);
    try {
      await client.connect();
      return client;
    } catch (err) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) throw new Error(`no PostgreSQL at ${config.host}:${config.port} as ${config.user} after 60 s: ${err.message}`, { cause: err });
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

const client = await connect(Date.now() + 60_000);
try {
  // The name is checked above; identifiers cannot be bound as parameters.
  await client.query(command === 'create' ? `CREATE DATABASE ${name}` : `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
} finally {
  await client.end();
}
