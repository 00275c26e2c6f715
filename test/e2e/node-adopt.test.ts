// `nhictl adopt --secret --apply --restart-workload` on the dev node (issue 18's migration, with real
// pods): a Deployment whose running pod carries a key-shaped literal in its env (generated here,
// never committed) ends up with a new pod that reads the same value from the managed Secret, the
// literal gone from its pod template; a later `nhictl rotate` reaches the workload, whose next pod
// reads the rotated value (restartWorkload). The pods answer with SHA-256s only, and no output of
// nhictl or the operator contains a value.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Marks } from '../../src/api/v1alpha1/annotations.ts';
import type { AdoptResult } from '../../src/cli/adopt.ts';
import { repoRoot } from '../../src/dev/components.ts';
import { installOperatorManifests } from '../../src/dev/install.ts';
import { agentIdentity } from '../../src/testing/agent-identity.ts';
import { createIdentity, getIdentity, untilCondition } from '../support/cluster.ts';
import { childProcessEnv, kubeConfig } from '../support/env.ts';
import { fakeSecretAccessKey } from '../support/fake-credentials.ts';
import { onTestCluster } from '../support/fixtures.ts';
import {
  describeOnNode,
  probe,
  probeDeployment,
  query,
  stopWorkloads,
  useNode,
  workloadNamespace,
} from '../support/node.ts';
import { type OperatorProcess, startOperatorProcess } from '../support/operator.ts';
import { eventually } from '../support/wait.ts';

const run = promisify(execFile);
const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const ENV = 'AWS_SECRET_ACCESS_KEY';
const outputs: string[] = [];
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

async function nhictl(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(repoRoot, 'bin', 'nhictl.js'), ...args], {
      env: childProcessEnv(),
    });
    outputs.push(stdout, stderr);
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    outputs.push(e.stdout ?? '', e.stderr ?? '');
    throw error;
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describeOnNode('migrating a hard-coded credential of a running workload on the dev node', () => {
  it('adopt moves the literal into the managed Secret the new pod reads, and a rotation reaches the workload', async () => {
    const ns = await workloadNamespace('node-adopt');
    const name = 'invoices';
    const secretName = `${name}-aws`;
    const literal = fakeSecretAccessKey();
    // The workload already has an identity (its ServiceAccount) but still carries the literal.
    await createIdentity(agentIdentity(name, onTestCluster(ns)));
    const body = probeDeployment(name, name, { env: [{ name: ENV, value: literal }] });
    body.metadata = { ...body.metadata, annotations: { [Marks.owner]: 'team-payments' } };
    await apps.createNamespacedDeployment({ namespace: ns, body });
    await untilCondition(ns, name, 'Ready');

    const pods = async () =>
      (await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${name}` })).items;
    /** The one pod left once a rollout is over, and the SHA-256 of its env var. */
    const onlyPodReading = (digest: string) =>
      eventually(
        `one Ready pod of ${name} reading the expected value`,
        async () => {
          const all = await pods();
          const [pod] = all;
          if (
            all.length !== 1 ||
            !pod?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
          )
            return undefined;
          const env = await probe<{ sha256?: string }>(pod, `/env${query({ name: ENV })}`);
          return env.sha256 === digest ? pod : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 200 },
      );
    const before = await onlyPodReading(sha256(literal));

    const result = JSON.parse(
      await nhictl(
        'adopt',
        `deployment/${name}`,
        '-n',
        ns,
        '--container',
        'probe',
        '--env',
        ENV,
        '--secret',
        secretName,
        '--restart-workload',
        '--apply',
        '-o',
        'json',
      ),
    ) as AdoptResult;
    expect(result).toMatchObject({ applied: true, adopted: true, secret: { restartWorkload: true } });

    // The template change rolls the pods: the new one reads the same value, now from the Secret.
    const adopted = await onlyPodReading(sha256(literal));
    expect(adopted.metadata?.name).not.toBe(before.metadata?.name);
    const live = await apps.readNamespacedDeployment({ namespace: ns, name });
    const container = live.spec?.template.spec?.containers.find((c) => c.name === 'probe');
    expect(container?.env?.find((e) => e.name === ENV)).toEqual({
      name: ENV,
      valueFrom: { secretKeyRef: { name: secretName, key: ENV } },
    });
    expect(JSON.stringify(live.spec).includes(literal)).toBe(false);
    expect(JSON.stringify(adopted.spec).includes(literal)).toBe(false);

    // A later rotation reaches the workload: it is rolled and its new pod reads the new value.
    await nhictl('rotate', name, '-n', ns);
    const rotated = await eventually(
      'the rotation',
      async () => {
        const secret = await core.readNamespacedSecret({ namespace: ns, name: secretName });
        const value = Buffer.from(secret.data?.[ENV] ?? '', 'base64').toString('utf8');
        return value && value !== literal ? value : undefined;
      },
      { timeoutMs: 30_000 },
    );
    const after = await onlyPodReading(sha256(rotated));
    expect(after.metadata?.name).not.toBe(adopted.metadata?.name);
    const identity = await getIdentity(ns, name);
    const state = identity?.status?.secrets?.find((s) => s.name === 'aws-secret-access-key');
    expect(state?.restartedVersion).toBe(state?.currentVersion);
    expect(state?.currentVersion).toBeGreaterThan(result.version);

    for (const text of [...outputs, operator.logs(), JSON.stringify(identity)]) {
      expect(text.includes(literal)).toBe(false);
      expect(text.includes(rotated)).toBe(false);
    }
  });
});
