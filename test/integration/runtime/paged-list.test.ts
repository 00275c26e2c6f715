// The caches' lists read in pages against the real apiserver: every page's objects land in the cache,
// from client-node's models (ConfigMaps: `_continue`) and from raw JSON (a custom resource:
// `continue`), and the watch resumes from the pages' resourceVersion, so nothing made after is missed.
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ListPage, slimInformer } from '../../../src/adapters/kubernetes/sources.ts';
import { unpacked } from '../../../src/runtime/packed.ts';
import { kubeConfig } from '../../support/env.ts';
import { eventually, uniqueName } from '../../support/wait.ts';
import { createNamespace, deleteNamespace, type Gizmo, gizmos, installGizmoCrd } from './support.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const namespace = uniqueName('rt-pages');

beforeAll(async () => {
  await createNamespace(kc, namespace);
  await installGizmoCrd(kc);
});
afterAll(() => deleteNamespace(kc, namespace));

/** Pages of 3 instead of the operator's 500, so a few objects span several pages. */
const small = (page: ListPage): ListPage => ({ ...page, ...(page.limit !== undefined && { limit: 3 }) });

async function cacheOf<T extends k8s.KubernetesObject>(
  path: string,
  list: (page: ListPage) => Promise<k8s.KubernetesListObject<T>>,
) {
  const pages: ListPage[] = [];
  const informer = slimInformer<T>(
    kc,
    path,
    (page) => {
      pages.push(page);
      return list(small(page));
    },
    (obj) => obj,
    { watchTimeoutMs: 30_000, activity: () => {} },
  );
  await informer.start();
  const names = () =>
    informer
      .list()
      .map((o) => unpacked(o).metadata?.name)
      .sort();
  return { informer, pages, names };
}

describe('cache lists read in pages (real apiserver)', () => {
  it('fills a cache of ConfigMaps from every page and then follows the watch', async () => {
    const made = Array.from({ length: 8 }, (_, i) => `cm-${i}`);
    for (const name of made)
      await core.createNamespacedConfigMap({
        namespace,
        body: { metadata: { name, namespace }, data: { i: name } },
      });
    const { informer, pages, names } = await cacheOf(`/api/v1/namespaces/${namespace}/configmaps`, (page) =>
      core.listNamespacedConfigMap({ namespace, ...page }),
    );
    try {
      // 8 of ours (and the namespace's kube-root-ca.crt): at least 3 pages of 3.
      expect(pages.length).toBeGreaterThanOrEqual(3);
      expect(pages.slice(1).every((p) => typeof p._continue === 'string' && p._continue.length > 0)).toBe(
        true,
      );
      expect(names()).toEqual(expect.arrayContaining(made));
      expect(unpacked(informer.get('cm-5', namespace))?.data).toEqual({ i: 'cm-5' });
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'after', namespace } } });
      await eventually('the ConfigMap made after the list', async () => names().includes('after'));
    } finally {
      informer.stop();
    }
  });

  it('fills a cache of a custom resource, whose list is raw JSON, from every page', async () => {
    const made = Array.from({ length: 7 }, (_, i) => `g-${i}`);
    for (const name of made)
      await custom.createNamespacedCustomObject({
        ...gizmos,
        namespace,
        body: {
          apiVersion: `${gizmos.group}/${gizmos.version}`,
          kind: 'Gizmo',
          metadata: { name },
          spec: { size: 1 },
        },
      });
    const { informer, pages, names } = await cacheOf<Gizmo>(
      `/apis/${gizmos.group}/${gizmos.version}/namespaces/${namespace}/${gizmos.plural}`,
      (page) =>
        custom.listNamespacedCustomObject({ ...gizmos, namespace, ...page }) as Promise<
          k8s.KubernetesListObject<Gizmo>
        >,
    );
    try {
      expect(pages.length).toBe(3);
      expect(names()).toEqual([...made].sort());
    } finally {
      informer.stop();
    }
  });
});
