// collectInventory against the real apiserver, moto and OpenBao: every kind of NHI is found and
// classified (managed, shadow, dangling or wildcard trust, legacy token, static key, system).

import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  collectInventory,
  type FindingKind,
  type InventoryItem,
  kubernetesInventoryPort,
} from '../../../src/governance/inventory/index.ts';
import { kubeConfig, testEnv } from '../../support/env.ts';
import { eventually } from '../../support/wait.ts';
import { createWorld, removeWorld, testSources, type World } from './support.ts';

let world: World;
let items: InventoryItem[];

beforeAll(async () => {
  world = await createWorld();
  // The token controller fills the legacy Secret asynchronously; the inventory must not care, but
  // wait so the test also proves its data never reaches the output.
  const core = kubeConfig().makeApiClient(k8s.CoreV1Api);
  await eventually('the legacy token to be issued', async () => {
    const secret = await core.readNamespacedSecret({ namespace: world.namespace, name: world.tokenSecret });
    return Boolean(secret.data?.token);
  });
  items = await collectInventory(testSources());
});

afterAll(async () => {
  await removeWorld(world);
});

function find(type: string, name: string, namespace?: string): InventoryItem {
  const found = items.find(
    (i) => i.type === type && i.name === name && (namespace === undefined || i.namespace === namespace),
  );
  if (!found) throw new Error(`${type} ${namespace ?? ''}/${name} missing from the inventory`);
  return found;
}

const kinds = (item: InventoryItem): FindingKind[] => item.findings.map((f) => f.kind);

describe('collectInventory on the real components', () => {
  it('discovers the cluster issuer through OIDC discovery', async () => {
    expect(await kubernetesInventoryPort(kubeConfig()).serviceAccountIssuer()).toBe(
      testEnv().serviceAccountIssuer,
    );
  });

  it('lists the AgentIdentities with owner, purpose, environment, state and risk', () => {
    const calm = find('AgentIdentity', 'support-bot', world.namespace);
    expect(calm).toMatchObject({
      owner: 'support-eng',
      environment: 'development',
      state: 'Pending',
      managed: true,
    });
    expect(calm.risk?.level).toBe('Low');
    const risky = find('AgentIdentity', 'risky-bot', world.namespace);
    expect(risky.risk?.level).toBe('Critical');
    expect(risky.risk?.factors.map((f) => f.id)).toEqual(
      expect.arrayContaining([
        'likelihood.can-escalate',
        'likelihood.internet-exposed',
        'likelihood.long-lived-credentials',
      ]),
    );
    expect(kinds(risky)).toEqual(['risk']);
  });

  it.each<[string, string, Partial<InventoryItem>, FindingKind[]]>([
    [
      'ServiceAccount',
      'support-bot',
      { managed: true, owner: 'support-eng', identity: '<ns>/support-bot' },
      [],
    ],
    ['ServiceAccount', 'legacy-batch', { managed: false }, ['shadow', 'unused']],
    [
      'ServiceAccount',
      'reporting',
      { managed: false, owner: 'data-team', purpose: 'nightly reports' },
      ['unused'],
    ],
    ['System', 'default', { managed: false, owner: 'kubernetes' }, []],
    [
      'ServiceAccountToken',
      'legacy-batch-token',
      { managed: false, boundTo: ['<ns>/legacy-batch'] },
      ['shadow', 'legacy-token'],
    ],
  ])('classifies %s %s', (type, name, expected, findings) => {
    const item = find(type, name, world.namespace);
    const resolved = JSON.parse(JSON.stringify(expected).replaceAll('<ns>', world.namespace));
    expect(item).toMatchObject({ provider: 'kubernetes', ...resolved });
    expect(kinds(item)).toEqual(findings);
  });

  it('classifies the IAM roles that trust the cluster issuer', () => {
    const ns = world.namespace;
    expect(find('IAMRole', world.roles.managed)).toMatchObject({
      managed: true,
      identity: `${ns}/support-bot`,
      findings: [],
    });
    const shadow = find('IAMRole', world.roles.shadow);
    expect(shadow).toMatchObject({ managed: false, boundTo: [`${ns}/legacy-batch`] });
    expect(kinds(shadow)).toEqual(['shadow']);
    const dangling = find('IAMRole', world.roles.dangling);
    expect(kinds(dangling)).toEqual(['shadow', 'dangling-trust']);
    expect(dangling.findings[1]?.message).toContain(`${ns}/removed-sa`);
  });

  it('lists the IAM user with an access key as a shadow identity with a static key', () => {
    const user = find('IAMUser', world.user);
    expect(user).toMatchObject({ provider: 'aws', managed: false });
    expect(user.state).toMatch(/^1 active \/ 1 keys/);
    expect(kinds(user)).toEqual(['shadow', 'static-access-key']);
  });

  it('classifies the Vault kubernetes-auth roles', () => {
    const dangling = find('VaultRole', world.vaultRoles.dangling);
    expect(dangling).toMatchObject({ provider: 'vault', boundTo: [`${world.namespace}/missing-sa`] });
    expect(kinds(dangling)).toEqual(['shadow', 'dangling-trust']);
    expect(kinds(find('VaultRole', world.vaultRoles.wildcard))).toEqual(['shadow', 'wildcard-trust']);
  });

  it('calls the kube-system controller accounts System, never shadow', () => {
    const system = items.filter((i) => i.namespace === 'kube-system');
    expect(system.length).toBeGreaterThan(0);
    for (const item of system) expect(item).toMatchObject({ type: 'System', findings: [] });
  });

  it('carries no Secret data: the legacy token never appears', async () => {
    const core = kubeConfig().makeApiClient(k8s.CoreV1Api);
    const secret = await core.readNamespacedSecret({ namespace: world.namespace, name: world.tokenSecret });
    const token = Buffer.from(secret.data?.token ?? '', 'base64').toString();
    expect(token.length).toBeGreaterThan(20);
    const serialized = JSON.stringify(items);
    expect(serialized).not.toContain(token);
    expect(serialized).not.toContain(secret.data?.token ?? '');
  });
});
