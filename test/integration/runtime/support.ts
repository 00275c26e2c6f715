// Helpers for the runtime's integration tests: a namespace per file, a tiny CRD with a status
// subresource, ConfigMap informers, and a TCP proxy in front of the apiserver that can cut or
// freeze connections (to break watches the way networks do).

import { createServer, type Server, Socket } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { InformerSource, type InformerSourceOptions } from '../../../src/runtime/informer.ts';
import { namespaceBody } from '../../support/namespaces.ts';
import { eventually } from '../../support/wait.ts';

export const gizmos = { group: 'runtime.nhi.dev', version: 'v1', plural: 'gizmos' } as const;

export interface Gizmo extends k8s.KubernetesObject {
  spec?: { size?: number };
  status?: { observedSize?: number; conditions?: import('../../../src/api/v1alpha1/types.ts').Condition[] };
}

const gizmoCrd: k8s.V1CustomResourceDefinition = {
  metadata: { name: `${gizmos.plural}.${gizmos.group}` },
  spec: {
    group: gizmos.group,
    scope: 'Namespaced',
    names: { plural: gizmos.plural, singular: 'gizmo', kind: 'Gizmo' },
    versions: [
      {
        name: gizmos.version,
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: { type: 'object', properties: { size: { type: 'integer' } } },
              status: { type: 'object', x_kubernetes_preserve_unknown_fields: true },
            },
          },
        },
      },
    ],
  },
};

/** Installs the Gizmo CRD (idempotent) and waits until it is served. */
export async function installGizmoCrd(kc: k8s.KubeConfig): Promise<void> {
  const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  try {
    await ext.createCustomResourceDefinition({ body: gizmoCrd });
  } catch (err) {
    if (!(err instanceof k8s.ApiException && err.code === 409)) throw err;
  }
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  await eventually('the Gizmo CRD to be served', async () => {
    await custom.listClusterCustomObject({ ...gizmos });
    return true;
  });
}

export async function createNamespace(kc: k8s.KubeConfig, name: string): Promise<void> {
  await kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: namespaceBody(name) });
}

export async function deleteNamespace(kc: k8s.KubeConfig, name: string): Promise<void> {
  await kc
    .makeApiClient(k8s.CoreV1Api)
    .deleteNamespace({ name })
    .catch(() => undefined);
}

export function configMapSource(
  kc: k8s.KubeConfig,
  namespace: string,
  options: Partial<InformerSourceOptions<k8s.V1ConfigMap>> = {},
): InformerSource<k8s.V1ConfigMap> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  return new InformerSource({
    name: 'configmaps',
    create: () =>
      k8s.makeInformer(kc, `/api/v1/namespaces/${namespace}/configmaps`, () =>
        core.listNamespacedConfigMap({ namespace }),
      ),
    ...options,
  });
}

export function gizmoSource(kc: k8s.KubeConfig, namespace: string): InformerSource<Gizmo> {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const path = `/apis/${gizmos.group}/${gizmos.version}/namespaces/${namespace}/${gizmos.plural}`;
  return new InformerSource<Gizmo>({
    name: 'gizmos',
    create: () =>
      k8s.makeInformer(kc, path, () => custom.listNamespacedCustomObject({ ...gizmos, namespace })),
  });
}

/**
 * A TCP proxy to the apiserver. `cut()` resets every open connection (a watch sees an error);
 * `freeze()` keeps connections open but stops forwarding (a watch goes silent).
 */
export class ApiProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private frozen = false;
  port = 0;

  constructor(private readonly target: URL) {
    this.server = createServer((client) => this.connect(client));
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** A copy of `kc` whose cluster is reached through this proxy. */
  kubeConfig(kc: k8s.KubeConfig): k8s.KubeConfig {
    const proxied = new k8s.KubeConfig();
    proxied.loadFromOptions({
      clusters: kc.clusters.map((c) => ({ ...c, server: `https://127.0.0.1:${this.port}` })),
      users: kc.users,
      contexts: kc.contexts,
      currentContext: kc.currentContext,
    });
    return proxied;
  }

  cut(): void {
    for (const s of this.sockets) s.resetAndDestroy();
    this.sockets.clear();
  }

  freeze(): void {
    this.frozen = true;
  }

  /** Forwards again; connections that saw dropped bytes are cut so clients reconnect cleanly. */
  thaw(): void {
    this.frozen = false;
    this.cut();
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private connect(client: Socket): void {
    const upstream = new Socket();
    upstream.connect(Number(this.target.port), this.target.hostname);
    const forward = (from: Socket, to: Socket) => {
      this.sockets.add(from);
      from.on('data', (chunk) => {
        if (!this.frozen) to.write(chunk);
      });
      from.on('error', () => undefined);
      from.on('close', () => {
        this.sockets.delete(from);
        client.destroy();
        upstream.destroy();
      });
    };
    forward(client, upstream);
    forward(upstream, client);
  }
}
