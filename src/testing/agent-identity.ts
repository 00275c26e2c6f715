// The one AgentIdentity fixture builder, for every unit, integration and e2e test:
//
//   agentIdentity('bot', inNamespace('team-a'), withRules(readConfigMaps), withSmSecrets('api-key'))
//
// The base identity is what the cluster would hand back for the smallest valid object: namespace
// `agents`, uid `uid-of-<name>`, owner support-eng, a purpose, environment production, and nothing
// else. Every other field comes from a modifier, so a test names what it depends on. Modifiers run
// in order; the ones that add scopes or secrets append to what is there.
// Test code: lives under testing/, which the build excludes.

import {
  type AgentIdentity,
  type AgentIdentitySpec,
  type AgentIdentityStatus,
  API_VERSION,
  type AwsScope,
  type Environment,
  type Owner,
  type PolicyRule,
  type Scope,
  type SecretSpec,
  type VaultPathGrant,
  type WorkloadRef,
} from '../api/v1alpha1/types.ts';

export type Modifier = (identity: AgentIdentity) => void;

const DEFAULT_NAMESPACE = 'agents';

export function agentIdentity(name: string, ...modifiers: Modifier[]): AgentIdentity {
  const identity: AgentIdentity = {
    apiVersion: API_VERSION,
    kind: 'AgentIdentity',
    metadata: { name, namespace: DEFAULT_NAMESPACE, uid: `uid-of-${name}` },
    spec: {
      owner: { team: 'support-eng', contact: 'support-eng@example.com' },
      sponsor: { name: 'support-eng-lead' },
      purpose: 'Answer support tickets with read access to the CRM',
      environment: 'production',
    },
  };
  for (const modify of modifiers) modify(identity);
  return identity;
}

// metadata

export const withName =
  (name: string): Modifier =>
  (identity) => {
    identity.metadata.name = name;
  };

/** `undefined` removes the namespace, as in a manifest that leaves it to `kubectl apply -n`. */
export const inNamespace =
  (namespace: string | undefined): Modifier =>
  (identity) => {
    if (namespace === undefined) delete identity.metadata.namespace;
    else identity.metadata.namespace = namespace;
  };

export const createdAt =
  (timestamp: string): Modifier =>
  (identity) => {
    identity.metadata.creationTimestamp = timestamp;
  };

/** `undefined` removes the uid, as on an object not created yet (what a manifest to apply carries). */
export const withUid =
  (uid: string | undefined): Modifier =>
  (identity) => {
    if (uid === undefined) delete identity.metadata.uid;
    else identity.metadata.uid = uid;
  };

// spec fields

export const inEnvironment =
  (environment: Environment): Modifier =>
  (identity) => {
    identity.spec.environment = environment;
  };

export const withOwner =
  (owner: Owner): Modifier =>
  (identity) => {
    identity.spec.owner = owner;
  };

export const withPurpose =
  (purpose: string): Modifier =>
  (identity) => {
    identity.spec.purpose = purpose;
  };

export const withServiceAccount =
  (serviceAccountName: string): Modifier =>
  (identity) => {
    identity.spec.serviceAccountName = serviceAccountName;
  };

/** spec.workloadRef; by default the Deployment named like the identity. */
export const withWorkload =
  (workload: Partial<WorkloadRef> = {}): Modifier =>
  (identity) => {
    identity.spec.workloadRef = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: identity.metadata.name,
      ...workload,
    };
  };

/** `undefined` removes spec.credentialTTL, so the default applies. */
export const withCredentialTTL =
  (ttl: string | undefined): Modifier =>
  (identity) => {
    if (ttl === undefined) delete identity.spec.credentialTTL;
    else identity.spec.credentialTTL = ttl;
  };

export type SpecPatch = { [K in keyof AgentIdentitySpec]?: AgentIdentitySpec[K] | undefined };

/** Shallow-merges `patch` into spec; a key set to undefined is removed. */
export const withSpec =
  (patch: SpecPatch): Modifier =>
  (identity) => {
    const spec = identity.spec as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(patch)) {
      if (value === undefined) delete spec[key];
      else spec[key] = value;
    }
  };

// scopes (appended)

export const withScopes =
  (...scopes: Scope[]): Modifier =>
  (identity) => {
    identity.spec.scopes = [...(identity.spec.scopes ?? []), ...scopes];
  };

/** One kubernetes scope with these rules. */
export const withRules = (...rules: PolicyRule[]): Modifier => withScopes({ provider: 'kubernetes', rules });

/** One vault scope with these paths. */
export const withVaultPaths = (...paths: VaultPathGrant[]): Modifier =>
  withScopes({ provider: 'vault', paths });

/** One aws scope per argument. */
export const withAwsScopes = (...scopes: Array<Omit<AwsScope, 'provider'>>): Modifier =>
  withScopes(...scopes.map((scope): AwsScope => ({ provider: 'aws', ...scope })));

// secrets (appended)

export const withSecrets =
  (...secrets: SecretSpec[]): Modifier =>
  (identity) => {
    identity.spec.secrets = [...(identity.spec.secrets ?? []), ...secrets];
  };

/** One AWS Secrets Manager secret per name, a 32-character random value each. */
export const withSmSecrets = (...names: string[]): Modifier =>
  withSecrets(
    ...names.map(
      (name): SecretSpec => ({
        name,
        backend: 'aws-secrets-manager',
        generator: { type: 'random', length: 32 },
      }),
    ),
  );

// status

/** Merges `status` into what status there is. */
export const withStatus =
  (status: AgentIdentityStatus): Modifier =>
  (identity) => {
    identity.status = { ...identity.status, ...status };
  };

/**
 * A deliberately invalid value typed as what a modifier takes, for tests of what the schema, CEL
 * rules or admission must reject: `withSpec(invalid({ environment: 'prod' }))`.
 */
export function invalid<T>(value: Record<string, unknown>): T {
  return value as T;
}
