// Installing the Argo CD health check for AgentIdentity the three ways the repository offers, against
// the real apiserver and the real helm and kubectl: the chart's optional ConfigMap and the command its
// NOTES print, config/argocd/argocd-cm-patch.yaml with `kubectl patch`, and the same file as a
// kustomize patch over the argocd-cm Argo CD's install manifests ship. Each must leave argocd-cm with
// the committed script under resource.customizations.health.nhi.dev_AgentIdentity, keeping the keys
// Argo CD's own settings live in. No Argo CD runs here: the script itself is checked by health.test.ts.

import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARGOCD_CM_PATCH, HEALTH_KEY, withHighRiskDegraded } from '../../../scripts/argocd-health.ts';
import type { AgentIdentity } from '../../../src/api/v1alpha1/types.ts';
import { repoRoot } from '../../../src/dev/components.ts';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import { argoHealth, committedHealthScript } from '../../support/argocd-health.ts';
import { kubeConfig, testEnv } from '../../support/env.ts';
import { namespaceBody } from '../../support/namespaces.ts';
import { uniqueName } from '../../support/wait.ts';
import {
  CHART,
  find,
  helm,
  kubectl,
  type Manifest,
  parseManifests,
  runTool,
  valuesFile,
} from '../chart/support.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const script = committedHealthScript();

/** Argo CD's namespace, as its install manifests and this repository's commands name it. */
const ARGOCD_NAMESPACE = 'argocd';
/** What Argo CD's own argocd-cm holds before the health check is added. */
const ARGO_SETTINGS = { url: 'https://argocd.example.com', 'exec.enabled': 'false' };

let release: string;
let createdArgoNamespace = false;

async function render(values: Record<string, unknown>): Promise<Manifest[]> {
  return parseManifests(
    await helm(['template', 'nhi', CHART, '--namespace', release, '-f', valuesFile(values)]),
  );
}

const healthConfigMap = (objects: Manifest[]) =>
  find(objects, 'ConfigMap', 'nhi-nhi-operator-argocd-health') as unknown as k8s.V1ConfigMap | undefined;

/** A fresh argocd-cm with Argo CD's settings only. */
async function resetArgoCdConfigMap(): Promise<void> {
  await core
    .deleteNamespacedConfigMap({ namespace: ARGOCD_NAMESPACE, name: 'argocd-cm' })
    .catch(() => undefined);
  await core.createNamespacedConfigMap({
    namespace: ARGOCD_NAMESPACE,
    body: {
      metadata: {
        name: 'argocd-cm',
        labels: { 'app.kubernetes.io/name': 'argocd-cm', 'app.kubernetes.io/part-of': 'argocd' },
      },
      data: ARGO_SETTINGS,
    },
  });
}

async function argoCdConfigMapData(): Promise<Record<string, string>> {
  return (await core.readNamespacedConfigMap({ namespace: ARGOCD_NAMESPACE, name: 'argocd-cm' })).data ?? {};
}

/** Runs a shell command line as a user would, with the components' kubectl first on PATH. */
function shell(command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', command], {
      cwd: repoRoot,
      env: {
        ...process.env,
        PATH: `${testEnv().binDir}:${process.env.PATH}`,
        KUBECONFIG: testEnv().kubeconfigPath,
      },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(output) : reject(new Error(`${command} exited ${code}:\n${output}`)),
    );
  });
}

beforeAll(async () => {
  // `helm install --dry-run` maps every object of the chart, the IdentityPolicy too: it needs the CRDs.
  await installOperatorManifests(kc);
  release = uniqueName('nhi-argocd');
  await core.createNamespace({ body: namespaceBody(release) });
  try {
    await core.createNamespace({ body: { metadata: { name: ARGOCD_NAMESPACE } } });
    createdArgoNamespace = true;
  } catch (error) {
    if (!(error instanceof k8s.ApiException && error.code === 409)) throw error;
  }
});

afterAll(async () => {
  if (release) await core.deleteNamespace({ name: release }).catch(() => undefined);
  if (createdArgoNamespace) await core.deleteNamespace({ name: ARGOCD_NAMESPACE }).catch(() => undefined);
});

describe('the chart value argocd.healthCheck', () => {
  it('renders nothing for Argo CD by default', async () => {
    expect(healthConfigMap(await render({}))).toBeUndefined();
  });

  it('renders the committed script under the argocd-cm key when enabled', async () => {
    const configMap = healthConfigMap(await render({ argocd: { healthCheck: { enabled: true } } }));
    expect(configMap?.metadata?.namespace).toBe(release);
    expect(configMap?.data).toEqual({ [HEALTH_KEY]: script });
  });

  it('renders the script that degrades a High risk with degradedOnHighRisk', async () => {
    const configMap = healthConfigMap(
      await render({ argocd: { healthCheck: { enabled: true, degradedOnHighRisk: true } } }),
    );
    const rendered = configMap?.data?.[HEALTH_KEY] ?? '';
    expect(rendered).toBe(withHighRiskDegraded(script));
    const ready = JSON.parse(
      readFileSync(join(repoRoot, 'test/fixtures/argocd/ready.json'), 'utf8'),
    ) as AgentIdentity;
    const risky = structuredClone(ready);
    if (risky.status?.risk) risky.status.risk.level = 'High';
    expect((await argoHealth(risky, rendered)).status).toBe('Degraded');
    expect((await argoHealth(risky, script)).status).toBe('Healthy');
  });

  it('refuses a misspelt key under argocd, naming it', async () => {
    const result = await runTool('helm', [
      'template',
      'nhi',
      CHART,
      '-f',
      valuesFile({ argocd: { healthCheck: { enable: true } } }),
    ]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/\/argocd\/healthCheck': additional properties 'enable' not allowed/);
  });

  it('prints in NOTES the command that merges it into a live argocd-cm, which keeps its settings', async () => {
    await resetArgoCdConfigMap();
    // The cluster-wide objects with fixed names belong to the other suites: leave them out.
    const values = valuesFile({
      argocd: { healthCheck: { enabled: true } },
      admissionPolicy: { enabled: false },
      defaultPolicy: { enabled: false },
      controls: { admissionPolicy: false, securityRole: { create: false } },
    });
    const dryRun = await helm([
      'install',
      'nhi',
      CHART,
      '--dry-run=client',
      '--namespace',
      release,
      '-f',
      values,
    ]);
    const command = dryRun
      .split('\n')
      .map((line) => line.trim())
      .find((line) => line.startsWith(`kubectl -n ${ARGOCD_NAMESPACE} patch configmap argocd-cm`));
    expect(command, dryRun.slice(dryRun.indexOf('NOTES:'))).toBeDefined();

    const configMap = healthConfigMap(await render({ argocd: { healthCheck: { enabled: true } } }));
    await kubectl(['apply', '--server-side', '-f', '-'], { input: JSON.stringify(configMap) });
    await shell(command ?? '');
    expect(await argoCdConfigMapData()).toEqual({ ...ARGO_SETTINGS, [HEALTH_KEY]: script });
  });
});

describe('config/argocd/argocd-cm-patch.yaml', () => {
  it('adds the script to a live argocd-cm with the kubectl patch its header names', async () => {
    await resetArgoCdConfigMap();
    const header = readFileSync(join(repoRoot, ARGOCD_CM_PATCH), 'utf8');
    const command = header
      .split('\n')
      .map((line) => line.replace(/^#\s*/, ''))
      .find((line) => line.startsWith('kubectl ') && line.includes('--patch-file'));
    expect(command).toBe(
      `kubectl -n ${ARGOCD_NAMESPACE} patch configmap argocd-cm --type merge --patch-file ${ARGOCD_CM_PATCH}`,
    );
    await shell(command ?? '');
    expect(await argoCdConfigMapData()).toEqual({ ...ARGO_SETTINGS, [HEALTH_KEY]: script });
  });

  it("patches the argocd-cm of Argo CD's install manifests in a kustomization that sets the namespace", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nhi-argocd-kustomize-'));
    // argocd-cm as Argo CD's manifests/install.yaml ships it: no namespace, no data.
    writeFileSync(
      join(dir, 'install.yaml'),
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: 'argocd-cm',
          labels: { 'app.kubernetes.io/name': 'argocd-cm', 'app.kubernetes.io/part-of': 'argocd' },
        },
      }),
    );
    copyFileSync(join(repoRoot, ARGOCD_CM_PATCH), join(dir, 'argocd-cm-patch.yaml'));
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        `namespace: ${ARGOCD_NAMESPACE}`,
        'resources: [install.yaml]',
        'patches:',
        '  - path: argocd-cm-patch.yaml',
        '',
      ].join('\n'),
    );
    const [configMap] = parseManifests(await kubectl(['kustomize', dir])) as unknown as k8s.V1ConfigMap[];
    expect(configMap?.metadata).toMatchObject({ name: 'argocd-cm', namespace: ARGOCD_NAMESPACE });
    expect(configMap?.metadata?.labels?.['app.kubernetes.io/part-of']).toBe('argocd');
    expect(configMap?.data).toEqual({ [HEALTH_KEY]: script });
  });
});
