// What deleting an AgentIdentity does to its credentials. Owns no condition: offboarding (revoke.ts)
// asks it first, and it answers one of three ways.
//
//  - revoke: the default (spec.deletionPolicy Delete): offboarding revokes everywhere.
//  - retain: spec.deletionPolicy Retain, or the AgentIdentity CRD itself being deleted (an uninstall, a
//    GitOps prune: every AgentIdentity goes at once, and no workload must lose a credential because of
//    it). The credentials stay as they are, marked nhi.dev/retained where the backend can mark them;
//    the finalizer is released with an audit record, an Event and (CRD removal) a warning in the log.
//  - release: offboarding in a namespace being deleted kept failing (a backend that cannot
//    authenticate, an unreachable Vault) for TerminatingNamespaceOffboarding.releaseAfterMs: the
//    finalizer is released so the namespace can go, with a high-severity audit record and the metric
//    nhi_offboarding_released_total for every backend left unrevoked. Before that, retries come every
//    retryEveryMs rather than the queue's growing backoff, so the bound holds.
//
// Nothing here deletes anything: the ServiceAccount and Secrets carry no ownerReference
// (providers/kubernetes/names.ts), so the garbage collector cannot take them either.

import { Marks } from '../../api/v1alpha1/annotations.ts';
import { deletionPolicyOf, TerminatingNamespaceOffboarding } from '../../api/v1alpha1/defaults.ts';
import type { IdentityRef } from '../../providers/types.ts';
import { maskSecrets } from '../../runtime/redact.ts';
import { credentialKeys, PartialFailureError } from './backends.ts';
import { auditIdentity, identityResource } from './identity.ts';
import type { ReconcilerDeps } from './ports.ts';

export type Retention = { why: string; origin: string; apiRemoved: boolean };

/** Whether the credentials stay when this AgentIdentity goes (and why), or undefined: revoke them. */
export async function retentionOf(deps: ReconcilerDeps, ref: IdentityRef): Promise<Retention | undefined> {
  if (await deps.deletion.apiBeingRemoved()) {
    return {
      why: 'the AgentIdentity CRD is being deleted',
      origin: 'finalizer: CustomResourceDefinition deleted',
      apiRemoved: true,
    };
  }
  if (deletionPolicyOf(ref.identity.spec) === 'Retain') {
    return {
      why: 'spec.deletionPolicy Retain',
      origin: 'finalizer: deletionPolicy Retain',
      apiRemoved: false,
    };
  }
  return undefined;
}

/**
 * Leaves every credential in place, marks what can be marked, says so, and releases the finalizer.
 * `reported` holds the UIDs this process already reported: when releasing the finalizer fails (an
 * admission policy whose IdentityPolicy was deleted with the CRDs refuses the update) the retry
 * releases it again without a second audit record or Event.
 */
export async function retainCredentials(
  deps: ReconcilerDeps,
  ref: IdentityRef,
  retention: Retention,
  reported: Set<string>,
): Promise<void> {
  const { identity } = ref;
  const uid = identity.metadata.uid ?? '';
  if (!reported.has(uid)) {
    await reportRetention(deps, ref, retention);
    reported.add(uid);
  }
  await deps.store.removeFinalizer(identity, Marks.finalizer);
  reported.delete(uid);
}

async function reportRetention(deps: ReconcilerDeps, ref: IdentityRef, retention: Retention): Promise<void> {
  const { identity } = ref;
  const keys = credentialKeys(deps, identity);
  const unmarked: string[] = [];
  for (const key of keys) {
    try {
      await deps.providers.resolveKey(key).provider.retain?.(ref, retention.why);
    } catch (error) {
      // The mark is a courtesy to humans; failing to write it never costs a credential.
      unmarked.push(key);
      deps.logger.warn('could not mark retained credentials', {
        identity: `${identity.metadata.namespace}/${identity.metadata.name}`,
        backend: key,
        error: maskSecrets(error instanceof Error ? error.message : String(error)),
      });
    }
  }
  const message = `credentials left in place (${retention.why}): ${keys.join(', ')}; nothing was revoked${
    unmarked.length ? ` (not marked retained: ${unmarked.join(', ')})` : ''
  }`;
  if (retention.apiRemoved) {
    deps.logger.warn('the AgentIdentity CRD is being deleted: stepping aside, revoking nothing', {
      identity: `${identity.metadata.namespace}/${identity.metadata.name}`,
      backends: keys,
    });
  }
  await deps.notifier.event(
    identity,
    retention.apiRemoved ? 'Warning' : 'Normal',
    retention.apiRemoved ? 'SteppedAside' : 'CredentialsRetained',
    message,
  );
  await deps.audit.record({
    action: 'retained',
    identity: auditIdentity(identity),
    actor: deps.actor,
    resource: identityResource(identity),
    origin: retention.origin,
    outcome: 'success',
    severity: retention.apiRemoved ? 'warning' : 'info',
    detail: message,
  });
}

/**
 * Offboarding failed with `error`. In a namespace being deleted: the wait before the next attempt, or
 * 'released' once the bound is spent (the finalizer is gone then). Elsewhere undefined: the caller
 * retries through the queue's backoff, for as long as it takes.
 */
export async function releaseIfOverdue(
  deps: ReconcilerDeps,
  ref: IdentityRef,
  error: unknown,
  now: Date,
): Promise<number | 'released' | undefined> {
  const { identity } = ref;
  const since = deps.deletion.namespaceDeletedAt(identity.metadata.namespace ?? '');
  if (!since) return undefined;
  const remaining = since.getTime() + deps.deletion.releaseAfterMs - now.getTime();
  if (remaining > 0) return Math.max(1000, Math.min(TerminatingNamespaceOffboarding.retryEveryMs, remaining));

  const failed =
    error instanceof PartialFailureError ? error.failures.map((f) => f.key) : credentialKeys(deps, identity);
  const reason = maskSecrets(error instanceof Error ? error.message : String(error)).slice(0, 500);
  const spent = Math.round((now.getTime() - since.getTime()) / 1000);
  for (const key of failed) {
    deps.metrics.offboardingReleased(key);
    await deps.audit.record({
      action: 'released',
      identity: auditIdentity(identity),
      actor: deps.actor,
      resource: `${key}:identity/${identity.metadata.namespace}/${identity.metadata.name}`,
      origin: 'finalizer: namespace deleted',
      outcome: 'failure',
      severity: 'high',
      detail: `the namespace has been terminating for ${spent}s and revocation here kept failing (${reason}); the finalizer was released so the namespace can go, and these credentials were NOT revoked: remove them by hand`,
    });
  }
  deps.logger.error('offboarding in a deleted namespace gave up: credentials left unrevoked', {
    identity: `${identity.metadata.namespace}/${identity.metadata.name}`,
    backends: failed,
    error: reason,
  });
  await deps.store.removeFinalizer(identity, Marks.finalizer);
  return 'released';
}
