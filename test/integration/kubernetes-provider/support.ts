// Shared setup for the Kubernetes provider's integration tests: a namespace, an identity whose
// ownerReferences the garbage collector will not treat as dangling, and clients that act as the
// managed ServiceAccount through a real TokenRequest token.

import { randomUUID } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import type { AgentIdentity, PolicyRule, SecretSpec } from '../../../src/api/v1alpha1/types.ts';
import { KubernetesProvider } from '../../../src/providers/kubernetes/index.ts';
import type { IdentityRef } from '../../../src/providers/types.ts';
import {
  agentIdentity,
  inEnvironment,
  inNamespace,
  withPurpose,
  withRules,
  withSecrets,
  withUid,
} from '../../../src/testing/agent-identity.ts';
import { kubeConfig } from '../../support/env.ts';
import { namespaceBody } from '../../support/namespaces.ts';

export const kc = kubeConfig();
export const core = kc.makeApiClient(k8s.CoreV1Api);
export const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);

export function newProvider(): KubernetesProvider {
  return KubernetesProvider.fromKubeConfig(kc, { now: () => Date.now() });
}

export const readConfigMaps: PolicyRule = { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] };

export async function createNamespace(name: string): Promise<void> {
  await core.createNamespace({ body: namespaceBody(name) });
}

export async function deleteNamespace(name: string): Promise<void> {
  await core.deleteNamespace({ name }).catch(() => undefined);
}

/**
 * An AgentIdentity for the provider. When the AgentIdentity CRD is installed (another suite may have
 * installed it), the object is created for real so the garbage collector finds the owner of what we
 * create; otherwise the owner's kind cannot be resolved and the collector leaves our objects alone.
 */
export async function identityIn(
  namespace: string,
  name: string,
  options: { rules?: PolicyRule[]; secrets?: SecretSpec[] } = {},
): Promise<IdentityRef> {
  const identity = agentIdentity(
    name,
    inNamespace(namespace),
    withUid(randomUUID()),
    inEnvironment('development'),
    withPurpose('Integration test of the Kubernetes provider'),
    ...(options.rules ? [withRules(...options.rules)] : []),
    ...(options.secrets ? [withSecrets(...options.secrets)] : []),
  );
  if (await crdInstalled()) {
    const { uid: _uid, ...metadata } = identity.metadata;
    const created = (await custom.createNamespacedCustomObject({
      group: 'nhi.dev',
      version: 'v1alpha1',
      namespace,
      plural: 'agentidentities',
      body: { ...identity, metadata },
    })) as AgentIdentity;
    return { identity: created, subject: { namespace, serviceAccountName: name } };
  }
  return { identity, subject: { namespace, serviceAccountName: name } };
}

async function crdInstalled(): Promise<boolean> {
  try {
    await ext.readCustomResourceDefinition({ name: 'agentidentities.nhi.dev' });
    return true;
  } catch (err) {
    if (err instanceof k8s.ApiException && err.code === 404) return false;
    throw err;
  }
}

/** A bound token for the ServiceAccount (TokenRequest API), valid for ten minutes. */
export async function tokenFor(namespace: string, serviceAccountName: string): Promise<string> {
  const request = await core.createNamespacedServiceAccountToken({
    namespace,
    name: serviceAccountName,
    body: { spec: { audiences: [], expirationSeconds: 600 } },
  });
  const token = request.status?.token;
  if (!token) throw new Error('TokenRequest returned no token');
  return token;
}

/** A CoreV1Api that authenticates with `token` against the same apiserver. */
export function coreAs(token: string): k8s.CoreV1Api {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const asSa = new k8s.KubeConfig();
  asSa.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'sa', token }],
    contexts: [{ name: 'sa', cluster: cluster.name, user: 'sa' }],
    currentContext: 'sa',
  });
  return asSa.makeApiClient(k8s.CoreV1Api);
}

/** The HTTP status of a call: 200 when it succeeds, else the apiserver's code. */
export async function statusOf(call: () => Promise<unknown>): Promise<number> {
  try {
    await call();
    return 200;
  } catch (err) {
    if (err instanceof k8s.ApiException) return err.code;
    throw err;
  }
}

export async function exists(read: () => Promise<unknown>): Promise<boolean> {
  return (await statusOf(read)) === 200;
}

export function decode(secret: k8s.V1Secret, key: string): string | undefined {
  const data = secret.data?.[key];
  return data === undefined ? undefined : Buffer.from(data, 'base64').toString('utf8');
}
