import path from 'node:path';
import { projectRoot } from '../../libs/event-store/src/index.js';
import { spawnServiceProcess, type ServiceProcess } from './service-process.js';

export type EdgeProcess = ServiceProcess;

export const EDGE_MAIN = (): string => path.join(projectRoot(), 'dist/apps/edge-verifier/src/main.js');

/** The built edge verifier (`dist/`) as a separate process, on a free loopback port unless `env` says otherwise. */
export function spawnEdgeProcess(env: Record<string, string>): Promise<EdgeProcess> {
  return spawnServiceProcess({
    name: 'edge verifier',
    main: EDGE_MAIN(),
    listeningMsg: 'edge verifier listening',
    env: { HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
  });
}
