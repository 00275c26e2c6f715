// The dev node for the e2e suites whose pods must run (test/e2e/node-*.test.ts). Not started by the
// global setup, so the other suites pay nothing: the first node suite starts it next to the shared
// environment and the global teardown (stopEnvironment) stops it. A machine that cannot run a node
// fails these suites with the reason; NHI_SKIP_NODE=1 skips them, said aloud, for machines without
// root (docs/node.md).

import * as k8s from '@kubernetes/client-node';
import { describe } from 'vitest';
import { Controls } from '../../src/api/v1alpha1/annotations.ts';
import { PROBE_IMAGE } from '../../src/dev/node/images.ts';
import { type DevNode, readNode, startNode } from '../../src/dev/node/node.ts';
import { newNamespace } from './cluster.ts';
import { kubeConfig, testEnv } from './env.ts';
import { eventually } from './wait.ts';

const skip = process.env.NHI_SKIP_NODE === '1';
if (skip) console.warn('[nhi] NHI_SKIP_NODE=1: the dev node suites are skipped (no pod runs)');

/** `describe` for suites that need the node, skipped only when NHI_SKIP_NODE=1. */
export const describeOnNode = skip ? describe.skip : describe;

/** The node of the shared test environment, started on first use. */
export async function useNode(): Promise<DevNode> {
  const env = testEnv();
  const running = readNode(env.dir);
  if (running) return running;
  const started = Date.now();
  const node = await startNode(env);
  console.log(
    `[nhi] dev node Ready in ${((Date.now() - started) / 1000).toFixed(1)} s (kubelet start -> Ready ${node.readyMs} ms)`,
  );
  return node;
}

const workloadNamespaces = new Set<string>();

/** A new namespace for a suite's workloads on the node; `stopWorkloads` removes its Deployments. */
export async function workloadNamespace(prefix: string): Promise<string> {
  const name = await newNamespace(prefix);
  workloadNamespaces.add(name);
  return name;
}

/**
 * Deletes the Deployments of the suite's workload namespaces, so their pods do not keep running on
 * the shared node for the suites after it (nor all start again at once when the node restarts).
 */
export async function stopWorkloads(): Promise<void> {
  const apps = kubeConfig().makeApiClient(k8s.AppsV1Api);
  for (const namespace of workloadNamespaces) {
    await apps
      .deleteCollectionNamespacedDeployment({ namespace, propagationPolicy: 'Background' })
      .catch(() => undefined);
  }
  workloadNamespaces.clear();
}

/** A Deployment of the probe image (docs/node.md): restricted security context, readiness on /healthz. */
export function probeDeployment(
  name: string,
  serviceAccountName: string,
  pod: {
    volumes?: k8s.V1Volume[];
    mounts?: k8s.V1VolumeMount[];
    env?: k8s.V1EnvVar[];
    /** Another local image and its command, serving /healthz on 8080 like the probe. */
    image?: string;
    command?: string[];
  } = {},
): k8s.V1Deployment {
  return {
    metadata: { name, labels: { app: name } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          serviceAccountName,
          automountServiceAccountToken: true,
          dnsPolicy: 'Default',
          terminationGracePeriodSeconds: 2,
          enableServiceLinks: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          ...(pod.volumes && { volumes: pod.volumes }),
          containers: [
            {
              name: 'probe',
              image: pod.image ?? PROBE_IMAGE,
              imagePullPolicy: 'Never',
              ...(pod.command && { command: pod.command }),
              ...(pod.env && { env: pod.env }),
              ...(pod.mounts && { volumeMounts: pod.mounts }),
              readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
            },
          ],
        },
      },
    },
  };
}

/**
 * The Ready pod of Deployment `app` (label app=<app>). On timeout the error says why: each pod's
 * phase, node, conditions and container states, the namespace's last events and the node's
 * conditions and taints, so a failure in CI can be read from its log.
 */
export async function readyPod(namespace: string, app: string, timeoutMs = 60_000): Promise<k8s.V1Pod> {
  const core = kubeConfig().makeApiClient(k8s.CoreV1Api);
  try {
    return await eventually(
      `a Ready pod of ${namespace}/${app}`,
      async () => {
        const pods = await core.listNamespacedPod({ namespace, labelSelector: `app=${app}` });
        return pods.items.find(
          (pod) =>
            !pod.metadata?.deletionTimestamp &&
            pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        );
      },
      { timeoutMs, intervalMs: 100 },
    );
  } catch (error) {
    const why = await whyNotReady(core, namespace, app).catch((e) => `(no diagnosis: ${String(e)})`);
    throw new Error(`${(error as Error).message}\n${why}`);
  }
}

async function whyNotReady(core: k8s.CoreV1Api, namespace: string, app: string): Promise<string> {
  const lines: string[] = [];
  const pods = await core.listNamespacedPod({ namespace, labelSelector: `app=${app}` });
  if (pods.items.length === 0) lines.push('  no pod');
  for (const pod of pods.items) {
    const conditions = (pod.status?.conditions ?? []).map(
      (c) => `${c.type}=${c.status}${c.reason ? `(${c.reason})` : ''}`,
    );
    const containers = (pod.status?.containerStatuses ?? []).map((c) => {
      const state = c.state?.waiting
        ? `waiting ${c.state.waiting.reason ?? ''} ${c.state.waiting.message ?? ''}`
        : c.state?.terminated
          ? `terminated ${c.state.terminated.reason ?? ''} exit ${c.state.terminated.exitCode}`
          : 'running';
      return `${c.name} ${state.trim()} restarts=${c.restartCount}`;
    });
    lines.push(
      `  pod ${pod.metadata?.name} ${pod.status?.phase} on ${pod.spec?.nodeName ?? '(unscheduled)'}${pod.metadata?.deletionTimestamp ? ' deleting' : ''}: ${conditions.join(' ')}; ${containers.join('; ') || 'no container status'}`,
    );
  }
  const events = (await core.listNamespacedEvent({ namespace })).items
    .sort((a, b) =>
      String(a.lastTimestamp ?? a.eventTime ?? '').localeCompare(
        String(b.lastTimestamp ?? b.eventTime ?? ''),
      ),
    )
    .slice(-15);
  for (const event of events) {
    lines.push(
      `  event ${event.involvedObject.kind}/${event.involvedObject.name} ${event.reason} x${event.count ?? 1}: ${event.message ?? ''}`,
    );
  }
  for (const node of (await core.listNode()).items) {
    const conditions = (node.status?.conditions ?? []).map((c) => `${c.type}=${c.status}`);
    const taints = (node.spec?.taints ?? []).map((t) => `${t.key}:${t.effect}`);
    lines.push(
      `  node ${node.metadata?.name}${node.spec?.unschedulable ? ' cordoned' : ''}: ${conditions.join(' ')}; taints ${taints.join(' ') || 'none'}`,
    );
  }
  const onNode = (await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName!=' })).items;
  const byPhase = new Map<string, number>();
  for (const pod of onNode)
    byPhase.set(pod.status?.phase ?? '?', (byPhase.get(pod.status?.phase ?? '?') ?? 0) + 1);
  lines.push(
    `  pods bound to nodes: ${[...byPhase].map(([phase, n]) => `${n} ${phase}`).join(', ') || 'none'}`,
  );
  return lines.join('\n');
}

/** One call to the probe in a pod, from the host (which reaches pods on the node's bridge). */
export async function probe<T = Record<string, unknown>>(pod: k8s.V1Pod, path: string): Promise<T> {
  const response = await fetch(`http://${pod.status?.podIP}:8080${path}`, {
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await response.json()) as T;
  if (!response.ok) throw new Error(`probe ${path}: HTTP ${response.status} ${JSON.stringify(body)}`);
  return body;
}

/** The probe's query string. */
export function query(params: Record<string, string>): string {
  return `?${new URLSearchParams(params).toString()}`;
}

/**
 * Requests a rotation of identity `namespace/name` (nhi.dev/rotate-requested-at) and waits until
 * `current()` (the value a test watches) changes; the value before and after.
 */
export async function rotateAndWait(
  namespace: string,
  name: string,
  current: () => Promise<string>,
  intervalMs = 50,
): Promise<{ before: string; value: string }> {
  const before = await current();
  await kubeConfig()
    .makeApiClient(k8s.CustomObjectsApi)
    .patchNamespacedCustomObject(
      {
        group: 'nhi.dev',
        version: 'v1alpha1',
        plural: 'agentidentities',
        namespace,
        name,
        body: { metadata: { annotations: { [Controls.rotateRequestedAt]: new Date().toISOString() } } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  const value = await eventually(
    'the Secret to rotate',
    async () => {
      const now = await current();
      return now !== before ? now : undefined;
    },
    { timeoutMs: 30_000, intervalMs },
  );
  return { before, value };
}
