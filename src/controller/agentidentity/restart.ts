// Restarting consumers after a rotation (spec.secrets[].restartWorkload): once the rotate step has
// recorded new versions, the identity's own workload (spec.workloadRef, in its namespace, an apps/v1
// Deployment, StatefulSet or DaemonSet) is rolled by annotating its pod template, as `kubectl rollout
// restart` does. One rollout per reconcile however many secrets rotated together. Only the provision
// path runs it, so nothing is rolled while quarantined or being revoked. status.secrets[].restartedVersion
// records the version each secret's restart was for; the pod template's nhi.dev/restarted-for names
// the rotation, so a crash between the patch and the status write does not roll a second time.
// Writes no condition: an Event and an audit record say what happened.

import { RestartAnnotations } from '../../api/v1alpha1/annotations.ts';
import { RestartableWorkloadKinds, SpecDefaults } from '../../api/v1alpha1/defaults.ts';
import type { SecretSpec, SecretStatus } from '../../api/v1alpha1/types.ts';
import type { IdentityRef } from '../../providers/types.ts';
import { auditIdentity } from './identity.ts';
import type { ReconcilerDeps } from './ports.ts';
import type { StatusDraft } from './status-draft.ts';

export function restartsWorkload(secret: SecretSpec | undefined): boolean {
  return secret?.restartWorkload ?? SpecDefaults.restartWorkload;
}

/** The rotation a rollout is for: each due secret with its new version, e.g. `api-key=v3,db=v2`. */
export function restartKey(due: readonly SecretStatus[]): string {
  return due
    .map((s) => `${s.name}=v${s.currentVersion}`)
    .sort()
    .join(',');
}

/**
 * The secrets (as the draft holds them) whose current version the workload has not been restarted
 * for. A secret seen for the first time, or whose option was just turned on, counts as restarted for
 * the version it had before this reconcile: its first value and old rotations roll nothing.
 */
export function restartsDue(
  specs: readonly SecretSpec[],
  before: readonly SecretStatus[] | undefined,
  after: readonly SecretStatus[],
): { due: SecretStatus[]; secrets: SecretStatus[] } {
  const bySpec = new Map(specs.map((s) => [s.name, s]));
  const previous = new Map((before ?? []).map((s) => [s.name, s]));
  const due: SecretStatus[] = [];
  const secrets = after.map((state) => {
    const { restartedVersion: _dropped, ...rest } = state;
    if (!restartsWorkload(bySpec.get(state.name)) || state.currentVersion === undefined) return rest;
    const prev = previous.get(state.name);
    const acknowledged = prev?.restartedVersion ?? prev?.currentVersion ?? state.currentVersion;
    if (acknowledged !== state.currentVersion) due.push(state);
    return { ...rest, restartedVersion: acknowledged };
  });
  return { due, secrets };
}

/** The restart step, after rotate(): rolls the workload once if a restartWorkload secret rotated. */
export async function restartConsumers(
  deps: ReconcilerDeps,
  ref: IdentityRef,
  draft: StatusDraft,
  now: Date,
): Promise<void> {
  const { identity } = ref;
  const after = draft.status.secrets;
  if (!after) return;
  const { due, secrets } = restartsDue(identity.spec.secrets ?? [], identity.status?.secrets, after);
  // Until the rollout succeeds, status keeps the version last restarted for: a failure retries it.
  draft.set('secrets', secrets);
  if (due.length === 0) return;
  const workload = identity.spec.workloadRef;
  const namespace = identity.metadata.namespace ?? 'default';
  const key = restartKey(due);
  const rotatedNames = due.map((s) => `${s.name} (v${s.currentVersion})`).join(', ');
  let outcome: 'restarted' | 'already' | 'skipped' = 'skipped';
  let why = '';
  if (
    workload?.apiVersion !== 'apps/v1' ||
    !(RestartableWorkloadKinds as readonly string[]).includes(workload.kind)
  ) {
    why = 'spec.workloadRef names no apps/v1 Deployment, StatefulSet or DaemonSet';
  } else {
    const live = (await deps.workloads.get(workload.apiVersion, workload.kind, namespace, workload.name)) as
      | { spec?: { template?: { metadata?: { annotations?: Record<string, string> } } } }
      | undefined;
    if (!live) why = 'the workload does not exist';
    else if (live.spec?.template?.metadata?.annotations?.[RestartAnnotations.restartedFor] === key)
      outcome = 'already';
    else if (
      await deps.workloads.annotatePodTemplate(workload.apiVersion, workload.kind, namespace, workload.name, {
        [RestartAnnotations.restartedAt]: now.toISOString(),
        [RestartAnnotations.restartedFor]: key,
      })
    )
      outcome = 'restarted';
    else why = 'the workload does not exist';
  }
  const restartedFor = new Map(due.map((s) => [s.name, s.currentVersion ?? 0]));
  draft.set(
    'secrets',
    secrets.map((s) => {
      const version = restartedFor.get(s.name);
      return version === undefined ? s : { ...s, restartedVersion: version };
    }),
  );
  if (outcome === 'already') return; // rolled by a reconcile that crashed before its status write
  const target = workload ? `${workload.kind}/${workload.name}` : 'no workload';
  if (outcome === 'restarted') {
    await deps.notifier.event(
      identity,
      'Normal',
      'WorkloadRestarted',
      `rolled ${target} after rotating ${rotatedNames}`,
    );
  } else {
    await deps.notifier.event(
      identity,
      'Warning',
      'WorkloadNotRestarted',
      `rotated ${rotatedNames}; not rolled: ${why}`,
    );
  }
  await deps.audit.record({
    action: 'workload-restarted',
    identity: auditIdentity(identity),
    actor: deps.actor,
    resource: `kubernetes:${target.replace('/', `/${namespace}/`)}`,
    origin: `reconcile: rotated ${rotatedNames}`,
    outcome: outcome === 'restarted' ? 'success' : 'failure',
    ...(outcome === 'restarted' ? {} : { severity: 'warning' as const }),
    detail: outcome === 'restarted' ? key : why,
  });
}
