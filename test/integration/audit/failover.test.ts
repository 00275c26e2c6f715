// One audit chain per cluster across leaders: real nhi-operator processes with leader election, each
// with its own empty audit directory (an emptyDir: a replaced pod starts with nothing). The leader is
// SIGKILLed, the standby continues the chain from the head anchored in the cluster; then a fresh pod
// replaces it and continues again. The three files verify as one chain against the signed head and
// the published public key, and `nhictl audit show` answers what was done for each agent.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import type { AuditRecord } from '../../../src/governance/audit/audit.ts';
import { generateSigningKey } from '../../../src/governance/audit/checkpoint.ts';
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
const apps = kc.makeApiClient(k8s.AppsV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
const ref = { group: 'nhi.dev', version: 'v1alpha1', plural: 'agentidentities' };
const operatorNs = uniqueName('nhi-audit-system');
const lease = uniqueName('nhi-operator-audit');
const anchor = `${lease}-audit`;
const agents = uniqueName('audit-agents');
const operators: OperatorProcess[] = [];
const names = new Map<OperatorProcess, string>();
/** The audit files of the pods that led, in the order they led. */
let files: OperatorProcess[] = [];

function start(name: string): OperatorProcess {
  const operator = startOperatorProcess(
    [
      '--leader-elect=true',
      `--lease-name=${lease}`,
      '--lease-duration=4s',
      '--renew-deadline=3s',
      '--retry-period=500ms',
      '--audit-checkpoint-interval=1s',
    ],
    { POD_NAMESPACE: operatorNs, POD_NAME: name },
  );
  operators.push(operator);
  names.set(operator, name);
  return operator;
}

const holder = async () =>
  (await coordination.readNamespacedLease({ namespace: operatorNs, name: lease }).catch(() => undefined))
    ?.spec?.holderIdentity ?? undefined;

async function addAgent(name: string): Promise<void> {
  await apps.createNamespacedDeployment({ namespace: agents, body: deployment(name, name) });
  await custom.createNamespacedCustomObject({
    ...ref,
    namespace: agents,
    body: agentIdentity(name, onTestCluster(agents), withSecret('key')),
  });
  await untilReady(agents, name);
}

const recordsIn = (operator: OperatorProcess): AuditRecord[] =>
  parseTrailText(readFileSync(operator.auditLog, 'utf8')).flatMap((l) =>
    l.kind === 'record' ? [l.record] : [],
  );

/** Until the anchored head covers everything `operator` appended. */
async function anchored(operator: OperatorProcess): Promise<void> {
  await eventually('the head to cover the leader’s records', async () => {
    const last = recordsIn(operator).at(-1);
    const head = await anchoredHead(operatorNs, anchor);
    return last !== undefined && head?.seq === last.seq && head.hash === last.hash;
  });
}

beforeAll(async () => {
  await installOperatorManifests(kc);
  await core.createNamespace({ body: namespaceBody(operatorNs) });
  await core.createNamespace({ body: namespaceBody(agents) });
});

afterAll(async () => {
  await Promise.all(operators.map((o) => o.stop()));
});

describe('one audit chain per cluster', () => {
  it('continues one signed chain across a SIGKILLed leader and a replaced pod', async () => {
    const [a, b] = [start('operator-a'), start('operator-b')];
    const first = await eventually('a leader', holder, { timeoutMs: 15_000 });
    const [leader, standby] = first.startsWith('operator-a') ? [a, b] : [b, a];
    await addAgent('agent-one');
    await anchored(leader);

    leader.child.kill('SIGKILL');
    await eventually('the standby to lead', async () => (await holder())?.startsWith(names.get(standby)!), {
      timeoutMs: 20_000,
    });
    await addAgent('agent-two');
    await anchored(standby);

    // The standby's pod is replaced: a fresh pod, a fresh (empty) audit directory.
    const replacement = start('operator-c');
    expect(await standby.stop()).toBe(0);
    await eventually('the replacement to lead', async () => (await holder())?.startsWith('operator-c'), {
      timeoutMs: 20_000,
    });
    await addAgent('agent-three');
    await anchored(replacement);
    expect(await replacement.stop()).toBe(0);

    // Each later file opens with the signed head it continued from and links to it.
    files = [leader, standby, replacement];
    const records = files.map(recordsIn);
    for (const [i, later] of records.entries()) {
      if (i === 0) continue;
      const before = records[i - 1]!.at(-1)!;
      expect(later[0]).toMatchObject({ seq: before.seq + 1, prevHash: before.hash });
      const opening = parseTrailText(readFileSync(files[i]!.auditLog, 'utf8'))[0];
      expect(opening).toMatchObject({
        kind: 'checkpoint',
        checkpoint: { seq: before.seq, hash: before.hash },
      });
    }
    expect(records[0]![0]?.seq).toBe(1);
    // Each record names the pod that appended it.
    expect(records.map((r) => [...new Set(r.map((x) => x.writer))])).toEqual(
      files.map((o) => [names.get(o)]),
    );

    const anchorFlags = ['--cluster', '--anchor-namespace', operatorNs, '--anchor-configmap', anchor];
    const verified = await nhictl('audit', 'verify', ...files.map((f) => f.auditLog), ...anchorFlags);
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/chain intact, signed up to checkpoint \d+/);
    // One pod's file alone ends before the head: truncated, as far as the cluster knows.
    const alone = await nhictl('audit', 'verify', leader.auditLog, ...anchorFlags);
    expect(alone.code).toBe(1);
    expect(alone.stderr).toMatch(/truncated after seq/);

    const shown = await nhictl(
      'audit',
      'show',
      ...files.map((f) => f.auditLog),
      '--identity',
      'agent-two',
      '--namespace',
      agents,
      '-o',
      'json',
    );
    const forTwo = JSON.parse(shown.stdout) as AuditRecord[];
    expect(forTwo.map((r) => r.action)).toContain('provisioned');
    expect(new Set(forTwo.map((r) => r.identity.name))).toEqual(new Set(['agent-two']));
    const table = await nhictl('audit', 'show', ...files.map((f) => f.auditLog), '--identity', 'agent-two');
    expect(table.stdout.split('\n')[0]).toMatch(/^SEQ\s+TIME\s+ACTION\s+OUTCOME\s+ACTOR\s+RESOURCE/);
  });

  it('publishes the public key and the head, which an auditor verifies the files against offline', async () => {
    const published = await nhictl(
      'audit',
      'pubkey',
      '--anchor-namespace',
      operatorNs,
      '--anchor-configmap',
      anchor,
    );
    expect(published.stdout).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----\n$/);
    const secret = await core.readNamespacedSecret({ namespace: operatorNs, name: `${anchor}-signing-key` });
    expect(secret.immutable).toBe(true);
    expect(Object.keys(secret.data ?? {})).toEqual(['ed25519.pem']);
    const head = await nhictl(
      'audit',
      'head',
      '--anchor-namespace',
      operatorNs,
      '--anchor-configmap',
      anchor,
    );
    expect(JSON.parse(head.stdout)).toMatchObject({ seq: expect.any(Number), signature: expect.any(String) });

    // An auditor's copies, verified offline (no cluster access), in any order of files.
    const dir = mkdtempSync(join(tmpdir(), 'nhi-auditor-'));
    const keys = await nhictl(
      'audit',
      'pubkey',
      '--all',
      '--anchor-namespace',
      operatorNs,
      '--anchor-configmap',
      anchor,
    );
    writeFileSync(join(dir, 'keys.pem'), keys.stdout);
    writeFileSync(join(dir, 'head.json'), head.stdout);
    const logs = files.map((f) => f.auditLog).reverse();
    const verified = await nhictl(
      'audit',
      'verify',
      ...logs,
      '--public-key',
      join(dir, 'keys.pem'),
      '--head',
      join(dir, 'head.json'),
    );
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
    // Under another key, the same trail does not verify: its checkpoints are not that key's.
    writeFileSync(join(dir, 'other.pem'), generateSigningKey().publicKeyPem);
    const forged = await nhictl(
      'audit',
      'verify',
      ...logs,
      '--public-key',
      join(dir, 'other.pem'),
      '--head',
      join(dir, 'head.json'),
    );
    expect(forged.code).toBe(1);
    expect(forged.stderr).toMatch(/signature-invalid: checkpoint \d+: signature invalid/);
  });
});
