// Which ClusterCredentialProvider each aws or vault scope and secret of an identity uses. Pure: the
// registry, the operator's compliance re-check and `nhictl lint` all ask this one function, so the
// provider whose rules are checked is the provider that gets provisioned.
//
//  1. providerRef set: that provider.
//  2. providerRef unset, and status.providers records credentials of the kind in a provider the spec
//     does not name elsewhere: that provider. An identity stays where its credentials are until its
//     spec names another provider; adding, renaming or re-creating providers never moves it.
//  3. Otherwise the provider named like the kind (DefaultProviderNames: `aws`, `vault`), never "the
//     only one of its kind", so adding a second provider changes no resolution.
// When rule 2 finds several recorded providers, nothing is guessed (each guess would move some
// credentials): the resolution fails (InvalidConfigError) until the spec names one, and nothing is
// deleted meanwhile. A recorded provider that was deleted is not skipped either: provisioning fails
// and says so, where skipping it would move the identity to another provider without a word.

import { DefaultProviderNames } from '../api/v1alpha1/defaults.ts';
import type { AgentIdentity, ProviderKind, SecretBackend, SecretSpec } from '../api/v1alpha1/types.ts';
import { InvalidConfigError } from './types.ts';

export type CloudKind = Exclude<ProviderKind, 'kubernetes'>;

/** The provider kind that keeps a secret of each backend. */
export const backendProvider: Record<SecretBackend, ProviderKind> = {
  kubernetes: 'kubernetes',
  'aws-secrets-manager': 'aws',
  'vault-kv': 'vault',
};

export function secretProviderKind(secret: SecretSpec): ProviderKind {
  return backendProvider[secret.backend ?? 'kubernetes'];
}

/** One place the spec uses an aws or vault provider. */
export interface ProviderUse {
  kind: CloudKind;
  /** The scope or secret, e.g. `spec.scopes[1]`, `spec.secrets[0]`. */
  field: string;
  /** As written; undefined means "resolve it". */
  providerRef: string | undefined;
}

/** Every aws and vault scope and secret of the identity, in spec order, then the observed roles. */
export function providerUses(identity: AgentIdentity): ProviderUse[] {
  const uses: ProviderUse[] = [];
  (identity.spec.scopes ?? []).forEach((scope, i) => {
    if (scope.provider === 'kubernetes') return;
    uses.push({ kind: scope.provider, field: `spec.scopes[${i}]`, providerRef: scope.providerRef });
  });
  (identity.spec.secrets ?? []).forEach((secret, i) => {
    const kind = secretProviderKind(secret);
    if (kind === 'kubernetes') return;
    uses.push({ kind, field: `spec.secrets[${i}]`, providerRef: secret.providerRef });
  });
  // Observe mode reads roles through a provider too: the same namespace rules apply to it.
  const observe = identity.spec.observe;
  if (observe?.iamRoleName)
    uses.push({ kind: 'aws', field: 'spec.observe.iamRoleName', providerRef: observe.providerRef });
  if (observe?.vaultRoleName)
    uses.push({ kind: 'vault', field: 'spec.observe.vaultRoleName', providerRef: observe.providerRef });
  return uses;
}

/** The status.providers key of a provider: `aws/<name>`, `vault/<name>`. */
export const providerKey = (kind: CloudKind, name: string) => `${kind}/${name}`;

/**
 * The name of the ClusterCredentialProvider a use of `kind` with `providerRef` resolves to (rules
 * above). Throws InvalidConfigError when the recorded providers leave the answer ambiguous.
 */
export function resolveProviderName(
  identity: AgentIdentity,
  kind: CloudKind,
  providerRef: string | undefined,
): string {
  if (providerRef) return providerRef;
  const named = new Set(
    providerUses(identity)
      .filter((u) => u.kind === kind && u.providerRef)
      .map((u) => u.providerRef),
  );
  const recorded = (identity.status?.providers ?? [])
    .filter((key) => key.startsWith(`${kind}/`))
    .map((key) => key.slice(kind.length + 1))
    .filter((name) => name !== '' && !named.has(name));
  if (recorded.length === 0) return DefaultProviderNames[kind];
  if (recorded.length === 1) return recorded[0] as string;
  throw new InvalidConfigError(
    `${kind} scopes or secrets without providerRef: credentials are recorded in ${recorded.map((n) => providerKey(kind, n)).join(' and ')}; name the provider to use in providerRef`,
  );
}

/** Each use with the provider it resolves to. Throws like resolveProviderName. */
export function resolvedProviderUses(identity: AgentIdentity): Array<ProviderUse & { provider: string }> {
  return providerUses(identity).map((use) => ({
    ...use,
    provider: resolveProviderName(identity, use.kind, use.providerRef),
  }));
}

/**
 * The identity with providerRef written into every aws and vault scope and secret, so that whatever
 * reads the spec afterwards (each provider picks its own scopes and secrets by providerRef, rotation
 * resolves a secret's provider by it) agrees with the resolution. Throws like resolveProviderName.
 */
export function pinProviderRefs(identity: AgentIdentity): AgentIdentity {
  const uses = providerUses(identity);
  if (uses.every((u) => u.providerRef)) return identity;
  const name = (kind: CloudKind, ref: string | undefined) => resolveProviderName(identity, kind, ref);
  const { spec } = identity;
  return {
    ...identity,
    spec: {
      ...spec,
      ...(spec.scopes && {
        scopes: spec.scopes.map((scope) =>
          scope.provider === 'kubernetes'
            ? scope
            : { ...scope, providerRef: name(scope.provider, scope.providerRef) },
        ),
      }),
      ...(spec.secrets && {
        secrets: spec.secrets.map((secret) => {
          const kind = secretProviderKind(secret);
          return kind === 'kubernetes' ? secret : { ...secret, providerRef: name(kind, secret.providerRef) };
        }),
      }),
    },
  };
}
