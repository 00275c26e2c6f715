// Adopting a shadow identity observe-only (`nhictl adopt serviceaccount/NAME`), the pure part: the
// AgentIdentity in spec.management Observe that names the existing ServiceAccount (and optionally an
// IAM role and a Vault kubernetes-auth role), and the patch that later switches it to Managed. No I/O.
// Nothing here changes the observed objects: the operator only reads them in Observe mode, and a
// switch to Managed provisions new, marked objects beside them.

import { Marks } from '../../api/v1alpha1/annotations.ts';
import type {
  AgentIdentity,
  AgentIdentitySpec,
  Environment,
  ObservedRefs,
} from '../../api/v1alpha1/types.ts';
import { API_VERSION, Environments } from '../../api/v1alpha1/types.ts';
import { AdoptError } from './adopt.ts';

/** `serviceaccount/NAME` (or `sa/NAME`) -> NAME; undefined for any other argument (a workload). */
export function serviceAccountArg(arg: string): string | undefined {
  const [kind, name, ...rest] = arg.split('/');
  if (rest.length > 0 || !name || !kind) return undefined;
  return ['serviceaccount', 'serviceaccounts', 'sa'].includes(kind.toLowerCase()) ? name : undefined;
}

export interface ObservedIdentityInput {
  name: string;
  namespace: string;
  serviceAccount: string;
  /** The ServiceAccount's annotations (owner, purpose, sponsor marks are read from them). */
  annotations: Record<string, string> | undefined;
  namespaceLabels: Record<string, string> | undefined;
  owner?: string | undefined;
  purpose?: string | undefined;
  sponsor?: string | undefined;
  iamRole?: string | undefined;
  vaultRole?: string | undefined;
  providerRef?: string | undefined;
}

function environmentOf(labels: Record<string, string> | undefined): Environment {
  const value = labels?.[Marks.environment];
  // An unlabelled namespace is production, as the admission policy treats it (failing closed).
  return (Environments as readonly string[]).includes(value ?? '') ? (value as Environment) : 'production';
}

/** The Observe-mode AgentIdentity for a shadow ServiceAccount; owner and purpose from flags or its annotations. */
export function observedIdentity(input: ObservedIdentityInput): AgentIdentity {
  const team = input.owner ?? input.annotations?.[Marks.owner];
  const purpose = input.purpose ?? input.annotations?.[Marks.purpose];
  const sponsor = input.sponsor ?? input.annotations?.[Marks.sponsor];
  const missing = [
    ...(team ? [] : [`--owner (or annotation ${Marks.owner} on the ServiceAccount)`]),
    ...(purpose ? [] : [`--purpose (or annotation ${Marks.purpose} on the ServiceAccount)`]),
  ];
  if (missing.length > 0 || !team || !purpose)
    throw new AdoptError(
      'Conflict',
      `adopting ServiceAccount ${input.namespace}/${input.serviceAccount} needs ${missing.join(' and ')}`,
    );
  const observe: ObservedRefs = {
    serviceAccountName: input.serviceAccount,
    ...(input.iamRole ? { iamRoleName: input.iamRole } : {}),
    ...(input.vaultRole ? { vaultRoleName: input.vaultRole } : {}),
    ...(input.providerRef ? { providerRef: input.providerRef } : {}),
  };
  const spec: AgentIdentitySpec = {
    owner: { team },
    ...(sponsor ? { sponsor: { name: sponsor } } : {}),
    purpose,
    environment: environmentOf(input.namespaceLabels),
    management: 'Observe',
    observe,
  };
  return {
    apiVersion: API_VERSION,
    kind: 'AgentIdentity',
    metadata: { name: input.name, namespace: input.namespace },
    spec,
  };
}

/** The managed ServiceAccount a switch to Managed uses: a new name, never the observed one. */
export function managedNameFor(serviceAccount: string): string {
  const name = `${serviceAccount}-nhi`;
  return name.length <= 253 ? name : `${serviceAccount.slice(0, 249)}-nhi`;
}

/**
 * The merge patch that switches an adopted identity to Managed: the operator then provisions its own,
 * marked ServiceAccount (and, for the scopes the owner adds, its own role); the observed objects stay
 * exactly as they are, and the workload moves by pointing its pod template at the new ServiceAccount.
 */
export function switchToManagedPatch(identity: AgentIdentity): object {
  const observed = identity.spec.observe?.serviceAccountName ?? identity.metadata.name;
  return {
    spec: { management: 'Managed', observe: null, serviceAccountName: managedNameFor(observed) },
  };
}
