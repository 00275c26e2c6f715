// Running the real helm and kubectl binaries against the test apiserver, and asking the apiserver
// what a ServiceAccount may do. Shared by the chart and kustomize suites.

import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { driftedOutputs, SECURITY_ROLE_NAME } from '../../../scripts/sync-chart.ts';
import { CONTROLS_BINDING_NAME, CONTROLS_POLICY_NAME } from '../../../src/api/v1alpha1/controls-policy.ts';
import { repoRoot } from '../../../src/dev/components.ts';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import { kubeconfigYaml } from '../../../src/dev/pki.ts';
import { testEnv } from '../../support/env.ts';
import { eventually } from '../../support/wait.ts';

export const CHART = join(repoRoot, 'charts', 'nhi-operator');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

// Helm keeps its repository cache and config under these; never in the user's home.
const helmHome = mkdtempSync(join(tmpdir(), 'nhi-helm-'));

/** Runs a binary from the components cache with the test kubeconfig; never throws on exit status. */
export function runTool(
  tool: 'helm' | 'kubectl',
  args: readonly string[],
  options: { input?: string; kubeconfig?: string } = {},
): Promise<RunResult> {
  const env = {
    ...process.env,
    KUBECONFIG: options.kubeconfig ?? testEnv().kubeconfigPath,
    HELM_CACHE_HOME: join(helmHome, 'cache'),
    HELM_CONFIG_HOME: join(helmHome, 'config'),
    HELM_DATA_HOME: join(helmHome, 'data'),
  };
  return new Promise((resolve, reject) => {
    const child = spawn(join(testEnv().binDir, tool), [...args], { env, cwd: repoRoot });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** Like runTool, but a non-zero exit is an error carrying the tool's own message. */
export async function tool(
  name: 'helm' | 'kubectl',
  args: readonly string[],
  options: { input?: string; kubeconfig?: string } = {},
): Promise<string> {
  const result = await runTool(name, args, options);
  if (result.code !== 0) {
    throw new Error(`${name} ${args.join(' ')} exited ${result.code}:\n${result.stderr}${result.stdout}`);
  }
  return result.stdout;
}

export const helm = (args: readonly string[], options?: { input?: string }) => tool('helm', args, options);
export const kubectl = (args: readonly string[], options?: { input?: string }) =>
  tool('kubectl', args, options);

export type Manifest = k8s.KubernetesObject & Record<string, unknown>;

export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((obj): obj is Manifest => Boolean(obj?.kind));
}

export function find(objects: readonly Manifest[], kind: string, name?: string): Manifest | undefined {
  return objects.find((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
}

/** Writes values to a temporary file for `helm -f`. */
export function valuesFile(values: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'nhi-values-'));
  const path = join(dir, 'values.yaml');
  writeFileSync(path, JSON.stringify(values));
  return path;
}

export interface ServiceAccountRef {
  namespace: string;
  name: string;
}

/** What a SubjectAccessReview answers for the ServiceAccount, with the groups its token carries. */
export async function serviceAccountCan(
  kc: k8s.KubeConfig,
  sa: ServiceAccountRef,
  attributes: k8s.V1ResourceAttributes,
): Promise<boolean> {
  const review = await kc.makeApiClient(k8s.AuthorizationV1Api).createSubjectAccessReview({
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: `system:serviceaccount:${sa.namespace}:${sa.name}`,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${sa.namespace}`, 'system:authenticated'],
        resourceAttributes: attributes,
      },
    },
  });
  return review.status?.allowed === true;
}

/** A kubeconfig that authenticates as the ServiceAccount, with a token from the TokenRequest API. */
export async function kubeconfigAs(kc: k8s.KubeConfig, sa: ServiceAccountRef): Promise<string> {
  const request = await kc.makeApiClient(k8s.CoreV1Api).createNamespacedServiceAccountToken({
    namespace: sa.namespace,
    name: sa.name,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const dir = mkdtempSync(join(tmpdir(), 'nhi-sa-kubeconfig-'));
  const caFile = join(dir, 'ca.crt');
  writeFileSync(caFile, testEnv().caPem);
  const path = join(dir, 'kubeconfig');
  writeFileSync(
    path,
    kubeconfigYaml({
      server: testEnv().apiserverUrl,
      caFile,
      token: request.status?.token ?? '',
      user: sa.name,
    }),
    { mode: 0o600 },
  );
  return path;
}

async function deleteIgnoringMissing(remove: () => Promise<unknown>): Promise<void> {
  try {
    await remove();
  } catch (error) {
    if (!(error instanceof k8s.ApiException && error.code === 404)) throw error;
  }
}

/**
 * The admission policies, their bindings and the IdentityPolicy `default` have fixed names, and other
 * suites apply them directly. Helm refuses to adopt objects it did not create, so a suite that
 * installs them through the chart or kustomize removes them first and puts them back afterwards.
 */
export async function removeSharedAdmissionObjects(kc: k8s.KubeConfig): Promise<void> {
  const admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  await deleteIgnoringMissing(() =>
    admission.deleteValidatingAdmissionPolicyBinding({ name: 'nhi-identity-policy-default' }),
  );
  await deleteIgnoringMissing(() =>
    admission.deleteValidatingAdmissionPolicy({ name: 'nhi-identity-policy' }),
  );
  await deleteIgnoringMissing(() =>
    admission.deleteValidatingAdmissionPolicyBinding({ name: CONTROLS_BINDING_NAME }),
  );
  await deleteIgnoringMissing(() =>
    admission.deleteValidatingAdmissionPolicy({ name: CONTROLS_POLICY_NAME }),
  );
  // The nhi-security ClusterRole is cluster-wide too (test/integration/tenancy applies it).
  await deleteIgnoringMissing(() =>
    kc.makeApiClient(k8s.RbacAuthorizationV1Api).deleteClusterRole({ name: SECURITY_ROLE_NAME }),
  );
  await deleteIgnoringMissing(() =>
    custom.deleteClusterCustomObject({
      group: 'nhi.dev',
      version: 'v1alpha1',
      plural: 'identitypolicies',
      name: 'default',
    }),
  );
  await eventually('the shared admission objects to be gone', async () => {
    const left = await Promise.all([
      exists(() => admission.readValidatingAdmissionPolicy({ name: 'nhi-identity-policy' })),
      exists(() => admission.readValidatingAdmissionPolicy({ name: CONTROLS_POLICY_NAME })),
      exists(() =>
        custom.getClusterCustomObject({
          group: 'nhi.dev',
          version: 'v1alpha1',
          plural: 'identitypolicies',
          name: 'default',
        }),
      ),
    ]);
    return left.every((present) => !present);
  });
}

/**
 * Stale chart copies must never reach the cluster: their fields would be owned by Helm or kubectl
 * with old values, and the other suites' server-side apply of crds/ would then conflict.
 */
export function assertChartInStep(): void {
  const drifted = driftedOutputs();
  if (drifted.length > 0)
    throw new Error(
      `out of step with their sources: ${drifted.join(', ')}; run \`npx tsx scripts/sync-chart.ts\``,
    );
}

export async function restoreSharedAdmissionObjects(kc: k8s.KubeConfig): Promise<void> {
  await installOperatorManifests(kc);
}

export async function exists(read: () => Promise<unknown>): Promise<boolean> {
  try {
    await read();
    return true;
  } catch (error) {
    if (error instanceof k8s.ApiException && error.code === 404) return false;
    throw error;
  }
}
