// A torn last line (disk full, node crash mid-write) never puts the operator in a crash loop: the
// real operator process starts, sets the partial line aside, records that with a `recovered`
// record, and the trail still verifies against the signed head in the cluster.

import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import { parseTrailText } from '../../../src/governance/audit/verify.ts';
import { agentIdentity } from '../../../src/testing/agent-identity.ts';
import { kubeConfig } from '../../support/env.ts';
import { deployment, onTestCluster, withSecret } from '../../support/fixtures.ts';
import { namespaceBody } from '../../support/namespaces.ts';
import { type OperatorProcess, startOperatorProcess } from '../../support/operator.ts';
import { eventually, uniqueName } from '../../support/wait.ts';
import { anchoredHead, nhictl, untilReady } from './support.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const operatorNs = uniqueName('nhi-audit-torn');
const agents = uniqueName('torn-agents');
const configMap = uniqueName('nhi-audit');
const running: OperatorProcess[] = [];

function start(auditLog?: string): OperatorProcess {
  const operator = startOperatorProcess(
    [
      '--audit-anchor=true',
      `--audit-configmap=${configMap}`,
      '--audit-checkpoint-interval=1s',
      ...(auditLog ? [`--audit-log=${auditLog}`] : []),
    ],
    { POD_NAMESPACE: operatorNs, NHI_WATCH_NAMESPACE: agents },
  );
  running.push(operator);
  return operator;
}

beforeAll(async () => {
  await installOperatorManifests(kc);
  await core.createNamespace({ body: namespaceBody(operatorNs) });
  await core.createNamespace({ body: namespaceBody(agents) });
});

afterAll(async () => {
  await Promise.all(running.map((o) => o.stop()));
});

describe('a torn last line in the audit file', () => {
  it('is set aside and recorded; the operator runs and the trail verifies', async () => {
    const first = start();
    await kc.makeApiClient(k8s.AppsV1Api).createNamespacedDeployment({
      namespace: agents,
      body: deployment('bot', 'bot'),
    });
    await kc.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({
      group: 'nhi.dev',
      version: 'v1alpha1',
      plural: 'agentidentities',
      namespace: agents,
      body: agentIdentity('bot', onTestCluster(agents), withSecret('key')),
    });
    await untilReady(agents, 'bot');
    expect(await first.stop()).toBe(0);
    const path = first.auditLog;
    const head = await anchoredHead(operatorNs, configMap);
    expect(head?.seq).toBeGreaterThan(0);
    appendFileSync(path, '{"action":"rotated","identity":{"uid":"'); // the node died mid-write

    const again = start(path);
    const port = await eventually('the operator to serve /readyz', async () => {
      const match = /"port":(\d+)/.exec(again.logs());
      if (!match) return undefined;
      const ready = await fetch(`http://127.0.0.1:${match[1]}/readyz`);
      return ready.ok ? match[1] : undefined;
    });
    expect(port).toBeDefined();
    expect(again.child.exitCode).toBeNull();
    const recovered = await eventually('the recovered record', async () =>
      parseTrailText(readFileSync(path, 'utf8')).find(
        (l) => l.kind === 'record' && l.record.action === 'recovered',
      ),
    );
    expect(recovered).toMatchObject({ record: { seq: head!.seq + 1, severity: 'warning' } });
    // The torn bytes are kept beside the file, not thrown away.
    const aside = readdirSync(dirname(path)).filter((f) => f.includes('.torn-'));
    expect(aside).toHaveLength(1);
    expect(again.logs()).toContain('{"audit":{"action":"recovered"');
    expect(await again.stop()).toBe(0);

    const verified = await nhictl(
      'audit',
      'verify',
      path,
      '--cluster',
      '--anchor-namespace',
      operatorNs,
      '--anchor-configmap',
      configMap,
    );
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);

    // The copy on stdout (what a SIEM collects with `kubectl logs`) verifies the same way.
    const dir = dirname(path);
    writeFileSync(join(dir, 'first.log'), first.logs());
    writeFileSync(join(dir, 'again.log'), again.logs());
    const fromLogs = await nhictl(
      'audit',
      'verify',
      '--log',
      join(dir, 'first.log'),
      join(dir, 'again.log'),
      '--cluster',
      '--anchor-namespace',
      operatorNs,
      '--anchor-configmap',
      configMap,
    );
    expect(fromLogs.stderr).toBe('');
    expect(fromLogs.code).toBe(0);
  });
});
