// The Helm chart installed into the dev cluster runs the operator built here (localhost/nhi/
// nhi-operator:dev, from the Dockerfile's inputs) as two real pods on the dev node: one holds the
// Lease, both run as uid 65532 with no capabilities, no_new_privs, seccomp and a read-only root
// filesystem (read from the running processes, not only from the pod spec); from inside the cluster
// the leader provisions an identity that a probe pod then uses, and the standby takes the Lease over
// when the leader's pod is deleted.

import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { processesRunning } from '../../src/dev/node/host.ts';
import { OPERATOR_IMAGE, operatorImageArchive } from '../../src/dev/node/images.ts';
import { importImage } from '../../src/dev/node/node.ts';
import { agentIdentity, withScopes } from '../../src/testing/agent-identity.ts';
import { CHART, helm } from '../integration/chart/support.ts';
import { createIdentity, untilCondition } from '../support/cluster.ts';
import { kubeConfig, testEnv } from '../support/env.ts';
import { onTestCluster, readConfigMaps } from '../support/fixtures.ts';
import { namespaceBody } from '../support/namespaces.ts';
import {
  describeOnNode,
  probe,
  probeDeployment,
  query,
  readyPod,
  stopWorkloads,
  useNode,
  workloadNamespace,
} from '../support/node.ts';
import { eventually, uniqueName } from '../support/wait.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
const release = 'nhi-operator';
const namespace = uniqueName('nhi-system');

beforeAll(async () => {
  await useNode();
  const built = Date.now();
  const archive = operatorImageArchive();
  const imported = Date.now();
  importImage(testEnv().dir, archive);
  console.log(
    `[nhi] operator image: built or cached in ${imported - built} ms, imported in ${Date.now() - imported} ms`,
  );
  await core.createNamespace({ body: namespaceBody(namespace) });
});

afterAll(async () => {
  await stopWorkloads();
  await helm(['uninstall', release, '-n', namespace, '--wait', '--timeout', '60s']).catch(() => undefined);
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
});

/** The operator processes the node runs (the image's entrypoint in a pod's cgroup), read from /proc. */
const operatorProcesses = () =>
  processesRunning(`/usr/local/bin/${OPERATOR_IMAGE.entrypoint.join(' ')}`).filter((p) =>
    p.cgroup.includes('kubepods'),
  );

async function leaseHolder(): Promise<string> {
  const lease = await coordination.readNamespacedLease({ namespace, name: 'nhi-operator' });
  return (lease.spec?.holderIdentity ?? '').split('_')[0] ?? ''; // <pod name>_<random>
}

describeOnNode('the Helm chart on the dev node', () => {
  it('runs two restricted operator pods with leader election that provision from inside the cluster', async () => {
    const installing = Date.now();
    await helm([
      'install',
      release,
      CHART,
      '-n',
      namespace,
      '--take-ownership', // the suite's installOperatorManifests applied the same cluster-scoped objects
      '--set',
      `image.repository=${OPERATOR_IMAGE.repository},image.tag=${OPERATOR_IMAGE.tag},image.pullPolicy=Never`,
      '--set',
      'operator.providers=null,operator.resyncPeriod=5s,terminationGracePeriodSeconds=5',
      '--wait',
      '--timeout',
      '120s',
    ]);
    console.log(`[nhi] helm install --wait: both operator pods Ready in ${Date.now() - installing} ms`);
    const pods = (await core.listNamespacedPod({ namespace })).items.filter(
      (p) => p.status?.phase === 'Running',
    );
    expect(pods).toHaveLength(2);
    const names = pods.map((p) => p.metadata?.name);
    const leader = await eventually('a Lease holder', async () => (await leaseHolder()) || undefined);
    expect(names).toContain(leader);

    const processes = await eventually('two operator processes', async () =>
      operatorProcesses().length === 2 ? operatorProcesses() : undefined,
    );
    for (const p of processes) {
      expect(p.status.Uid?.split('\t')).toEqual(['65532', '65532', '65532', '65532']);
      expect(p.status.CapEff).toBe('0000000000000000');
      expect(p.status.NoNewPrivs).toBe('1');
      expect(p.status.Seccomp).toBe('2');
      expect(p.rootMountOptions).toContain('ro');
    }

    // Provisioning from inside the cluster: the probe pod then uses what the leader granted.
    const ns = await workloadNamespace('node-chart');
    await createIdentity(agentIdentity('reader', onTestCluster(ns), withScopes(readConfigMaps)));
    await apps.createNamespacedDeployment({ namespace: ns, body: probeDeployment('reader', 'reader') });
    await untilCondition(ns, 'reader', 'Ready', 'True', 60_000);
    const workload = await readyPod(ns, 'reader');
    const canI = await probe<{ allowed: boolean }>(
      workload,
      `/can-i${query({ verb: 'list', resource: 'configmaps', namespace: ns })}`,
    );
    expect(canI.allowed).toBe(true);

    const deleting = Date.now();
    await core.deleteNamespacedPod({ namespace, name: leader });
    const next = await eventually(
      'the standby to take the Lease',
      async () => {
        const holder = await leaseHolder();
        return holder && holder !== leader ? holder : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    console.log(`[nhi] leader pod deleted -> ${next} holds the Lease after ${Date.now() - deleting} ms`);
    // The standby, or the pod the Deployment started in the deleted one's place: whichever asks first
    // once the lease is free. Either way a live pod of the release, not the deleted leader.
    const live = (await core.listNamespacedPod({ namespace })).items
      .filter((p) => !p.metadata?.deletionTimestamp)
      .map((p) => p.metadata?.name);
    expect(live).toContain(next);
  });
});
