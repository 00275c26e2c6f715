// `nhictl dev down` with the dev node (stopEnvironment, what the command runs) leaves nothing on the
// host: no process, mount, link, address, iptables rule, cgroup, sysctl change or fixed host path
// that was not there before `dev up --node`, after a pod with a Secret volume, a projected token and
// an emptyDir ran on it. The same check, taken while the node runs, names what the node changed, so
// it is not vacuous. Uses an environment of its own: the shared node is stopped first (one node per
// machine, the bridge is fixed) and the next node suite starts it again.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, expect, it } from 'vitest';
import { startEnvironment, stopEnvironment } from '../../src/dev/environment.ts';
import { hostLeftovers, hostSnapshot } from '../../src/dev/node/host.ts';
import { PROBE_IMAGE } from '../../src/dev/node/images.ts';
import { startNode, stopNode } from '../../src/dev/node/node.ts';
import { isAlive } from '../../src/dev/processes.ts';
import { testEnv } from '../support/env.ts';
import { namespaceBody } from '../support/namespaces.ts';
import { describeOnNode } from '../support/node.ts';
import { eventually } from '../support/wait.ts';

const dir = mkdtempSync(join(tmpdir(), 'nhi-node-teardown-'));

afterAll(async () => {
  await stopEnvironment(dir);
  rmSync(dir, { recursive: true, force: true });
});

describeOnNode('nhictl dev down with the dev node', () => {
  it('leaves no process, mount, interface, iptables rule, cgroup, sysctl change or host path behind', async () => {
    const shared = testEnv();
    expect(await stopNode(shared.dir, shared)).toEqual([]);

    const before = hostSnapshot();
    const env = await startEnvironment(dir);
    const node = await startNode(env);
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(env.kubeconfigPath);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: namespaceBody('teardown') });
    await core.createNamespacedSecret({
      namespace: 'teardown',
      body: { metadata: { name: 's' }, stringData: { v: 'x' } },
    });
    await eventually('the default ServiceAccount', () =>
      core.readNamespacedServiceAccount({ namespace: 'teardown', name: 'default' }),
    );
    await core.createNamespacedPod({
      namespace: 'teardown',
      body: {
        metadata: { name: 'probe' },
        spec: {
          dnsPolicy: 'Default',
          terminationGracePeriodSeconds: 2,
          volumes: [
            { name: 'secret', secret: { secretName: 's' } },
            { name: 'scratch', emptyDir: {} },
            {
              name: 'token',
              projected: { sources: [{ serviceAccountToken: { audience: 'nhi.dev/test', path: 'token' } }] },
            },
          ],
          containers: [
            {
              name: 'probe',
              image: PROBE_IMAGE,
              imagePullPolicy: 'Never',
              volumeMounts: [
                { name: 'secret', mountPath: '/etc/s' },
                { name: 'scratch', mountPath: '/scratch' },
                { name: 'token', mountPath: '/var/run/secrets/nhi.dev' },
              ],
            },
          ],
        },
      },
    });
    await eventually(
      'the pod Running',
      async () =>
        (await core.readNamespacedPod({ namespace: 'teardown', name: 'probe' })).status?.phase === 'Running',
      { timeoutMs: 60_000 },
    );
    const running = hostLeftovers(before, node.stateDir);
    expect(running.some((line) => line.startsWith('link nhi0'))).toBe(true);
    expect(running.some((line) => line.startsWith('mount '))).toBe(true);
    expect(running.some((line) => line.includes('kubelet'))).toBe(true);

    const stopping = Date.now();
    const stopped = await stopEnvironment(dir);
    console.log(`[nhi] dev down with the node and one pod: ${Date.now() - stopping} ms`);
    expect(stopped.map((p) => p.name)).toEqual(expect.arrayContaining(['kubelet', 'containerd', 'etcd']));
    expect(stopped.filter((p) => isAlive(p.pid))).toEqual([]);
    expect(hostLeftovers(before, node.stateDir)).toEqual([]);
  });
});
