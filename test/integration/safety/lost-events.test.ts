// Lost events: the real operator process talks to the real apiserver through a TCP relay that makes
// its watches go silent (a half-open connection: no bytes, no close) or resets them, and the workload
// is deleted meanwhile. A silent watch is resumed from its resourceVersion on a fresh connection once
// it heard nothing, not even a bookmark, for the watch timeout (30 s here), without a restart or relist, and the
// resumed watch delivers the deletion (over HTTP/2 every resumption queued on the dead connection and
// the deletion was never seen). A reset watch is restarted and its relist finds it. Each asserts on
// what the operator recorded, never on elapsed time.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import { agentIdentity, withScopes, withSpec } from '../../../src/testing/agent-identity.ts';
import {
  conditionOf,
  createIdentity,
  getIdentity,
  newNamespace,
  untilCondition,
} from '../../support/cluster.ts';
import { kubeConfig } from '../../support/env.ts';
import { deployment, onTestCluster, readConfigMaps } from '../../support/fixtures.ts';
import { type OperatorProcess, startOperatorProcess } from '../../support/operator.ts';
import { startTcpRelay, type TcpRelay } from '../../support/tcp-relay.ts';
import { eventually } from '../../support/wait.ts';

const kc = kubeConfig();
const apps = kc.makeApiClient(k8s.AppsV1Api);
let relay: TcpRelay | undefined;
let operator: OperatorProcess | undefined;

/** The test kubeconfig with its server replaced by the relay's address. */
function kubeconfigThrough(url: string): string {
  const config = JSON.parse(kc.exportConfig()) as { clusters: Array<{ cluster: { server: string } }> };
  for (const entry of config.clusters) entry.cluster.server = url;
  const file = join(mkdtempSync(join(tmpdir(), 'nhi-relay-')), 'kubeconfig.json');
  writeFileSync(file, JSON.stringify(config), { mode: 0o600 });
  return file;
}

async function metric(op: OperatorProcess, line: RegExp): Promise<number> {
  const port = /"port":(\d+)/.exec(op.logs())?.[1];
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => line.test(l))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}
const watchRestarts = (op: OperatorProcess) => metric(op, /^nhi_watch_restarts_total\{source="deployments"/);
const reconciles = (op: OperatorProcess) => metric(op, /^controller_runtime_reconcile_total\{/);

async function boundIdentity(prefix: string) {
  const ns = await newNamespace(prefix);
  await apps.createNamespacedDeployment({ namespace: ns, body: deployment('watched', 'watched') });
  await createIdentity(
    agentIdentity(
      'watched',
      onTestCluster(ns),
      // Long grace: the orphan stays found (WorkloadMissing, orphanedSince) without being quarantined.
      withSpec({ orphanGracePeriod: '10m' }),
      withScopes(readConfigMaps),
    ),
  );
  await untilCondition(ns, 'watched', 'Ready', 'True', 60_000);
  return ns;
}

const orphanFound = (ns: string) =>
  eventually(
    'the orphan recorded (WorkloadMissing, orphanedSince)',
    async () => {
      const identity = await getIdentity(ns, 'watched');
      const bound = conditionOf(identity, 'WorkloadBound');
      return bound?.reason === 'WorkloadMissing' && identity?.status?.orphanedSince ? identity : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );

beforeAll(async () => {
  await installOperatorManifests(kc);
});

afterEach(async () => {
  await operator?.stop('SIGKILL');
  operator = undefined;
  await relay?.close();
  relay = undefined;
});

async function operatorThroughRelay(): Promise<OperatorProcess> {
  const server = new URL(kc.getCurrentCluster()?.server ?? '');
  relay = await startTcpRelay({ host: server.hostname, port: Number(server.port) });
  // A sweep every 3 s; a request on a silenced connection gives up after 5 s (default 30 s) and is
  // retried on a fresh one; a silenced watch is resumed after 30 s (default 90 s). The watchdog
  // restarts a silent watch only after 2 minutes of silence.
  return startOperatorProcess(['--resync-period=3s', '--api-request-timeout=5s', '--watch-timeout=30s'], {
    KUBECONFIG: kubeconfigThrough(relay.url),
  });
}

describe('a workload deleted while the watch is lost', () => {
  it('is found when the watch went silent: it is resumed on a fresh connection (no restart, no relist)', async () => {
    operator = await operatorThroughRelay();
    const ns = await boundIdentity('lost-silent');
    const restartsBefore = await watchRestarts(operator);

    relay?.blackhole(); // every watch (and idle connection) open now hears nothing more
    const reconcilesBefore = await reconciles(operator);
    await apps.deleteNamespacedDeployment({ namespace: ns, name: 'watched' });
    const found = await orphanFound(ns);

    expect(conditionOf(found, 'WorkloadBound')?.status).toBe('False');
    // The deployments watch was resumed, never restarted (no relist), and the orphan was found by a
    // reconcile.
    expect(await watchRestarts(operator)).toBe(restartsBefore);
    expect(await reconciles(operator)).toBeGreaterThan(reconcilesBefore);
    expect(operator.logs()).not.toMatch(/"source":"deployments"[^\n]*watch failed/);
  });

  it('is found after the watch was reset: the informer restarts and relists', async () => {
    operator = await operatorThroughRelay();
    const ns = await boundIdentity('lost-cut');
    const restartsBefore = await watchRestarts(operator);

    relay?.cut();
    await apps.deleteNamespacedDeployment({ namespace: ns, name: 'watched' });
    const found = await orphanFound(ns);

    expect(conditionOf(found, 'WorkloadBound')?.status).toBe('False');
    await eventually('the reset watch restarted', async () =>
      (await watchRestarts(operator as OperatorProcess)) > restartsBefore ? true : undefined,
    );
  });
});
