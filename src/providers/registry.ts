// Which CredentialProvider serves which part of an identity. The Kubernetes provider is built once;
// AWS and Vault providers are built from ClusterCredentialProvider objects by factories that main.ts
// registers explicitly, and rebuilt when the object's generation changes. Which provider object a
// scope or secret uses is decided by resolution.ts (providerRef, else where the identity's credentials
// are recorded, else the provider named like the kind).

import { DefaultProviderNames } from '../api/v1alpha1/defaults.ts';
import type { AgentIdentity, ClusterCredentialProvider, ProviderKind } from '../api/v1alpha1/types.ts';
import { providerUses, resolveProviderName } from './resolution.ts';
import { type CredentialProvider, InvalidConfigError } from './types.ts';

export { backendProvider, secretProviderKind } from './resolution.ts';

export type ProviderFactory = (config: ClusterCredentialProvider) => CredentialProvider;

/**
 * The key of the one built-in Kubernetes provider in status.providers. Every lifecycle phase covers it
 * for every identity, recorded or not (its objects carry the identity's uid label).
 */
export const KUBERNETES_KEY = 'kubernetes';

export interface ProviderEntry {
  kind: ProviderKind;
  /** `kubernetes`, or `<kind>/<ClusterCredentialProvider name>`: what status.providers records. */
  key: string;
  provider: CredentialProvider;
}

/**
 * Each (kind, ClusterCredentialProvider name) an identity needs, across its scopes and its secrets:
 * a secret kept in a second Vault needs that Vault as much as the scopes need the first. Names are
 * resolved (resolution.ts); `undefined` only for kubernetes. Throws when a resolution is ambiguous.
 */
export function providerRefsOf(identity: AgentIdentity): Array<[ProviderKind, string | undefined]> {
  const refs: Array<[ProviderKind, string | undefined]> = [['kubernetes', undefined]];
  for (const use of providerUses(identity)) {
    const name = resolveProviderName(identity, use.kind, use.providerRef);
    if (!refs.some(([k, x]) => k === use.kind && x === name)) refs.push([use.kind, name]);
  }
  return refs;
}

export class ProviderRegistry {
  private readonly factories = new Map<ProviderKind, ProviderFactory>();
  private readonly built = new Map<string, { version: string; provider: CredentialProvider }>();

  constructor(
    private readonly kubernetes: CredentialProvider,
    private readonly listConfigs: () => readonly ClusterCredentialProvider[],
  ) {}

  register(kind: Exclude<ProviderKind, 'kubernetes'>, factory: ProviderFactory): this {
    this.factories.set(kind, factory);
    return this;
  }

  /** The provider for `kind`; for aws/vault the named ClusterCredentialProvider, else the one named like the kind. */
  resolve(kind: ProviderKind, providerRef?: string): CredentialProvider {
    return this.resolveKeyed(kind, providerRef).provider;
  }

  /** Like resolve, with the key recorded in status.providers: `kubernetes`, `aws/<name>`, `vault/<name>`. */
  resolveKeyed(kind: ProviderKind, providerRef?: string): ProviderEntry {
    if (kind === 'kubernetes') return { kind, key: KUBERNETES_KEY, provider: this.kubernetes };
    const factory = this.factories.get(kind);
    if (!factory) throw new InvalidConfigError(`provider ${kind} is not enabled in this operator`);
    const config = this.pickConfig(kind, providerRef);
    const key = `${kind}/${config.metadata.name}`;
    // uid and generation: a re-created provider object of the same name is a new provider.
    const version = `${config.metadata.uid ?? ''}/${config.metadata.generation ?? 0}`;
    const cached = this.built.get(key);
    if (cached && cached.version === version) return { kind, key, provider: cached.provider };
    const provider = factory(config);
    this.built.set(key, { version, provider });
    return { kind, key, provider };
  }

  /** The provider behind a key from status.providers. */
  resolveKey(key: string): ProviderEntry {
    const [kind, name] = key.split('/', 2) as [ProviderKind, string | undefined];
    if (kind !== 'kubernetes' && !name)
      throw new InvalidConfigError(`status.providers: malformed entry ${key}`);
    return this.resolveKeyed(kind, name);
  }

  /** Every provider the spec needs, kubernetes first. Throws when one cannot be resolved. */
  forIdentity(identity: AgentIdentity): ProviderEntry[] {
    const entries: ProviderEntry[] = [];
    for (const [kind, ref] of providerRefsOf(identity)) {
      const entry = this.resolveKeyed(kind, ref);
      if (!entries.some((e) => e.key === entry.key)) entries.push(entry);
    }
    return entries;
  }

  /**
   * Where a key's credentials actually live (server or account), so that re-pointing an identity from
   * one ClusterCredentialProvider to another naming the same backend is not mistaken for removal.
   * Undefined when the key cannot be resolved any more.
   */
  backendOf(key: string): string | undefined {
    const [kind, name] = key.split('/', 2);
    if (kind === 'kubernetes') return 'kubernetes';
    const config = this.listConfigs().find((c) => c.metadata.name === name);
    if (kind === 'aws' && config?.spec.aws) {
      const a = config.spec.aws;
      return `aws|${a.endpoint ?? ''}|${a.accountId ?? ''}|${a.region}|${a.rolePath ?? ''}|${a.roleNamePrefix ?? ''}`;
    }
    if (kind === 'vault' && config?.spec.vault) {
      const v = config.spec.vault;
      return `vault|${v.address.replace(/\/+$/, '')}|${v.namespace ?? ''}|${v.kvMount ?? ''}|${v.kubernetesAuthMount ?? ''}`;
    }
    return undefined;
  }

  private pickConfig(kind: 'aws' | 'vault', providerRef?: string): ClusterCredentialProvider {
    const name = providerRef ?? DefaultProviderNames[kind];
    const config = this.listConfigs().find((c) => c.metadata.name === name && c.spec[kind] !== undefined);
    if (config) return config;
    throw new InvalidConfigError(
      name === DefaultProviderNames[kind]
        ? `no ClusterCredentialProvider ${name} configures ${kind}: scopes and secrets without providerRef use the provider named ${name}`
        : `no ClusterCredentialProvider ${name} configures ${kind} (named in providerRef, or recorded in status.providers as holding this identity's credentials: re-create it, or name the provider to use in providerRef)`,
    );
  }
}
