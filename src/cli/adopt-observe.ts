// `nhictl adopt serviceaccount/NAME [--iam-role R] [--vault-role V]`: turns a shadow ServiceAccount
// (and the IAM role or Vault role it uses) from the inventory into an AgentIdentity in observe-only
// mode. Prints the AgentIdentity for review / GitOps, or creates it with --apply. Reads the
// ServiceAccount and its namespace; writes nothing but the AgentIdentity (and an Event on it).

import * as k8s from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { NHICTL_REPORTING_CONTROLLER } from '../api/v1alpha1/annotations.ts';
import type { AgentIdentity } from '../api/v1alpha1/types.ts';
import { GROUP, VERSION } from '../api/v1alpha1/types.ts';
import { AdoptError } from '../governance/adopt/adopt.ts';
import { managedNameFor, observedIdentity, switchToManagedPatch } from '../governance/adopt/observe.ts';
import { EventRecorder, eventSink } from '../runtime/events.ts';
import { currentNamespace } from './kube.ts';

const ref = { group: GROUP, version: VERSION, plural: 'agentidentities' };

export interface ObserveAdoptOptions {
  namespace?: string;
  identity?: string;
  owner?: string;
  purpose?: string;
  sponsor?: string;
  iamRole?: string;
  vaultRole?: string;
  provider?: string;
  apply?: boolean;
}

export interface ObserveAdoptResult {
  serviceAccount: string;
  identity: AgentIdentity;
  created: boolean;
  /** The merge patch that later switches the identity to Managed (new, marked objects). */
  switchPatch: object;
  /** How the workload moves to the managed ServiceAccount after the switch. */
  moveWorkload: string;
}

export async function adoptObserved(
  kc: k8s.KubeConfig,
  serviceAccount: string,
  options: ObserveAdoptOptions,
): Promise<ObserveAdoptResult> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const namespace = currentNamespace(kc, options.namespace);
  const sa = await core.readNamespacedServiceAccount({ namespace, name: serviceAccount });
  const ns = await core.readNamespace({ name: namespace });
  const identity = observedIdentity({
    name: options.identity ?? serviceAccount,
    namespace,
    serviceAccount,
    annotations: sa.metadata?.annotations,
    namespaceLabels: ns.metadata?.labels,
    owner: options.owner,
    purpose: options.purpose,
    sponsor: options.sponsor,
    iamRole: options.iamRole,
    vaultRole: options.vaultRole,
    providerRef: options.provider,
  });
  let created = false;
  let stored = identity;
  if (options.apply) {
    try {
      stored = (await custom.createNamespacedCustomObject({
        ...ref,
        namespace,
        body: identity,
      })) as AgentIdentity;
      created = true;
    } catch (error) {
      if (error instanceof k8s.ApiException && error.code === 409)
        throw new AdoptError(
          'Conflict',
          `AgentIdentity ${namespace}/${identity.metadata.name} exists: name another with --identity`,
        );
      throw error;
    }
    await new EventRecorder({
      sink: eventSink(kc.makeApiClient(k8s.EventsV1Api)),
      controller: NHICTL_REPORTING_CONTROLLER,
      instance: 'nhictl',
    }).record(
      {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'AgentIdentity',
        metadata: { name: stored.metadata.name, namespace, uid: stored.metadata.uid ?? '' },
      },
      'Normal',
      'AdoptedObserveOnly',
      `ServiceAccount ${serviceAccount}${options.iamRole ? `, IAM role ${options.iamRole}` : ''}${options.vaultRole ? `, Vault role ${options.vaultRole}` : ''} adopted observe-only: recorded and reported, never changed`,
      'Adopt',
    );
  }
  const managed = managedNameFor(serviceAccount);
  return {
    serviceAccount: `${namespace}/${serviceAccount}`,
    identity: stored,
    created,
    switchPatch: switchToManagedPatch(identity),
    moveWorkload: `kubectl set serviceaccount <kind>/<workload> ${managed} -n ${namespace} (or the same change in Git)`,
  };
}

export function humanObserveAdopt(r: ObserveAdoptResult): string {
  const { metadata } = r.identity;
  const lines = [
    r.created
      ? `created AgentIdentity ${metadata.namespace}/${metadata.name} observing ServiceAccount ${r.serviceAccount} (management: Observe)`
      : `AgentIdentity for ServiceAccount ${r.serviceAccount}, observe-only (apply it, or run again with --apply):`,
  ];
  if (!r.created) lines.push(stringify(r.identity, { lineWidth: 0 }).trimEnd());
  lines.push(
    '  the operator records and reports; it never creates, changes or deletes the observed objects',
    `  to switch to Managed later: kubectl patch agentidentity ${metadata.name} -n ${metadata.namespace} --type merge -p '${JSON.stringify(r.switchPatch)}'`,
    `  then move the workload: ${r.moveWorkload}`,
  );
  return lines.join('\n');
}
