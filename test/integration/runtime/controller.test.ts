// The Controller against the real apiserver, on ConfigMaps: coalescing of rapid updates, growing
// backoff of a throwing key while the others are served, and restart of broken or silent watches.
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Controller, type Reconcile, watch } from '../../../src/runtime/controller.ts';
import { HealthServer } from '../../../src/runtime/health.ts';
import type { InformerSource } from '../../../src/runtime/informer.ts';
import { parseKey } from '../../../src/runtime/keys.ts';
import { RuntimeMetrics } from '../../../src/runtime/metrics.ts';
import { kubeConfig, testEnv } from '../../support/env.ts';
import { eventually, uniqueName } from '../../support/wait.ts';
import { ApiProxy, configMapSource, createNamespace, deleteNamespace } from './support.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const namespace = uniqueName('rt-ctrl');

beforeAll(() => createNamespace(kc, namespace));
afterAll(() => deleteNamespace(kc, namespace));

let running: Controller[] = [];
afterEach(async () => {
  await Promise.all(running.map((c) => c.stop(5_000)));
  running = [];
});

async function startController(
  source: InformerSource<k8s.V1ConfigMap>,
  reconcile: (cm: k8s.V1ConfigMap | undefined, key: string) => Promise<void>,
  options: { metrics?: RuntimeMetrics; queue?: { baseDelayMs: number; maxDelayMs: number } } = {},
) {
  const run: Reconcile = async (key) => {
    const { name, namespace: ns } = parseKey(key);
    await reconcile(source.get(name, ns), key);
  };
  const controller = new Controller({
    name: 'configmaps',
    watches: [watch(source)],
    reconcile: run,
    workers: 4,
    resyncPeriodMs: 0,
    ...(options.metrics && { metrics: options.metrics }),
    ...(options.queue && { queue: options.queue }),
  });
  running.push(controller);
  await controller.start();
  return controller;
}

const configMap = (name: string, data: Record<string, string>): k8s.V1ConfigMap => ({
  metadata: { name, namespace },
  data,
});

describe('Controller on ConfigMaps (real apiserver)', () => {
  it('coalesces 500 rapid updates of one object into far fewer reconciles that end in the right state', async () => {
    const seen: string[] = [];
    await core.createNamespacedConfigMap({ namespace, body: configMap('hot', { n: '0' }) });
    await startController(configMapSource(kc, namespace), async (cm) => {
      if (cm?.metadata?.name !== 'hot') return;
      seen.push(cm.data?.n ?? '');
      await sleep(100); // a reconcile that takes real time, as one calling AWS would
    });
    for (let n = 1; n <= 500; n++) {
      await core.replaceNamespacedConfigMap({
        namespace,
        name: 'hot',
        body: configMap('hot', { n: String(n) }),
      });
    }
    await eventually('the last update to be reconciled', async () => seen.at(-1) === '500' || undefined);
    expect(seen.length).toBeLessThan(100);
    console.log(`[runtime] 500 updates -> ${seen.length} reconciles`);
  });

  it('retries a throwing key with growing backoff, visible in /metrics, while other keys are served', async () => {
    const metrics = new RuntimeMetrics();
    const health = new HealthServer({ port: 0, host: '127.0.0.1', metrics });
    const port = await health.start();
    const poisonAttempts: number[] = [];
    const served = new Set<string>();
    try {
      await core.createNamespacedConfigMap({ namespace, body: configMap('poison', { n: 'x' }) });
      const controller = await startController(
        configMapSource(kc, namespace),
        async (cm, key) => {
          if (cm?.metadata?.name === 'poison') {
            poisonAttempts.push(Date.now());
            // A malformed object: the reconcile trips over it, as real code would.
            (cm.data as unknown as { spec: { ttl: string } }).spec.ttl.trim();
          }
          served.add(key);
        },
        { metrics, queue: { baseDelayMs: 100, maxDelayMs: 10_000 } },
      );
      health.addReadinessCheck('informers', () => controller.hasSynced());
      for (let i = 0; i < 5; i++) {
        await core.createNamespacedConfigMap({ namespace, body: configMap(`ok-${i}`, { n: String(i) }) });
      }
      await eventually(
        'the healthy keys to be served',
        async () => [0, 1, 2, 3, 4].every((i) => served.has(`${namespace}/ok-${i}`)) || undefined,
      );
      await eventually('six attempts at the poison key', async () => poisonAttempts.length >= 6 || undefined);
      const gaps = poisonAttempts.slice(1, 6).map((t, i) => t - poisonAttempts[i]!);
      // 100ms, 200ms, 400ms ... — never sooner than the backoff (timers may only fire late).
      for (const [i, gap] of gaps.entries()) expect(gap).toBeGreaterThanOrEqual(100 * 2 ** i - 10);
      expect(gaps[4]!).toBeGreaterThan(4 * gaps[0]!);
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metricValue(text, 'workqueue_retries_total{name="configmaps"}')).toBeGreaterThanOrEqual(5);
      expect(
        metricValue(text, 'controller_runtime_reconcile_errors_total{controller="configmaps"}'),
      ).toBeGreaterThanOrEqual(6);
      expect(
        metricValue(text, 'controller_runtime_reconcile_total{controller="configmaps",result="success"}'),
      ).toBeGreaterThanOrEqual(5);
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      console.log(`[runtime] poison retry gaps (ms): ${gaps.join(', ')}`);
    } finally {
      await health.stop();
      await core.deleteNamespacedConfigMap({ namespace, name: 'poison' }).catch(() => undefined);
    }
  });

  describe('through a proxy that breaks connections', () => {
    const proxy = new ApiProxy(new URL(testEnv().apiserverUrl));
    beforeAll(() => proxy.start());
    afterAll(() => proxy.stop());

    it('restarts a watch that failed and keeps delivering changes', async () => {
      const metrics = new RuntimeMetrics();
      const seen = new Map<string, string>();
      const source = configMapSource(proxy.kubeConfig(kc), namespace, { metrics, restartBaseMs: 200 });
      await startController(source, async (cm) => {
        if (cm?.metadata?.name === 'cut') seen.set('cut', cm.data?.v ?? '');
      });
      await core.createNamespacedConfigMap({ namespace, body: configMap('cut', { v: '1' }) });
      await eventually('v1', async () => seen.get('cut') === '1' || undefined);
      proxy.cut();
      await core.replaceNamespacedConfigMap({ namespace, name: 'cut', body: configMap('cut', { v: '2' }) });
      await eventually('v2 after the watch broke', async () => seen.get('cut') === '2' || undefined);
      expect(
        await metrics.value('nhi_watch_restarts_total', { source: 'configmaps' }),
      ).toBeGreaterThanOrEqual(1);
    });

    it('restarts a watch that went silent', async () => {
      const metrics = new RuntimeMetrics();
      const seen = new Map<string, string>();
      const source = configMapSource(proxy.kubeConfig(kc), namespace, {
        metrics,
        restartBaseMs: 200,
        maxSilenceMs: 3_000,
      });
      await startController(source, async (cm) => {
        if (cm?.metadata?.name === 'quiet') seen.set('quiet', cm.data?.v ?? '');
      });
      await core.createNamespacedConfigMap({ namespace, body: configMap('quiet', { v: '1' }) });
      await eventually('v1', async () => seen.get('quiet') === '1' || undefined);
      proxy.freeze();
      await eventually(
        'a stalled-watch restart',
        async () =>
          (await metrics.value('nhi_watch_restarts_total', { reason: 'stalled' })) >= 1 || undefined,
        { timeoutMs: 15_000 },
      );
      await core.replaceNamespacedConfigMap({
        namespace,
        name: 'quiet',
        body: configMap('quiet', { v: '2' }),
      });
      proxy.thaw();
      await eventually('v2 after the stall', async () => seen.get('quiet') === '2' || undefined, {
        timeoutMs: 30_000,
      });
    });
  });
});

function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}
