// Moving a hard-coded secret under management (`nhictl adopt --secret`), the pure part: where the
// literal sits in a workload's pod template, the managed secret entry that takes it over, and the
// workload patch that points the container at the target Secret instead. No I/O here, and the
// literal value never enters anything this module returns except `literalOf`'s answer.

import { Marks } from '../../api/v1alpha1/annotations.ts';
import type { AgentIdentity, AgentIdentitySpec, Environment, SecretSpec } from '../../api/v1alpha1/types.ts';
import { API_VERSION, Environments } from '../../api/v1alpha1/types.ts';

/** The workload kinds whose pod template adopt can patch, with the path to their pod spec. */
export const AdoptableKinds = {
  Deployment: { apiVersion: 'apps/v1', podSpecPath: ['spec', 'template', 'spec'] },
  StatefulSet: { apiVersion: 'apps/v1', podSpecPath: ['spec', 'template', 'spec'] },
  DaemonSet: { apiVersion: 'apps/v1', podSpecPath: ['spec', 'template', 'spec'] },
  CronJob: { apiVersion: 'batch/v1', podSpecPath: ['spec', 'jobTemplate', 'spec', 'template', 'spec'] },
} as const;
export type AdoptableKind = keyof typeof AdoptableKinds;

/** An adoption that cannot go ahead; the message names the object and field, never the value. */
export class AdoptError extends Error {
  constructor(
    readonly reason: 'UnsupportedKind' | 'ContainerNotFound' | 'EnvNotFound' | 'NotLiteral' | 'Conflict',
    message: string,
  ) {
    super(message);
    this.name = 'AdoptError';
  }
}

/** Where the literal is: `<kind>/<name>`, container and env var. */
export interface LiteralLocation {
  kind: AdoptableKind;
  namespace: string;
  name: string;
  container: string;
  env: string;
}

/** Where the managed value goes: the spec.secrets[] entry and its target Secret and key. */
export interface AdoptTarget {
  /** spec.secrets[].name */
  secretName: string;
  /** target.secretName: the Secret the workload will read. */
  targetSecret: string;
  key: string;
  rotationInterval: string;
  /** spec.secrets[].restartWorkload: roll the workload after each rotation (`--restart-workload`). */
  restartWorkload?: boolean;
}

export function adoptableKind(kind: string): AdoptableKind {
  const found = Object.keys(AdoptableKinds).find((k) => k.toLowerCase() === kind.toLowerCase());
  if (!found)
    throw new AdoptError(
      'UnsupportedKind',
      `cannot adopt from a ${kind}: use one of ${Object.keys(AdoptableKinds).join(', ')}`,
    );
  return found as AdoptableKind;
}

/** `deployment/api` → kind and name. */
export function parseWorkloadArg(arg: string): { kind: AdoptableKind; name: string } {
  const slash = arg.indexOf('/');
  if (slash <= 0 || slash === arg.length - 1)
    throw new AdoptError('UnsupportedKind', `expected <kind>/<name>, got ${arg}`);
  return { kind: adoptableKind(arg.slice(0, slash)), name: arg.slice(slash + 1) };
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}
interface Container {
  name: string;
  env?: EnvVar[];
}
interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
}

type ContainerList = 'containers' | 'initContainers';

function podSpecAt(workload: unknown, kind: AdoptableKind): PodSpec | undefined {
  let node: unknown = workload;
  for (const key of AdoptableKinds[kind].podSpecPath)
    node = (node as Record<string, unknown> | undefined)?.[key];
  return node as PodSpec | undefined;
}

function containerOf(workload: unknown, at: LiteralLocation): { list: ContainerList; container: Container } {
  const pod = podSpecAt(workload, at.kind);
  for (const list of ['containers', 'initContainers'] as const) {
    const container = pod?.[list]?.find((c) => c.name === at.container);
    if (container) return { list, container };
  }
  throw new AdoptError(
    'ContainerNotFound',
    `${at.kind} ${at.namespace}/${at.name} has no container ${at.container}`,
  );
}

const where = (at: LiteralLocation) =>
  `${at.kind} ${at.namespace}/${at.name} container ${at.container} env ${at.env}`;

/** The literal value of the env var. The only function here that returns the value. */
export function literalOf(workload: unknown, at: LiteralLocation): string {
  const { container } = containerOf(workload, at);
  const env = container.env?.find((e) => e.name === at.env);
  if (!env) throw new AdoptError('EnvNotFound', `${where(at)}: no such env var`);
  if (env.valueFrom !== undefined)
    throw new AdoptError('NotLiteral', `${where(at)} already reads its value from a reference (valueFrom)`);
  if (!env.value) throw new AdoptError('NotLiteral', `${where(at)} has no literal value to adopt`);
  return env.value;
}

/** A reference from a container env var to the key of a Secret, as the patch writes it. */
export function secretKeyRef(target: AdoptTarget) {
  return { secretKeyRef: { name: target.targetSecret, key: target.key } };
}

/**
 * The strategic-merge patch (`kubectl patch --type strategic`) that replaces the literal with a
 * reference: env entries merge by name, `value: null` removes the literal. It holds no value.
 */
export function workloadPatch(workload: unknown, at: LiteralLocation, target: AdoptTarget): object {
  const { list } = containerOf(workload, at);
  let patch: object = {
    [list]: [{ name: at.container, env: [{ name: at.env, value: null, valueFrom: secretKeyRef(target) }] }],
  };
  for (const key of [...AdoptableKinds[at.kind].podSpecPath].reverse()) patch = { [key]: patch };
  return patch;
}

/** The managed secret entry holding the adopted value: kubernetes backend, target Secret and key. */
export function adoptedSecretSpec(target: AdoptTarget, length = 32): SecretSpec {
  return {
    name: target.secretName,
    backend: 'kubernetes',
    generator: { type: 'random', length },
    rotationInterval: target.rotationInterval,
    target: { secretName: target.targetSecret, key: target.key },
    ...(target.restartWorkload && { restartWorkload: true }),
  };
}

/**
 * spec.secrets with `entry` added (or an entry of the same name replaced). Refuses when another
 * entry already writes the same target Secret, which the provider would refuse too.
 */
export function withAdoptedSecret(
  secrets: readonly SecretSpec[] | undefined,
  entry: SecretSpec,
): SecretSpec[] {
  const others = (secrets ?? []).filter((s) => s.name !== entry.name);
  const clash = others.find(
    (s) => (s.backend ?? 'kubernetes') === 'kubernetes' && s.target?.secretName === entry.target?.secretName,
  );
  if (clash)
    throw new AdoptError(
      'Conflict',
      `spec.secrets ${clash.name} already writes Secret ${entry.target?.secretName}: choose another --secret`,
    );
  return [...others, entry];
}

/** The identity whose spec.workloadRef names the workload, if there is one. */
export function identityOfWorkload(
  identities: readonly AgentIdentity[],
  at: Pick<LiteralLocation, 'kind' | 'name'>,
): AgentIdentity | undefined {
  return identities.find((i) => i.spec.workloadRef?.kind === at.kind && i.spec.workloadRef.name === at.name);
}

export interface NewIdentityInput {
  name: string;
  namespace: string;
  at: LiteralLocation;
  workloadAnnotations: Record<string, string> | undefined;
  namespaceLabels: Record<string, string> | undefined;
  owner?: string;
  purpose?: string;
  sponsor?: string;
  ttl?: string;
}

function environmentOf(labels: Record<string, string> | undefined): Environment {
  const value = labels?.[Marks.environment];
  // An unlabelled namespace is production, as the admission policy treats it (failing closed).
  return (Environments as readonly string[]).includes(value ?? '') ? (value as Environment) : 'production';
}

/**
 * A new AgentIdentity bound to the workload; owner, purpose and sponsor from its annotations or the
 * flags. Without a sponsor, admission refuses it where the IdentityPolicy requires one (production).
 */
export function newIdentity(input: NewIdentityInput): AgentIdentity {
  const team = input.owner ?? input.workloadAnnotations?.[Marks.owner];
  const purpose = input.purpose ?? input.workloadAnnotations?.[Marks.purpose];
  const sponsor = input.sponsor ?? input.workloadAnnotations?.[Marks.sponsor];
  const missing = [
    ...(team ? [] : [`--owner (or annotation ${Marks.owner} on the workload)`]),
    ...(purpose ? [] : [`--purpose (or annotation ${Marks.purpose} on the workload)`]),
  ];
  if (missing.length > 0 || !team || !purpose)
    throw new AdoptError(
      'Conflict',
      `no AgentIdentity names ${input.at.kind}/${input.at.name}; a new one needs ${missing.join(' and ')}`,
    );
  const spec: AgentIdentitySpec = {
    owner: { team },
    ...(sponsor ? { sponsor: { name: sponsor } } : {}),
    purpose,
    environment: environmentOf(input.namespaceLabels),
    workloadRef: {
      apiVersion: AdoptableKinds[input.at.kind].apiVersion,
      kind: input.at.kind,
      name: input.at.name,
    },
    ...(input.ttl ? { ttl: input.ttl } : {}),
  };
  return {
    apiVersion: API_VERSION,
    kind: 'AgentIdentity',
    metadata: { name: input.name, namespace: input.namespace },
    spec,
  };
}

/** A spec.secrets[].name (DNS label) from an env var name: `DB_PASSWORD` → `db-password`. */
export function secretNameFromEnv(env: string): string {
  return (
    env
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 63)
      .replace(/-+$/, '') || 'adopted'
  );
}
