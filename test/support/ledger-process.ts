import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../libs/event-store/src/index.js';
import { spawnServiceProcess, type ServiceProcess } from './service-process.js';

export type LedgerProcess = ServiceProcess;

let startOptions: readonly string[] | null = null;

/**
 * The node options `npm start` runs the ledger with (its `start` script, read once), so that
 * tests and benchmarks run the service as it is started.
 */
export function ledgerNodeOptions(): readonly string[] {
  if (startOptions) return startOptions;
  const scripts = (JSON.parse(readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const m = /\bnode((?:\s+--\S+)*)\s+dist\/apps\/ledger\/src\/main\.js/.exec(scripts['start'] ?? '');
  if (!m) throw new Error('package.json: the start script does not run dist/apps/ledger/src/main.js with node');
  return (startOptions = m[1]!.split(/\s+/).filter(Boolean));
}

/**
 * The built ledger (`dist/`, made by the pretest/prebench build) as a separate process, with
 * the node options of `npm start` and then `nodeArgs`.
 */
export function spawnLedgerProcess(env: Record<string, string>, nodeArgs: readonly string[] = []): Promise<LedgerProcess> {
  return spawnServiceProcess({
    nodeArgs: [...ledgerNodeOptions(), ...nodeArgs],
    name: 'ledger',
    main: path.join(projectRoot(), 'dist/apps/ledger/src/main.js'),
    listeningMsg: 'ledger listening',
    env,
  });
}
