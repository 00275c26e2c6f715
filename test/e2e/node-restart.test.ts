// Restarting consumers after rotation (spec.secrets[].restartWorkload) with real pods on the dev
// node: a Deployment whose container reads its Secret once, at start, through an env var
// (secretKeyRef). Each rotation rolls the Deployment exactly once (one new ReplicaSet, the pod
// template's nhi.dev/restarted-for names the rotation) and the new pod sees the new value, while
// through the rollout some pod is always Ready with the old value (still valid for the overlap) or
// the new one; a quarantine rolls nothing. Two secrets rotating together roll it once. Values never leave the pod: the probe answers with their SHA-256.

import { createHash } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Controls, RestartAnnotations } from '../../src/api/v1alpha1/annotations.ts';
import { installOperatorManifests } from '../../src/dev/install.ts';
import { agentIdentity } from '../../src/testing/agent-identity.ts';
import { AGENT_IDENTITIES, createIdentity, untilCondition } from '../support/cluster.ts';
import { kubeConfig } from '../support/env.ts';
import { onTestCluster, withSecret } from '../support/fixtures.ts';
import {
  describeOnNode,
  probe,
  probeDeployment,
  query,
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
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
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

const sha256 = (base64: string) => createHash('sha256').update(Buffer.from(base64, 'base64')).digest('hex');

describeOnNode('restarting a consumer after rotation on the dev node', () => {
  it('rolls the Deployment once per rotation, the new pod reads the new value, and quarantine rolls nothing', async () => {
    const ns = await workloadNamespace('node-restart');
    const secretName = 'consumer-api-key';
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: probeDeployment('consumer', 'consumer', {
        env: [{ name: 'API_KEY', valueFrom: { secretKeyRef: { name: secretName, key: 'api-key' } } }],
      }),
    });
    await createIdentity(
      agentIdentity('consumer', onTestCluster(ns), withSecret('api-key', { restartWorkload: true })),
    );
    await untilCondition(ns, 'consumer', 'Ready');

    /** The Secret's current value (base64), '' once quarantine emptied it or revocation deleted it. */
    const current = async () =>
      (await core.readNamespacedSecret({ namespace: ns, name: secretName }).catch(() => undefined))?.data?.[
        'api-key'
      ] ?? '';
    const replicaSets = async () =>
      (await apps.listNamespacedReplicaSet({ namespace: ns, labelSelector: 'app=consumer' })).items.length;
    const template = async () =>
      (await apps.readNamespacedDeployment({ namespace: ns, name: 'consumer' })).spec?.template.metadata
        ?.annotations ?? {};
    /** The one pod left once the rollout is over, serving the value `digest`. */
    const onlyPodWith = (digest: string) =>
      eventually(
        'the rollout to leave one Ready pod that reads the current value',
        async () => {
          const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=consumer' })).items;
          if (pods.length !== 1) return undefined;
          const [pod] = pods;
          if (!pod?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
            return undefined;
          const env = await probe<{ set: boolean; sha256?: string }>(
            pod,
            `/env${query({ name: 'API_KEY' })}`,
          );
          return env.sha256 === digest ? pod : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 200 },
      );

    /**
     * Until stopped, every 100 ms: how many pods are Ready and not terminating, and how many of them
     * serve a value outside `allowed` (a pod that starts terminating while asked is left out).
     */
    const sampleRollout = (allowed: string[]) => {
      const samples: { ready: number; foreign: number }[] = [];
      let stopped = false;
      const loop = (async () => {
        while (!stopped) {
          const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=consumer' })).items;
          const serving = pods.filter(
            (p) =>
              !p.metadata?.deletionTimestamp &&
              p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
          );
          let foreign = 0;
          let ready = 0;
          for (const p of serving) {
            const env = await probe<{ sha256?: string }>(p, `/env${query({ name: 'API_KEY' })}`).catch(
              () => undefined,
            );
            if (!env) continue; // terminating between the list and the call
            ready++;
            if (!allowed.includes(env.sha256 ?? '')) foreign++;
          }
          samples.push({ ready, foreign });
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })();
      return {
        stop: async () => {
          stopped = true;
          await loop;
          return samples;
        },
      };
    };

    let pod = await onlyPodWith(sha256(await current()));
    expect(await replicaSets()).toBe(1); // the first value rolls nothing
    const started = Date.now();
    let sampled = 0;

    for (const version of [2, 3]) {
      const oldPod = pod.metadata?.name;
      const { before, value } = await rotateAndWait(ns, 'consumer', current, 50);
      const overlap = sampleRollout([sha256(before), sha256(value)]);
      pod = await onlyPodWith(sha256(value));
      const samples = await overlap.stop();
      // Through the rollout some pod was always Ready, and each served the old or the new value;
      // the old one is still valid (the Secret's previous value) for the overlap.
      expect(samples.length).toBeGreaterThan(0);
      sampled += samples.length;
      expect(samples.filter((n) => n.ready === 0)).toEqual([]);
      expect(samples.filter((n) => n.foreign > 0)).toEqual([]);
      const held = (await core.readNamespacedSecret({ namespace: ns, name: secretName })).data ?? {};
      expect(held['api-key.previous'] === before).toBe(true);
      expect(pod.metadata?.name).not.toBe(oldPod);
      expect((await template())[RestartAnnotations.restartedFor]).toBe(`api-key=v${version}`);
      expect(await replicaSets()).toBe(version); // one new ReplicaSet per rotation
    }
    console.log(
      `[nhi] two rotations, each rolled and served by a new pod, in ${Date.now() - started} ms; a Ready pod with a valid value in all ${sampled} samples during the rollouts`,
    );
    const identity = (await custom.getNamespacedCustomObject({
      ...AGENT_IDENTITIES,
      namespace: ns,
      name: 'consumer',
    })) as { status?: { secrets?: Array<{ currentVersion?: number; restartedVersion?: number }> } };
    expect(identity.status?.secrets?.[0]).toMatchObject({ currentVersion: 3, restartedVersion: 3 });

    // Quarantine (the lock) empties the Secret: that rolls nothing, nor does a rotate request made
    // meanwhile.
    const rolledFor = await template();
    await custom.patchNamespacedCustomObject(
      { ...AGENT_IDENTITIES, namespace: ns, name: 'consumer', body: { spec: { locked: true } } },
      mergePatch,
    );
    await untilCondition(ns, 'consumer', 'Quarantined');
    await custom.patchNamespacedCustomObject(
      {
        ...AGENT_IDENTITIES,
        namespace: ns,
        name: 'consumer',
        body: { metadata: { annotations: { [Controls.rotateRequestedAt]: new Date().toISOString() } } },
      },
      mergePatch,
    );
    await eventually(
      'the quarantine to empty the Secret',
      async () => (await current()) === '' || undefined,
      {
        timeoutMs: 30_000,
      },
    );
    // A spec change after the request: once status observes its generation, a reconcile has seen both.
    const changed = (await custom.patchNamespacedCustomObject(
      {
        ...AGENT_IDENTITIES,
        namespace: ns,
        name: 'consumer',
        body: { spec: { purpose: 'Consume a rotated API key, locked for the test' } },
      },
      mergePatch,
    )) as { metadata: { generation: number } };
    await eventually(
      'a reconcile of the locked identity after the rotate request',
      async () => {
        const seen = (await custom.getNamespacedCustomObject({
          ...AGENT_IDENTITIES,
          namespace: ns,
          name: 'consumer',
        })) as { status?: { observedGeneration?: number } };
        return (seen.status?.observedGeneration ?? 0) >= changed.metadata.generation || undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(await untilCondition(ns, 'consumer', 'Quarantined')).toBeDefined();
    expect(await template()).toEqual(rolledFor);
    expect(await replicaSets()).toBe(3);
    const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=consumer' })).items;
    expect(pods.map((p) => p.metadata?.name)).toEqual([pod.metadata?.name]);
  });
  it('rolls the Deployment once when two of its secrets rotate together, and the new pod reads both new values', async () => {
    const ns = await workloadNamespace('node-restart-pair');
    const names = ['api-key', 'db-password'];
    const secretOf = (name: string) => `pair-${name}`;
    const envOf = (name: string) => name.toUpperCase().replace('-', '_');
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: probeDeployment('pair', 'pair', {
        env: names.map((name) => ({
          name: envOf(name),
          valueFrom: { secretKeyRef: { name: secretOf(name), key: name } },
        })),
      }),
    });
    await createIdentity(
      agentIdentity(
        'pair',
        onTestCluster(ns),
        ...names.map((name) => withSecret(name, { restartWorkload: true })),
      ),
    );
    await untilCondition(ns, 'pair', 'Ready');
    const values = async () =>
      Promise.all(
        names.map(
          async (name) =>
            (await core.readNamespacedSecret({ namespace: ns, name: secretOf(name) }).catch(() => undefined))
              ?.data?.[name] ?? '',
        ),
      );
    const replicaSets = async () =>
      (await apps.listNamespacedReplicaSet({ namespace: ns, labelSelector: 'app=pair' })).items.length;
    /** The one Ready pod left once any rollout is over, reading `digests` (in the order of names). */
    const onlyPodWith = (digests: string[]) =>
      eventually(
        'one Ready pod that reads both current values',
        async () => {
          const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=pair' })).items;
          const [pod] = pods;
          if (
            pods.length !== 1 ||
            !pod?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
          )
            return undefined;
          const read = await Promise.all(
            names.map((name) => probe<{ sha256?: string }>(pod, `/env${query({ name: envOf(name) })}`)),
          );
          return read.every((r, i) => r.sha256 === digests[i]) ? pod : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 200 },
      );

    const first = await values();
    const firstPod = await onlyPodWith(first.map(sha256));
    expect(await replicaSets()).toBe(1);

    // One rotate request rotates both secrets in one reconcile.
    await custom.patchNamespacedCustomObject(
      {
        ...AGENT_IDENTITIES,
        namespace: ns,
        name: 'pair',
        body: { metadata: { annotations: { [Controls.rotateRequestedAt]: new Date().toISOString() } } },
      },
      mergePatch,
    );
    const rotated = await eventually(
      'both Secrets to rotate',
      async () => {
        const now = await values();
        return now.every((v, i) => v !== '' && v !== first[i]) ? now : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    const pod = await onlyPodWith(rotated.map(sha256));
    expect(pod.metadata?.name).not.toBe(firstPod.metadata?.name);
    const template = (await apps.readNamespacedDeployment({ namespace: ns, name: 'pair' })).spec?.template
      .metadata?.annotations;
    expect(template?.[RestartAnnotations.restartedFor]).toBe('api-key=v2,db-password=v2');

    // Later reconciles roll nothing more: once status observes a spec change made now, one has run.
    const changed = (await custom.patchNamespacedCustomObject(
      {
        ...AGENT_IDENTITIES,
        namespace: ns,
        name: 'pair',
        body: { spec: { purpose: 'Consume two rotated secrets' } },
      },
      mergePatch,
    )) as { metadata: { generation: number } };
    await eventually(
      'a reconcile after the rollout',
      async () => {
        const seen = (await custom.getNamespacedCustomObject({
          ...AGENT_IDENTITIES,
          namespace: ns,
          name: 'pair',
        })) as {
          status?: {
            observedGeneration?: number;
            secrets?: Array<{ name: string; currentVersion?: number; restartedVersion?: number }>;
          };
        };
        return (seen.status?.observedGeneration ?? 0) >= changed.metadata.generation ? seen : undefined;
      },
      { timeoutMs: 30_000 },
    ).then((seen) =>
      expect(seen.status?.secrets).toEqual(
        names.map((name) => expect.objectContaining({ name, currentVersion: 2, restartedVersion: 2 })),
      ),
    );
    expect(await replicaSets()).toBe(2); // exactly one rollout for the two rotations
    const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=pair' })).items;
    expect(pods.map((p) => p.metadata?.name)).toEqual([pod.metadata?.name]);
  });
});
