// Identity-attributed activity from the real audit sources: the apiserver's audit log (the dev
// environment's policy records ServiceAccount requests at Metadata level) and OpenBao's file audit
// device. Two AgentIdentities' ServiceAccounts make known Kubernetes calls (allowed and denied) with
// TokenRequest tokens, and log in to OpenBao through kubernetes auth (roles made by the real Vault
// provider) to read their own KV path and another's. `nhictl activity` must show exactly each
// identity's calls, with owner and purpose, and no token, HMAC or secret value anywhere.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentIdentity } from '../../../src/api/v1alpha1/types.ts';
import type { ActivityReport } from '../../../src/cli/activity.ts';
import { repoRoot } from '../../../src/dev/components.ts';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import type { IdentityRef } from '../../../src/providers/types.ts';
import { identityNames } from '../../../src/providers/vault/names.ts';
import { VaultProvider } from '../../../src/providers/vault/provider.ts';
import {
  agentIdentity,
  inEnvironment,
  inNamespace,
  withOwner,
  withPurpose,
  withServiceAccount,
} from '../../../src/testing/agent-identity.ts';
import { createIdentity, getIdentity, newNamespace } from '../../support/cluster.ts';
import { childProcessEnv, kubeConfig, testEnv } from '../../support/env.ts';
import { type TokenUser, tokenUser } from '../../support/token-users.ts';
import { eventually } from '../../support/wait.ts';
import {
  bao,
  deleteNamespace,
  KV_MOUNT,
  type OperatorLogin,
  operatorLogin,
  serviceAccountToken,
  workloadLogin,
} from '../vault/support.ts';

const run = promisify(execFile);
const env = testEnv();
const admin = kubeConfig();
const { addr, token: root, kubernetesAuthMount: mount } = env.bao;
const secret = {
  name: 'api-key',
  backend: 'vault-kv' as const,
  generator: { type: 'random' as const, length: 32 },
};

let ns: string;
let operator: OperatorLogin;
let provider: VaultProvider;
const refs: Record<'bot' | 'other', IdentityRef | undefined> = { bot: undefined, other: undefined };
const users: Record<'bot' | 'other', TokenUser | undefined> = { bot: undefined, other: undefined };
/** Every credential and secret value the test handled: none may appear in any output. */
const secrets: string[] = [];

async function liveIdentity(name: 'bot' | 'other', team: string, purpose: string): Promise<IdentityRef> {
  await createIdentity(
    agentIdentity(
      name,
      inNamespace(ns),
      inEnvironment('development'),
      withServiceAccount(name),
      withOwner({ team, contact: `${team}@example.com` }),
      withPurpose(purpose),
    ),
  );
  const identity = (await getIdentity(ns, name)) as AgentIdentity;
  return { identity, subject: { namespace: ns, serviceAccountName: name } };
}

async function status(call: () => Promise<unknown>): Promise<number> {
  try {
    await call();
    return 200;
  } catch (error) {
    if (error instanceof k8s.ApiException) return error.code;
    throw error;
  }
}

async function vaultCalls(ref: IdentityRef, readOther: string): Promise<void> {
  const names = identityNames(ref);
  const jwt = await serviceAccountToken(ns, ref.subject.serviceAccountName);
  const login = await workloadLogin(addr, mount, names.base, jwt);
  if (!login.token) throw new Error(`login of ${names.base}: HTTP ${login.status}`);
  secrets.push(jwt, login.token);
  expect((await bao(addr, login.token, 'GET', `${KV_MOUNT}/data/${names.kvFolder}/api-key`)).status).toBe(
    200,
  );
  expect((await bao(addr, login.token, 'GET', `${KV_MOUNT}/data/${readOther}/api-key`)).status).toBe(403);
}

function nhictl(...args: string[]) {
  return run(
    process.execPath,
    [
      join(repoRoot, 'bin', 'nhictl.js'),
      'activity',
      '-n',
      ns,
      '--since',
      '1h',
      '--kube-audit-log',
      env.apiserverAuditLog,
      '--vault-audit-log',
      env.baoAuditLog,
      ...args,
    ],
    { env: childProcessEnv() },
  );
}

async function report(name: string, expected: number): Promise<ActivityReport> {
  return eventually(
    `${expected} activity records of ${name}`,
    async () => {
      const out = JSON.parse((await nhictl(name, '-o', 'json')).stdout) as ActivityReport;
      return out.records.length >= expected ? out : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 1000 },
  );
}

beforeAll(async () => {
  await installOperatorManifests(admin);
  ns = await newNamespace('activity');
  users.bot = await tokenUser(admin, ns, 'bot');
  users.other = await tokenUser(admin, ns, 'other');
  const rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
  await rbac.createNamespacedRole({
    namespace: ns,
    body: {
      metadata: { name: 'read-config' },
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: ns,
    body: {
      metadata: { name: 'bot-reads-config' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-config' },
      subjects: [{ kind: 'ServiceAccount', name: 'bot', namespace: ns }],
    },
  });
  await admin.makeApiClient(k8s.CoreV1Api).createNamespacedConfigMap({
    namespace: ns,
    body: { metadata: { name: 'settings' }, data: { mode: 'answer' } },
  });
  refs.bot = await liveIdentity('bot', 'support-eng', 'answer support tickets');
  refs.other = await liveIdentity('other', 'billing', 'reconcile invoices');
  operator = await operatorLogin(addr, root, mount);
  provider = VaultProvider.fromSpec(operator.spec, { tokenScanCacheMs: 0 });
  for (const ref of [refs.bot, refs.other]) {
    await provider.provision(ref);
    await provider.rotate(ref, secret);
    const value = await bao(addr, root, 'GET', `${KV_MOUNT}/data/${identityNames(ref).kvFolder}/api-key`);
    secrets.push(...Object.values(value.json.data?.data ?? {}).map(String));
  }
  secrets.push(...[users.bot, users.other].map((u) => u?.kc.getCurrentUser()?.token ?? ''));

  // The workloads' calls: bot reads its ConfigMap (allowed), lists Secrets (denied); other reads
  // the ConfigMap (denied). Then each logs in to OpenBao, reads its own secret and the other's.
  const botCore = users.bot.kc.makeApiClient(k8s.CoreV1Api);
  const otherCore = users.other.kc.makeApiClient(k8s.CoreV1Api);
  expect(await status(() => botCore.readNamespacedConfigMap({ namespace: ns, name: 'settings' }))).toBe(200);
  expect(await status(() => botCore.listNamespacedSecret({ namespace: ns }))).toBe(403);
  expect(await status(() => otherCore.readNamespacedConfigMap({ namespace: ns, name: 'settings' }))).toBe(
    403,
  );
  await vaultCalls(refs.bot, identityNames(refs.other).kvFolder);
  await vaultCalls(refs.other, identityNames(refs.bot).kvFolder);
  // other's ServiceAccount tries bot's role: refused, and recorded against the role it asked for.
  const stolen = await workloadLogin(
    addr,
    mount,
    identityNames(refs.bot).base,
    await serviceAccountToken(ns, 'other'),
  );
  expect(stolen.status).toBe(403);
}, 120_000);

afterAll(async () => {
  for (const ref of [refs.bot, refs.other]) if (ref) await provider?.revoke(ref).catch(() => {});
  await operator?.cleanup();
  if (ns) await deleteNamespace(ns);
});

describe('nhictl activity', () => {
  it("shows exactly the identity's Kubernetes and OpenBao calls, with owner, purpose and outcome, and a refused login to its role", async () => {
    const bot = await report('bot', 6);
    const folder = identityNames(refs.bot as IdentityRef).kvFolder;
    const otherFolder = identityNames(refs.other as IdentityRef).kvFolder;
    expect(bot.identity).toEqual({
      namespace: ns,
      name: 'bot',
      owner: 'support-eng',
      purpose: 'answer support tickets',
    });
    expect(bot.records.map((r) => [r.backend, r.verb, r.resource, r.outcome])).toEqual([
      ['kubernetes', 'get', `configmaps ${ns}/settings`, 'allowed'],
      ['kubernetes', 'list', `secrets ${ns}/*`, 'denied'],
      ['vault', 'update', `auth/${mount}/login`, 'allowed'],
      ['vault', 'read', `${KV_MOUNT}/data/${folder}/api-key`, 'allowed'],
      ['vault', 'read', `${KV_MOUNT}/data/${otherFolder}/api-key`, 'denied'],
      ['vault', 'update', `auth/${mount}/login`, 'denied'],
    ]);
    for (const record of bot.records) {
      expect(record.identity.name).toBe('bot');
      expect(record.sourceAddress).toBe('127.0.0.1');
      expect(Date.parse(record.time)).toBeGreaterThan(Date.now() - 3_600_000);
    }
    expect(bot.summary).toEqual([
      expect.objectContaining({ backend: 'kubernetes', requests: 2, denials: 1, errors: 0 }),
      expect.objectContaining({ backend: 'vault', requests: 4, denials: 2, errors: 0 }),
    ]);
  });

  it("never mixes in another identity's calls", async () => {
    const other = await report('other', 4);
    expect(other.records.map((r) => [r.backend, r.verb, r.outcome])).toEqual([
      ['kubernetes', 'get', 'denied'],
      ['vault', 'update', 'allowed'],
      ['vault', 'read', 'allowed'],
      ['vault', 'read', 'denied'],
    ]);
    expect(other.identity.owner).toBe('billing');
  });

  it('prints no token, HMAC or secret value in the table or the json, and the audit logs hold none in clear', async () => {
    const outputs = [
      (await nhictl('bot')).stdout,
      (await nhictl('bot', '-o', 'json')).stdout,
      (await nhictl('other', '-o', 'yaml')).stdout,
    ];
    expect(outputs[0]).toContain('support-eng');
    expect(outputs[0]).toContain(`configmaps ${ns}/settings`);
    expect(secrets.filter((s) => s.length >= 8).length).toBeGreaterThanOrEqual(8);
    for (const text of outputs) {
      expect(text).not.toContain('hmac-sha256');
      for (const value of secrets.filter((s) => s.length >= 8)) expect(text).not.toContain(value);
    }
    const { readFileSync } = await import('node:fs');
    const logs = readFileSync(env.baoAuditLog, 'utf8') + readFileSync(env.apiserverAuditLog, 'utf8');
    for (const value of secrets.filter((s) => s.length >= 8)) expect(logs).not.toContain(value);
  });

  it('refuses a --since that is not a duration, naming the flag', async () => {
    await expect(nhictl('bot', '--since', 'yesterday')).rejects.toMatchObject({
      stderr: expect.stringContaining('--since yesterday'),
    });
  });
});
