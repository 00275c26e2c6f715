// What the three backends really hold for a set of identities, counted by the operator's ownership
// marks (src/api/v1alpha1/annotations.ts, each provider's names.ts): IAM roles and Secrets Manager
// secrets by their `nhi.dev/identity-uid` tag, OpenBao policies by the uid in their header, kubernetes
// auth roles and KV entries by the owner records and KV custom metadata, and ServiceAccounts, Roles,
// RoleBindings and Secrets by their uid label. Anything the operator wrote for an identity shows up
// here, whether the identity still exists or not, so a leak or a duplicate cannot hide.

import {
  IAMClient,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListRoleTagsCommand,
  NoSuchEntityException,
} from '@aws-sdk/client-iam';
import {
  DescribeSecretCommand,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import * as k8s from '@kubernetes/client-node';
import { Marks, ObjectMarks } from '../../../src/api/v1alpha1/annotations.ts';
import { QUARANTINE_POLICY, versionOf } from '../../../src/providers/aws/names.ts';
import { CURRENT_VERSION } from '../../../src/providers/vault/kv.ts';
import { identityNames } from '../../../src/providers/vault/names.ts';
import { parsePolicyHeader } from '../../../src/providers/vault/policy.ts';
import { bao } from '../../support/cluster.ts';
import { awsClientConfig, kubeConfig, testEnv } from '../../support/env.ts';
import { withRetries } from './toxiproxy.ts';

/** One identity the run created, as the backends know it (uid, namespace, name). */
export interface Known {
  uid: string;
  namespace: string;
  name: string;
}

export type Kind =
  | 'iam-role'
  | 'sm-secret'
  | 'vault-policy'
  | 'vault-role'
  | 'vault-owner-record'
  | 'vault-kv'
  | 'ServiceAccount'
  | 'Role'
  | 'RoleBinding'
  | 'Secret';

export const KINDS: readonly Kind[] = [
  'iam-role',
  'sm-secret',
  'vault-policy',
  'vault-role',
  'vault-owner-record',
  'vault-kv',
  'ServiceAccount',
  'Role',
  'RoleBinding',
  'Secret',
];

export interface Held {
  counts: Record<Kind, number>;
  /** IAM role carries the quarantine deny policy. */
  roleQuarantined: boolean;
  /** Secrets with no value in any key (quarantine empties them; nothing else may). */
  emptySecrets: number;
  /** Secret name -> version counters the backend holds (SM: nhi- VersionIds; KV: latest version; k8s: annotation). */
  versions: Record<string, number[]>;
}

const kc = kubeConfig();

/** A read of the test OpenBao, again if the connection failed (its keep-alive closed under us). */
function baoRetried(...args: Parameters<typeof bao>): ReturnType<typeof bao> {
  return withRetries(() => bao(...args));
}
const core = kc.makeApiClient(k8s.CoreV1Api);
const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);

function empty(): Held {
  return {
    counts: Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>,
    roleQuarantined: false,
    emptySecrets: 0,
    versions: {},
  };
}

async function listBao(path: string): Promise<string[]> {
  const answer = await baoRetried('LIST', path, testEnv().bao.token);
  if (answer.status === 404) return [];
  if (answer.status !== 200) throw new Error(`LIST ${path}: ${answer.status}`);
  return (answer.json.data?.keys ?? []) as string[];
}

/** The KV entry's metadata; undefined when it went between the LIST that named it and this read. */
async function kvCustom(
  path: string,
): Promise<{ custom: Record<string, string>; current: number } | undefined> {
  const answer = await baoRetried('GET', `secret/metadata/${path}`, testEnv().bao.token);
  if (answer.status === 404) return undefined;
  if (answer.status !== 200) throw new Error(`GET secret/metadata/${path}: ${answer.status}`);
  return {
    custom: (answer.json.data?.custom_metadata ?? {}) as Record<string, string>,
    current: Number(answer.json.data?.current_version ?? 0),
  };
}

/** Everything the backends hold for `known`, per uid; a uid none of `known` has goes under `foreign`. */
export async function inventory(known: readonly Known[]): Promise<Map<string, Held>> {
  const held = new Map<string, Held>(known.map((k) => [k.uid, empty()]));
  const of = (uid: string | undefined) => (uid ? held.get(uid) : undefined);
  const aws = awsClientConfig();
  const iam = new IAMClient(aws);
  const sm = new SecretsManagerClient(aws);

  let marker: string | undefined;
  do {
    const page = await iam.send(new ListRolesCommand({ PathPrefix: '/nhi/', Marker: marker }));
    for (const role of page.Roles ?? []) {
      try {
        const tags = await iam.send(new ListRoleTagsCommand({ RoleName: role.RoleName }));
        const entry = of(tags.Tags?.find((t) => t.Key === Marks.identityUid)?.Value);
        if (!entry) continue;
        entry.counts['iam-role']++;
        const policies = await iam.send(new ListRolePoliciesCommand({ RoleName: role.RoleName }));
        if (policies.PolicyNames?.includes(QUARANTINE_POLICY)) entry.roleQuarantined = true;
      } catch (error) {
        if (!(error instanceof NoSuchEntityException)) throw error;
      }
    }
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);

  let token: string | undefined;
  do {
    const page = await sm.send(
      new ListSecretsCommand({
        Filters: [{ Key: 'tag-key', Values: [Marks.identityUid] }],
        IncludePlannedDeletion: true,
        NextToken: token,
      }),
    );
    for (const secret of page.SecretList ?? []) {
      const entry = of(secret.Tags?.find((t) => t.Key === Marks.identityUid)?.Value);
      if (!entry) continue;
      // Deleted between the list and this read: not held. moto answers a read of a secret deleted a
      // moment ago with a 500 (an HTML page) now and then instead of ResourceNotFound: a secret that
      // DescribeSecret no longer finds is not held either.
      const gone = async (error: unknown) => {
        if (error instanceof ResourceNotFoundException) return true;
        return sm.send(new DescribeSecretCommand({ SecretId: secret.ARN })).then(
          () => false,
          (again: unknown) => again instanceof ResourceNotFoundException,
        );
      };
      const versions = await sm
        .send(new ListSecretVersionIdsCommand({ SecretId: secret.ARN, IncludeDeprecated: true }))
        .catch(async (error: unknown) => {
          if (await gone(error)) return undefined;
          throw error;
        });
      if (!versions) continue;
      entry.counts['sm-secret']++;
      const name = secret.Name?.split('/').at(-1) ?? '';
      entry.versions[`aws:${name}`] = (versions.Versions ?? [])
        .map((v) => versionOf(v.VersionId ?? ''))
        .filter((n) => n > 0)
        .sort((a, b) => a - b);
    }
    token = page.NextToken;
  } while (token);

  const byBase = new Map(
    known.map((k) => [
      identityNames({
        identity: { metadata: { uid: k.uid, namespace: k.namespace, name: k.name } },
        subject: { namespace: k.namespace },
      } as never).base,
      k.uid,
    ]),
  );
  for (const name of await listBao('sys/policies/acl')) {
    if (!name.startsWith('nhi-')) continue;
    const answer = await baoRetried('GET', `sys/policies/acl/${name}`, testEnv().bao.token);
    const entry = of(parsePolicyHeader(String(answer.json.data?.policy ?? ''))?.uid);
    if (entry) entry.counts['vault-policy']++;
  }
  for (const name of await listBao('auth/kubernetes/role')) {
    const entry = of(byBase.get(name));
    if (entry) entry.counts['vault-role']++;
  }
  for (const name of await listBao('secret/metadata/nhi/_owners')) {
    const entry = of((await kvCustom(`nhi/_owners/${name}`))?.custom[Marks.identityUid]);
    if (entry) entry.counts['vault-owner-record']++;
  }
  for (const ns of new Set(known.map((k) => k.namespace))) {
    for (const folder of await listBao(`secret/metadata/nhi/${ns}`)) {
      for (const key of await listBao(`secret/metadata/nhi/${ns}/${folder}`)) {
        const meta = await kvCustom(`nhi/${ns}/${folder}${key}`);
        const entry = of(meta?.custom[Marks.identityUid]);
        if (!meta || !entry) continue;
        entry.counts['vault-kv']++;
        const current = Number(meta.custom[CURRENT_VERSION] ?? 0);
        entry.versions[`vault:${key}`] = [meta.current, current];
      }
    }
  }

  for (const ns of new Set(known.map((k) => k.namespace))) {
    const selector = { namespace: ns, labelSelector: Marks.identityUid };
    const lists: Array<[Kind, Array<{ metadata?: k8s.V1ObjectMeta; data?: Record<string, string> }>]> = [
      ['ServiceAccount', (await core.listNamespacedServiceAccount(selector)).items],
      ['Role', (await rbac.listNamespacedRole(selector)).items],
      ['RoleBinding', (await rbac.listNamespacedRoleBinding(selector)).items],
      ['Secret', (await core.listNamespacedSecret(selector)).items],
    ];
    for (const [kind, items] of lists) {
      for (const item of items) {
        const entry = of(item.metadata?.labels?.[Marks.identityUid]);
        if (!entry) continue;
        entry.counts[kind]++;
        if (kind === 'Secret' && !Object.values(item.data ?? {}).some((v) => v.length > 0))
          entry.emptySecrets++;
        const version = item.metadata?.annotations?.[ObjectMarks.currentVersion];
        const secret = item.metadata?.labels?.[ObjectMarks.secret];
        if (kind === 'Secret' && secret && version) entry.versions[`target:${secret}`] = [Number(version)];
      }
    }
  }
  return held;
}
