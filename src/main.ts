// nhi-operator: the controller process. Reads its configuration once, connects with KUBECONFIG or
// the in-cluster ServiceAccount, and runs until SIGTERM/SIGINT, finishing in-flight work and
// releasing its lease on the way out. Stopping the operator never revokes anything.

import * as k8s from '@kubernetes/client-node';
import { ConfigError, loadConfig, usage } from './config.ts';
import { startOperator } from './operator.ts';
import { createLogger } from './runtime/logger.ts';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(usage());
  process.exit(0);
}

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  console.error(
    `nhi-operator: ${error instanceof ConfigError || error instanceof TypeError ? error.message : String(error)}`,
  );
  process.exit(2);
}
const logger = createLogger({ level: config.logLevel, defaultMeta: { component: 'nhi-operator' } });
const kc = new k8s.KubeConfig();
kc.loadFromDefault();

let operator: Awaited<ReturnType<typeof startOperator>>;
try {
  operator = await startOperator(config, kc, logger);
} catch (error) {
  logger.error(`cannot start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down: finishing in-flight reconciles and releasing the lease', { signal });
    void operator.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('shutdown failed', { err: error });
        process.exit(1);
      },
    );
  });
}
process.on('unhandledRejection', (reason) => logger.error('unhandled rejection', { err: reason }));
