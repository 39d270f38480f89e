import { pino } from 'pino';
import { createVerifier, InvalidOptionsError } from '@app/verifier';
import { createDirectoryCache } from '@app/verifier/node';
import { ConfigError, loadEdgeConfig, type EdgeConfig } from './config/edge.config.js';
import { createEdgeServer } from './http/edge-server.js';
import { EdgeMetrics } from './metrics/edge.metrics.js';

const EX_CONFIG = 78;

function configOrExit(): EdgeConfig {
  try {
    return loadEdgeConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\nFix the variables above (see apps/edge-verifier/README.md "Configuration") and start again.\n`);
      process.exit(EX_CONFIG);
    }
    throw err;
  }
}

async function main(): Promise<void> {
  const config = configOrExit();
  const logger = pino({
    level: config.logLevel,
    base: { service: 'edge-verifier' },
    redact: { paths: ['req.headers.authorization', 'req.headers["ledger-token"]', 'token', 'ledgerToken'], censor: '[redacted]' },
  });

  let verifier;
  try {
    verifier = createVerifier({
      ledgerUrl: config.ledgerUrl,
      token: config.ledgerToken,
      trustedKeys: config.trustedKeys,
      issuer: config.issuer,
      graceS: config.graceS,
      graceBS: config.graceBS,
      pollS: config.pollS,
      cache: createDirectoryCache(config.cacheDir),
    });
  } catch (err) {
    if (err instanceof InvalidOptionsError) {
      process.stderr.write(`invalid configuration:\n  - ${err.message}\nFix VERIFIER_TRUSTED_JWKS / VERIFIER_TRUSTED_KEYS and start again.\n`);
      process.exit(EX_CONFIG);
    }
    throw err;
  }
  const metrics = new EdgeMetrics(verifier);
  // Messages name URLs and checks, never the token: the verifier's errors do not carry it.
  verifier.on('reject', (e) => logger.warn({ reason: e.reason, detail: e.message }, 'snapshot rejected, held state kept'));
  verifier.on('unreachable', (e) => logger.warn({ code: e.error.code, detail: e.error.message }, 'ledger unreachable'));
  verifier.on('state', (e) => logger.info({ from: e.from, to: e.to }, 'snapshot state changed'));
  verifier.on('sync', (e) => {
    if (e.changed) logger.debug({ via: e.via, seq: e.seq, ver: e.ver, fetched: e.fetchedShards }, 'manifest accepted');
  });

  await verifier.start();
  const s = verifier.state();
  logger.info({ status: s.status, seq: s.seq, ver: s.ver, cache: config.cacheDir, trusted_kids: s.trusted_kids }, 'verifier started');

  const app = createEdgeServer({ verifier, metrics, logger });
  const url = await app.listen({ port: config.port, host: config.host });
  logger.info({ url, ledger: config.ledgerUrl }, 'edge verifier listening');

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await app.close().catch((err: unknown) => logger.error({ err }, 'error while closing the server'));
    // persists the time floor and the held state, so a restart starts from them
    await verifier.stop().catch((err: unknown) => logger.error({ err }, 'error while stopping the verifier'));
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`edge verifier failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
