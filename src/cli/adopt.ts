// `nhictl adopt <kind>/<name> --container C --env VAR|--arg N|--command N --secret S`: moves a
// hard-coded env value or argument of a workload under management. The value is held once, in the
// target Secret, in the Kubernetes provider's own layout and with the identity's ownership marks
// (an argument then reads it as $(NHI_ADOPTED_KEY) from an env var), so the operator ADOPTS it as the
// current version (rotate.ts: "the backend moved on without status knowing") instead of generating
// one; its first rotation comes one rotation interval later (or at once with --rotate-now). Order:
//   1. the AgentIdentity carries the spec.secrets entry first (a marked Secret that spec does not ask
//      for is garbage the provider deletes),
//   2. the value is written into the target Secret (one write guarded by resourceVersion, with the
//      adoption mark that makes the operator record it in the cluster's audit chain when it takes the
//      version over), and the adoption confirmed from status (adoptValue: the two races with the
//      operator's first visit),
//   3. only then is the workload pointed at the Secret key (printed for GitOps, applied with --apply),
//   4. the adoption is recorded as an Event on the identity (and in --audit-log).
// The value never leaves this process except into that Secret: it is registered with the redactor
// and every error message is masked.

import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { Controls, NHICTL_REPORTING_CONTROLLER } from '../api/v1alpha1/annotations.ts';
import { SpecDefaults } from '../api/v1alpha1/defaults.ts';
import type { AgentIdentity, SecretSpec, SecretStatus } from '../api/v1alpha1/types.ts';
import { GROUP, VERSION } from '../api/v1alpha1/types.ts';
import { identityRef } from '../controller/agentidentity/identity.ts';
import {
  type AdoptableKind,
  AdoptableKinds,
  AdoptError,
  type AdoptTarget,
  adoptedEnvVar,
  adoptedSecretSpec,
  adoptionOrigin,
  defaultKey,
  fieldName,
  identityOfWorkload,
  type LiteralField,
  type LiteralLocation,
  literalOf,
  newIdentity,
  parseWorkloadArg,
  secretNameFromEnv,
  type WorkloadPatchType,
  withAdoptedSecret,
  workloadPatch,
} from '../governance/adopt/adopt.ts';
import { serviceAccountArg } from '../governance/adopt/observe.ts';
import { FileAuditSink } from '../governance/audit/audit.ts';
import { isOpaque, isOurs } from '../providers/kubernetes/names.ts';
import { materialOf, rotatedSecret, secretState } from '../providers/kubernetes/secret-layout.ts';
import { EventRecorder, eventSink } from '../runtime/events.ts';
import { mergePatchOptions } from '../runtime/finalizers.ts';
import { maskSecrets, registerSecretValue } from '../runtime/redact.ts';
import { adoptObserved, humanObserveAdopt, type ObserveAdoptOptions } from './adopt-observe.ts';
import { requestingUser } from './identity.ts';
import { currentNamespace, loadKubeConfig } from './kube.ts';
import { type OutputFormat, outputOption, printListing } from './output.ts';

const ref = { group: GROUP, version: VERSION, plural: 'agentidentities' };
const ATTEMPTS = 5;

export interface AdoptOptions {
  namespace?: string;
  container: string;
  /** The env var holding the literal (one of env, arg, command). */
  env?: string;
  /** The index in the container's args of the argument holding the literal (`args[2]` in the scan). */
  arg?: string;
  /** The index in the container's command of the argument holding the literal. */
  command?: string;
  /** The target Secret the workload will read. */
  secret: string;
  /** spec.secrets[].name; default from the data key. */
  name?: string;
  key?: string;
  identity?: string;
  owner?: string;
  purpose?: string;
  sponsor?: string;
  ttl?: string;
  rotationInterval?: string;
  length?: number;
  apply?: boolean;
  rotateNow?: boolean;
  /** Set spec.secrets[].restartWorkload: the operator rolls the workload after each rotation. */
  restartWorkload?: boolean;
  /** How long to wait for the operator to adopt the value (0: do not wait). */
  waitMs?: number;
  auditLog?: string;
}

/** What adopt did: names, versions and the patch; never the value. */
export interface AdoptResult {
  workload: string;
  container: string;
  /** The field adopted, as the scan names it: `env[DB_PASSWORD]`, `args[2]`. */
  field: string;
  /** The env var, when the literal was an env value. */
  env?: string;
  /** The env var an adopted argument now reads ($(VAR) in its place). */
  argEnv?: string;
  identity: { namespace: string; name: string; created: boolean };
  secret: SecretSpec;
  /** The version the adopted value carries in the target Secret. */
  version: number;
  workloadPatch: object;
  /** `strategic` for an env value, `json` for an argument. */
  patchType: WorkloadPatchType;
  patchCommand: string;
  applied: boolean;
  /** --apply was asked for (it is carried out only once the operator holds the value). */
  applyRequested: boolean;
  /** Whether the operator reported the adopted version in status (within the wait). */
  adopted: boolean;
  rotationRequested: boolean;
  nextRotation?: string;
  actor: string;
}

interface Clients {
  kc: k8s.KubeConfig;
  objects: k8s.KubernetesObjectApi;
  core: k8s.CoreV1Api;
  custom: k8s.CustomObjectsApi;
}

function clients(kc: k8s.KubeConfig): Clients {
  return {
    kc,
    objects: k8s.KubernetesObjectApi.makeApiClient(kc),
    core: kc.makeApiClient(k8s.CoreV1Api),
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
  };
}

const notFound = (error: unknown) => error instanceof k8s.ApiException && error.code === 404;
const conflict = (error: unknown) => error instanceof k8s.ApiException && error.code === 409;

async function orUndefined<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (notFound(error)) return undefined;
    throw error;
  }
}

async function readIdentity(c: Clients, namespace: string, name: string) {
  return orUndefined(
    async () => (await c.custom.getNamespacedCustomObject({ ...ref, namespace, name })) as AgentIdentity,
  );
}

/** Step 1: the workload's identity, created or updated so spec.secrets carries `entry`. */
async function ensureIdentity(
  c: Clients,
  at: LiteralLocation,
  entry: SecretSpec,
  options: AdoptOptions,
  workload: k8s.KubernetesObject,
): Promise<{ identity: AgentIdentity; created: boolean; hadEntry: boolean }> {
  const list = (await c.custom.listNamespacedCustomObject({ ...ref, namespace: at.namespace })) as {
    items: AgentIdentity[];
  };
  let identity = identityOfWorkload(list.items, at);
  if (!identity) {
    const name = options.identity ?? at.name;
    const existing = list.items.find((i) => i.metadata.name === name);
    if (existing)
      throw new AdoptError(
        'Conflict',
        `AgentIdentity ${at.namespace}/${name} exists but its spec.workloadRef does not name ${at.kind}/${at.name}`,
      );
    const ns = await c.core.readNamespace({ name: at.namespace });
    const fresh = newIdentity({
      name,
      namespace: at.namespace,
      at,
      workloadAnnotations: workload.metadata?.annotations,
      namespaceLabels: ns.metadata?.labels,
      ...(options.owner && { owner: options.owner }),
      ...(options.purpose && { purpose: options.purpose }),
      ...(options.sponsor && { sponsor: options.sponsor }),
      ...(options.ttl && { ttl: options.ttl }),
    });
    fresh.spec.secrets = [entry];
    identity = (await c.custom.createNamespacedCustomObject({
      ...ref,
      namespace: at.namespace,
      body: fresh,
    })) as AgentIdentity;
    return { identity, created: true, hadEntry: false };
  }
  if (options.identity && options.identity !== identity.metadata.name)
    throw new AdoptError(
      'Conflict',
      `${at.kind}/${at.name} already has AgentIdentity ${identity.metadata.name}; drop --identity or name that one`,
    );
  const hadEntry = (identity.spec.secrets ?? []).some((s) => s.name === entry.name);
  const secrets = withAdoptedSecret(identity.spec.secrets, entry);
  // A merge patch carrying the resourceVersion read: a concurrent edit of spec.secrets is a 409, not lost.
  identity = (await c.custom.patchNamespacedCustomObject(
    {
      ...ref,
      namespace: at.namespace,
      name: identity.metadata.name,
      body: { metadata: { resourceVersion: identity.metadata.resourceVersion }, spec: { secrets } },
    },
    mergePatchOptions(),
  )) as AgentIdentity;
  return { identity, created: false, hadEntry };
}

/**
 * Step 2: the value as the target Secret's current version, in the provider's layout and marks
 * (rotatedSecret: current version + 1; whatever the operator may have generated first becomes the
 * previous value, which no workload reads yet). Nothing is written when it already holds the value.
 */
async function writeTargetSecret(
  c: Clients,
  identity: AgentIdentity,
  entry: SecretSpec,
  value: string,
  hadEntry: boolean,
  adoptedFrom: string,
): Promise<number> {
  const namespace = identity.metadata.namespace ?? 'default';
  const name = entry.target?.secretName ?? '';
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const live = await orUndefined(() => c.core.readNamespacedSecret({ namespace, name }));
    if (live && (!isOurs(live.metadata, identity.metadata.uid ?? '') || !isOpaque(live)))
      throw new AdoptError(
        'Conflict',
        `Secret ${namespace}/${name} exists and is not managed by AgentIdentity ${identity.metadata.name}: choose another --secret`,
      );
    const current = live ? materialOf(live, entry) : undefined;
    if (current?.current.value === value) return secretState(live ?? {}, entry).currentVersion ?? 0;
    // Adopted before and rotated since: writing the literal again would bring a retired value back.
    if (hadEntry && current)
      throw new AdoptError(
        'Conflict',
        `spec.secrets ${entry.name} of AgentIdentity ${identity.metadata.name} already holds a managed value (version ${current.current.version}) that differs from the literal: the literal is stale, apply the workload patch instead of adopting again (or remove spec.secrets ${entry.name} first if nothing reads Secret ${name} yet)`,
      );
    const next = rotatedSecret(live, {
      ref: identityRef(identity),
      spec: entry,
      name,
      value,
      now: Date.now(),
      adoptedFrom,
    });
    try {
      const written = live
        ? await c.core.replaceNamespacedSecret({ namespace, name, body: next })
        : await c.core.createNamespacedSecret({ namespace, body: next });
      return secretState(written, entry).currentVersion ?? 0;
    } catch (error) {
      if (!conflict(error)) throw error;
    }
  }
  throw new Error(`Secret ${namespace}/${name} kept changing underneath; run nhictl adopt again`);
}

function secretStatus(identity: AgentIdentity | undefined, name: string): SecretStatus | undefined {
  return identity?.status?.secrets?.find((s) => s.name === name);
}

async function requestRotation(c: Clients, identity: AgentIdentity): Promise<void> {
  await c.custom.patchNamespacedCustomObject(
    {
      ...ref,
      namespace: identity.metadata.namespace ?? 'default',
      name: identity.metadata.name,
      body: { metadata: { annotations: { [Controls.rotateRequestedAt]: new Date().toISOString() } } },
    },
    mergePatchOptions(),
  );
}

/** Polls the identity until `ok` holds for the adopted secret's status, or the deadline passes. */
async function untilStatus(
  c: Clients,
  identity: AgentIdentity,
  name: string,
  ok: (s: SecretStatus | undefined) => boolean,
  deadline: number,
): Promise<SecretStatus | undefined> {
  for (;;) {
    const s = secretStatus(
      await readIdentity(c, identity.metadata.namespace ?? 'default', identity.metadata.name),
      name,
    );
    if (ok(s) || Date.now() >= deadline) return s;
    await sleep(250);
  }
}

/** The target Secret's current version, if it holds exactly `value` as current. */
async function holdsValue(c: Clients, identity: AgentIdentity, entry: SecretSpec, value: string) {
  const namespace = identity.metadata.namespace ?? 'default';
  const name = entry.target?.secretName ?? '';
  const live = await orUndefined(() => c.core.readNamespacedSecret({ namespace, name }));
  const material = live ? materialOf(live, entry) : undefined;
  return material?.current.value === value ? material.current.version : undefined;
}

interface Adoption {
  version: number;
  adopted: boolean;
  requested: boolean;
  status?: SecretStatus;
}

/**
 * Steps 2 and 4: writes the value and waits until status.secrets[] reports its version while the
 * Secret still holds it as current. Two races with the operator's first visit of the new entry:
 * - it generated a value before the Secret held ours, so status names an older version: a rotation
 *   request makes it re-read the Secret, find the version moved on, and adopt ours (writing nothing);
 * - it read "no Secret" and then rotated over ours, so status names a newer, generated version that
 *   no workload reads yet (the patch waits for this): the value is written again, then requested.
 */
async function adoptValue(
  c: Clients,
  identity: AgentIdentity,
  entry: SecretSpec,
  value: string,
  hadEntry: boolean,
  adoptedFrom: string,
  waitMs: number,
): Promise<Adoption> {
  const deadline = Date.now() + waitMs;
  let requested = false;
  let version = 0;
  let status: SecretStatus | undefined;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    version = await writeTargetSecret(c, identity, entry, value, hadEntry && attempt === 0, adoptedFrom);
    status = await untilStatus(c, identity, entry.name, (s) => s?.currentVersion !== undefined, deadline);
    if (status?.currentVersion !== undefined && status.currentVersion < version) {
      await requestRotation(c, identity);
      requested = true;
      status = await untilStatus(
        c,
        identity,
        entry.name,
        (s) => (s?.currentVersion ?? 0) >= version,
        deadline,
      );
    }
    if (status?.currentVersion === version && (await holdsValue(c, identity, entry, value)) === version)
      return { version, adopted: true, requested, status };
    if (status?.currentVersion === undefined || status.currentVersion < version || Date.now() >= deadline)
      break;
  }
  return { version, adopted: false, requested, ...(status && { status }) };
}

async function actorOf(kc: k8s.KubeConfig): Promise<string> {
  try {
    return await requestingUser(kc.makeApiClient(k8s.AuthenticationV1Api));
  } catch {
    return 'unknown user';
  }
}

/** Which field `--env`, `--arg` or `--command` names; exactly one of them. */
export function literalField(options: Pick<AdoptOptions, 'env' | 'arg' | 'command'>): LiteralField {
  const given = (['env', 'arg', 'command'] as const).filter((o) => options[o] !== undefined);
  if (given.length !== 1)
    throw new AdoptError(
      'NotLiteral',
      `name the literal with exactly one of --env VAR, --arg INDEX or --command INDEX (got ${given.length === 0 ? 'none' : given.map((g) => `--${g}`).join(', ')})`,
    );
  if (options.env !== undefined) return { env: options.env };
  const list = options.arg !== undefined ? 'args' : 'command';
  const text = (options.arg ?? options.command ?? '').replace(/^(args|command)\[(\d+)\]$/, '$2');
  const index = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(index))
    throw new AdoptError(
      'NotLiteral',
      `--${list === 'args' ? 'arg' : 'command'} takes the argument's index as the scan prints it (args[2]: --arg 2), got ${text}`,
    );
  return { list, index };
}

/** A JSON patch of one workload, through its typed API (the generic client sends objects only). */
async function jsonPatchWorkload(
  kc: k8s.KubeConfig,
  kind: AdoptableKind,
  namespace: string,
  name: string,
  body: object,
): Promise<void> {
  const request = { namespace, name, body, fieldManager: 'nhictl' };
  const json = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  if (kind === 'Deployment') await apps.patchNamespacedDeployment(request, json);
  else if (kind === 'StatefulSet') await apps.patchNamespacedStatefulSet(request, json);
  else if (kind === 'DaemonSet') await apps.patchNamespacedDaemonSet(request, json);
  else await kc.makeApiClient(k8s.BatchV1Api).patchNamespacedCronJob(request, json);
}

export async function adopt(
  kc: k8s.KubeConfig,
  workloadArg: string,
  options: AdoptOptions,
): Promise<AdoptResult> {
  const c = clients(kc);
  const { kind, name } = parseWorkloadArg(workloadArg);
  const at: LiteralLocation = {
    kind,
    name,
    namespace: currentNamespace(kc, options.namespace),
    container: options.container,
    field: literalField(options),
  };
  const readWorkload = () =>
    c.objects.read({
      apiVersion: AdoptableKinds[kind].apiVersion,
      kind,
      metadata: { name, namespace: at.namespace },
    });
  const workload = await readWorkload();
  const value = literalOf(workload, at);
  registerSecretValue(value);
  const key = options.key ?? defaultKey(workload, at);
  const target: AdoptTarget = {
    secretName: options.name ?? secretNameFromEnv(key),
    targetSecret: options.secret,
    key,
    rotationInterval: options.rotationInterval ?? SpecDefaults.rotationInterval,
    ...(options.restartWorkload && { restartWorkload: true }),
  };
  const entry = adoptedSecretSpec(target, options.length);
  const { type: patchType, patch } = workloadPatch(workload, at, target);
  const actor = await actorOf(kc);

  const { identity, created, hadEntry } = await ensureIdentity(c, at, entry, options, workload);
  const waitMs = options.waitMs ?? 60_000;
  let confirmed = await adoptValue(c, identity, entry, value, hadEntry, adoptionOrigin(at, actor), waitMs);
  const { version } = confirmed;
  // Only a value the operator holds as current may be what the workload reads.
  const apply = (options.apply ?? false) && confirmed.adopted;
  if (apply && patchType === 'strategic') {
    await c.objects.patch(
      {
        apiVersion: AdoptableKinds[kind].apiVersion,
        kind,
        metadata: { name, namespace: at.namespace },
        ...patch,
      },
      undefined,
      undefined,
      'nhictl',
      undefined,
      k8s.PatchStrategy.StrategicMergePatch,
    );
  } else if (apply) {
    // An argument is patched by its index: re-read, check it still holds the adopted value, and
    // test the resourceVersion read, so the index cannot have moved to another argument.
    const fresh = await readWorkload();
    if (literalOf(fresh, at) !== value)
      throw new AdoptError(
        'Conflict',
        `${kind} ${at.namespace}/${name} changed while adopting: ${fieldName(at.field)} of container ${at.container} no longer holds the adopted value; run nhictl adopt again`,
      );
    const ops = workloadPatch(fresh, at, target, fresh.metadata?.resourceVersion).patch;
    await jsonPatchWorkload(kc, kind, at.namespace, name, ops);
  }
  let rotationRequested = confirmed.requested;
  if (options.rotateNow && confirmed.adopted) {
    await requestRotation(c, identity);
    rotationRequested = true;
    const deadline = Date.now() + waitMs;
    const status = await untilStatus(
      c,
      identity,
      entry.name,
      (s) => (s?.currentVersion ?? 0) > version,
      deadline,
    );
    confirmed = { ...confirmed, ...(status && { status }) };
  }

  const result: AdoptResult = {
    workload: `${kind}/${at.namespace}/${name}`,
    container: at.container,
    field: fieldName(at.field),
    ...('env' in at.field ? { env: at.field.env } : { argEnv: adoptedEnvVar(target) }),
    identity: { namespace: at.namespace, name: identity.metadata.name, created },
    secret: entry,
    version,
    workloadPatch: patch,
    patchType,
    patchCommand: `kubectl patch ${kind.toLowerCase()} ${name} -n ${at.namespace} --type ${patchType} --patch-file <file>`,
    applied: apply,
    applyRequested: options.apply ?? false,
    adopted: confirmed.adopted,
    rotationRequested,
    ...(confirmed.status?.nextRotation && { nextRotation: confirmed.status.nextRotation }),
    actor,
  };
  await record(kc, identity, result, options.auditLog);
  return result;
}

function summary(r: AdoptResult): string {
  return `${r.workload} container ${r.container} ${r.env !== undefined ? `env ${r.env}` : `${r.field} (now $(${r.argEnv}))`} -> Secret ${r.secret.target?.secretName} key ${r.secret.target?.key} (version ${r.version}) of AgentIdentity ${r.identity.namespace}/${r.identity.name}`;
}

/** Step 4b: an Event on the AgentIdentity (and a hash-chained audit record with --audit-log). */
async function record(
  kc: k8s.KubeConfig,
  identity: AgentIdentity,
  r: AdoptResult,
  auditLog: string | undefined,
): Promise<void> {
  const note = maskSecrets(
    `${r.actor} adopted a hard-coded value of ${summary(r)}; workload ${r.applied ? 'patched' : 'patch printed for review'}; ${r.adopted ? `operator adopted it, next rotation ${r.nextRotation ?? 'scheduled'}` : 'operator has not adopted it yet'}`,
  );
  const recorder = new EventRecorder({
    sink: eventSink(kc.makeApiClient(k8s.EventsV1Api)),
    controller: NHICTL_REPORTING_CONTROLLER,
    instance: 'nhictl',
  });
  await recorder.record(
    {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'AgentIdentity',
      metadata: {
        name: identity.metadata.name,
        namespace: identity.metadata.namespace ?? 'default',
        uid: identity.metadata.uid ?? '',
      },
    },
    'Normal',
    'SecretAdopted',
    note,
    'Adopt',
  );
  if (auditLog) {
    await new FileAuditSink(auditLog).record({
      action: 'adopted',
      identity: {
        uid: identity.metadata.uid ?? '',
        namespace: identity.metadata.namespace ?? '',
        name: identity.metadata.name,
      },
      actor: r.actor,
      resource: `kubernetes:Secret/${r.identity.namespace}/${r.secret.target?.secretName ?? ''}`,
      origin: `nhictl adopt ${r.workload}`,
      outcome: r.adopted ? 'success' : 'failure',
      severity: 'high',
      detail: `version ${r.version}${r.applied ? ', workload patched' : ', workload patch printed'}`,
    });
  }
}

function human(r: AdoptResult): string {
  const lines = [
    `adopted ${summary(r)}${r.identity.created ? ' (identity created)' : ''}`,
    r.adopted
      ? `  the operator holds it as version ${r.version}; next rotation ${r.nextRotation ?? '(scheduled)'}${r.rotationRequested ? ' (a rotation was requested)' : ''}`
      : `  the operator has not reported version ${r.version} yet: it adopts the value when it reconciles (run nhictl adopt again to check)`,
    r.applied
      ? '  workload patched: the container reads the Secret key; the literal is gone from the pod template'
      : r.applyRequested
        ? '  workload NOT patched: the operator has not confirmed the value yet; run nhictl adopt again'
        : `  review and apply this patch (or commit it to the manifest): ${r.patchCommand}`,
  ];
  if (!r.applied) lines.push(stringify(r.workloadPatch, { lineWidth: 0 }).trimEnd());
  return lines.join('\n');
}

export function registerAdoptCommand(program: Command): void {
  program
    .command('adopt <workload>')
    .description(
      'move a hard-coded env value or argument of a workload (deployment/NAME, statefulset, daemonset, cronjob) into a managed, rotated Secret of its AgentIdentity; or adopt a shadow serviceaccount/NAME (with --iam-role, --vault-role) as an observe-only AgentIdentity',
    )
    .option('-n, --namespace <namespace>', 'namespace of the workload')
    .option('--container <name>', 'container holding the literal (required for a workload)')
    .option('--env <VAR>', 'env var whose literal value is adopted (or --arg, --command)')
    .option(
      '--arg <index>',
      'index of the container argument holding the literal, as the scan prints it (args[2]: 2); it becomes $(NHI_ADOPTED_KEY)',
    )
    .option('--command <index>', 'index of the container command word holding the literal (command[1]: 1)')
    .option(
      '--secret <name>',
      'target Secret the workload will read (created, owned by the identity; required for a workload)',
    )
    .option(
      '--iam-role <name>',
      'serviceaccount/NAME: also observe this IAM role (trusted by this namespace only)',
    )
    .option('--vault-role <name>', 'serviceaccount/NAME: also observe this Vault kubernetes-auth role')
    .option(
      '--provider <name>',
      'serviceaccount/NAME: the ClusterCredentialProvider the roles are read through',
    )
    .option(
      '--key <key>',
      "data key in the target Secret (default: the env var name; for an argument its flag's, --api-token -> API_TOKEN)",
    )
    .option('--name <name>', 'spec.secrets[].name (default: from the key, DB_PASSWORD -> db-password)')
    .option('--identity <name>', 'name of a new AgentIdentity (default: the workload name)')
    .option('--owner <team>', 'owner team of a new identity (default: the workload annotation nhi.dev/owner)')
    .option(
      '--purpose <text>',
      'purpose of a new identity (default: the workload annotation nhi.dev/purpose)',
    )
    .option(
      '--sponsor <name>',
      'sponsor of a new identity, required in production (default: the workload annotation nhi.dev/sponsor)',
    )
    .option('--ttl <duration>', 'spec.ttl of a new identity')
    .option(
      '--rotation-interval <duration>',
      'rotation interval of the managed secret',
      SpecDefaults.rotationInterval,
    )
    .option('--length <n>', 'length of the values later rotations generate', (v) => Number(v), 32)
    .option('--apply', 'patch the workload now (default: print the patch for review / GitOps)', false)
    .option('--rotate-now', 'rotate right after adoption instead of at the next interval', false)
    .option(
      '--restart-workload',
      'roll the workload after each rotation of the secret (spec.secrets[].restartWorkload)',
      false,
    )
    .option('--wait <seconds>', 'how long to wait for the operator to adopt the value', '60')
    .option('--audit-log <file>', 'also append a hash-chained audit record to this file')
    .addOption(outputOption('text'))
    .action(
      async (
        workload: string,
        options: AdoptOptions & ObserveAdoptOptions & { wait: string; output: OutputFormat },
      ) => {
        const serviceAccount = serviceAccountArg(workload);
        if (serviceAccount) {
          const result = await adoptObserved(loadKubeConfig(), serviceAccount, options);
          printListing(options.output, { data: result, human: () => humanObserveAdopt(result) });
          return;
        }
        const missing = (['container', 'secret'] as const).filter((o) => !options[o]);
        if (missing.length > 0)
          throw new Error(
            `adopt ${workload}: required option${missing.length > 1 ? 's' : ''} ${missing.map((m) => `--${m}`).join(', ')} not specified`,
          );
        try {
          const result = await adopt(loadKubeConfig(), workload, {
            ...options,
            waitMs: Number(options.wait) * 1000,
          });
          printListing(options.output, { data: result, human: () => human(result) });
          if (!result.adopted || (result.applyRequested && !result.applied)) process.exitCode = 1;
        } catch (error) {
          // An apiserver error may quote what it was sent: mask before it reaches the terminal.
          throw new Error(maskSecrets(error instanceof Error ? error.message : String(error)));
        }
      },
    );
}
