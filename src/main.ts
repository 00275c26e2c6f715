// nhi-operator: the controller process. Reads its configuration once, connects with KUBECONFIG or
// the in-cluster ServiceAccount, and runs until SIGTERM/SIGINT, finishing in-flight work and
// releasing its lease on the way out. Stopping the operator never revokes anything. This is the one
// place that decides the exit code: 0 after a clean stop, 1 when it cannot start, after a lost
// lease, an uncaught exception or a failed shutdown, 2 for invalid configuration.

import { BoundedKubeConfig } from './adapters/kubernetes/kube-config.ts';
import { ConfigError, loadConfig, usage } from './config.ts';
import { type RunningOperator, startOperator } from './operator.ts';
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
const kc = new BoundedKubeConfig(config.apiRequestTimeoutMs);
kc.loadFromDefault();

let operator: RunningOperator;
try {
  operator = await startOperator(config, kc, logger);
} catch (error) {
  logger.error(`cannot start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
// A lost lease has already stopped the controller: end the process non-zero so Kubernetes restarts
// it and the new process campaigns again. A stop on a signal exits below, once the stop finished.
void operator.done.then((outcome) => {
  if (outcome === 'lease-lost') process.exit(1);
});
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
// Node's own report of an uncaught exception prints the error unmasked: log it through the masking
// logger instead, then end non-zero (the state is unknown; Kubernetes restarts the process).
process.on('uncaughtException', (error) => {
  logger.error('uncaught exception; exiting', { err: error });
  process.exitCode = 1;
  setImmediate(() => process.exit(1));
});
