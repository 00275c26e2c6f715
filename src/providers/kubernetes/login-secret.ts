// A login target Secret (spec.scopes[].database.target): a database login the operator keeps in a
// Secret of the identity's namespace for applications that cannot talk to Vault.
//
//   data.username, data.password                     the CURRENT login
//   data.username.previous, data.password.previous   the PREVIOUS login, until its lease ends
//   nhi.dev/current-version, nhi.dev/rotated-at      the current login's number and issue time
//   nhi.dev/lease-expires-at                         when the current login's lease ends
//   nhi.dev/previous-version, nhi.dev/previous-retire-at   the previous login and its lease end
//
// A new login is due at databaseLoginRenewAt (two thirds of the lease, defaults.ts): it becomes
// current and the old one previous, still valid for the last third of its lease, so a workload that
// re-reads the Secret never holds a dead login. The Secret carries the operator's marks, so the
// Kubernetes provider empties it at quarantine and deletes it with the identity like any of its
// Secrets. One read and at most one write per call, guarded by the resourceVersion; a login issued
// for a write that fails is revoked at once (discard) unless the Secret holds it after all.

import type * as k8s from '@kubernetes/client-node';
import { ObjectMarks } from '../../api/v1alpha1/annotations.ts';
import { databaseLoginRenewAt } from '../../api/v1alpha1/defaults.ts';
import { ConflictError } from '../../runtime/errors.ts';
import type { IdentityRef, IssuedLogin, LoginTargetResult } from '../types.ts';
import { isQuarantined, markedMetadata, resourceName, SECRET_TYPE, withMarks } from './names.ts';
import type { KubernetesPort } from './port.ts';
import { readOwnedSecret } from './secrets.ts';

export const LoginKeys = {
  username: 'username',
  password: 'password',
  previousUsername: 'username.previous',
  previousPassword: 'password.previous',
} as const;

/** The backend annotation of a login target Secret. */
export const LOGIN_BACKEND = 'vault-database';

const ATTEMPTS = 5;

export interface LoginState {
  version: number;
  issuedAt?: Date;
  expiresAt?: Date;
  hasCurrent: boolean;
  hasPrevious: boolean;
  previousRetireAt?: Date;
}

function time(text: string | undefined): Date | undefined {
  const at = text ? Date.parse(text) : Number.NaN;
  return Number.isNaN(at) ? undefined : new Date(at);
}

export function loginState(secret: k8s.V1Secret | undefined): LoginState {
  const annotations = secret?.metadata?.annotations ?? {};
  const version = Number(annotations[ObjectMarks.currentVersion]);
  const state: LoginState = {
    version: Number.isSafeInteger(version) && version > 0 ? version : 0,
    hasCurrent: Boolean(secret?.data?.[LoginKeys.username] && secret.data[LoginKeys.password]),
    hasPrevious: Boolean(secret?.data?.[LoginKeys.previousUsername]),
  };
  const issuedAt = time(annotations[ObjectMarks.rotatedAt]);
  const expiresAt = time(annotations[ObjectMarks.leaseExpiresAt]);
  const previousRetireAt = time(annotations[ObjectMarks.previousRetireAt]);
  if (issuedAt) state.issuedAt = issuedAt;
  if (expiresAt) state.expiresAt = expiresAt;
  if (previousRetireAt) state.previousRetireAt = previousRetireAt;
  return state;
}

export type LoginStep =
  | { kind: 'issue'; reason: string }
  | { kind: 'retire'; nextAt?: Date }
  | { kind: 'none'; nextAt?: Date };

/** What the Secret needs at `now`: a (new) login, the previous one removed, or nothing until nextAt. */
export function loginStep(state: LoginState, now: Date): LoginStep {
  if (!state.hasCurrent || !state.issuedAt || !state.expiresAt)
    return { kind: 'issue', reason: 'first login' };
  const renewAt = databaseLoginRenewAt(state.issuedAt, state.expiresAt);
  if (renewAt <= now) return { kind: 'issue', reason: 'renewal at two thirds of its lease' };
  const retire = state.hasPrevious && (!state.previousRetireAt || state.previousRetireAt <= now);
  if (retire) return { kind: 'retire', nextAt: renewAt };
  const nextAt =
    state.hasPrevious && state.previousRetireAt && state.previousRetireAt < renewAt
      ? state.previousRetireAt
      : renewAt;
  return { kind: 'none', nextAt };
}

const encode = (value: string) => Buffer.from(value, 'utf8').toString('base64');

function marks(annotations: Record<string, string>, remove: string[] = []) {
  return {
    annotations: { [ObjectMarks.backend]: LOGIN_BACKEND, ...annotations },
    removeAnnotations: remove,
  };
}

/**
 * The Secret holding `login` as current; the login it replaces becomes previous while its lease
 * lasts (a dead one is dropped).
 */
export function loginSecret(
  live: k8s.V1Secret | undefined,
  input: {
    ref: IdentityRef;
    name: string;
    login: Pick<IssuedLogin, 'username' | 'password' | 'expiresAt'>;
    now: Date;
  },
): k8s.V1Secret {
  const state = loginState(live);
  const { login, now } = input;
  const data: Record<string, string> = {
    ...live?.data,
    [LoginKeys.username]: encode(login.username),
    [LoginKeys.password]: encode(login.password),
  };
  delete data[LoginKeys.previousUsername];
  delete data[LoginKeys.previousPassword];
  const annotations: Record<string, string> = {
    [ObjectMarks.currentVersion]: String(state.version + 1),
    [ObjectMarks.rotatedAt]: now.toISOString(),
    [ObjectMarks.leaseExpiresAt]: login.expiresAt.toISOString(),
  };
  const remove: string[] = [];
  const oldUser = live?.data?.[LoginKeys.username];
  const oldPassword = live?.data?.[LoginKeys.password];
  if (oldUser && oldPassword && state.expiresAt && state.expiresAt > now) {
    data[LoginKeys.previousUsername] = oldUser;
    data[LoginKeys.previousPassword] = oldPassword;
    annotations[ObjectMarks.previousVersion] = String(state.version);
    annotations[ObjectMarks.previousRetireAt] = state.expiresAt.toISOString();
  } else {
    remove.push(ObjectMarks.previousVersion, ObjectMarks.previousRetireAt);
  }
  if (!live) {
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      type: SECRET_TYPE,
      metadata: markedMetadata(input.ref, input.name, marks(annotations, remove)),
      data,
    };
  }
  return {
    ...live,
    metadata: withMarks(live.metadata ?? {}, input.ref, marks(annotations, remove)).metadata,
    data,
  };
}

/** The Secret without its previous login. */
export function withoutPreviousLogin(live: k8s.V1Secret): k8s.V1Secret {
  const data = { ...live.data };
  delete data[LoginKeys.previousUsername];
  delete data[LoginKeys.previousPassword];
  const annotations = { ...live.metadata?.annotations };
  delete annotations[ObjectMarks.previousVersion];
  delete annotations[ObjectMarks.previousRetireAt];
  return { ...live, metadata: { ...live.metadata, annotations }, data };
}

/**
 * Keeps `name` filled with a live login: issues one only when due, writes it in one guarded write,
 * removes the previous login when its lease has ended. A quarantined Secret is left empty.
 * NotOwnedError when the name holds a Secret without this identity's marks (or not Opaque).
 */
export async function syncLoginSecret(
  port: KubernetesPort,
  ref: IdentityRef,
  name: string,
  issue: (reason: string) => Promise<IssuedLogin>,
  now: () => Date,
): Promise<LoginTargetResult> {
  let issued: IssuedLogin | undefined;
  try {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const live = await readOwnedSecret(port, ref, name);
      if (live && isQuarantined(live.metadata)) return { quarantined: true };
      const at = now();
      const step = loginStep(loginState(live), at);
      if (step.kind === 'none') return step.nextAt ? { nextAt: step.nextAt } : {};
      try {
        if (step.kind === 'retire') {
          await port.replace('Secret', withoutPreviousLogin(live!));
          return { retired: true, ...(step.nextAt ? { nextAt: step.nextAt } : {}) };
        }
        issued ??= await issue(step.reason);
        const next = loginSecret(live, { ref, name, login: issued, now: at });
        if (live) await port.replace('Secret', next);
        else await port.create('Secret', next);
        const written = issued;
        issued = undefined;
        const after = loginStep(loginState(next), at);
        const nextAt = after.kind === 'issue' ? databaseLoginRenewAt(at, written.expiresAt) : after.nextAt;
        return { renewed: step.reason, ...(nextAt ? { nextAt } : {}) };
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
      }
    }
    throw new ConflictError(`login ${resourceName('Secret', ref.subject.namespace, name)}: kept conflicting`);
  } finally {
    // Issued and not known to be stored (a failed write, a conflict to the end): revoke it.
    if (issued) await discardUnlessStored(port, ref, name, issued);
  }
}

/**
 * Revokes a login whose write failed, unless the Secret holds it after all (a write that landed and
 * then timed out): a stored login must keep working. When the Secret cannot be read, the login is
 * left to its lease's end (minutes) rather than risk revoking one a workload mounted. A failed
 * revocation likewise; the first error stands.
 */
async function discardUnlessStored(
  port: KubernetesPort,
  ref: IdentityRef,
  name: string,
  login: IssuedLogin,
): Promise<void> {
  const live = await port.get('Secret', ref.subject.namespace, name).catch(() => 'unknown' as const);
  if (live === 'unknown') return;
  const stored = live?.data?.[LoginKeys.username];
  if (stored && Buffer.from(stored, 'base64').toString('utf8') === login.username) return;
  await login.discard().catch(() => undefined);
}
