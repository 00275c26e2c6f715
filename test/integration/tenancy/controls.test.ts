// The protected controls on an AgentIdentity, against the real apiserver with the shipped admission
// policy nhi-identity-controls and the shipped nhi-security ClusterRole (applied from
// config/rbac/security_role.yaml, the file kustomize installs and the chart renders from the same
// table). Two real users, ServiceAccount tokens: a namespace editor (the built-in `edit` role plus
// every ordinary verb on AgentIdentities) and a security engineer bound to nhi-security in that
// namespace. The editor may edit identities but not lock or unlock them, abandon backends, request
// rotations or touch the operator's revocation mark; the security engineer may use the first three,
// and only under their own name. With the real operator running, a lock set by `nhictl lock` is
// carried out, and both the operator's audit trail and the apiserver's audit log name the real user.

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECURITY_ROLE_NAME } from '../../../scripts/sync-chart.ts';
import {
  abandonValue,
  Controls,
  lockValue,
  Marks,
  OperatorAnnotations,
} from '../../../src/api/v1alpha1/annotations.ts';
import { CONTROLS_POLICY_NAME } from '../../../src/api/v1alpha1/controls-policy.ts';
import { repoRoot } from '../../../src/dev/components.ts';
import { applyObjects, installOperatorManifests, readManifests } from '../../../src/dev/install.ts';
import { readAuditFile } from '../../../src/governance/audit/audit.ts';
import { agentIdentity, withSpec } from '../../../src/testing/agent-identity.ts';
import {
  AGENT_IDENTITIES,
  conditionOf,
  getIdentity,
  newNamespace,
  untilCondition,
} from '../../support/cluster.ts';
import { childProcessEnv, kubeConfig, testEnv } from '../../support/env.ts';
import { deployment, onTestCluster } from '../../support/fixtures.ts';
import { type OperatorProcess, startOperatorProcess } from '../../support/operator.ts';
import { bindInNamespace, type TokenUser, tokenUser } from '../../support/token-users.ts';
import { eventually } from '../../support/wait.ts';

const admin = kubeConfig();
const rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
const run = promisify(execFile);

let ns: string;
let editor: TokenUser;
let security: TokenUser;
let operator: OperatorProcess | undefined;

const now = () => new Date();

/** A merge patch of the identity's metadata and spec as `user`; the apiserver's refusal, or undefined. */
async function patchAs(
  user: TokenUser | 'admin',
  name: string,
  body: { metadata?: { annotations?: Record<string, string | null> }; spec?: Record<string, unknown> },
): Promise<string | undefined> {
  const kc = user === 'admin' ? admin : user.kc;
  try {
    await kc
      .makeApiClient(k8s.CustomObjectsApi)
      .patchNamespacedCustomObject(
        { ...AGENT_IDENTITIES, namespace: ns, name, body },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
    return undefined;
  } catch (error) {
    if (!(error instanceof k8s.ApiException)) throw error;
    const status = JSON.parse(String(error.body)) as { message?: string; code?: number };
    return `${status.code ?? error.code}: ${status.message ?? String(error.body)}`;
  }
}

const annotate = (user: TokenUser | 'admin', name: string, annotations: Record<string, string | null>) =>
  patchAs(user, name, { metadata: { annotations } });

/** A fresh identity in the test namespace, created by the cluster admin. */
async function identity(name: string): Promise<string> {
  await admin.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({
    ...AGENT_IDENTITIES,
    namespace: ns,
    body: agentIdentity(name, onTestCluster(ns), withSpec({ orphanGracePeriod: '1h' })),
  });
  return name;
}

function nhictl(user: TokenUser, ...args: string[]) {
  return run(process.execPath, [join(repoRoot, 'bin', 'nhictl.js'), ...args, '-n', ns], {
    env: { ...childProcessEnv(), KUBECONFIG: user.kubeconfigPath },
  });
}

/** The apiserver's audit annotations for AgentIdentity writes by `username`. */
function apiserverAuditAnnotations(username: string): Array<Record<string, string>> {
  return readFileSync(testEnv().apiserverAuditLog, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { user?: { username?: string }; annotations?: Record<string, string> })
    .filter((event) => event.user?.username === username && event.annotations)
    .map((event) => event.annotations ?? {});
}

beforeAll(async () => {
  await installOperatorManifests(admin);
  // The security role exactly as it ships (kustomize installs this file; the chart renders the same rules).
  await applyObjects(admin, readManifests('config/rbac/security_role.yaml'));
  ns = await newNamespace('controls');
  // The editor: the built-in edit role, and every ordinary verb on AgentIdentities in the namespace.
  editor = await tokenUser(admin, ns, 'editor');
  await bindInNamespace(admin, ns, 'edit', { namespace: ns, name: 'editor' });
  await rbac.createNamespacedRole({
    namespace: ns,
    body: {
      metadata: { name: 'agentidentity-editor' },
      rules: [
        {
          apiGroups: ['nhi.dev'],
          resources: ['agentidentities'],
          verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'],
        },
      ],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: ns,
    body: {
      metadata: { name: 'agentidentity-editor' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'agentidentity-editor' },
      subjects: [{ kind: 'ServiceAccount', name: 'editor', namespace: ns }],
    },
  });
  security = await tokenUser(admin, ns, 'security');
  await bindInNamespace(admin, ns, SECURITY_ROLE_NAME, { namespace: ns, name: 'security' });

  // The policy reaches the apiserver's admission plugin through an informer: wait until it acts.
  const probe = await identity('probe');
  await eventually(
    `${CONTROLS_POLICY_NAME} to take effect`,
    async () =>
      (await annotate(editor, probe, { [Controls.rotateRequestedAt]: now().toISOString() })) !== undefined,
    { timeoutMs: 60_000, intervalMs: 250 },
  );
});

afterAll(async () => {
  await operator?.stop();
  // nhi-security is cluster-scoped: remove it so the chart suites can install their own.
  await rbac.deleteClusterRole({ name: SECURITY_ROLE_NAME }).catch(() => undefined);
});

describe('a namespace editor', () => {
  it.each([
    ['add a lock', Controls.lock, () => ({ [Controls.lock]: lockValue(editor.username, now()) })],
    [
      'set abandon-backends',
      Controls.abandonBackends,
      () => ({
        [Controls.abandonBackends]: abandonValue(['vault/vault'], editor.username),
      }),
    ],
    [
      'request a rotation',
      Controls.rotateRequestedAt,
      () => ({ [Controls.rotateRequestedAt]: now().toISOString() }),
    ],
    [
      'set revocation-started',
      OperatorAnnotations.revocationStarted,
      () => ({
        [OperatorAnnotations.revocationStarted]: `Expired: ${now().toISOString()}`,
      }),
    ],
  ])('cannot %s: refused with the annotation named', async (_what, annotation, annotations) => {
    const name = await identity(`editor-${annotation.split('/')[1]}`);
    const refusal = await annotate(editor, name, annotations());
    expect(refusal).toMatch(/^403: /);
    expect(refusal).toContain(`ValidatingAdmissionPolicy '${CONTROLS_POLICY_NAME}'`);
    expect(refusal).toContain(`annotation ${annotation}`);
    expect(refusal).toContain(editor.username);
    expect((await getIdentity(ns, name))?.metadata.annotations?.[annotation]).toBeUndefined();
  });

  it('cannot set spec.locked, nor create an identity that is already locked', async () => {
    const name = await identity('editor-spec-locked');
    expect(await patchAs(editor, name, { spec: { locked: true } })).toMatch(/403: .*spec\.locked/);
    const locked = agentIdentity('editor-born-locked', onTestCluster(ns));
    locked.metadata.annotations = { [Controls.lock]: lockValue(editor.username, now()) };
    const created = editor.kc
      .makeApiClient(k8s.CustomObjectsApi)
      .createNamespacedCustomObject({ ...AGENT_IDENTITIES, namespace: ns, body: locked, dryRun: 'All' });
    await expect(created).rejects.toMatchObject({ code: 403 });
  });

  it('cannot keep credentials past the identity (deletionPolicy Retain); the security user can', async () => {
    const name = await identity('editor-retain');
    expect(await patchAs(editor, name, { spec: { deletionPolicy: 'Retain' } })).toMatch(
      /403: .*spec\.deletionPolicy.*retain verb/,
    );
    const retained = agentIdentity(
      'editor-born-retained',
      onTestCluster(ns),
      withSpec({ deletionPolicy: 'Retain' }),
    );
    const created = editor.kc
      .makeApiClient(k8s.CustomObjectsApi)
      .createNamespacedCustomObject({ ...AGENT_IDENTITIES, namespace: ns, body: retained, dryRun: 'All' });
    await expect(created).rejects.toMatchObject({ code: 403 });
    expect(await patchAs(security, name, { spec: { deletionPolicy: 'Retain' } })).toBeUndefined();
    expect(await patchAs(editor, name, { spec: { deletionPolicy: 'Delete' } })).toBeUndefined();
  });

  it('cannot remove or change a lock the security team set', async () => {
    const name = await identity('editor-unlock');
    expect(
      await annotate(security, name, { [Controls.lock]: lockValue(security.username, now()) }),
    ).toBeUndefined();
    expect(await annotate(editor, name, { [Controls.lock]: null })).toMatch(
      /403: .*annotation nhi\.dev\/locked/,
    );
    expect(await annotate(editor, name, { [Controls.lock]: lockValue(editor.username, now()) })).toMatch(
      /403: .*annotation nhi\.dev\/locked/,
    );
    expect(await patchAs(editor, name, { spec: { locked: false } })).toBeUndefined(); // no change: admitted
    expect((await getIdentity(ns, name))?.metadata.annotations?.[Controls.lock]).toMatch(
      new RegExp(`^${security.username} at `),
    );
  });

  it('cannot remove the finalizer (which would skip revocation) nor delete a locked identity', async () => {
    const name = 'editor-finalizer';
    await admin.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({
      ...AGENT_IDENTITIES,
      namespace: ns,
      body: agentIdentity(name, onTestCluster(ns), (i) => {
        i.metadata.finalizers = [Marks.finalizer];
      }),
    });
    expect(await patchAs(editor, name, { metadata: { finalizers: null } } as never)).toMatch(
      new RegExp(`403: .*finalizer ${Marks.finalizer.replace('/', '\\/')}`),
    );

    const locked = await identity('editor-delete-locked');
    expect(
      await annotate(security, locked, { [Controls.lock]: lockValue(security.username, now()) }),
    ).toBeUndefined();
    const custom = editor.kc.makeApiClient(k8s.CustomObjectsApi);
    await expect(
      custom.deleteNamespacedCustomObject({ ...AGENT_IDENTITIES, namespace: ns, name: locked }),
    ).rejects.toMatchObject({ code: 403, body: expect.stringContaining(`annotation ${Controls.lock}`) });
    const unlocked = await identity('editor-delete-unlocked');
    await custom.deleteNamespacedCustomObject({ ...AGENT_IDENTITIES, namespace: ns, name: unlocked });
  });

  it('still edits everything else on the identity', async () => {
    const name = await identity('editor-edits');
    expect(await annotate(editor, name, { 'example.com/ticket': 'OPS-1' })).toBeUndefined();
    expect(
      await patchAs(editor, name, { spec: { purpose: 'Answer support tickets, now in German' } }),
    ).toBeUndefined();
  });
});

describe('a user bound to nhi-security', () => {
  it("locks and unlocks under their own name, and not under anyone else's", async () => {
    const name = await identity('security-lock');
    expect(
      await annotate(security, name, { [Controls.lock]: lockValue('alice', now(), 'incident') }),
    ).toMatch(
      /403: .*annotation nhi\.dev\/locked must begin with the requesting user's name and ' at ': system:serviceaccount:/,
    );
    expect(
      await annotate(security, name, { [Controls.lock]: lockValue(security.username, now(), 'incident') }),
    ).toBeUndefined();
    expect(await patchAs(security, name, { spec: { locked: true } })).toBeUndefined();
    expect(await patchAs(security, name, { spec: { locked: false } })).toBeUndefined();
    expect(await annotate(security, name, { [Controls.lock]: null })).toBeUndefined();
  });

  it('abandons backends under their own name only, and requests rotations', async () => {
    const name = await identity('security-abandon');
    expect(
      await annotate(security, name, { [Controls.abandonBackends]: abandonValue(['vault/old'], 'alice') }),
    ).toMatch(/403: .*annotation nhi\.dev\/abandon-backends must end with the requesting user's name/);
    expect(
      await annotate(security, name, {
        [Controls.abandonBackends]: abandonValue(['vault/old'], security.username),
      }),
    ).toBeUndefined();
    expect(
      await annotate(security, name, { [Controls.rotateRequestedAt]: now().toISOString() }),
    ).toBeUndefined();
  });

  it("cannot touch the operator's revocation mark", async () => {
    const name = await identity('security-revoke');
    expect(
      await annotate(security, name, {
        [OperatorAnnotations.revocationStarted]: `Expired: ${now().toISOString()}`,
      }),
    ).toMatch(/403: .*annotation nhi\.dev\/revocation-started/);
  });
});

describe('with the operator running', () => {
  it('nhictl lock: refused for the editor, carried out for the security user, who is named in every audit trail', async () => {
    const name = 'locked-bot';
    await admin.makeApiClient(k8s.AppsV1Api).createNamespacedDeployment({
      namespace: ns,
      body: deployment(name, name),
    });
    await identity(name);
    operator = startOperatorProcess(['--providers=']);
    await untilCondition(ns, name, 'Ready');

    const refused = await nhictl(editor, 'lock', name, '--reason', 'editor tries').catch(
      (e: { stderr?: string }) => e,
    );
    expect(String((refused as { stderr?: string }).stderr)).toContain(`annotation ${Controls.lock}`);
    expect(conditionOf(await getIdentity(ns, name), 'Quarantined')?.status).toBe('False');

    await nhictl(security, 'lock', name, '--reason', 'incident 42');
    const locked = await untilCondition(ns, name, 'Quarantined');
    expect(conditionOf(locked, 'Quarantined')?.reason).toBe('Locked');
    expect(locked.metadata.annotations?.[Controls.lock]).toMatch(
      new RegExp(`^${security.username} at \\S+: incident 42$`),
    );

    // The operator's hash-chained trail: the quarantine names who locked, from the checked annotation.
    const quarantined = await eventually('the quarantine in the audit trail', async () =>
      readAuditFile(operator?.auditLog ?? '').find(
        (r) => r.action === 'quarantined' && r.identity.name === name,
      ),
    );
    expect(quarantined.origin).toContain(`${security.username} at `);
    expect(readAuditFile(operator?.auditLog ?? '')).toContainEqual(
      expect.objectContaining({ action: 'locked', actor: security.username, severity: 'high' }),
    );
    // The apiserver's audit log: the admission policy recorded the authenticated user.
    const recorded = apiserverAuditAnnotations(security.username).map(
      (a) => a[`${CONTROLS_POLICY_NAME}/lock`],
    );
    expect(recorded).toContain(`${security.username} locked ${ns}/${name}`);

    await expect(nhictl(editor, 'unlock', name)).rejects.toMatchObject({
      stderr: expect.stringContaining(`annotation ${Controls.lock}`),
    });
    await nhictl(security, 'unlock', name);
    const restored = await untilCondition(ns, name, 'Quarantined', 'False');
    expect(conditionOf(restored, 'Quarantined')?.reason).toBe('Restored');
    expect(
      apiserverAuditAnnotations(security.username).map((a) => a[`${CONTROLS_POLICY_NAME}/lock`]),
    ).toContain(`${security.username} unlocked ${ns}/${name}`);
  });
});
