// `nhictl dev up|down|env|status`: the local environment (real control plane, OpenBao, moto) for
// trying the operator by hand. State lives in .nhi/dev/ of the checkout; `up` is idempotent.

import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { componentPaths, missingComponents, repoRoot } from '../dev/components.ts';
import {
  addProcess,
  type DevEnvironment,
  envExports,
  isRunning,
  readEnvironment,
  startEnvironment,
  stopEnvironment,
} from '../dev/environment.ts';
import { nodeUnavailable, readNode, startNode } from '../dev/node/node.ts';
import { isAlive, type StartedProcess, startProcess } from '../dev/processes.ts';
import { type OutputFormat, outputOption, printListing, renderTable } from './output.ts';

export const devDir = (): string => process.env.NHI_DEV_DIR ?? join(repoRoot, '.nhi', 'dev', 'state');
export const envFile = (): string => join(repoRoot, '.nhi', 'dev', 'env');

function elapsed(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)}s`;
}

/** Builds the node's components when missing, then starts the dev node (docs/node.md) next to `env`. */
async function devNodeUp(env: DevEnvironment, log: (line: string) => void, started: number): Promise<void> {
  if (readNode(env.dir)) {
    log('dev node already running');
    return;
  }
  if (nodeUnavailable()?.startsWith('missing')) {
    log('building the dev node (kubelet, kube-scheduler, containerd; first run only, cached afterwards)');
    const build = spawnSync('bash', [join(repoRoot, 'scripts', 'build-components.sh'), 'node'], {
      stdio: 'inherit',
    });
    if (build.status !== 0) throw new Error('scripts/build-components.sh node failed');
  }
  const node = await startNode(env, (message) => log(`[dev +${elapsed(started)}] ${message}`));
  log(`[dev +${elapsed(started)}] node ${node.name} Ready; pods reach OpenBao at ${node.podBaoAddr}`);
}

/** Build what is missing (showing each step), then start the environment unless it already runs. */
export async function devUp(
  log: (line: string) => void = console.log,
  options: { node?: boolean } = {},
): Promise<DevEnvironment> {
  const started = Date.now();
  const running = readEnvironment(devDir());
  if (running && isRunning(running)) {
    log(`dev environment already running (since ${running.startedAt})`);
    if (options.node) await devNodeUp(running, log, started);
    return running;
  }
  if (missingComponents(componentPaths()).length > 0) {
    log('building the real components (first run only: several minutes, cached afterwards)');
    const build = spawnSync('bash', [join(repoRoot, 'scripts', 'build-components.sh')], { stdio: 'inherit' });
    if (build.status !== 0) throw new Error('scripts/build-components.sh failed');
  }
  const env = await startEnvironment(devDir(), (message) => log(`[dev +${elapsed(started)}] ${message}`));
  mkdirSync(join(repoRoot, '.nhi', 'dev'), { recursive: true });
  writeFileSync(envFile(), envExports(env), { mode: 0o600 });
  log(
    `[dev +${elapsed(started)}] ready: apiserver ${env.apiserverUrl}, OpenBao ${env.bao.addr}, AWS ${env.aws.endpoint}${env.postgres ? `, PostgreSQL ${env.postgres.host}:${env.postgres.port} (OpenBao engine ${env.database?.mount}/, connection ${env.database?.connection})` : ''}`,
  );
  log(`exports written to ${envFile()} (source it, or: eval "$(npx nhictl dev env)")`);
  if (options.node) await devNodeUp(env, log, started);
  return env;
}

/**
 * The dev operator's environment: the dev kubeconfig, and the environment's own generated AWS keys
 * (moto accepts any) so the SDK signs its calls to the emulator with them and never with the
 * user's real AWS credentials.
 */
function operatorEnv(env: DevEnvironment): NodeJS.ProcessEnv {
  return {
    ...process.env,
    KUBECONFIG: env.kubeconfigPath,
    AWS_ACCESS_KEY_ID: env.aws.accessKeyId,
    AWS_SECRET_ACCESS_KEY: env.aws.secretAccessKey,
    AWS_REGION: env.aws.region,
  };
}

/**
 * Starts (or restarts) nhi-operator against the dev environment, detached, as part of it: `dev status`
 * lists it and `dev down` stops it. Logs in the state folder, audit trail in .nhi/dev/audit.jsonl.
 */
export async function startDevOperator(
  log: (line: string) => void = console.log,
  extraArgs: string[] = [],
): Promise<StartedProcess> {
  const env = readEnvironment(devDir());
  if (!env || !isRunning(env)) throw new Error('the dev environment is not running: npx nhictl dev up');
  const started = startProcess(
    'nhi-operator',
    process.execPath,
    [
      join(repoRoot, 'bin', 'nhi-operator.js'),
      '--http-port=0',
      '--http-host=127.0.0.1',
      '--leader-elect=false',
      '--resync-period=2s',
      `--audit-log=${join(repoRoot, '.nhi', 'dev', 'audit.jsonl')}`,
      ...extraArgs,
    ],
    { dir: devDir(), cwd: repoRoot, env: operatorEnv(env) },
  );
  await addProcess(devDir(), started);
  log(`  nhi-operator pid ${started.pid}, log ${started.log}, audit trail .nhi/dev/audit.jsonl`);
  return started;
}

export async function devDown(log: (line: string) => void = console.log): Promise<void> {
  rmSync(envFile(), { force: true });
  const stopped = await stopEnvironment(devDir());
  log(
    stopped.length > 0
      ? `stopped ${stopped.map((p) => p.name).join(', ')}`
      : 'dev environment was not running',
  );
}

export function registerDevCommands(program: Command): void {
  const dev = program
    .command('dev')
    .description('local control plane, OpenBao and AWS emulator for development');
  dev
    .command('up')
    .description('build (first run) and start everything detached, wait until ready, write .nhi/dev/env')
    .option('--node', 'also start a real node (kubelet, containerd) so pods run; needs root (docs/node.md)')
    .action(async (options: { node?: boolean }) => {
      await devUp(console.log, { node: options.node === true });
    });
  dev
    .command('down')
    .description('stop every process of the dev environment')
    .action(async () => {
      await devDown();
    });
  dev
    .command('env')
    .description('print shell exports for the running dev environment')
    .action(() => {
      const env = readEnvironment(devDir());
      if (!env || !isRunning(env)) {
        console.error('dev environment is not running: npx nhictl dev up');
        process.exitCode = 1;
        return;
      }
      process.stdout.write(envExports(env));
    });
  dev
    .command('operator')
    .description('start (or restart) nhi-operator against the dev environment, detached; dev down stops it')
    .argument('[flags...]', 'extra nhi-operator flags, after --, e.g. -- --dry-run')
    .action(async (flags: string[]) => {
      await startDevOperator(console.log, flags);
    });
  dev
    .command('status')
    .description('show whether each component of the dev environment is running')
    .addOption(outputOption())
    .action((options: { output: OutputFormat }) => {
      const env = readEnvironment(devDir());
      const running = env ? isRunning(env) : false;
      const node = readNode(devDir());
      const processes = [...(env?.processes ?? []), ...(node?.processes ?? [])].map((p) => ({
        ...p,
        alive: isAlive(p.pid),
      }));
      printListing(options.output, {
        data: { running, ...(env && { startedAt: env.startedAt }), processes },
        human: () =>
          env
            ? [
                `${running ? 'running' : 'NOT fully running'} since ${env.startedAt}`,
                renderTable(
                  ['NAME', 'PID', 'ALIVE', 'LOG'],
                  processes.map((p) => [p.name, String(p.pid), p.alive ? 'yes' : 'no', p.log]),
                  200,
                ),
              ].join('\n')
            : 'dev environment is not running',
      });
      if (env && !running) process.exitCode = 1;
    });
}
