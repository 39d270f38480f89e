import path from 'node:path';
import { projectRoot } from '../../libs/event-store/src/index.js';
import { spawnServiceProcess, type ServiceProcess } from './service-process.js';

export type LedgerProcess = ServiceProcess;

/** The built ledger (`dist/`, made by the pretest/prebench build) as a separate process. */
export function spawnLedgerProcess(env: Record<string, string>, nodeArgs: readonly string[] = []): Promise<LedgerProcess> {
  return spawnServiceProcess({
    nodeArgs,
    name: 'ledger',
    main: path.join(projectRoot(), 'dist/apps/ledger/src/main.js'),
    listeningMsg: 'ledger listening',
    env,
  });
}
