// Hard-coded credentials in the running cluster, found by the inventory against the real apiserver:
// a Deployment with a key-shaped literal env value, a CronJob with a token in its args, a ConfigMap
// holding a private key, and one literal in each other kind the scan reads (a StatefulSet's init
// container env, a DaemonSet's command, a standalone Job's args, a bare Pod's env) — each with its
// exact location, owner and fingerprint — while a benign high-entropy value under a non-secret name
// is not reported. Every planted value is generated here
// and must be absent from the inventory, its json and table output, the HTML report and stderr.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Marks } from '../../../src/api/v1alpha1/annotations.ts';
import type { AgentIdentity } from '../../../src/api/v1alpha1/types.ts';
import { repoRoot } from '../../../src/dev/components.ts';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import {
  collectInventory,
  type InventoryItem,
  kubernetesInventoryPort,
} from '../../../src/governance/inventory/index.ts';
import { fingerprint } from '../../../src/governance/secrets/detect.ts';
import {
  awsAccessKeyId,
  buildId,
  githubToken,
  jwt,
  privateKeyPem,
} from '../../../src/governance/secrets/testing/generated.ts';
import { agentIdentity } from '../../../src/testing/agent-identity.ts';
import { childProcessEnv, kubeConfig } from '../../support/env.ts';
import { deployment, NEVER_SCHEDULED, onTestCluster } from '../../support/fixtures.ts';
import { namespaceBody } from '../../support/namespaces.ts';
import { uniqueName } from '../../support/wait.ts';

const run = promisify(execFile);
const planted = {
  accessKeyId: awsAccessKeyId(),
  token: githubToken(),
  privateKey: privateKeyPem(),
  statefulSetToken: githubToken(),
  daemonSetJwt: jwt(),
  jobKeyId: awsAccessKeyId(),
  podJwt: jwt(),
};
const benign = buildId();
const namespace = uniqueName('secrets');
let items: InventoryItem[] = [];

async function nhictl(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [join(repoRoot, 'bin', 'nhictl.js'), ...args], {
    env: childProcessEnv(),
    maxBuffer: 64 * 1024 * 1024,
  });
}

function expectNoValue(text: string): void {
  for (const value of [...Object.values(planted), benign]) expect(text).not.toContain(value);
  // Not even one line of the key's base64 body.
  expect(text).not.toContain(planted.privateKey.split('\n')[1]);
}

const secretsHere = () => items.filter((i) => i.type === 'HardCodedSecret' && i.namespace === namespace);

beforeAll(async () => {
  const kc = kubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const batch = kc.makeApiClient(k8s.BatchV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  await installOperatorManifests(kc);
  await core.createNamespace({ body: namespaceBody(namespace) });
  const identity: AgentIdentity = agentIdentity('payments-bot', onTestCluster(namespace));
  await custom.createNamespacedCustomObject({
    group: 'nhi.dev',
    version: 'v1alpha1',
    plural: 'agentidentities',
    namespace,
    body: identity,
  });
  const web = deployment('payments-bot', 'payments-bot');
  const container = web.spec?.template.spec?.containers[0] as k8s.V1Container;
  container.env = [
    { name: 'AWS_ACCESS_KEY_ID', value: planted.accessKeyId },
    { name: 'BUILD_SHA', value: benign },
    { name: 'FROM_SECRET', valueFrom: { secretKeyRef: { name: 'x', key: 'y' } } },
  ];
  await apps.createNamespacedDeployment({ namespace, body: web });
  await batch.createNamespacedCronJob({
    namespace,
    body: {
      metadata: { name: 'sync', annotations: { [Marks.owner]: 'data-team' } },
      spec: {
        schedule: '0 3 * * *',
        jobTemplate: {
          spec: {
            template: {
              spec: {
                restartPolicy: 'Never',
                nodeSelector: NEVER_SCHEDULED,
                containers: [
                  {
                    name: 'sync',
                    image: 'registry.example/sync:1',
                    args: ['sync', `--github-token=${planted.token}`],
                  },
                ],
              },
            },
          },
        },
      },
    },
  });
  await core.createNamespacedConfigMap({
    namespace,
    body: {
      metadata: { name: 'tls' },
      data: { 'server.conf': `listen 443\n${planted.privateKey}`, build: benign },
    },
  });
  await plantInEveryOtherKind(kc);
  items = await collectInventory({ kubernetes: kubernetesInventoryPort(kc) });
});

/** One literal each in a StatefulSet, a DaemonSet, a standalone Job and a bare Pod, owned by `platform`. */
async function plantInEveryOtherKind(kc: k8s.KubeConfig): Promise<void> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const batch = kc.makeApiClient(k8s.BatchV1Api);
  const metadata = (name: string) => ({ name, annotations: { [Marks.owner]: 'platform' } });
  const template = (name: string, spec: k8s.V1PodSpec) => ({ metadata: { labels: { app: name } }, spec });
  const image = 'registry.example/agents/tool:1';
  await apps.createNamespacedStatefulSet({
    namespace,
    body: {
      metadata: metadata('ledger'),
      spec: {
        serviceName: 'ledger',
        selector: { matchLabels: { app: 'ledger' } },
        template: template('ledger', {
          initContainers: [
            { name: 'migrate', image, env: [{ name: 'GH_TOKEN', value: planted.statefulSetToken }] },
          ],
          containers: [{ name: 'ledger', image }],
        }),
      },
    },
  });
  await apps.createNamespacedDaemonSet({
    namespace,
    body: {
      metadata: metadata('node-agent'),
      spec: {
        selector: { matchLabels: { app: 'node-agent' } },
        template: template('node-agent', {
          containers: [{ name: 'agent', image, command: ['agent', '--session', planted.daemonSetJwt] }],
        }),
      },
    },
  });
  await batch.createNamespacedJob({
    namespace,
    body: {
      metadata: metadata('backfill'),
      spec: {
        template: {
          spec: {
            restartPolicy: 'Never',
            containers: [{ name: 'backfill', image, args: [`--aws-key=${planted.jobKeyId}`] }],
          },
        },
      },
    },
  });
  // A bare Pod needs its ServiceAccount to exist at admission: its own, not the namespace's default
  // (which the controller manager may not have made yet).
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'lone' } } });
  await core.createNamespacedPod({
    namespace,
    body: {
      metadata: metadata('lone'),
      spec: {
        serviceAccountName: 'lone',
        containers: [{ name: 'probe', image, env: [{ name: 'SESSION', value: planted.podJwt }] }],
      },
    },
  });
}

afterAll(async () => {
  await kubeConfig().makeApiClient(k8s.CoreV1Api).deleteNamespace({ name: namespace });
});

describe('hard-coded credentials in the cluster', () => {
  it('finds each literal with its exact location and fingerprint, and nothing else', () => {
    const found = secretsHere().map((i) => i.secret);
    expect(found).toEqual(
      expect.arrayContaining([
        {
          rule: 'aws/AWSAccessKeyID',
          fingerprint: fingerprint(planted.accessKeyId),
          owner: `${namespace}/payments-bot`,
          location: {
            kind: 'Deployment',
            namespace,
            name: 'payments-bot',
            container: 'agent',
            field: 'env[AWS_ACCESS_KEY_ID]',
          },
        },
        {
          rule: 'github/GITHUB_TOKEN',
          fingerprint: fingerprint(planted.token),
          owner: 'data-team',
          location: { kind: 'CronJob', namespace, name: 'sync', container: 'sync', field: 'args[1]' },
        },
        {
          rule: 'privatekey/PrivateKey',
          fingerprint: expect.stringMatching(/^[0-9a-f]{8}$/),
          location: { kind: 'ConfigMap', namespace, name: 'tls', field: 'data[server.conf]', line: 2 },
        },
      ]),
    );
    // The benign build id under BUILD_SHA and `build` is not a finding.
    expect(found).toHaveLength(7);
  });

  it('finds a literal in a StatefulSet, a DaemonSet, a standalone Job and a bare Pod, each at its exact location', () => {
    const found = secretsHere().map((i) => i.secret);
    const owned = (rule: string, value: string, location: object) => ({
      rule,
      fingerprint: fingerprint(value),
      owner: 'platform',
      location: { namespace, ...location },
    });
    expect(found).toEqual(
      expect.arrayContaining([
        owned('github/GITHUB_TOKEN', planted.statefulSetToken, {
          kind: 'StatefulSet',
          name: 'ledger',
          container: 'migrate',
          field: 'env[GH_TOKEN]',
        }),
        owned('nhi/jwt', planted.daemonSetJwt, {
          kind: 'DaemonSet',
          name: 'node-agent',
          container: 'agent',
          field: 'command[2]',
        }),
        owned('aws/AWSAccessKeyID', planted.jobKeyId, {
          kind: 'Job',
          name: 'backfill',
          container: 'backfill',
          field: 'args[0]',
        }),
        owned('nhi/jwt', planted.podJwt, {
          kind: 'Pod',
          name: 'lone',
          container: 'probe',
          field: 'env[SESSION]',
        }),
      ]),
    );
  });

  it('raises the risk of the AgentIdentity whose workload carries one', () => {
    const identity = items.find((i) => i.type === 'AgentIdentity' && i.namespace === namespace);
    const factor = identity?.risk?.factors.find((f) => f.id === 'likelihood.hard-coded-credentials');
    expect(factor?.weight).toBe(3);
    expect(factor?.description).toContain('aws/AWSAccessKeyID in container agent env[AWS_ACCESS_KEY_ID]');
    expectNoValue(JSON.stringify(items));
  });

  it('shows them in nhictl inventory and the HTML report without any value', async () => {
    const json = await nhictl('inventory', '-o', 'json', '--no-aws', '--no-vault');
    expectNoValue(json.stdout + json.stderr);
    const report = JSON.parse(json.stdout) as { summary: { hardCodedSecrets: string[] } };
    expect(report.summary.hardCodedSecrets).toContain(`HardCodedSecret ${namespace}/CronJob/sync`);

    const table = await nhictl('inventory', '--no-aws', '--no-vault');
    expectNoValue(table.stdout + table.stderr);
    expect(table.stdout).toContain(`github/GITHUB_TOKEN in CronJob ${namespace}/sync container sync args[1]`);

    const html = join(mkdtempSync(join(tmpdir(), 'nhi-report-')), 'report.html');
    const written = await nhictl('report', '--html', html, '--no-aws', '--no-vault');
    expectNoValue(written.stdout + written.stderr);
    const page = readFileSync(html, 'utf8');
    expectNoValue(page);
    expect(page).toContain('Hard-coded credentials');
    expect(page).toContain('privatekey/PrivateKey');
  });
});
