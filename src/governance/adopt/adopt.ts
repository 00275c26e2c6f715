// Moving a hard-coded secret under management (`nhictl adopt --secret`), the pure part: where the
// literal sits in a workload's pod template (an env value, or an argument of args/command), the
// managed secret entry that takes it over, and the workload patch that points the container at the
// target Secret instead. No I/O here, and the literal value never enters anything this module
// returns except `literalOf`'s answer.

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
    readonly reason:
      | 'UnsupportedKind'
      | 'ContainerNotFound'
      | 'EnvNotFound'
      | 'ArgNotFound'
      | 'NotLiteral'
      | 'Conflict',
    message: string,
  ) {
    super(message);
    this.name = 'AdoptError';
  }
}

/**
 * The field of the container holding the literal: an env var (`--env VAR`), or one argument of
 * `args` or `command` by its index, as the scan names it (`args[2]`: `--arg 2`, `--command 2`).
 */
export type LiteralField = { env: string } | { list: 'args' | 'command'; index: number };

/** Where the literal is: `<kind>/<name>`, container and field. */
export interface LiteralLocation {
  kind: AdoptableKind;
  namespace: string;
  name: string;
  container: string;
  field: LiteralField;
}

/** The field as the scan's findings name it: `env[DB_PASSWORD]`, `args[2]`, `command[0]`. */
export function fieldName(field: LiteralField): string {
  return 'env' in field ? `env[${field.env}]` : `${field.list}[${field.index}]`;
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

/**
 * Kinds the scan reports that adopt cannot patch, with how to move the literal by hand. A ConfigMap
 * key is read as a file or env var whose consumers adopt cannot see; a Job's and a bare Pod's pod
 * template cannot be changed once created.
 */
const ByHand: Record<string, string> = {
  configmap:
    'a ConfigMap value is read by consumers adopt cannot see: move it by hand, putting the key into a Secret that a managed spec.secrets entry writes (or nhictl adopt one consumer env var that repeats it), point each consumer at that Secret (configMapKeyRef -> secretKeyRef, a configMap volume -> a secret volume), then remove the key from the ConfigMap',
  job: "a Job's pod template cannot be changed once it is created: adopt the CronJob that creates it, or change the manifest and recreate the Job",
  pod: "a Pod's containers cannot be changed once it is created: adopt the Deployment, StatefulSet, DaemonSet or CronJob that should run it, or change the manifest and recreate the Pod",
};

export function adoptableKind(kind: string): AdoptableKind {
  const found = Object.keys(AdoptableKinds).find((k) => k.toLowerCase() === kind.toLowerCase());
  const byHand = ByHand[kind.toLowerCase()];
  if (!found && byHand) throw new AdoptError('UnsupportedKind', `cannot adopt from a ${kind}: ${byHand}`);
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
  args?: string[];
  command?: string[];
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

function containerOf(
  workload: unknown,
  at: LiteralLocation,
): { list: ContainerList; index: number; container: Container } {
  const pod = podSpecAt(workload, at.kind);
  for (const list of ['containers', 'initContainers'] as const) {
    const index = pod?.[list]?.findIndex((c) => c.name === at.container) ?? -1;
    const container = pod?.[list]?.[index];
    if (container) return { list, index, container };
  }
  throw new AdoptError(
    'ContainerNotFound',
    `${at.kind} ${at.namespace}/${at.name} has no container ${at.container}`,
  );
}

const where = (at: LiteralLocation) =>
  'env' in at.field
    ? `${at.kind} ${at.namespace}/${at.name} container ${at.container} env ${at.field.env}`
    : `${at.kind} ${at.namespace}/${at.name} container ${at.container} ${fieldName(at.field)}`;

/** `--flag=VALUE` (or `-f=VALUE`): the flag part is kept, the value after the first `=` adopted. */
const FLAG_WITH_VALUE = /^(-{1,2}[A-Za-z0-9][A-Za-z0-9_.-]*=)(.+)$/s;

/**
 * An argument split into what stays (`--flag=`, or nothing) and the literal: a whole argument
 * (`--token` `VALUE`, or a positional one) or the value of `--flag=VALUE`. A shell line (`sh -c
 * "curl -H 'Authorization: ...'"`) holds the value somewhere among other words: refused, naming how
 * to move it by hand.
 */
function splitArg(at: LiteralLocation, arg: string): { prefix: string; value: string } {
  if (arg.includes('$('))
    throw new AdoptError('NotLiteral', `${where(at)} already references an env var ($(VAR))`);
  const flag = FLAG_WITH_VALUE.exec(arg);
  const prefix = flag?.[1] ?? '';
  const value = flag?.[2] ?? arg;
  if (/\s/.test(value))
    throw new AdoptError(
      'NotLiteral',
      `${where(at)} holds the value among other words (a shell line): adopt takes a whole argument or --flag=VALUE; move it by hand into an env var with valueFrom.secretKeyRef and write $(VAR) in its place`,
    );
  return { prefix, value };
}

/** The literal of an argument, with what stays of it; the argument list it sits in. */
function argOf(
  workload: unknown,
  at: LiteralLocation & { field: { list: 'args' | 'command'; index: number } },
) {
  const { container } = containerOf(workload, at);
  const arg = container[at.field.list]?.[at.field.index];
  if (arg === undefined)
    throw new AdoptError(
      'ArgNotFound',
      `${where(at)}: no such argument (${at.field.list} has ${container[at.field.list]?.length ?? 0})`,
    );
  if (!arg) throw new AdoptError('NotLiteral', `${where(at)} has no literal value to adopt`);
  return { container, ...splitArg(at, arg) };
}

/** The literal value of the env var or argument. The only function here that returns the value. */
export function literalOf(workload: unknown, at: LiteralLocation): string {
  const { field } = at;
  if (!('env' in field)) return argOf(workload, { ...at, field }).value;
  const { container } = containerOf(workload, at);
  const env = container.env?.find((e) => e.name === field.env);
  if (!env) throw new AdoptError('EnvNotFound', `${where(at)}: no such env var`);
  if (env.valueFrom !== undefined)
    throw new AdoptError('NotLiteral', `${where(at)} already reads its value from a reference (valueFrom)`);
  if (!env.value) throw new AdoptError('NotLiteral', `${where(at)} has no literal value to adopt`);
  return env.value;
}

/**
 * The name of the data key (and, upper-cased, of the env var an argument reads) for a field: the env
 * var's own name; for an argument the flag's (`--api-token=V` or `--api-token` `V`: API_TOKEN), else
 * `ARGS_2`. Never derived from the value.
 */
export function defaultKey(workload: unknown, at: LiteralLocation): string {
  const { field } = at;
  if ('env' in field) return field.env;
  const { container, prefix } = argOf(workload, { ...at, field });
  const previous = field.index > 0 ? container[field.list]?.[field.index - 1] : undefined;
  const flag = prefix
    ? prefix.slice(0, -1)
    : previous?.startsWith('-') && !previous.includes('=')
      ? previous
      : undefined;
  const name = flag?.replace(/^-+/, '') ?? `${field.list}_${field.index}`;
  return envVarName(name);
}

/** A C identifier in upper case, as env var names are written: `api-token` → `API_TOKEN`. */
function envVarName(text: string): string {
  const name = text.toUpperCase().replace(/[^A-Z0-9_]+/g, '_');
  return /^[0-9]/.test(name) ? `_${name}` : name;
}

/** The env var an adopted argument reads its value from: `NHI_ADOPTED_<key>`. */
export function adoptedEnvVar(target: Pick<AdoptTarget, 'key'>): string {
  return `NHI_ADOPTED_${envVarName(target.key)}`;
}

/** A reference from a container env var to the key of a Secret, as the patch writes it. */
export function secretKeyRef(target: AdoptTarget) {
  return { secretKeyRef: { name: target.targetSecret, key: target.key } };
}

/** A JSON patch operation (RFC 6902), as `kubectl patch --type json` takes them. */
export interface JsonPatchOp {
  op: 'add' | 'replace' | 'test';
  path: string;
  value: unknown;
}

/** How the patch is applied: `kubectl patch --type strategic` or `--type json`. */
export type WorkloadPatchType = 'strategic' | 'json';

/**
 * The patch that replaces the literal with a reference; it holds no value.
 * - env: a strategic-merge patch (`--type strategic`): env entries merge by name, `value: null`
 *   removes the literal.
 * - an argument: a JSON patch (`--type json`), since a strategic merge replaces a whole list of
 *   strings and would repeat every other argument (which may hold other literals): it tests the
 *   container's name at its index, replaces that one argument with `$(NHI_ADOPTED_<KEY>)` (the
 *   `--flag=` part kept; Kubernetes expands `$(VAR)` in args and command from the container's env)
 *   and adds that env var from the target Secret's key. `resourceVersion` (given for --apply) also
 *   tests that the workload is the one read, so the index cannot point at another argument.
 */
export function workloadPatch(
  workload: unknown,
  at: LiteralLocation,
  target: AdoptTarget,
  resourceVersion?: string,
): { type: WorkloadPatchType; patch: object } {
  const { field } = at;
  const { list, index, container } = containerOf(workload, at);
  if ('env' in field) {
    let patch: object = {
      [list]: [
        { name: at.container, env: [{ name: field.env, value: null, valueFrom: secretKeyRef(target) }] },
      ],
    };
    for (const key of [...AdoptableKinds[at.kind].podSpecPath].reverse()) patch = { [key]: patch };
    return { type: 'strategic', patch };
  }
  const { prefix } = argOf(workload, { ...at, field });
  const envVar = adoptedEnvVar(target);
  if (container.env?.some((e) => e.name === envVar))
    throw new AdoptError(
      'Conflict',
      `${where(at)}: container ${at.container} already has an env var ${envVar}: choose another --key`,
    );
  const base = `/${AdoptableKinds[at.kind].podSpecPath.join('/')}/${list}/${index}`;
  const reference = { name: envVar, valueFrom: secretKeyRef(target) };
  const ops: JsonPatchOp[] = [
    ...(resourceVersion
      ? [{ op: 'test' as const, path: '/metadata/resourceVersion', value: resourceVersion }]
      : []),
    { op: 'test', path: `${base}/name`, value: at.container },
    { op: 'replace', path: `${base}/${field.list}/${field.index}`, value: `${prefix}$(${envVar})` },
    container.env
      ? { op: 'add', path: `${base}/env/-`, value: reference }
      : { op: 'add', path: `${base}/env`, value: [reference] },
  ];
  return { type: 'json', patch: ops };
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

/**
 * The target Secret's adoption mark (ObjectMarks.adoptedFrom): where the literal was and who
 * adopted it, `Deployment/agents/bot container agent env[API_TOKEN] by alice`. Never the value.
 */
export function adoptionOrigin(at: LiteralLocation, actor: string): string {
  return `${at.kind}/${at.namespace}/${at.name} container ${at.container} ${fieldName(at.field)} by ${actor}`;
}
