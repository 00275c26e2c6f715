// The demo's real pod, when the dev node runs (docs/node.md): crm-sync's Deployment runs the probe
// image (localhost/nhi/probe:1) with its ServiceAccount token mounted, and the demo asks that pod,
// over the node's bridge, to log in to OpenBao with its own token and read. Values never leave the
// pod (the probe answers with HTTP statuses and hashes).

import type * as k8s from '@kubernetes/client-node';
import { PROBE_IMAGE } from '../dev/node/images.ts';

/** The Deployment, running the probe on the dev node instead of its (fictional) image. */
export function onDevNode(deployment: k8s.V1Deployment): k8s.V1Deployment {
  const pod = deployment.spec?.template.spec;
  if (!pod) return deployment;
  pod.automountServiceAccountToken = true; // the managed ServiceAccount leaves it to the pod
  pod.dnsPolicy = 'Default';
  pod.terminationGracePeriodSeconds = 2;
  pod.securityContext = { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } };
  pod.containers = pod.containers.map((container) => ({
    ...container,
    image: PROBE_IMAGE,
    imagePullPolicy: 'Never',
    readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
  }));
  return deployment;
}

/** The Ready pod of the Deployment's selector: its name, node and address. */
export async function readyPod(
  core: k8s.CoreV1Api,
  namespace: string,
  labels: Record<string, string>,
  timeoutMs = 60_000,
): Promise<{ name: string; node: string; ip: string }> {
  const selector = Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const pods = await core.listNamespacedPod({ namespace, labelSelector: selector });
    const ready = pods.items.find(
      (p) =>
        !p.metadata?.deletionTimestamp &&
        p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    );
    if (ready?.status?.podIP) {
      return { name: ready.metadata?.name ?? '', node: ready.spec?.nodeName ?? '', ip: ready.status.podIP };
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`no Ready pod in ${namespace} (${selector}) within ${timeoutMs / 1000}s`);
}

/** One call to the probe in the pod. */
export async function askPod<T>(ip: string, path: string, query: Record<string, string>): Promise<T> {
  const response = await fetch(`http://${ip}:8080${path}?${new URLSearchParams(query)}`, {
    signal: AbortSignal.timeout(10_000),
  });
  return (await response.json()) as T;
}
