#!/usr/bin/env node
// The `ledger` bin: runs the built CLI (dist/apps/cli/src/main.js).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const main = fileURLToPath(new URL('../dist/apps/cli/src/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write(`error: the CLI is not built (${main} is missing): run \`npm run build\` in ${fileURLToPath(new URL('..', import.meta.url))}\n`);
  process.exit(1);
}
await import(pathToFileURL(main).href);
