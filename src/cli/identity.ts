// nhictl commands on one AgentIdentity: rotate (on demand), lock/unlock (kill switch), attest (the
// sponsor confirms it is still needed), abandon (give
// up revocation in backends whose provider is gone), offboard (the offboarding checklist: lock, wait
// for quarantine, delete, wait for revocation, report). Lock, attest and abandon name the Kubernetes user the
// apiserver authenticated (a SelfSubjectReview), as the admission policy nhi-identity-controls
// requires: never a name the client picked.

import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import type { Command } from 'commander';
import {
  abandonValue,
  attestRequestKey,
  attestValue,
  Controls,
  lockValue,
} from '../api/v1alpha1/annotations.ts';
import type { AgentIdentity } from '../api/v1alpha1/types.ts';
import { GROUP, VERSION } from '../api/v1alpha1/types.ts';
import { mergePatchOptions } from '../runtime/finalizers.ts';
import { currentNamespace, loadKubeConfig } from './kube.ts';

const ref = { group: GROUP, version: VERSION, plural: 'agentidentities' };

interface Target {
  api: k8s.CustomObjectsApi;
  namespace: string;
  name: string;
  /** The requesting Kubernetes user's name, as the apiserver sees it (needed by lock and abandon). */
  requester?: () => Promise<string>;
}

function target(name: string, options: { namespace?: string }): Target {
  const kc = loadKubeConfig();
  return {
    api: kc.makeApiClient(k8s.CustomObjectsApi),
    namespace: currentNamespace(kc, options.namespace),
    name,
    requester: () => requestingUser(kc.makeApiClient(k8s.AuthenticationV1Api)),
  };
}

/**
 * Who the apiserver says we are (authentication.k8s.io/v1 SelfSubjectReview, Kubernetes 1.28+). The
 * lock and abandon annotations must carry this name; admission refuses any other.
 */
export async function requestingUser(auth: k8s.AuthenticationV1Api): Promise<string> {
  let username: string | undefined;
  try {
    const review = await auth.createSelfSubjectReview({
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
    username = review.status?.userInfo?.username;
  } catch (error) {
    const why = error instanceof k8s.ApiException ? `HTTP ${error.code}` : String(error);
    throw new Error(
      `cannot learn your Kubernetes user name: the SelfSubjectReview (authentication.k8s.io/v1, Kubernetes 1.28+) failed (${why}). The admission policy requires the annotation to begin or end with that name; set it by hand with kubectl annotate if your cluster cannot answer`,
    );
  }
  if (!username)
    throw new Error('cannot learn your Kubernetes user name: the SelfSubjectReview named nobody');
  return username;
}

async function requesterOf(t: Target): Promise<string> {
  if (!t.requester) throw new Error('no way to learn the requesting Kubernetes user for this command');
  return t.requester();
}

async function read(t: Target): Promise<AgentIdentity | undefined> {
  try {
    return (await t.api.getNamespacedCustomObject({
      ...ref,
      namespace: t.namespace,
      name: t.name,
    })) as AgentIdentity;
  } catch (error) {
    if (error instanceof k8s.ApiException && error.code === 404) return undefined;
    throw error;
  }
}

async function annotate(t: Target, annotations: Record<string, string | null>): Promise<void> {
  await t.api.patchNamespacedCustomObject(
    { ...ref, namespace: t.namespace, name: t.name, body: { metadata: { annotations } } },
    mergePatchOptions(),
  );
}

function condition(identity: AgentIdentity | undefined, type: string): string | undefined {
  return identity?.status?.conditions?.find((c) => c.type === type)?.status;
}

async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await sleep(500);
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what} (is the operator running?)`);
}

export async function rotate(t: Target, log: (line: string) => void = console.log): Promise<void> {
  const before = await read(t);
  if (!before) throw new Error(`AgentIdentity ${t.namespace}/${t.name} not found`);
  await annotate(t, { [Controls.rotateRequestedAt]: new Date().toISOString() });
  log(
    `rotation requested for ${t.namespace}/${t.name}: ${(before.spec.secrets ?? []).map((s) => s.name).join(', ') || 'no secrets'}`,
  );
}

export async function lock(t: Target, reason: string): Promise<void> {
  if (!(await read(t))) throw new Error(`AgentIdentity ${t.namespace}/${t.name} not found`);
  await annotate(t, { [Controls.lock]: lockValue(await requesterOf(t), new Date(), reason) });
  const started = Date.now();
  await waitFor('quarantine', async () => condition(await read(t), 'Quarantined') === 'True', 60_000);
  console.log(
    `locked ${t.namespace}/${t.name}: every credential quarantined in ${((Date.now() - started) / 1000).toFixed(1)}s`,
  );
}

export async function unlock(t: Target): Promise<void> {
  await annotate(t, { [Controls.lock]: null });
  console.log(
    `unlocked ${t.namespace}/${t.name}: the operator restores its credentials unless another reason holds them`,
  );
}

/**
 * The sponsor confirms the identity is still needed. `by` is the Kubernetes user to record, by default
 * the requester the apiserver authenticated; admission refuses a name that is not the requester's.
 */
export async function attest(
  t: Target,
  options: { by?: string | undefined; note?: string; timeoutMs: number },
  log: (line: string) => void = console.log,
): Promise<void> {
  if (!(await read(t))) throw new Error(`AgentIdentity ${t.namespace}/${t.name} not found`);
  const by = options.by ?? (await requesterOf(t));
  const value = attestValue(by, new Date(), options.note ?? '');
  await annotate(t, { [Controls.attestRequest]: value });
  if (options.timeoutMs <= 0) {
    log(`attestation requested for ${t.namespace}/${t.name} by ${by}`);
    return;
  }
  let identity: AgentIdentity | undefined;
  await waitFor(
    'the operator to record the attestation',
    async () => {
      identity = await read(t);
      return identity?.status?.attestationRequest === attestRequestKey(value);
    },
    options.timeoutMs,
  );
  const due = identity?.status?.conditions?.find((c) => c.type === 'AttestationDue');
  log(
    `attested ${t.namespace}/${t.name} by ${identity?.status?.attestedBy ?? by} at ${identity?.status?.attestedAt}${due ? `: ${due.message}` : ''}`,
  );
}

/** Gives up revocation in backends whose ClusterCredentialProvider is gone (the operator ignores others). */
export async function abandon(t: Target, backends: string[]): Promise<void> {
  if (!(await read(t))) throw new Error(`AgentIdentity ${t.namespace}/${t.name} not found`);
  await annotate(t, { [Controls.abandonBackends]: abandonValue(backends, await requesterOf(t)) });
  console.log(
    `abandon requested for ${t.namespace}/${t.name}: ${backends.join(', ')}. The operator honours it only for backends whose ClusterCredentialProvider is gone, and records it in its audit trail`,
  );
}

export async function offboard(t: Target, options: { timeoutMs: number }): Promise<void> {
  const identity = await read(t);
  if (!identity) throw new Error(`AgentIdentity ${t.namespace}/${t.name} not found`);
  const step = (done: string) => console.log(`  [x] ${done}`);
  const started = Date.now();
  console.log(
    `offboarding ${t.namespace}/${t.name} (owner ${identity.spec.owner.team}: ${identity.spec.purpose})`,
  );
  const s = identity.status ?? {};
  step(
    `inventory: service account ${s.serviceAccount ?? '-'}, AWS role ${s.aws?.roleArn ?? '-'}, Vault role ${s.vault?.role ?? '-'}, secrets ${(s.secrets ?? []).map((x) => x.name).join(', ') || '-'}`,
  );
  if (condition(identity, 'Revoked') !== 'True') {
    if (condition(identity, 'Quarantined') !== 'True') await lock(t, 'offboarding');
    step('quarantined: every credential disabled (phase 1)');
  }
  await t.api.deleteNamespacedCustomObject({ ...ref, namespace: t.namespace, name: t.name });
  step('AgentIdentity deleted: the finalizer revokes what the operator owns (phase 2)');
  await waitFor('revocation to finish', async () => (await read(t)) === undefined, options.timeoutMs);
  step(
    'revoked: service account, role bindings, cloud roles, policies and secrets deleted; audit records written',
  );
  console.log(`offboarded in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

export function registerIdentityCommands(program: Command): void {
  const ns = ['-n, --namespace <namespace>', 'namespace of the AgentIdentity'] as const;
  program
    .command('rotate <name>')
    .description(
      'rotate every secret of an AgentIdentity now (staged: the previous value stays valid for the overlap)',
    )
    .option(...ns)
    .action((name: string, options: { namespace?: string }) => rotate(target(name, options)));
  program
    .command('lock <name>')
    .description(
      'kill switch: quarantine every credential of an AgentIdentity at once (reversible with unlock)',
    )
    .option(...ns)
    .option('--reason <text>', 'why, recorded with the lock', '')
    .action((name: string, options: { namespace?: string; reason: string }) =>
      lock(target(name, options), options.reason),
    );
  program
    .command('unlock <name>')
    .description('lift a lock set by nhictl lock')
    .option(...ns)
    .action((name: string, options: { namespace?: string }) => unlock(target(name, options)));
  program
    .command('attest <name>')
    .description(
      'confirm, as its sponsor, that an AgentIdentity is still needed (periodic attestation; restores one quarantined for an overdue attestation)',
    )
    .option(...ns)
    .option(
      '--by <user>',
      'the Kubernetes user attesting (default: you, as the apiserver knows you); admission refuses anyone else',
    )
    .option('--note <text>', 'recorded with the attestation', '')
    .option('--timeout <seconds>', 'how long to wait for the operator to record it (0: do not wait)', '60')
    .action((name: string, options: { namespace?: string; by?: string; note: string; timeout: string }) =>
      attest(target(name, options), {
        by: options.by,
        note: options.note,
        timeoutMs: Number(options.timeout) * 1000,
      }),
    );
  program
    .command('abandon <name> <backends...>')
    .description(
      'stop trying to revoke in backends whose ClusterCredentialProvider was deleted (e.g. vault/old aws/gone); live backends are never abandoned',
    )
    .option(...ns)
    .action((name: string, backends: string[], options: { namespace?: string }) =>
      abandon(target(name, options), backends),
    );
  program
    .command('offboard <name>')
    .description(
      'run the offboarding checklist: quarantine, delete, wait for revocation, print what was done',
    )
    .option(...ns)
    .option('--timeout <seconds>', 'how long to wait for revocation', '120')
    .action((name: string, options: { namespace?: string; timeout: string }) =>
      offboard(target(name, options), { timeoutMs: Number(options.timeout) * 1000 }),
    );
}
