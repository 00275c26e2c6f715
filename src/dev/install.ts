// Applying the project's manifests (CRDs, admission policy, default IdentityPolicy, samples) to a
// cluster with server-side apply, as `kubectl apply --server-side` would. Used by the demo and tests.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { VERSION } from '../api/v1alpha1/types.ts';
import { repoRoot } from './components.ts';

export const FIELD_MANAGER = 'nhi-dev-install';

export function readManifests(...paths: string[]): k8s.KubernetesObject[] {
  const files = paths.flatMap((p) => {
    const full = join(repoRoot, p);
    return p.endsWith('.yaml')
      ? [full]
      : readdirSync(full)
          .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
          .sort()
          .map((f) => join(full, f));
  });
  return files.flatMap((file) =>
    // loadAllYaml keeps every key; client-node's typed serializer would drop default, enum and
    // x-kubernetes-validations from a plain object.
    (k8s.loadAllYaml(readFileSync(file, 'utf8')) as Array<k8s.KubernetesObject | null>).filter(
      (obj): obj is k8s.KubernetesObject => Boolean(obj?.kind),
    ),
  );
}

export async function applyObjects(kc: k8s.KubeConfig, objects: k8s.KubernetesObject[]): Promise<void> {
  const api = k8s.KubernetesObjectApi.makeApiClient(kc);
  for (const obj of objects) {
    await api.patch(obj, undefined, undefined, FIELD_MANAGER, true, k8s.PatchStrategy.ServerSideApply);
  }
}

/** CRDs first, until established; then the admission policy, its binding and the default IdentityPolicy. */
export async function installOperatorManifests(kc: k8s.KubeConfig): Promise<void> {
  const crds = readManifests('crds');
  await applyObjects(kc, crds);
  const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  for (const crd of crds) {
    const name = crd.metadata?.name ?? '';
    for (let i = 0; i < 100; i++) {
      const live = await ext.readCustomResourceDefinition({ name });
      if (live.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      await sleep(100);
    }
    // Established is not yet served: right after, reads answer 429 "storage is (re)initializing".
    const [plural = '', ...groupParts] = name.split('.');
    const group = groupParts.join('.');
    for (let i = 0; i < 100; i++) {
      const served = await custom.listClusterCustomObject({ group, version: VERSION, plural, limit: 1 }).then(
        () => true,
        () => false,
      );
      if (served) break;
      await sleep(100);
    }
  }
  await applyObjects(kc, [...readManifests('config/admission'), ...readManifests('config/policies')]);
}
