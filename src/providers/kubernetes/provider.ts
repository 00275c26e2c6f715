// The Kubernetes backend of the CredentialProvider port, the embedded default: the managed
// ServiceAccount, a Role and RoleBinding from the `kubernetes` scopes, and target Secrets with
// staged rotation. Everything it writes carries our marks (see names.ts) and no ownerReference, so
// only revoke() deletes it; it adopts objects with our identity-uid label and refuses (NotOwnedError)
// any other object holding one of its names.

import type * as k8s from '@kubernetes/client-node';
import { ObjectMarks } from '../../api/v1alpha1/annotations.ts';
import type { PlannedChange, SecretGenerator, SecretSpec } from '../../api/v1alpha1/types.ts';
import { ConflictError } from '../../runtime/errors.ts';
import { settleAll } from '../../runtime/settle.ts';
import { generateSecretValue } from '../generators.ts';
import {
  type CredentialProvider,
  type IdentityRef,
  InvalidConfigError,
  type Observation,
  type ProvisionResult,
  type RotateOptions,
  type RotationResult,
  type SecretMaterial,
} from '../types.ts';
import { kubernetesPort } from './adapter.ts';
import {
  identitySelector,
  identityUidOf,
  isOurs,
  ownsObject,
  resourceName,
  targetSecretNameOf,
} from './names.ts';
import { driftOf, observeUse } from './observe.ts';
import { type Plan, type PlanOptions, planFor, refusalError, toChanges } from './plan.ts';
import { type KubernetesPort, MANAGED_KINDS, type ManagedKind } from './port.ts';
import {
  type NowSource,
  quarantineSecrets,
  readTargetSecret,
  restoreSecrets,
  retireTargetPrevious,
  rotateTargetSecret,
} from './secrets.ts';

export interface KubernetesProviderDeps {
  port: KubernetesPort;
  clock: NowSource;
  /** Makes secret values; defaults to the shared generators. */
  generate?: (generator: SecretGenerator) => string;
}

export interface KubernetesProvisionOptions {
  /** Annotations other providers need on the ServiceAccount (eks.amazonaws.com/role-arn, ...). Omit to keep the earlier ones. */
  serviceAccountAnnotations?: Record<string, string>;
}

/** provision() re-plans after a 409 this many times (each pass re-reads everything). */
const PASSES = 4;

export class KubernetesProvider implements CredentialProvider {
  readonly kind = 'kubernetes' as const;
  private readonly port: KubernetesPort;
  private readonly clock: NowSource;
  private readonly generateValue: (generator: SecretGenerator) => string;

  constructor(deps: KubernetesProviderDeps) {
    this.port = deps.port;
    this.clock = deps.clock;
    this.generateValue = deps.generate ?? generateSecretValue;
  }

  static fromKubeConfig(kubeConfig: k8s.KubeConfig, clock: NowSource): KubernetesProvider {
    return new KubernetesProvider({ port: kubernetesPort(kubeConfig), clock });
  }

  private planOptions(extra?: Partial<PlanOptions>): PlanOptions {
    return { generate: (spec) => this.generateValue(spec.generator), clock: this.clock, ...extra };
  }

  /** What provision() would change now, without writing. NotOwnedError when one of our names is taken. */
  async plan(ref: IdentityRef, options: KubernetesProvisionOptions = {}): Promise<PlannedChange[]> {
    const plan = await planFor(
      this.port,
      ref,
      this.planOptions({
        extraAnnotations: options.serviceAccountAnnotations ?? ref.serviceAccountAnnotations,
      }),
    );
    const refused = refusalError(ref, plan);
    if (refused) throw refused;
    return toChanges(ref, plan.actions);
  }

  /**
   * Creates, adopts and converges the ServiceAccount, Role, RoleBinding and target Secrets, and
   * deletes what we own that the spec no longer asks for. While the identity is quarantined the
   * RoleBinding stays absent and no Secret gets a value: only restore() lifts a quarantine.
   */
  async provision(ref: IdentityRef, options: KubernetesProvisionOptions = {}): Promise<ProvisionResult> {
    const changes = await this.converge(ref, {
      extraAnnotations: options.serviceAccountAnnotations ?? ref.serviceAccountAnnotations,
    });
    return { status: { serviceAccount: ref.subject.serviceAccountName }, changes };
  }

  /** Sets the annotations other providers need on the ServiceAccount (exactly these; earlier ones removed). */
  async ensureServiceAccount(
    ref: IdentityRef,
    extraAnnotations: Record<string, string>,
  ): Promise<PlannedChange[]> {
    return this.converge(ref, { extraAnnotations }, (plan) =>
      plan.actions.filter((a) => a.kind === 'ServiceAccount'),
    );
  }

  private async converge(
    ref: IdentityRef,
    extra: Partial<PlanOptions>,
    select: (plan: Plan) => Plan['actions'] = (plan) => plan.actions,
  ): Promise<PlannedChange[]> {
    const done: PlannedChange[] = [];
    for (let pass = 0; pass < PASSES; pass++) {
      const plan = await planFor(this.port, ref, this.planOptions(extra));
      const refused = refusalError(ref, plan);
      if (refused) throw refused;
      const actions = select(plan);
      try {
        for (const action of actions) {
          await action.run(this.port);
          done.push(...toChanges(ref, [action]));
        }
        return done;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
      }
    }
    throw new ConflictError(`provision ${ref.identity.metadata.name}: objects kept changing underneath`);
  }

  async rotate(ref: IdentityRef, secret: SecretSpec, options: RotateOptions = {}): Promise<RotationResult> {
    assertKubernetesBackend(secret);
    const generate = () => this.generateValue(secret.generator);
    return rotateTargetSecret(this.port, ref, { spec: secret, generate, clock: this.clock, options });
  }

  async readSecret(ref: IdentityRef, secret: SecretSpec): Promise<SecretMaterial | undefined> {
    return readTargetSecret(this.port, ref, secret);
  }

  /** Removes the previous value when its overlap window has ended; a no-op before that. */
  async retirePrevious(ref: IdentityRef, secret: SecretSpec): Promise<void> {
    assertKubernetesBackend(secret);
    await retireTargetPrevious(this.port, ref, secret, this.clock);
  }

  /**
   * Phase 1, reversible: marks the ServiceAccount quarantined (so provision will not re-grant), deletes
   * our RoleBinding, and removes the values of every Secret we own for the identity (objects and
   * version numbers stay, for restore). The ServiceAccount itself stays, so its UID does too.
   *
   * Tokens already issued to the ServiceAccount (TokenRequest / projected tokens) remain valid JWTs
   * until they expire; authentication still succeeds, but every permission granted through us is
   * gone with the RoleBinding. Permissions granted to the ServiceAccount by others are not ours to
   * remove: the inventory reports them.
   */
  async quarantine(ref: IdentityRef): Promise<void> {
    await this.quarantineWithChanges(ref);
  }

  /**
   * quarantine(), returning what it changed (for the audit record). The three parts touch different
   * objects and go at once (a quarantine is two round trips, not one per object); each runs to its
   * end even when another fails, and the first failure is thrown after all of them.
   */
  async quarantineWithChanges(ref: IdentityRef): Promise<PlannedChange[]> {
    const markServiceAccount = async (): Promise<PlannedChange[]> => {
      const { namespace, serviceAccountName } = ref.subject;
      const sa = await this.port.get('ServiceAccount', namespace, serviceAccountName);
      if (
        !sa ||
        !isOurs(sa.metadata, identityUidOf(ref)) ||
        sa.metadata?.annotations?.[ObjectMarks.quarantined] === 'true'
      )
        return [];
      await this.annotateServiceAccount(ref, { [ObjectMarks.quarantined]: 'true' });
      return [this.change(ref, 'ServiceAccount', serviceAccountName, 'quarantine', 'annotated')];
    };
    const deleteBindings = async (): Promise<PlannedChange[]> => {
      const deleted = await settleAll(
        (await this.ours(ref, 'RoleBinding')).map(async (binding) =>
          (await this.deleteOurs(ref, 'RoleBinding', binding)) ? [binding.metadata?.name] : [],
        ),
      );
      return deleted.flat().map((name) => this.change(ref, 'RoleBinding', name, 'delete', 'quarantined'));
    };
    const emptySecrets = async () =>
      quarantineSecrets(this.port, ref, await this.ours(ref, 'Secret'), this.clock);
    return (await settleAll([markServiceAccount(), deleteBindings(), emptySecrets()])).flat();
  }

  /** Undoes quarantine: fresh Secret values (one rotation each), the RoleBinding back, the annotation off last. */
  async restore(ref: IdentityRef): Promise<void> {
    await this.restoreWithChanges(ref);
  }

  /** restore(), returning what it changed (for the audit record). */
  async restoreWithChanges(ref: IdentityRef): Promise<PlannedChange[]> {
    const owned = (await this.ours(ref, 'Secret')).map((s) => s.metadata?.name ?? '');
    const specTargets = (ref.identity.spec.secrets ?? [])
      .filter((s) => (s.backend ?? 'kubernetes') === 'kubernetes')
      .map((s) => targetSecretNameOf(ref.identity, s));
    const names = [...new Set([...owned, ...specTargets])];
    const generate = (spec: SecretSpec) => this.generateValue(spec.generator);
    const changes = await restoreSecrets(this.port, ref, { names, generate, clock: this.clock });
    changes.push(...(await this.converge(ref, { ignoreQuarantine: true })));
    const sa = await this.port.get('ServiceAccount', ref.subject.namespace, ref.subject.serviceAccountName);
    if (sa?.metadata?.annotations?.[ObjectMarks.quarantined] === 'true') {
      await this.annotateServiceAccount(ref, {}, [ObjectMarks.quarantined, ObjectMarks.quarantinedAt]);
      changes.push(
        this.change(ref, 'ServiceAccount', ref.subject.serviceAccountName, 'restore', 'quarantine lifted'),
      );
    }
    return changes;
  }

  /** Phase 2: deletes the RoleBinding, Role, Secrets and ServiceAccounts carrying this identity's marks. */
  async revoke(ref: IdentityRef): Promise<void> {
    await this.revokeWithChanges(ref);
  }

  /** revoke(), returning what it deleted (for the audit record). Already gone is success. */
  async revokeWithChanges(ref: IdentityRef): Promise<PlannedChange[]> {
    const changes: PlannedChange[] = [];
    for (const kind of MANAGED_KINDS) {
      for (const object of await this.ours(ref, kind)) {
        if (await this.deleteOurs(ref, kind, object)) {
          changes.push(this.change(ref, kind, object.metadata?.name, 'delete', 'revoked'));
        }
      }
    }
    return changes;
  }

  /**
   * The AgentIdentity is going and its credentials stay (deletionPolicy Retain, or the AgentIdentity
   * API being removed): marks every object we own for it `nhi.dev/retained: <why> at <time>`, changing
   * nothing else, so workloads keep using them and a human can tell why they outlived their identity.
   * Objects already marked are left as they are.
   */
  async retain(ref: IdentityRef, why: string): Promise<void> {
    await this.retainWithChanges(ref, why);
  }

  /** retain(), returning what it marked (for the audit record). */
  async retainWithChanges(ref: IdentityRef, why: string): Promise<PlannedChange[]> {
    const value = `${why} at ${new Date(this.clock.now()).toISOString()}`;
    const changes: PlannedChange[] = [];
    for (const kind of MANAGED_KINDS) {
      for (const object of await this.ours(ref, kind)) {
        if (object.metadata?.annotations?.[ObjectMarks.retained] !== undefined) continue;
        const annotations = { ...object.metadata?.annotations, [ObjectMarks.retained]: value };
        // A 409 (changed meanwhile) goes back to the caller, whose retry marks it.
        await this.port.replace(kind, { ...object, metadata: { ...object.metadata, annotations } });
        changes.push(this.change(ref, kind, object.metadata?.name, 'retain', why));
      }
    }
    return changes;
  }

  async observe(ref: IdentityRef, options: { correctDrift: boolean }): Promise<Observation> {
    const [use, plan] = await Promise.all([
      observeUse(this.port, ref, this.clock),
      planFor(this.port, ref, this.planOptions()),
    ]);
    return { ...use, ...(await driftOf(this.port, ref, plan, options.correctDrift)) };
  }

  /** Every object of `kind` carrying this identity's marks, read from the apiserver (never a cache). */
  private async ours(ref: IdentityRef, kind: ManagedKind) {
    const uid = identityUidOf(ref);
    const items = await this.port.list(kind, {
      namespace: ref.subject.namespace,
      labelSelector: identitySelector(uid),
      fresh: true,
    });
    return items.filter((item) => ownsObject(kind, item, uid));
  }

  /** Deletes one object we listed, only if it still is that object; already gone is success. */
  private async deleteOurs(ref: IdentityRef, kind: ManagedKind, object: { metadata?: k8s.V1ObjectMeta }) {
    const { name = '', uid = '' } = object.metadata ?? {};
    try {
      return await this.port.delete(kind, ref.subject.namespace, name, uid);
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      // The name now holds a different object: delete it only if it is ours too.
      const again = await this.port.get(kind, ref.subject.namespace, name);
      if (!again?.metadata?.uid || !ownsObject(kind, again, identityUidOf(ref))) return false;
      return this.port.delete(kind, ref.subject.namespace, name, again.metadata.uid);
    }
  }

  private async annotateServiceAccount(ref: IdentityRef, set: Record<string, string>, remove: string[] = []) {
    const { namespace, serviceAccountName } = ref.subject;
    for (let attempt = 0; attempt < PASSES; attempt++) {
      const sa = await this.port.get('ServiceAccount', namespace, serviceAccountName);
      if (!sa || !isOurs(sa.metadata, identityUidOf(ref))) return;
      const annotations: Record<string, string> = { ...sa.metadata?.annotations, ...set };
      if (set[ObjectMarks.quarantined])
        annotations[ObjectMarks.quarantinedAt] = new Date(this.clock.now()).toISOString();
      for (const key of remove) delete annotations[key];
      try {
        await this.port.replace('ServiceAccount', { ...sa, metadata: { ...sa.metadata, annotations } });
        return;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
      }
    }
    throw new ConflictError(
      `annotate ${resourceName('ServiceAccount', namespace, serviceAccountName)}: kept conflicting`,
    );
  }

  private change(ref: IdentityRef, kind: string, name: string | undefined, action: string, reason: string) {
    return { action, resource: resourceName(kind, ref.subject.namespace, name), reason };
  }
}

function assertKubernetesBackend(secret: SecretSpec): void {
  const backend = secret.backend ?? 'kubernetes';
  if (backend !== 'kubernetes') {
    throw new InvalidConfigError(
      `secret ${secret.name} is kept in ${backend}, not by the kubernetes provider`,
    );
  }
}
