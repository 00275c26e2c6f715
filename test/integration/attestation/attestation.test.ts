// Sponsor, periodic attestation and webhook notifications, against the real apiserver with the shipped
// admission policies and the real operator process. The IdentityPolicy's staging rules get a short
// attestation interval and grace (seconds, so the operator's real clock gets there) with the quarantine
// action, and a webhook: a real HTTPS receiver started here, with a CA and serving certificate
// generated at test time (src/dev/pki.ts) and a signing key made here and kept in a Secret. The
// receiver answers 503 to the first delivery, checks every signature, and records what it got.
// Identities and namespaces are staging, so no other suite's identity is touched by these rules.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature } from '../../../src/adapters/webhook/signature.ts';
import { Controls } from '../../../src/api/v1alpha1/annotations.ts';
import type { AgentIdentity } from '../../../src/api/v1alpha1/types.ts';
import type { CloudEvent } from '../../../src/controller/agentidentity/ports.ts';
import { repoRoot } from '../../../src/dev/components.ts';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import { generatePki } from '../../../src/dev/pki.ts';
import { readAuditFile } from '../../../src/governance/audit/audit.ts';
import { agentIdentity, inEnvironment, withSpec } from '../../../src/testing/agent-identity.ts';
import { AGENT_IDENTITIES, conditionOf, getIdentity, untilCondition } from '../../support/cluster.ts';
import { childProcessEnv, kubeConfig, testEnv } from '../../support/env.ts';
import { onTestCluster, withSecret } from '../../support/fixtures.ts';
import { namespaceBody } from '../../support/namespaces.ts';
import { type OperatorProcess, startOperatorProcess } from '../../support/operator.ts';
import { type TokenUser, tokenUser } from '../../support/token-users.ts';
import { eventually, uniqueName } from '../../support/wait.ts';

const admin = kubeConfig();
const core = admin.makeApiClient(k8s.CoreV1Api);
const custom = admin.makeApiClient(k8s.CustomObjectsApi);
const rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
const run = promisify(execFile);
const POLICY = { group: 'nhi.dev', version: 'v1alpha1', plural: 'identitypolicies', name: 'default' };
const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

interface Delivery {
  status: number;
  verified: string | undefined;
  contentType: string | undefined;
  event: CloudEvent;
}

const signingKey = randomBytes(32).toString('base64url');
const deliveries: Delivery[] = [];
let receiver: Server;
let ns: string;
let sponsor: TokenUser;
let stranger: TokenUser;
let operator: OperatorProcess;

async function startReceiver(): Promise<{ url: string; ca: string }> {
  const pki = generatePki(mkdtempSync(join(tmpdir(), 'nhi-webhook-pki-')));
  let first = true;
  receiver = createServer(
    { cert: readFileSync(pki.servingCert), key: readFileSync(pki.servingKey) },
    (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        // The first delivery fails with 503: the operator must retry it.
        const status = first ? 503 : 200;
        first = false;
        deliveries.push({
          status,
          verified: verifySignature(signingKey, request.headers, body),
          contentType: request.headers['content-type'],
          event: JSON.parse(body) as CloudEvent,
        });
        response.writeHead(status).end();
      });
    },
  );
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const { port } = receiver.address() as AddressInfo;
  return { url: `https://127.0.0.1:${port}/nhi`, ca: readFileSync(pki.caCert, 'utf8') };
}

/** What the receiver acknowledged (2xx) for one identity, by CloudEvents type. */
function acknowledged(name: string, type?: string): CloudEvent[] {
  return deliveries
    .filter((d) => d.status === 200 && d.event.subject === `agentidentities/${ns}/${name}`)
    .map((d) => d.event)
    .filter((e) => type === undefined || e.type === type);
}

async function createIdentity(name: string, spec: Record<string, unknown> = {}): Promise<void> {
  const body = agentIdentity(
    name,
    onTestCluster(ns),
    inEnvironment('staging'),
    withSecret('key'),
    withSpec(spec),
  );
  delete body.spec.workloadRef;
  await custom.createNamespacedCustomObject({ ...AGENT_IDENTITIES, namespace: ns, body });
}

function nhictl(user: TokenUser, ...args: string[]) {
  return run(process.execPath, [join(repoRoot, 'bin', 'nhictl.js'), ...args, '-n', ns], {
    env: { ...childProcessEnv(), KUBECONFIG: user.kubeconfigPath },
  });
}

beforeAll(async () => {
  await installOperatorManifests(admin);
  const { url, ca } = await startReceiver();
  ns = uniqueName('attest');
  await core.createNamespace({ body: namespaceBody(ns, 'staging') });
  await core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: 'webhook-key' }, stringData: { key: signingKey } },
  });
  await custom.patchClusterCustomObject(
    {
      ...POLICY,
      body: {
        spec: {
          environments: {
            staging: {
              attestationInterval: '12s',
              attestationGracePeriod: '6s',
              attestationAction: 'quarantine',
            },
          },
          notifications: {
            webhook: { url, caBundle: ca, secretRef: { name: 'webhook-key', namespace: ns, key: 'key' } },
          },
        },
      },
    },
    mergePatch,
  );
  // The sponsor may read, patch and attest AgentIdentities here; the stranger may read and patch only.
  for (const [role, verbs] of [
    ['attester', ['get', 'list', 'watch', 'patch', 'attest']],
    ['patcher', ['get', 'list', 'watch', 'patch']],
  ] as const) {
    await rbac.createNamespacedRole({
      namespace: ns,
      body: {
        metadata: { name: role },
        rules: [{ apiGroups: ['nhi.dev'], resources: ['agentidentities'], verbs: [...verbs] }],
      },
    });
  }
  sponsor = await tokenUser(admin, ns, 'sponsor');
  stranger = await tokenUser(admin, ns, 'stranger');
  for (const [user, role] of [
    ['sponsor', 'attester'],
    ['stranger', 'patcher'],
  ] as const) {
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: `${role}-${user}` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role },
        subjects: [{ kind: 'ServiceAccount', name: user, namespace: ns }],
      },
    });
  }
  operator = startOperatorProcess();
});

afterAll(async () => {
  await operator?.stop();
  await custom
    .patchClusterCustomObject(
      {
        ...POLICY,
        body: {
          spec: {
            environments: {
              staging: { attestationInterval: null, attestationGracePeriod: null, attestationAction: null },
            },
            notifications: null,
          },
        },
      },
      mergePatch,
    )
    .catch(() => undefined);
  await new Promise((resolve) => receiver?.close(resolve));
});

describe('periodic attestation', () => {
  it('notifies when due, quarantines past the grace, and nhictl attest restores it, naming the user', async () => {
    await createIdentity('unattested');
    const due = await untilCondition(ns, 'unattested', 'AttestationDue', 'True', 30_000);
    expect(conditionOf(due, 'AttestationDue')?.reason).toBe('Due');
    const dueEvents = await eventually('the attestation.due notification', async () => {
      const got = acknowledged('unattested', 'dev.nhi.identity.attestation.due');
      return got.length > 0 ? got : undefined;
    });
    expect(dueEvents[0]?.data).toMatchObject({
      identity: { namespace: ns, name: 'unattested' },
      sponsor: { name: 'support-eng-lead' },
      reason: 'Due',
    });

    const quarantined = await eventually(
      'quarantine for an overdue attestation',
      async () => {
        const identity = await getIdentity(ns, 'unattested');
        const c = conditionOf(identity, 'Quarantined');
        return c?.status === 'True' ? identity : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(conditionOf(quarantined, 'Quarantined')?.reason).toBe('AttestationOverdue');
    expect(conditionOf(quarantined, 'AttestationDue')?.reason).toBe('Overdue');
    expect(quarantined.status?.risk?.factors.map((f) => f.id)).toContain('likelihood.attestation-overdue');
    // Phase 1 of the Kubernetes provider: the identity's Secret is emptied while quarantined.
    const emptied = await core.readNamespacedSecret({ namespace: ns, name: 'unattested-key' });
    expect(Object.keys(emptied.data ?? {})).toEqual([]);
    await eventually('the quarantine notification', async () =>
      acknowledged('unattested', 'dev.nhi.identity.quarantined').length > 0 ? true : undefined,
    );

    const { stdout } = await nhictl(sponsor, 'attest', 'unattested', '--note', 'still answers tickets');
    expect(stdout).toContain(`by ${sponsor.username}`);
    const restored = await untilCondition(ns, 'unattested', 'Quarantined', 'False', 30_000);
    expect(conditionOf(restored, 'Quarantined')?.reason).toBe('Restored');
    expect(restored.status?.attestedBy).toBe(sponsor.username);
    expect(conditionOf(restored, 'AttestationDue')).toMatchObject({ status: 'False', reason: 'Attested' });
    // The request is removed once recorded.
    await eventually('the attest request removed', async () => {
      const identity = await getIdentity(ns, 'unattested');
      return identity && !identity.metadata.annotations?.[Controls.attestRequest] ? true : undefined;
    });
    // Each occurrence reached the receiver once; the Events are there as before.
    expect(acknowledged('unattested', 'dev.nhi.identity.attestation.due')).toHaveLength(1);
    expect(acknowledged('unattested', 'dev.nhi.identity.quarantined')).toHaveLength(1);
    const events = await admin.makeApiClient(k8s.EventsV1Api).listNamespacedEvent({ namespace: ns });
    expect(events.items.map((e) => e.reason)).toEqual(
      expect.arrayContaining(['AttestationDue', 'Quarantined']),
    );
    const attested = readAuditFile(operator.auditLog).filter(
      (r) => r.action === 'attested' && r.identity.name === 'unattested',
    );
    expect(attested).toHaveLength(1);
    expect(attested[0]?.actor).toBe(sponsor.username);
    expect(attested[0]?.origin).toContain('still answers tickets');
    // The apiserver's own audit log names the user too (the controls policy's audit annotation).
    await eventually('the apiserver audit annotation', async () =>
      readFileSync(testEnv().apiserverAuditLog, 'utf8').includes(
        `"nhi-identity-controls/attest":"${sponsor.username} attested ${ns}/unattested"`,
      )
        ? true
        : undefined,
    );
  });

  it('refuses an attestation in another user’s name, and one without the attest verb', async () => {
    await createIdentity('guarded');
    const refusal = await nhictl(sponsor, 'attest', 'guarded', '--by', 'someone-else', '--timeout', '0').then(
      () => 'admitted',
      (error: { stderr?: string }) => error.stderr ?? String(error),
    );
    expect(refusal).toContain(
      `annotation ${Controls.attestRequest} must begin with the requesting user's name`,
    );
    const noVerb = await nhictl(stranger, 'attest', 'guarded', '--timeout', '0').then(
      () => 'admitted',
      (error: { stderr?: string }) => error.stderr ?? String(error),
    );
    expect(noVerb).toContain('needs the attest verb');
    const identity = (await getIdentity(ns, 'guarded')) as AgentIdentity;
    expect(identity.metadata.annotations?.[Controls.attestRequest]).toBeUndefined();
  });
});

describe('webhook notifications', () => {
  it('delivers each occurrence once, retried after a 503, signed and verifiable, without secret values', async () => {
    await eventually('a few deliveries', async () => (deliveries.length >= 3 ? true : undefined));
    expect(deliveries[0]?.status).toBe(503);
    const retried = deliveries.find((d, i) => i > 0 && d.event.id === deliveries[0]?.event.id);
    expect(retried?.status).toBe(200);
    for (const d of deliveries) {
      expect(d.verified).toBeUndefined();
      expect(d.contentType).toContain('application/cloudevents+json');
      expect(d.event).toMatchObject({ specversion: '1.0', source: 'nhi.dev/nhi-operator' });
    }
    const ids = deliveries.filter((d) => d.status === 200).map((d) => d.event.id);
    expect(new Set(ids).size).toBe(ids.length);
    const everything = JSON.stringify(deliveries);
    expect(everything).not.toContain(signingKey);
    const managed = await core.readNamespacedSecret({ namespace: ns, name: 'unattested-key' });
    for (const value of Object.values(managed.data ?? {})) {
      expect(everything).not.toContain(Buffer.from(value, 'base64').toString('utf8'));
    }
  });
});

describe('sponsor', () => {
  it('is required in production by the default IdentityPolicy, with a field-named refusal', async () => {
    const prod = uniqueName('attest-prod');
    await core.createNamespace({ body: namespaceBody(prod, 'production') });
    const body = agentIdentity('no-sponsor', onTestCluster(prod), inEnvironment('production'));
    delete body.spec.sponsor;
    delete body.spec.workloadRef;
    const refusal = await custom
      .createNamespacedCustomObject({ ...AGENT_IDENTITIES, namespace: prod, body })
      .then(
        () => 'admitted',
        (error: k8s.ApiException<string>) => String(error.body),
      );
    expect(refusal).toContain('spec.sponsor is required for production');
    body.spec.sponsor = { name: 'head-of-support' };
    await custom.createNamespacedCustomObject({ ...AGENT_IDENTITIES, namespace: prod, body });
  });
});
