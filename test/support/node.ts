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

/** The Ready pod of Deployment `app` (label app=<app>) and when it became Ready. */
export async function readyPod(namespace: string, app: string, timeoutMs = 60_000): Promise<k8s.V1Pod> {
  const core = kubeConfig().makeApiClient(k8s.CoreV1Api);
  return eventually(
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
