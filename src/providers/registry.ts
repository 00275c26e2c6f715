// Which CredentialProvider serves which part of an identity. The Kubernetes provider is built once;
// AWS and Vault providers are built from ClusterCredentialProvider objects by factories that main.ts
// registers explicitly, and rebuilt when the object's generation changes.

import type {
  AgentIdentity,
  ClusterCredentialProvider,
  ProviderKind,
  SecretBackend,
  SecretSpec,
} from '../api/v1alpha1/types.ts';
import { type CredentialProvider, InvalidConfigError } from './types.ts';

export type ProviderFactory = (config: ClusterCredentialProvider) => CredentialProvider;

export interface ProviderEntry {
  kind: ProviderKind;
  /** `kubernetes`, or `<kind>/<ClusterCredentialProvider name>`: what status.providers records. */
  key: string;
  provider: CredentialProvider;
}

export const backendProvider: Record<SecretBackend, ProviderKind> = {
  kubernetes: 'kubernetes',
  'aws-secrets-manager': 'aws',
  'vault-kv': 'vault',
};

export function secretProviderKind(secret: SecretSpec): ProviderKind {
  return backendProvider[secret.backend ?? 'kubernetes'];
}

/** Each provider kind an identity needs, with the ClusterCredentialProvider it names (if any). */
export function providerRefsOf(identity: AgentIdentity): Map<ProviderKind, string | undefined> {
  const refs = new Map<ProviderKind, string | undefined>([['kubernetes', undefined]]);
  for (const scope of identity.spec.scopes ?? []) {
    const ref = scope.provider === 'kubernetes' ? undefined : scope.providerRef;
    if (!refs.has(scope.provider) || refs.get(scope.provider) === undefined) refs.set(scope.provider, ref);
  }
  for (const secret of identity.spec.secrets ?? []) {
    const kind = secretProviderKind(secret);
    if (!refs.has(kind) || refs.get(kind) === undefined) refs.set(kind, secret.providerRef);
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

  /** The provider for `kind`; for aws/vault the named ClusterCredentialProvider, else the one named like the kind, else the only one. */
  resolve(kind: ProviderKind, providerRef?: string): CredentialProvider {
    return this.resolveKeyed(kind, providerRef).provider;
  }

  /** Like resolve, with the key recorded in status.providers: `kubernetes`, `aws/<name>`, `vault/<name>`. */
  resolveKeyed(kind: ProviderKind, providerRef?: string): ProviderEntry {
    if (kind === 'kubernetes') return { kind, key: 'kubernetes', provider: this.kubernetes };
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
    return [...providerRefsOf(identity)].map(([kind, ref]) => this.resolveKeyed(kind, ref));
  }

  private pickConfig(kind: 'aws' | 'vault', providerRef?: string): ClusterCredentialProvider {
    const candidates = this.listConfigs().filter((c) => c.spec[kind] !== undefined);
    if (providerRef) {
      const named = candidates.find((c) => c.metadata.name === providerRef);
      if (!named)
        throw new InvalidConfigError(
          `providerRef: no ClusterCredentialProvider ${providerRef} with a ${kind} section`,
        );
      return named;
    }
    const byDefaultName = candidates.find((c) => c.metadata.name === kind);
    if (byDefaultName) return byDefaultName;
    if (candidates.length === 1 && candidates[0]) return candidates[0];
    if (candidates.length === 0)
      throw new InvalidConfigError(`no ClusterCredentialProvider configures ${kind}`);
    throw new InvalidConfigError(
      `several ClusterCredentialProviders configure ${kind}: name one with providerRef`,
    );
  }
}
