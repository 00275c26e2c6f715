// A consumer on the dev node reads its mounted Secret every 5 ms through several rotations: it never
// sees a missing, empty or foreign value (only values the Secret really held, in order), and each
// new value reaches it within kubelet's resync; the time from the Secret's update to the pod seeing
// it is measured, plain and with the pod-annotation nudge that makes kubelet resync the pod at once.

import { createHash } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { KUBELET_RESYNC_NUDGE } from '../../src/api/v1alpha1/annotations.ts';
import { installOperatorManifests } from '../../src/dev/install.ts';
import { agentIdentity } from '../../src/testing/agent-identity.ts';
import { createIdentity, untilCondition } from '../support/cluster.ts';
import { kubeConfig } from '../support/env.ts';
import { onTestCluster, withSecret } from '../support/fixtures.ts';
import {
  describeOnNode,
  probe,
  probeDeployment,
  query,
  readyPod,
  rotateAndWait,
  stopWorkloads,
  useNode,
  workloadNamespace,
} from '../support/node.ts';
import { type OperatorProcess, startOperatorProcess } from '../support/operator.ts';
import { eventually } from '../support/wait.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
let operator: OperatorProcess;

beforeAll(async () => {
  await useNode();
  await installOperatorManifests(kc);
  operator = startOperatorProcess();
  await operator.ready();
});

afterAll(async () => {
  await stopWorkloads();
  await operator?.stop();
});

interface Report {
  reads: number;
  failures: { at: number; error: string }[];
  changes: { at: number; sha256: string }[];
}

const sha256 = (base64: string) => createHash('sha256').update(Buffer.from(base64, 'base64')).digest('hex');

describeOnNode('a consumer of a rotated Secret on the dev node', () => {
  it('never reads a missing or foreign value through several rotations, and sees each new one', async () => {
    const ns = await workloadNamespace('node-rotate');
    const secretName = 'consumer-api-key';
    const key = 'api-key'; // the kubernetes backend's default data key: the secret's name
    // The Secret first: a pod whose Secret volume is missing waits on kubelet's mount backoff (up to
    // two minutes), which is not what this measures.
    await createIdentity(agentIdentity('consumer', onTestCluster(ns), withSecret('api-key')));
    await eventually('the consumer Secret', async () =>
      (await core.readNamespacedSecret({ namespace: ns, name: secretName }).catch(() => undefined))?.data?.[
        key
      ]
        ? true
        : undefined,
    );
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: probeDeployment('consumer', 'consumer', {
        volumes: [{ name: 'api-key', secret: { secretName } }],
        mounts: [{ name: 'api-key', mountPath: '/etc/nhi-secret', readOnly: true }],
      }),
    });
    await untilCondition(ns, 'consumer', 'Ready');
    const current = async () =>
      (await core.readNamespacedSecret({ namespace: ns, name: secretName })).data?.[key] ?? '';
    const pod = await readyPod(ns, 'consumer');
    await probe(pod, `/watch/start${query({ file: `/etc/nhi-secret/${key}`, pattern: '^\\S+$' })}`);
    const held = [sha256(await current())];
    const latencies: { nudged: boolean; ms: number }[] = [];

    for (const nudged of [false, false, false, true, true]) {
      const { value } = await rotateAndWait(ns, 'consumer', current, 20);
      const updated = Date.now();
      held.push(sha256(value));
      if (nudged) {
        await core.patchNamespacedPod(
          {
            namespace: ns,
            name: pod.metadata?.name ?? '',
            body: { metadata: { annotations: { [KUBELET_RESYNC_NUDGE]: String(updated) } } },
          },
          mergePatch,
        );
      }
      const seen = await eventually(
        'the pod to read the new value',
        async () =>
          (await probe<Report>(pod, '/watch/report')).changes.find((c) => c.sha256 === sha256(value)),
        { timeoutMs: 30_000, intervalMs: 50 },
      );
      latencies.push({ nudged, ms: Math.max(0, seen.at - updated) });
    }

    const report = await probe<Report>(pod, '/watch/report');
    console.log(
      `[nhi] ${report.reads} reads; Secret updated -> pod sees it (ms): ${latencies
        .map((l) => `${l.ms}${l.nudged ? ' (nudged)' : ''}`)
        .join(', ')}`,
    );
    expect(report.failures).toEqual([]);
    expect(report.changes.map((c) => c.sha256)).toEqual(held);
    expect(report.reads).toBeGreaterThan(100);
  });
});
