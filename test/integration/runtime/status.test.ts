// Status, conditions, conflicts, finalizers and Events against the real apiserver, on a small CRD
// with a status subresource created by the test.
import * as k8s from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Controller, watch } from '../../../src/runtime/controller.ts';
import { ConflictError } from '../../../src/runtime/errors.ts';
import { EventRecorder, eventSink } from '../../../src/runtime/events.ts';
import { addFinalizer, customObjectMergePatcher, removeFinalizer } from '../../../src/runtime/finalizers.ts';
import { parseKey } from '../../../src/runtime/keys.ts';
import { RuntimeMetrics } from '../../../src/runtime/metrics.ts';
import { customObjectStatusWriter, setCondition, writeStatusIfChanged } from '../../../src/runtime/status.ts';
import { kubeConfig } from '../../support/env.ts';
import { eventually, uniqueName } from '../../support/wait.ts';
import {
  createNamespace,
  deleteNamespace,
  type Gizmo,
  gizmoSource,
  gizmos,
  installGizmoCrd,
} from './support.ts';

const kc = kubeConfig();
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const namespace = uniqueName('rt-status');
const writeStatus = customObjectStatusWriter(custom, gizmos);
const patch = customObjectMergePatcher(custom, gizmos);

beforeAll(async () => {
  await installGizmoCrd(kc);
  await createNamespace(kc, namespace);
});
afterAll(() => deleteNamespace(kc, namespace));

let running: Controller | undefined;
afterEach(async () => {
  await running?.stop(5_000);
  running = undefined;
});

const gizmo = (name: string, size: number): Gizmo => ({
  apiVersion: `${gizmos.group}/${gizmos.version}`,
  kind: 'Gizmo',
  metadata: { name, namespace },
  spec: { size },
});

const read = (name: string) =>
  custom.getNamespacedCustomObject({ ...gizmos, namespace, name }) as Promise<Gizmo>;

/** A controller whose reconcile mirrors spec.size into status and a Ready condition. */
async function startMirror(metrics: RuntimeMetrics, before?: (g: Gizmo) => Promise<Gizmo>) {
  const source = gizmoSource(kc, namespace);
  let reconciles = 0;
  running = new Controller({
    name: 'gizmos',
    metrics,
    resyncPeriodMs: 0,
    watches: [watch(source)],
    reconcile: async (key) => {
      reconciles++;
      const { name, namespace: ns } = parseKey(key);
      const cached = source.get(name, ns);
      if (!cached) return;
      const g = before ? await before(cached) : cached;
      const size = g.spec?.size ?? 0;
      const conditions = setCondition(
        g.status?.conditions,
        { type: 'Ready', status: 'True', reason: 'Mirrored', message: `size ${size}` },
        g.metadata?.generation,
        new Date(),
      );
      await writeStatusIfChanged(
        writeStatus,
        g,
        { observedSize: size, conditions },
        { metrics, resource: 'gizmos' },
      );
    },
  });
  await running.start();
  return { controller: running, reconciles: () => reconciles };
}

const writes = (metrics: RuntimeMetrics, result: string) =>
  metrics.value('nhi_status_writes_total', { resource: 'gizmos', result });

describe('status, finalizers and events (real apiserver)', () => {
  it('writes status only when it changed, and keeps lastTransitionTime while the condition holds', async () => {
    const metrics = new RuntimeMetrics();
    const { controller, reconciles } = await startMirror(metrics);
    await custom.createNamespacedCustomObject({ ...gizmos, namespace, body: gizmo('steady', 1) });
    const first = await eventually('status for size 1', async () => {
      const g = await read('steady');
      return g.status?.observedSize === 1 ? g : undefined;
    });
    await eventually(
      'the write to settle',
      async () => (await writes(metrics, 'unchanged')) >= 1 || undefined,
    );
    expect(await writes(metrics, 'written')).toBe(1);

    const before = reconciles();
    for (let i = 0; i < 20; i++) controller.enqueue(`${namespace}/steady`);
    await eventually('more reconciles', async () => reconciles() > before || undefined);
    await eventually('the queue to drain', async () => controller.queue.len() === 0 || undefined);
    expect(await writes(metrics, 'written')).toBe(1);

    await custom.patchNamespacedCustomObject(
      { ...gizmos, namespace, name: 'steady', body: { spec: { size: 2 } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const second = await eventually('status for size 2', async () => {
      const g = await read('steady');
      return g.status?.observedSize === 2 ? g : undefined;
    });
    // The object shows the write before the writer has counted it (the count follows the answer).
    await eventually(
      'the second write counted',
      async () => (await writes(metrics, 'written')) >= 2 || undefined,
    );
    expect(await writes(metrics, 'written')).toBe(2);
    const [ready] = second.status?.conditions ?? [];
    expect(ready).toMatchObject({ type: 'Ready', status: 'True', message: 'size 2', observedGeneration: 2 });
    expect(ready?.lastTransitionTime).toBe(first.status?.conditions?.[0]?.lastTransitionTime);
  });

  it('turns a 409 on a status write into a quiet requeue that then succeeds', async () => {
    const metrics = new RuntimeMetrics();
    let raced = false;
    await custom.createNamespacedCustomObject({ ...gizmos, namespace, body: gizmo('raced', 5) });
    await startMirror(metrics, async (g) => {
      if (g.metadata?.name !== 'raced' || raced) return g;
      raced = true; // someone else changes the object between our read and our write
      await patch(g, { metadata: { labels: { touched: 'yes' } } });
      return g;
    });
    await eventually(
      'status after the conflict',
      async () => (await read('raced')).status?.observedSize === 5 || undefined,
    );
    expect(await writes(metrics, 'conflict')).toBeGreaterThanOrEqual(1);
    expect(
      await metrics.value('controller_runtime_reconcile_total', { result: 'conflict' }),
    ).toBeGreaterThanOrEqual(1);
    expect(await metrics.value('controller_runtime_reconcile_errors_total')).toBe(0);
  });

  it('adds and removes a finalizer with a merge patch, refusing a stale one', async () => {
    const created = (await custom.createNamespacedCustomObject({
      ...gizmos,
      namespace,
      body: gizmo('final', 1),
    })) as Gizmo;
    const withOurs = await addFinalizer(patch, created, 'runtime.nhi.dev/cleanup');
    const withTheirs = await addFinalizer(patch, withOurs, 'someone.else/keep');
    expect((await read('final')).metadata?.finalizers).toEqual([
      'runtime.nhi.dev/cleanup',
      'someone.else/keep',
    ]);
    // Removing with the stale copy would drop their finalizer: the resourceVersion stops it.
    await expect(removeFinalizer(patch, withOurs, 'runtime.nhi.dev/cleanup')).rejects.toBeInstanceOf(
      ConflictError,
    );
    await removeFinalizer(patch, withTheirs, 'runtime.nhi.dev/cleanup');
    expect((await read('final')).metadata?.finalizers).toEqual(['someone.else/keep']);
    const last = await removeFinalizer(patch, await read('final'), 'someone.else/keep');
    expect(last?.metadata?.finalizers ?? []).toEqual([]);
  });

  it('records Events and folds repeats into a series', async () => {
    const events = kc.makeApiClient(k8s.EventsV1Api);
    const recorder = new EventRecorder({
      sink: eventSink(events),
      controller: 'nhi.dev/runtime-test',
      instance: 'test-1',
      minPatchIntervalMs: 0,
    });
    const target = (await custom.createNamespacedCustomObject({
      ...gizmos,
      namespace,
      body: gizmo('noisy', 1),
    })) as Gizmo;
    for (let i = 0; i < 3; i++) await recorder.record(target, 'Warning', 'Throttled', 'backend throttled us');
    await recorder.record(target, 'Normal', 'Mirrored', 'status updated');
    const list = await events.listNamespacedEvent({ namespace });
    const throttled = list.items.filter((e) => e.reason === 'Throttled');
    expect(throttled).toHaveLength(1);
    expect(throttled[0]).toMatchObject({
      type: 'Warning',
      reportingController: 'nhi.dev/runtime-test',
      regarding: { kind: 'Gizmo', name: 'noisy', uid: target.metadata?.uid },
      series: { count: 3 },
    });
    expect(list.items.filter((e) => e.reason === 'Mirrored')).toHaveLength(1);
    expect(recorder.writes).toBe(4);
  });
});
