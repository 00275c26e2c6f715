// What the audit integration tests share: nhictl as a user runs it, the anchor ConfigMap, and
// waiting for an AgentIdentity to be Ready.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import type { AgentIdentity } from '../../../src/api/v1alpha1/types.ts';
import { repoRoot } from '../../../src/dev/components.ts';
import { isCheckpoint } from '../../../src/governance/audit/checkpoint.ts';
import { childProcessEnv, kubeConfig } from '../../support/env.ts';
import { eventually } from '../../support/wait.ts';

const run = promisify(execFile);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function nhictl(...args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(repoRoot, 'bin', 'nhictl.js'), ...args], {
      env: childProcessEnv(),
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const ref = { group: 'nhi.dev', version: 'v1alpha1', plural: 'agentidentities' };

export async function untilReady(namespace: string, name: string, timeoutMs = 30_000): Promise<void> {
  const custom = kubeConfig().makeApiClient(k8s.CustomObjectsApi);
  await eventually(
    `${namespace}/${name} ready`,
    async () => {
      const identity = (await custom.getNamespacedCustomObject({ ...ref, namespace, name })) as AgentIdentity;
      return identity.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    },
    { timeoutMs },
  );
}

/** The signed head anchored in `namespace/name`, if any. */
export async function anchoredHead(namespace: string, name: string) {
  const core = kubeConfig().makeApiClient(k8s.CoreV1Api);
  const cm = await core.readNamespacedConfigMap({ namespace, name }).catch(() => undefined);
  const head: unknown = cm?.data?.head ? JSON.parse(cm.data.head) : undefined;
  return isCheckpoint(head) ? head : undefined;
}
