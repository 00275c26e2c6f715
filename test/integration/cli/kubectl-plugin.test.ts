// nhictl as a kubectl plugin, run by the real kubectl the project builds: the bins linked onto PATH
// under the names npm gives them (kubectl-nhi, kubectl_complete-nhi), kubectl finding the plugin,
// running `kubectl nhi ...` against the test apiserver with -o table|json|yaml, and completing
// `kubectl nhi <Tab>` through kubectl_complete-nhi.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repoRoot } from '../../../src/dev/components.ts';
import type { InventoryItem } from '../../../src/governance/inventory/index.ts';
import { agentIdentity, withScopes } from '../../../src/testing/agent-identity.ts';
import { createIdentity, newNamespace } from '../../support/cluster.ts';
import { childProcessEnv, kubeConfig, testEnv } from '../../support/env.ts';
import { onTestCluster, readConfigMaps } from '../../support/fixtures.ts';

const run = promisify(execFile);
const pluginDir = mkdtempSync(join(tmpdir(), 'nhi-kubectl-plugins-'));
let namespace: string;

/** The real kubectl with the plugin folder first on PATH, as after `npm install -g nhi-operator`. */
async function kubectl(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(join(testEnv().binDir, 'kubectl'), args, {
    env: {
      ...childProcessEnv(),
      // The plugin's `#!/usr/bin/env node` finds this Node first (the project's Node 24).
      PATH: [pluginDir, dirname(process.execPath), process.env.PATH].join(delimiter),
    },
    maxBuffer: 64 * 1024 * 1024,
  });
}

beforeAll(async () => {
  symlinkSync(join(repoRoot, 'bin', 'kubectl-nhi.js'), join(pluginDir, 'kubectl-nhi'));
  symlinkSync(join(repoRoot, 'bin', 'kubectl_complete-nhi.js'), join(pluginDir, 'kubectl_complete-nhi'));
  namespace = await newNamespace('plugin');
  await createIdentity(agentIdentity('support-bot', onTestCluster(namespace), withScopes(readConfigMaps)));
});

afterAll(async () => {
  await kubeConfig()
    .makeApiClient(k8s.CoreV1Api)
    .deleteNamespace({ name: namespace })
    .catch(() => undefined);
  rmSync(pluginDir, { recursive: true, force: true });
});

describe('kubectl nhi', () => {
  it('is a plugin kubectl finds on PATH', async () => {
    const { stdout } = await kubectl('plugin', 'list', '--name-only');
    expect(stdout.split('\n')).toContain('kubectl-nhi');
  });

  it('prints its help under the name kubectl gives it', async () => {
    const { stdout } = await kubectl('nhi', '--help');
    expect(stdout).toMatch(/^Usage: kubectl nhi \[options\] \[command\]/);
    for (const command of ['list', 'inventory', 'risk', 'completion'])
      expect(stdout).toContain(`  ${command} `);
  });

  it('lists the cluster inventory as json', async () => {
    const { stdout } = await kubectl('nhi', 'inventory', '-o', 'json', '--no-aws', '--no-vault');
    const report = JSON.parse(stdout) as { sources: string[]; items: InventoryItem[] };
    expect(report.sources).toEqual(['kubernetes']);
    expect(report.items.find((i) => i.type === 'AgentIdentity' && i.namespace === namespace)?.name).toBe(
      'support-bot',
    );
  });

  it('gives the same data as json and yaml, and a table by default', async () => {
    const json = JSON.parse((await kubectl('nhi', 'list', '-n', namespace, '-o', 'json')).stdout);
    const yaml = parse((await kubectl('nhi', 'list', '-n', namespace, '--output', 'yaml')).stdout);
    expect(yaml).toEqual(json);
    expect(json.identities).toMatchObject([
      { namespace, name: 'support-bot', environment: 'development', owner: 'support-eng' },
    ]);
    const table = (await kubectl('nhi', 'list', '-n', namespace)).stdout.split('\n');
    expect(table[0]).toMatch(/^NAMESPACE\s+NAME\s+ENV\s+OWNER\s+PHASE\s+READY\s+BACKENDS\s+RISK\s+EXPIRES$/);
    expect(table[1]).toMatch(new RegExp(`^${namespace}\\s+support-bot\\s+development\\s+support-eng`));
  });

  it('refuses an output format it does not have', async () => {
    await expect(kubectl('nhi', 'risk', '-o', 'xml')).rejects.toMatchObject({
      stderr: expect.stringContaining("argument 'xml' is invalid. Allowed choices are table, json, yaml"),
    });
  });

  it('completes through kubectl_complete-nhi', async () => {
    const commands = (await kubectl('__complete', 'nhi', 'inv')).stdout.split('\n');
    expect(commands[0]).toMatch(/^inventory\t/);
    expect(commands).toContain(':4');
    const formats = (await kubectl('__complete', 'nhi', 'risk', '-o', '')).stdout.split('\n');
    expect(formats.slice(0, 4)).toEqual(['table', 'json', 'yaml', ':4']);
  });
});
