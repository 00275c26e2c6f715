// Where the audit trail is anchored in the cluster, in the operator's own namespace:
//  - the signing key: a Secret `<name>-signing-key` (ed25519, PKCS#8 PEM) that only the operator may
//    read; generated on first start if absent, never logged, never changed afterwards (immutable);
//  - the ConfigMap `<name>`: `head` (the latest signed checkpoint, replaced with compare-and-swap on
//    resourceVersion), `publicKey` (PEM) and `publicKey-<keyId>` for every key that ever signed, so
//    an auditor can check old checkpoints after the key was replaced.

import type * as k8s from '@kubernetes/client-node';
import {
  type AuditSigningKey,
  generateSigningKey,
  isCheckpoint,
  signingKeyFromPem,
} from '../../governance/audit/checkpoint.ts';
import { HeadConflictError, type HeadStore } from '../../governance/audit/trail.ts';
import { httpStatus, isNotFound } from '../../runtime/errors.ts';

export const AUDIT_HEAD_KEY = 'head';
export const AUDIT_PUBLIC_KEY = 'publicKey';
const PRIVATE_KEY = 'ed25519.pem';

export interface AuditAnchorNames {
  namespace: string;
  /** The ConfigMap; the Secret is `<configMap>-signing-key`. */
  configMap: string;
}

export const signingKeySecretName = (names: AuditAnchorNames) => `${names.configMap}-signing-key`;

const labels = { 'app.kubernetes.io/managed-by': 'nhi-operator', 'app.kubernetes.io/component': 'audit' };

/** The head in the ConfigMap, replaced only at the resourceVersion last read or written. */
export function configMapHeadStore(core: k8s.CoreV1Api, names: AuditAnchorNames): HeadStore {
  const ref = { namespace: names.namespace, name: names.configMap };
  return {
    async read() {
      const cm = await core.readNamespacedConfigMap(ref).catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      });
      const text = cm?.data?.[AUDIT_HEAD_KEY];
      if (!cm || !text) return undefined;
      const checkpoint: unknown = JSON.parse(text);
      if (!isCheckpoint(checkpoint))
        throw new Error(
          `ConfigMap ${names.namespace}/${names.configMap}: ${AUDIT_HEAD_KEY} is not a checkpoint`,
        );
      return { checkpoint, version: cm.metadata?.resourceVersion ?? '' };
    },
    async write(checkpoint, version) {
      const head = JSON.stringify(checkpoint);
      try {
        if (version === undefined) {
          // No head yet: the ConfigMap may exist with only the public key in it.
          const cm = await core.readNamespacedConfigMap(ref).catch((error: unknown) => {
            if (isNotFound(error)) return undefined;
            throw error;
          });
          if (cm?.data?.[AUDIT_HEAD_KEY]) throw new HeadConflictError('another writer anchored a head first');
          if (!cm) {
            const created = await core.createNamespacedConfigMap({
              namespace: names.namespace,
              body: { metadata: { name: names.configMap, labels }, data: { [AUDIT_HEAD_KEY]: head } },
            });
            return created.metadata?.resourceVersion ?? '';
          }
          version = cm.metadata?.resourceVersion ?? '';
        }
        const current = await core.readNamespacedConfigMap(ref);
        if (current.metadata?.resourceVersion !== version)
          throw new HeadConflictError('the anchored head moved since this writer last wrote it');
        const replaced = await core.replaceNamespacedConfigMap({
          ...ref,
          body: {
            ...current,
            metadata: { ...current.metadata, resourceVersion: version },
            data: { ...current.data, [AUDIT_HEAD_KEY]: head },
          },
        });
        return replaced.metadata?.resourceVersion ?? '';
      } catch (error) {
        if (httpStatus(error) === 409)
          throw new HeadConflictError('the anchored head moved since this writer last wrote it', {
            cause: error,
          });
        throw error;
      }
    },
  };
}

/** The signing key from its Secret, generated and stored on first start. */
export async function loadOrCreateSigningKey(
  core: k8s.CoreV1Api,
  names: AuditAnchorNames,
): Promise<AuditSigningKey> {
  const ref = { namespace: names.namespace, name: signingKeySecretName(names) };
  const read = async () => {
    const secret = await core.readNamespacedSecret(ref).catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
    const pem = secret?.data?.[PRIVATE_KEY];
    if (secret && !pem) throw new Error(`Secret ${ref.namespace}/${ref.name} has no ${PRIVATE_KEY}`);
    return pem ? signingKeyFromPem(Buffer.from(pem, 'base64').toString('utf8')) : undefined;
  };
  const existing = await read();
  if (existing) return existing;
  const key = generateSigningKey();
  try {
    await core.createNamespacedSecret({
      namespace: names.namespace,
      body: {
        metadata: { name: ref.name, labels },
        type: 'Opaque',
        immutable: true,
        data: { [PRIVATE_KEY]: Buffer.from(key.privateKeyPem).toString('base64') },
      },
    });
    return key;
  } catch (error) {
    // Another replica created it first: use theirs.
    if (httpStatus(error) === 409) {
      const theirs = await read();
      if (theirs) return theirs;
    }
    throw error;
  }
}

/** Publishes the public key (current, and by key id for good) in the ConfigMap. */
export async function publishPublicKey(
  core: k8s.CoreV1Api,
  names: AuditAnchorNames,
  key: AuditSigningKey,
): Promise<void> {
  const ref = { namespace: names.namespace, name: names.configMap };
  const wanted = {
    [AUDIT_PUBLIC_KEY]: key.publicKeyPem,
    [`${AUDIT_PUBLIC_KEY}-${key.keyId}`]: key.publicKeyPem,
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const cm = await core.readNamespacedConfigMap(ref).catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      });
      if (!cm) {
        await core.createNamespacedConfigMap({
          namespace: names.namespace,
          body: { metadata: { name: names.configMap, labels }, data: wanted },
        });
        return;
      }
      if (Object.entries(wanted).every(([k, v]) => cm.data?.[k] === v)) return;
      await core.replaceNamespacedConfigMap({ ...ref, body: { ...cm, data: { ...cm.data, ...wanted } } });
      return;
    } catch (error) {
      if (httpStatus(error) !== 409) throw error;
    }
  }
  throw new Error(`ConfigMap ${names.namespace}/${names.configMap}: could not publish the public key`);
}

/** What `nhictl audit pubkey` and `verify --cluster` read: every public key and the head. */
export async function readAuditAnchor(
  core: k8s.CoreV1Api,
  names: AuditAnchorNames,
): Promise<{ publicKeys: string[]; current?: string; head?: unknown }> {
  const cm = await core.readNamespacedConfigMap({ namespace: names.namespace, name: names.configMap });
  const data = cm.data ?? {};
  const publicKeys = Object.entries(data)
    .filter(([k]) => k.startsWith(`${AUDIT_PUBLIC_KEY}-`))
    .map(([, v]) => v);
  const head = data[AUDIT_HEAD_KEY];
  return {
    publicKeys,
    ...(data[AUDIT_PUBLIC_KEY] && { current: data[AUDIT_PUBLIC_KEY] }),
    ...(head && { head: JSON.parse(head) as unknown }),
  };
}
