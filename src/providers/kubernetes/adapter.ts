// The KubernetesPort (port.ts) over @kubernetes/client-node's typed APIs. Errors come out typed:
// 404 on get/delete is not an error, 409 is a ConflictError, the rest map to the provider errors of
// ../types.ts. Messages name the object and the HTTP status, never any data.

import * as k8s from '@kubernetes/client-node';
import { ConflictError } from '../../runtime/errors.ts';
import { InvalidConfigError, ProviderError, ThrottledError, UnavailableError } from '../types.ts';
import { isOpaque, SECRET_TYPE } from './names.ts';
import type { KubernetesPort, ListedKind, ListedObjects, ManagedKind, ManagedObjects } from './port.ts';

/** Maps a failed apiserver call to a typed error that names the call but carries no object data. */
export function toProviderError(err: unknown, what: string): Error {
  if (err instanceof ProviderError || err instanceof ConflictError) return err;
  const code = err instanceof k8s.ApiException ? err.code : undefined;
  if (code === undefined) return new UnavailableError(`${what}: ${errorText(err)}`);
  const detail = `${what}: HTTP ${code}${statusMessage(err)}`;
  if (code === 409) return new ConflictError(detail);
  if (code === 429) return new ThrottledError(detail);
  if (code === 400 || code === 422) return new InvalidConfigError(detail);
  if (code >= 500) return new UnavailableError(detail);
  return new ProviderError(detail);
}

function errorText(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : err instanceof Error ? err.name : 'request failed';
}

/** The apiserver's Status message (names fields and keys, never Secret data). */
function statusMessage(err: unknown): string {
  if (!(err instanceof k8s.ApiException)) return '';
  let body = err.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      return '';
    }
  }
  const message = (body as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? ` (${message.slice(0, 300)})` : '';
}

function notFound(err: unknown): boolean {
  return err instanceof k8s.ApiException && err.code === 404;
}

type Api = { core: k8s.CoreV1Api; rbac: k8s.RbacAuthorizationV1Api };
type NamedRequest = { namespace: string; name: string };
type BodyRequest<T> = { namespace: string; body: T };
type DeleteRequest = NamedRequest & { body: k8s.V1DeleteOptions };
interface KindOps<T> {
  read(api: Api, req: NamedRequest): Promise<T>;
  create(api: Api, req: BodyRequest<T>): Promise<T>;
  replace(api: Api, req: NamedRequest & { body: T }): Promise<T>;
  remove(api: Api, req: DeleteRequest): Promise<unknown>;
}

const OPS: { [K in ManagedKind]: KindOps<ManagedObjects[K]> } = {
  ServiceAccount: {
    read: (a, r) => a.core.readNamespacedServiceAccount(r),
    create: (a, r) => a.core.createNamespacedServiceAccount(r),
    replace: (a, r) => a.core.replaceNamespacedServiceAccount(r),
    remove: (a, r) => a.core.deleteNamespacedServiceAccount(r),
  },
  Secret: {
    read: (a, r) => a.core.readNamespacedSecret(r),
    create: (a, r) => a.core.createNamespacedSecret(r),
    replace: (a, r) => a.core.replaceNamespacedSecret(r),
    remove: (a, r) => a.core.deleteNamespacedSecret(r),
  },
  Role: {
    read: (a, r) => a.rbac.readNamespacedRole(r),
    create: (a, r) => a.rbac.createNamespacedRole(r),
    replace: (a, r) => a.rbac.replaceNamespacedRole(r),
    remove: (a, r) => a.rbac.deleteNamespacedRole(r),
  },
  RoleBinding: {
    read: (a, r) => a.rbac.readNamespacedRoleBinding(r),
    create: (a, r) => a.rbac.createNamespacedRoleBinding(r),
    replace: (a, r) => a.rbac.replaceNamespacedRoleBinding(r),
    remove: (a, r) => a.rbac.deleteNamespacedRoleBinding(r),
  },
};

type Selectors = { labelSelector?: string; fieldSelector?: string };
/** Namespaced lists only (port.ts ListOptions): no call here can read a kind across the cluster. */
const LIST: {
  [K in ListedKind]: (api: Api, ns: string, s: Selectors) => Promise<ListedObjects[K][]>;
} = {
  ServiceAccount: async (a, namespace, s) =>
    (await a.core.listNamespacedServiceAccount({ namespace, ...s })).items,
  Secret: async (a, namespace, s) => (await a.core.listNamespacedSecret({ namespace, ...s })).items,
  Role: async (a, namespace, s) => (await a.rbac.listNamespacedRole({ namespace, ...s })).items,
  RoleBinding: async (a, namespace, s) => (await a.rbac.listNamespacedRoleBinding({ namespace, ...s })).items,
  Pod: async (a, namespace, s) => (await a.core.listNamespacedPod({ namespace, ...s })).items,
};

/** The operator writes only Opaque Secrets; refused before any call, whatever a caller built. */
function assertWritable(kind: ManagedKind, object: object): void {
  const secret = object as k8s.V1Secret;
  if (kind === 'Secret' && !isOpaque(secret))
    throw new InvalidConfigError(`refusing to write a Secret of type ${secret.type}: only ${SECRET_TYPE}`);
}

/** The KubernetesPort over client-node's typed APIs. */
export function kubernetesPort(kubeConfig: k8s.KubeConfig): KubernetesPort {
  const api: Api = {
    core: kubeConfig.makeApiClient(k8s.CoreV1Api),
    rbac: kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api),
  };
  const where = (kind: string, namespace: string | undefined, name: string | undefined) =>
    `${kind} ${namespace ?? ''}/${name ?? ''}`;
  return {
    async get(kind, namespace, name) {
      try {
        return await OPS[kind].read(api, { namespace, name });
      } catch (err) {
        if (notFound(err)) return undefined;
        throw toProviderError(err, `get ${where(kind, namespace, name)}`);
      }
    },
    async create(kind, object) {
      const namespace = object.metadata?.namespace ?? '';
      assertWritable(kind, object);
      try {
        return await OPS[kind].create(api, { namespace, body: object });
      } catch (err) {
        throw toProviderError(err, `create ${where(kind, namespace, object.metadata?.name)}`);
      }
    },
    async replace(kind, object) {
      const namespace = object.metadata?.namespace ?? '';
      const name = object.metadata?.name ?? '';
      assertWritable(kind, object);
      try {
        return await OPS[kind].replace(api, { namespace, name, body: object });
      } catch (err) {
        throw toProviderError(err, `update ${where(kind, namespace, name)}`);
      }
    },
    async delete(kind, namespace, name, uid) {
      try {
        await OPS[kind].remove(api, { namespace, name, body: { preconditions: { uid } } });
        return true;
      } catch (err) {
        if (notFound(err)) return false;
        throw toProviderError(err, `delete ${where(kind, namespace, name)}`);
      }
    },
    async list(kind, options) {
      const selectors: Selectors = {};
      if (options.labelSelector) selectors.labelSelector = options.labelSelector;
      if (options.fieldSelector) selectors.fieldSelector = options.fieldSelector;
      if (!options.namespace) throw new InvalidConfigError(`list ${kind}: no namespace`);
      try {
        return await LIST[kind](api, options.namespace, selectors);
      } catch (err) {
        throw toProviderError(err, `list ${kind} in ${options.namespace}`);
      }
    },
  };
}
