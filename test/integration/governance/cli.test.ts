// nhictl inventory / risk / report as a user runs them (node bin/nhictl.js with KUBECONFIG, AWS_*
// and BAO_* set), against the real apiserver, moto and OpenBao.

import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../../src/dev/components.ts';
import type { InventoryItem } from '../../../src/governance/inventory/index.ts';
import { childProcessEnv, kubeConfig, testEnv } from '../../support/env.ts';
import { eventually } from '../../support/wait.ts';
import { createWorld, removeWorld, type World } from './support.ts';

const run = promisify(execFile);
let world: World;
let legacyToken = '';

async function nhictl(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [join(repoRoot, 'bin', 'nhictl.js'), ...args], {
    env: childProcessEnv(),
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/** Nothing secret in any output: no Secret data, no Vault token, no AWS secret key. */
function expectNoSecrets(text: string): void {
  const env = testEnv();
  expect(legacyToken.length).toBeGreaterThan(20);
  for (const secret of [legacyToken, env.bao.token, env.aws.secretAccessKey, env.adminToken]) {
    expect(text).not.toContain(secret);
  }
}

beforeAll(async () => {
  world = await createWorld();
  const core = kubeConfig().makeApiClient(k8s.CoreV1Api);
  legacyToken = await eventually('the legacy token to be issued', async () => {
    const secret = await core.readNamespacedSecret({ namespace: world.namespace, name: world.tokenSecret });
    return secret.data?.token ? Buffer.from(secret.data.token, 'base64').toString() : undefined;
  });
});

afterAll(async () => {
  await removeWorld(world);
});

describe('nhictl inventory', () => {
  it('--output json classifies every source', async () => {
    const stdout = await nhictl('inventory', '--output', 'json');
    expectNoSecrets(stdout);
    const report = JSON.parse(stdout) as {
      sources: string[];
      summary: { shadow: string[]; danglingTrust: string[]; wildcardTrust: string[] };
      items: InventoryItem[];
    };
    expect(report.sources.map((s) => s.split(' ')[0])).toEqual(['kubernetes', 'aws', 'vault']);
    const ns = world.namespace;
    const mine = (i: InventoryItem) =>
      i.namespace === ns ||
      Object.values(world.roles).includes(i.name) ||
      i.name === world.user ||
      Object.values(world.vaultRoles).includes(i.name);
    const byName = Object.fromEntries(report.items.filter(mine).map((i) => [`${i.type}/${i.name}`, i]));
    expect(byName['AgentIdentity/support-bot']?.managed).toBe(true);
    expect(byName['ServiceAccount/support-bot']?.identity).toBe(`${ns}/support-bot`);
    expect(byName[`IAMRole/${world.roles.managed}`]?.managed).toBe(true);
    expect(byName['System/default']?.findings).toEqual([]);
    expect(report.summary.shadow).toEqual(
      expect.arrayContaining([
        `ServiceAccount ${ns}/legacy-batch`,
        `ServiceAccountToken ${ns}/legacy-batch-token`,
        `IAMRole ${world.roles.shadow}`,
        `IAMUser ${world.user}`,
        `VaultRole ${world.vaultRoles.dangling}`,
      ]),
    );
    expect(report.summary.shadow).not.toContain(`ServiceAccount ${ns}/reporting`);
    expect(report.summary.danglingTrust).toEqual(
      expect.arrayContaining([`IAMRole ${world.roles.dangling}`, `VaultRole ${world.vaultRoles.dangling}`]),
    );
    expect(report.summary.wildcardTrust).toContain(`VaultRole ${world.vaultRoles.wildcard}`);
  });

  it('prints a readable table with findings and the system rules', async () => {
    const stdout = await nhictl('inventory');
    expectNoSecrets(stdout);
    expect(stdout.split('\n')[2]).toMatch(
      /^TYPE\s+NAMESPACE\s+NAME\s+PROVIDER\s+OWNER\s+ENV\s+STATE\s+MANAGED\s+FINDINGS$/,
    );
    expect(stdout).toMatch(new RegExp(`IAMRole\\s+-\\s+${world.roles.dangling}\\s+aws`));
    expect(stdout).toContain(
      `[high] IAMRole ${world.roles.dangling}: IAM role ${world.roles.dangling} trusts ServiceAccount ${world.namespace}/removed-sa`,
    );
    expect(stdout).toContain('system accounts not judged');
  });

  it('reads only the cluster when the optional sources are switched off', async () => {
    const report = JSON.parse(await nhictl('inventory', '-o', 'json', '--no-aws', '--no-vault')) as {
      sources: string[];
      items: InventoryItem[];
    };
    expect(report.sources).toEqual(['kubernetes']);
    expect(report.items.some((i) => i.provider !== 'kubernetes')).toBe(false);
  });
});

describe('nhictl risk', () => {
  it('--output json gives the matrix with counts and every identity with its factors', async () => {
    const stdout = await nhictl('risk', '-n', world.namespace, '--output', 'json');
    const report = JSON.parse(stdout) as {
      matrix: Array<{
        likelihood: number;
        impact: number;
        level: string;
        count: number;
        identities: string[];
      }>;
      identities: Array<{
        name: string;
        risk: { level: string; score: number; remediateBy?: string; factors: Array<{ id: string }> };
      }>;
    };
    expect(report.matrix).toHaveLength(25);
    expect(report.matrix.reduce((n, c) => n + c.count, 0)).toBe(2);
    expect(report.identities.map((i) => [i.name, i.risk.level])).toEqual([
      ['risky-bot', 'Critical'],
      ['support-bot', 'Low'],
    ]);
    const risky = report.identities[0]?.risk;
    expect(report.matrix.find((c) => c.identities.includes(`${world.namespace}/risky-bot`))?.level).toBe(
      'Critical',
    );
    const created = Date.parse(world.identities.risky.metadata.creationTimestamp ?? '');
    expect(Date.parse(risky?.remediateBy ?? '')).toBe(created + 7 * 86_400_000);
    expect(risky?.factors.map((f) => f.id)).toContain('likelihood.can-escalate');
  });

  it('explains one identity in the terminal', async () => {
    const stdout = await nhictl('risk', 'risky-bot', '-n', world.namespace);
    expect(stdout).toContain('LIKELIHOOD');
    expect(stdout).toMatch(/5 Almost certain\s+\|.*CRIT 1/);
    expect(stdout).toContain(`${world.namespace}/risky-bot: Critical`);
    expect(stdout).toContain('likelihood.internet-exposed');
  });

  it('says which identity it cannot find', async () => {
    await expect(nhictl('risk', 'nobody', '-n', world.namespace)).rejects.toThrow(
      /AgentIdentity .*nobody not found/,
    );
  });
});

describe('nhictl report --html', () => {
  it('writes a self-contained report with every section', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'nhi-report-')), 'report.html');
    const stdout = await nhictl('report', '--html', file);
    expect(stdout).toContain(`wrote ${file}`);
    const html = readFileSync(file, 'utf8');
    expectNoSecrets(html);
    for (const section of [
      'summary',
      'risk-matrix',
      'identities-by-level',
      'shadow-identities',
      'dangling-trust',
      'wildcard-trust',
      'inventory',
      'system',
    ]) {
      expect(html).toContain(`<section id="${section}">`);
    }
    const shadow = html.slice(
      html.indexOf('<section id="shadow-identities">'),
      html.indexOf('<section id="dangling-trust">'),
    );
    expect(shadow).toContain(world.roles.shadow);
    expect(shadow).toContain('legacy-batch');
    const dangling = html.slice(
      html.indexOf('<section id="dangling-trust">'),
      html.indexOf('<section id="wildcard-trust">'),
    );
    expect(dangling).toContain(world.roles.dangling);
    expect(dangling).toContain(world.vaultRoles.dangling);
    expect(html).toContain('risky-bot');
    expect(html).not.toMatch(/<script|<link|src=/i);
    await screenshotIfChromium(file);
  });
});

/** Only when a Chromium is already installed; nothing is installed for this. */
async function screenshotIfChromium(file: string): Promise<void> {
  const browser = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'].find(
    (name) => spawnSync('which', [name]).status === 0,
  );
  if (!browser) return;
  const png = file.replace(/\.html$/, '.png');
  await run(browser, [
    '--headless',
    '--disable-gpu',
    '--no-sandbox',
    `--screenshot=${png}`,
    '--window-size=1280,2400',
    `file://${file}`,
  ]);
  expect(statSync(png).size).toBeGreaterThan(10_000);
}
