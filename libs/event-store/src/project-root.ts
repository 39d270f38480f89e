import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | null = null;

/** The repository root (where `migrations/` lives), found from this file, built or not. */
export function projectRoot(): string {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && existsSync(path.join(dir, 'migrations'))) {
      const name = (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name;
      if (name === 'entitlement-ledger') return (cached = dir);
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the entitlement-ledger project root');
    dir = parent;
  }
}
