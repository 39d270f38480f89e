import { killAllServiceProcesses } from './service-process.js';

// After every int/e2e test file: no ledger or edge verifier process it started outlives it,
// even when its own setup threw before it could remember the process to stop.
afterAll(killAllServiceProcesses);
