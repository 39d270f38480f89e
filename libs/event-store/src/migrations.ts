import path from 'node:path';
import { runner } from 'node-pg-migrate';
import { projectRoot } from './project-root.js';

export interface MigrateOptions {
  readonly databaseUrl: string;
  readonly log?: (msg: string) => void;
  /** `down` undoes the latest `count` applied migrations (default: every pending one up). */
  readonly direction?: 'up' | 'down';
  readonly count?: number;
}

/**
 * Applies every pending migration from `migrations/` (or, with `direction: 'down'`, undoes the
 * latest `count`). node-pg-migrate holds a PostgreSQL advisory lock while it runs; an instance
 * that finds it held waits for it (rather than failing), so several instances starting at once
 * migrate exactly once and all of them start.
 */
export async function migrate(options: MigrateOptions): Promise<string[]> {
  const applied = await runner({
    databaseUrl: options.databaseUrl,
    dir: path.join(projectRoot(), 'migrations'),
    direction: options.direction ?? 'up',
    migrationsTable: 'pgmigrations',
    count: options.count ?? Infinity,
    noLock: false,
    advisoryLockMode: 'wait',
    checkOrder: true,
    verbose: false,
    log: options.log ?? (() => undefined),
  });
  return applied.map((m) => m.name);
}
