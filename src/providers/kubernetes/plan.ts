// What provision() would do for one identity: reads the live objects, compares them with the desired
// ones, and returns a list of actions (each able to run itself) plus the names it refused because an
// object without our marks holds them. plan() shows the actions; provision() runs them; observe()
// runs only the drift ones.

import type * as k8s from '@kubernetes/client-node';
import { ObjectMarks } from '../../api/v1alpha1/annotations.ts';
import type { PlannedChange, SecretSpec } from '../../api/v1alpha1/types.ts';
import { type IdentityRef, InvalidConfigError, NotOwnedError } from '../types.ts';
import type { PeekingPort } from './cached-port.ts';
import {
  type Convergence,
  convergeRole,
  convergeRoleBinding,
  convergeServiceAccount,
  desiredRules,
  newRole,
  newRoleBinding,
  newServiceAccount,
  roleRefDiffers,
} from './desired.ts';
import {
  identitySelector,
  identityUidOf,
  isOurs,
  isQuarantined,
  loginTargetNamesOf,
  ownsObject,
  rbacNameOf,
  resourceName,
  SECRET_TYPE,
  targetSecretNameOf,
  withMarks,
} from './names.ts';
import type { KubernetesPort, ManagedKind, ManagedObjects } from './port.ts';
import { rotatedSecret, secretState } from './secret-layout.ts';
import type { NowSource } from './secrets.ts';

export type Verb = 'create' | 'update' | 'adopt' | 'delete' | 'recreate';

export interface Action {
  kind: ManagedKind;
  name: string;
  verb: Verb;
  reason: string;
  /** Set when the action undoes drift: the field that differs (exists, rules, subjects, roleRef, ...). */
  drift?: string;
  run(port: KubernetesPort): Promise<void>;
}

export interface Plan {
  actions: Action[];
  /** Objects holding one of our names without our marks (or a Secret not Opaque): never touched. */
  refused: Array<{ kind: ManagedKind; name: string }>;
  quarantined: boolean;
}

export interface PlanOptions {
  /** Annotations other providers need on the ServiceAccount; undefined keeps the ones set before. */
  extraAnnotations?: Record<string, string> | undefined;
  /** Plan as if the identity were not quarantined (restore). */
  ignoreQuarantine?: boolean;
  generate: (spec: SecretSpec) => string;
  clock: NowSource;
}

export function toChanges(ref: IdentityRef, actions: Action[]): PlannedChange[] {
  return actions.map((a) => ({
    action: a.verb,
    resource: resourceName(a.kind, ref.subject.namespace, a.name),
    reason: a.reason,
  }));
}

export function refusalError(ref: IdentityRef, plan: Plan): NotOwnedError | undefined {
  if (plan.refused.length === 0) return undefined;
  const names = plan.refused.map((r) => resourceName(r.kind, ref.subject.namespace, r.name)).join(', ');
  return new NotOwnedError(
    `${names} already exist without nhi.dev marks for this identity (or, for a Secret, with a type other than ${SECRET_TYPE}); not touched`,
  );
}

function create<K extends ManagedKind>(
  kind: K,
  name: string,
  object: () => ManagedObjects[K],
  reason: string,
): Action {
  const run = (port: KubernetesPort) => port.create(kind, object()).then(() => {});
  return { kind, name, verb: 'create', reason, ...(kind === 'Secret' ? {} : { drift: 'exists' }), run };
}

function converge<K extends ManagedKind>(kind: K, name: string, c: Convergence<ManagedObjects[K]>): Action[] {
  if (c.metadata.length === 0 && c.spec.length === 0) return [];
  const verb: Verb = c.metadata.includes('managed-by') ? 'adopt' : 'update';
  const reason = `${[...c.spec, ...c.metadata].join(', ')} differ`;
  const run = (port: KubernetesPort) => port.replace(kind, c.object).then(() => {});
  const action: Action = { kind, name, verb, reason, run };
  if (c.spec.length > 0) action.drift = c.spec.join(', ');
  return [action];
}

function remove(
  kind: ManagedKind,
  live: { metadata?: k8s.V1ObjectMeta },
  reason: string,
  drift?: string,
): Action {
  const { namespace = '', name = '', uid = '' } = live.metadata ?? {};
  const run = (port: KubernetesPort) => port.delete(kind, namespace, name, uid).then(() => {});
  return { kind, name, verb: 'delete', reason, ...(drift ? { drift } : {}), run };
}

export async function planFor(port: KubernetesPort, ref: IdentityRef, options: PlanOptions): Promise<Plan> {
  const uid = identityUidOf(ref);
  const ns = ref.subject.namespace;
  const saName = ref.subject.serviceAccountName;
  const rbacName = rbacNameOf(ref.identity);
  const specs = ref.identity.spec.secrets ?? [];
  const targets = new Map(specs.map((spec) => [targetSecretNameOf(ref.identity, spec), spec]));
  if (targets.size !== specs.length) throw new InvalidConfigError('two spec.secrets share one target Secret');
  // Login targets (database.target) are written by their provider; here they are only kept.
  const loginTargets = loginTargetNamesOf(ref.identity);
  for (const name of loginTargets) {
    if (targets.has(name)) {
      throw new InvalidConfigError(
        `database.target.secretName ${name} is also the target of a spec.secrets entry`,
      );
    }
  }

  const selector = { namespace: ns, labelSelector: identitySelector(uid) };
  // The Role and RoleBinding are read only while there are kubernetes scopes (unused otherwise).
  const wantRole = desiredRules(ref).length > 0;
  const none = Promise.resolve(undefined);
  const peeking = port as PeekingPort;
  // A name the cache knows to be free is not read: the create that follows is the check (cached-port.ts).
  // Never the ServiceAccount: other backends bind to it by name before it is created (a Vault role, an
  // IAM trust policy), and this plan's refusal of a ServiceAccount someone else owns is what stops them
  // (provision.ts plans first), so it is always read.
  const read = <K extends ManagedKind>(kind: K, name: string) =>
    peeking.knownAbsent?.(kind, ns, name) ? none : port.get(kind, ns, name);
  const [sa, role, binding, ourSas, ourRoles, ourBindings, ourSecrets] = await Promise.all([
    port.get('ServiceAccount', ns, saName),
    wantRole ? read('Role', rbacName) : none,
    wantRole ? read('RoleBinding', rbacName) : none,
    port.list('ServiceAccount', selector),
    port.list('Role', selector),
    port.list('RoleBinding', selector),
    port.list('Secret', selector),
  ]);

  const plan: Plan = { actions: [], refused: [], quarantined: false };
  const refuse = (kind: ManagedKind, live: { metadata?: k8s.V1ObjectMeta } | undefined) => {
    const owned = !live || ownsObject(kind, live, uid);
    if (!owned) plan.refused.push({ kind, name: live.metadata?.name ?? '' });
    return !owned;
  };
  plan.quarantined =
    !options.ignoreQuarantine && sa !== undefined && isOurs(sa.metadata, uid) && isQuarantined(sa.metadata);

  // ServiceAccount
  if (!sa) {
    plan.actions.push(
      create('ServiceAccount', saName, () => newServiceAccount(ref, options.extraAnnotations), 'missing'),
    );
  } else if (!refuse('ServiceAccount', sa)) {
    plan.actions.push(
      ...converge('ServiceAccount', saName, convergeServiceAccount(sa, ref, options.extraAnnotations)),
    );
  }

  // Role and RoleBinding: only while there are kubernetes scopes; the binding not while quarantined.
  const wantBinding = wantRole && !plan.quarantined;
  if (wantRole && !role) plan.actions.push(create('Role', rbacName, () => newRole(ref), 'missing'));
  else if (wantRole && !refuse('Role', role) && role)
    plan.actions.push(...converge('Role', rbacName, convergeRole(role, ref)));
  if (wantBinding && !binding)
    plan.actions.push(create('RoleBinding', rbacName, () => newRoleBinding(ref), 'missing'));
  else if (wantBinding && !refuse('RoleBinding', binding) && binding) {
    if (roleRefDiffers(binding, ref)) plan.actions.push(recreateBinding(ref, binding));
    else plan.actions.push(...converge('RoleBinding', rbacName, convergeRoleBinding(binding, ref)));
  }

  // Target Secrets. A cached view (no values) that is ours and needs nothing spares the read; any
  // action is planned from the live object, as it writes the values the view does not hold.
  const perSecret = await Promise.all(
    [...targets].map(async ([name, spec]) => {
      const view = peeking.cachedView?.('Secret', ns, name);
      if (view && ownsObject('Secret', view, uid)) {
        const probe = { ...options, generate: () => '' };
        if (secretActions(ref, name, spec, view, plan.quarantined, probe).length === 0) return [];
      }
      const live = await read('Secret', name);
      if (refuse('Secret', live)) return [];
      return secretActions(ref, name, spec, live, plan.quarantined, options);
    }),
  );
  for (const actions of perSecret) plan.actions.push(...actions);

  // Anything else carrying our marks is stale: a renamed ServiceAccount, scopes or secrets removed.
  const stale = <K extends ManagedKind>(
    kind: K,
    items: ManagedObjects[K][],
    keep: string[],
    reason: string,
  ) => {
    for (const item of items) {
      const name = item.metadata?.name ?? '';
      const drift = plan.quarantined && kind === 'RoleBinding' ? 'exists while quarantined' : undefined;
      if (!keep.includes(name) && ownsObject(kind, item, uid))
        plan.actions.push(remove(kind, item, reason, drift));
    }
  };
  stale(
    'RoleBinding',
    ourBindings,
    wantBinding ? [rbacName] : [],
    plan.quarantined ? 'quarantined' : 'no kubernetes scopes',
  );
  stale('Role', ourRoles, wantRole ? [rbacName] : [], 'no kubernetes scopes');
  stale('Secret', ourSecrets, [...targets.keys(), ...loginTargets], 'no longer in spec.secrets');
  stale('ServiceAccount', ourSas, [saName], 'spec.serviceAccountName changed');
  return plan;
}

function recreateBinding(ref: IdentityRef, live: k8s.V1RoleBinding): Action {
  const { namespace = '', name = '', uid = '' } = live.metadata ?? {};
  return {
    kind: 'RoleBinding',
    name,
    verb: 'recreate',
    reason: 'roleRef differs (immutable)',
    drift: 'roleRef',
    async run(port) {
      await port.delete('RoleBinding', namespace, name, uid);
      await port.create('RoleBinding', newRoleBinding(ref));
    },
  };
}

function secretActions(
  ref: IdentityRef,
  name: string,
  spec: SecretSpec,
  live: k8s.V1Secret | undefined,
  quarantined: boolean,
  options: PlanOptions,
): Action[] {
  const kubernetesBackend = (spec.backend ?? 'kubernetes') === 'kubernetes';
  // Targets of other backends are created by writeTargetSecret when their value is synced.
  if (!live && (!kubernetesBackend || quarantined)) return [];
  const rotated = (from: k8s.V1Secret | undefined) =>
    rotatedSecret(from, { ref, spec, name, value: options.generate(spec), now: options.clock.now() });
  if (!live) return [create('Secret', name, () => rotated(undefined), 'missing: first value (version 1)')];
  const state = secretState(live, spec);
  if (kubernetesBackend && !quarantined && !state.quarantined && !state.hasCurrent) {
    const run = (port: KubernetesPort) => port.replace('Secret', rotated(live)).then(() => {});
    return [{ kind: 'Secret', name, verb: 'update', reason: 'no current value: fresh value', run }];
  }
  const marks = {
    labels: { [ObjectMarks.secret]: spec.name },
    annotations: { [ObjectMarks.backend]: spec.backend ?? 'kubernetes' },
  };
  const { metadata, reasons } = withMarks(live.metadata ?? {}, ref, marks);
  return converge('Secret', name, { object: { ...live, metadata }, metadata: reasons, spec: [] });
}
