// The benchmark's side of the cluster: the local environment of real components (src/dev), the
// benchmark's own client (straight to the apiserver, never through the counting proxy), the objects
// every scenario creates (namespaces, Deployments, AgentIdentities) at a chosen concurrency, a watch
// that records when each identity first reached a condition, and the cleanup between scenarios.

import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { Marks } from '../src/api/v1alpha1/annotations.ts';
import type { AgentIdentity, Scope, SecretSpec } from '../src/api/v1alpha1/types.ts';
import {
  type DevEnvironment,
  readEnvironment,
  startEnvironment,
  stopEnvironment,
} from '../src/dev/environment.ts';
import { installOperatorManifests } from '../src/dev/install.ts';
import {
  agentIdentity,
  inEnvironment,
  inNamespace,
  withOwner,
  withPurpose,
  withScopes,
  withSecrets,
  withSpec,
  withUid,
  withWorkload,
} from '../src/testing/agent-identity.ts';
import { type CountingProxy, startCountingProxy } from './counting-proxy.ts';

export const AGENT_IDENTITIES = { group: 'nhi.dev', version: 'v1alpha1', plural: 'agentidentities' };

export interface BenchEnv {
  dev: DevEnvironment;
  caFile: string;
  kc: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
  rbac: k8s.RbacAuthorizationV1Api;
  custom: k8s.CustomObjectsApi;
  /** The operator's way to the apiserver: every request it makes is counted here. */
  kubeProxy: CountingProxy;
  /** Whether this run started the environment (and so stops it). */
  owned: boolean;
}

export type Progress = (message: string) => void;

/** Starts the environment under `dir`, or uses the one already running there (`nhictl dev up`). */
export async function openBenchEnv(dir: string, progress: Progress): Promise<BenchEnv> {
  let dev = readEnvironment(dir);
  const owned = !dev;
  if (!dev) {
    dev = await startEnvironment(dir, progress);
  } else {
    progress(`using the environment already running in ${dir}`);
  }
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(dev.kubeconfigPath);
  progress('installing the CRDs and the admission policy');
  await installOperatorManifests(kc);
  const kubeProxy = await startCountingProxy({ url: dev.apiserverUrl, ca: dev.caPem, dialect: 'kube' });
  return {
    dev,
    caFile: join(dev.dir, 'pki', 'ca.crt'),
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    rbac: kc.makeApiClient(k8s.RbacAuthorizationV1Api),
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
    kubeProxy,
    owned,
  };
}

export async function closeBenchEnv(env: BenchEnv): Promise<void> {
  await env.kubeProxy.close();
  if (env.owned) await stopEnvironment(env.dev.dir);
}

/** Runs `work` over `items` with at most `concurrency` in flight; results in input order. */
export async function pool<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, lane));
  return results;
}

/** Retries a call the apiserver may refuse while it is loaded (429, 5xx, a reset connection). */
export async function withRetry<R>(call: () => Promise<R>, attempts = 8): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const code = (error as { code?: number }).code;
      const transient = code === undefined || code === 429 || code >= 500;
      if (!transient || attempt >= attempts) throw error;
      await sleep(200 * attempt);
    }
  }
}

export const names = (prefix: string, count: number, from = 0) =>
  Array.from({ length: count }, (_, i) => `${prefix}-${from + i}`);

export async function createNamespace(env: BenchEnv, name: string): Promise<void> {
  await env.core.createNamespace({
    body: { metadata: { name, labels: { [Marks.environment]: 'development' } } },
  });
}

export function deployment(name: string, namespace: string): k8s.V1Deployment {
  const labels = { app: name };
  return {
    metadata: { name, namespace },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: name,
          containers: [{ name: 'agent', image: 'registry.invalid/agent:1' }],
        },
      },
    },
  };
}

export async function createDeployments(
  env: BenchEnv,
  namespace: string,
  workloads: readonly string[],
  concurrency: number,
): Promise<void> {
  await pool(workloads, concurrency, (name) =>
    withRetry(() => env.apps.createNamespacedDeployment({ namespace, body: deployment(name, namespace) })),
  );
}

/** Kubernetes scope rules of every benchmark identity (one scope). */
export const BENCH_RULES = [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }];

/**
 * The benchmark identity of the issue: one scope (Kubernetes unless given), one rotated secret in a
 * Kubernetes Secret, bound to the Deployment of the same name, revoked as soon as that is gone.
 */
export function benchIdentity(
  name: string,
  namespace: string,
  scope?: Scope,
  secret?: SecretSpec,
): AgentIdentity {
  return agentIdentity(
    name,
    inNamespace(namespace),
    withUid(undefined),
    withOwner({ team: 'bench', contact: 'bench@example.com' }),
    withPurpose('Benchmark identity with one scope and one rotated secret'),
    inEnvironment('development'),
    withWorkload(),
    withSpec({ orphanGracePeriod: '0s' }),
    withScopes(scope ?? { provider: 'kubernetes', rules: BENCH_RULES }),
    withSecrets(
      secret ?? {
        name: 'key',
        generator: { type: 'random', length: 40 },
        rotationInterval: '24h',
        target: { secretName: `${name}-key` },
      },
    ),
  );
}

export async function createIdentity(env: BenchEnv, identity: AgentIdentity): Promise<void> {
  await withRetry(() =>
    env.custom.createNamespacedCustomObject({
      ...AGENT_IDENTITIES,
      namespace: identity.metadata.namespace ?? '',
      body: identity,
    }),
  );
}

function conditionTrue(identity: AgentIdentity, type: string): boolean {
  return identity.status?.conditions?.some((c) => c.type === type && c.status === 'True') ?? false;
}

/**
 * Watches the AgentIdentities of a namespace and records, per name, when each condition was first
 * seen True. The watch is the benchmark's own (straight to the apiserver), restarted if it ends.
 */
export class ConditionClock {
  readonly seen = new Map<string, Map<string, number>>();
  private abort: AbortController | undefined;
  private stopped = false;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly env: BenchEnv,
    private readonly namespace: string,
    private readonly types: readonly string[] = ['Ready', 'Quarantined'],
  ) {}

  async start(): Promise<void> {
    const list = (await this.env.custom.listNamespacedCustomObject({
      ...AGENT_IDENTITIES,
      namespace: this.namespace,
    })) as { items: AgentIdentity[]; metadata: { resourceVersion: string } };
    for (const item of list.items) this.observe(item);
    void this.watch(list.metadata.resourceVersion);
  }

  private observe(identity: AgentIdentity): void {
    const name = identity.metadata.name ?? '';
    for (const type of this.types) {
      if (!conditionTrue(identity, type)) continue;
      let times = this.seen.get(type);
      if (!times) {
        times = new Map();
        this.seen.set(type, times);
      }
      if (!times.has(name)) times.set(name, Date.now());
    }
    for (const wake of this.waiters.splice(0)) wake();
  }

  private async watch(resourceVersion: string | undefined): Promise<void> {
    let rv = resourceVersion;
    while (!this.stopped) {
      const done = new Promise<void>((resolve) => {
        new k8s.Watch(this.env.kc)
          .watch(
            `/apis/nhi.dev/v1alpha1/namespaces/${this.namespace}/agentidentities`,
            { allowWatchBookmarks: true, ...(rv ? { resourceVersion: rv } : {}) },
            (phase, object: AgentIdentity) => {
              if (object.metadata?.resourceVersion) rv = object.metadata.resourceVersion;
              if (phase === 'ADDED' || phase === 'MODIFIED') this.observe(object);
            },
            (error?: { code?: number }) => {
              if (error?.code === 410) rv = undefined;
              resolve();
            },
          )
          .then(
            (controller) => {
              this.abort = controller;
              if (this.stopped) controller.abort();
            },
            () => resolve(),
          );
      });
      await done;
      if (!this.stopped) await sleep(200);
    }
  }

  /** Like `until`, but returns how many are still missing when time is up instead of throwing. */
  async untilOrTimeout(
    type: string,
    among: readonly string[],
    timeoutMs: number,
    progress?: Progress,
  ): Promise<number> {
    try {
      await this.until(type, among, timeoutMs, progress);
      return 0;
    } catch {
      return among.length - this.count(type, among);
    }
  }

  /** When `name` first had `type` True, or undefined. */
  at(type: string, name: string): number | undefined {
    return this.seen.get(type)?.get(name);
  }

  count(type: string, among?: readonly string[]): number {
    const times = this.seen.get(type);
    if (!times) return 0;
    return among ? among.filter((n) => times.has(n)).length : times.size;
  }

  /** Waits until every name has `type` True; throws after `timeoutMs`, naming how many are missing. */
  async until(type: string, among: readonly string[], timeoutMs: number, progress?: Progress): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastReport = Date.now();
    while (this.count(type, among) < among.length) {
      if (Date.now() > deadline) {
        throw new Error(`${among.length - this.count(type, among)} of ${among.length} never became ${type}`);
      }
      if (progress && Date.now() - lastReport > 15_000) {
        progress(`${this.count(type, among)}/${among.length} ${type}`);
        lastReport = Date.now();
      }
      await Promise.race([new Promise<void>((r) => this.waiters.push(r)), sleep(1000)]);
    }
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }
}

/**
 * Removes a namespace with everything in it. The operator is stopped by then, so its finalizers are
 * stripped first (what `nhictl` users would not do: here the credentials are the benchmark's own).
 */
export async function deleteNamespace(env: BenchEnv, namespace: string, progress: Progress): Promise<void> {
  const list = (await env.custom
    .listNamespacedCustomObject({ ...AGENT_IDENTITIES, namespace })
    .catch(() => ({ items: [] }))) as { items: AgentIdentity[] };
  const held = list.items.filter((i) => (i.metadata.finalizers ?? []).length > 0);
  await pool(held, 8, (identity) =>
    withRetry(() =>
      env.custom.patchNamespacedCustomObject(
        {
          ...AGENT_IDENTITIES,
          namespace,
          name: identity.metadata.name ?? '',
          body: [{ op: 'remove', path: '/metadata/finalizers' }],
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
      ),
    ).catch(() => undefined),
  );
  await env.core.deleteNamespace({ name: namespace }).catch(() => undefined);
  const deadline = Date.now() + 10 * 60_000;
  while (Date.now() < deadline) {
    const gone = await env.core.readNamespace({ name: namespace }).then(
      () => false,
      (error: { code?: number }) => error.code === 404,
    );
    if (gone) return;
    await sleep(1000);
  }
  progress(`namespace ${namespace} still terminating after 10 minutes; going on`);
}

/** The plain client's status write: one condition, True, as a merge patch of the status subresource. */
export function patchPlainStatus(
  env: BenchEnv,
  namespace: string,
  name: string,
  condition: { type: string; reason: string },
  resourceVersion?: string,
): Promise<unknown> {
  return env.custom.patchNamespacedCustomObjectStatus(
    {
      ...AGENT_IDENTITIES,
      namespace,
      name,
      body: {
        ...(resourceVersion && { metadata: { resourceVersion } }),
        status: {
          conditions: [
            {
              ...condition,
              status: 'True',
              message: 'plain client',
              lastTransitionTime: new Date().toISOString(),
            },
          ],
        },
      },
    },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
}
