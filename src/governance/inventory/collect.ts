// The inventory's I/O edge: read every source through its port (all reads, no writes), then hand
// the raw objects to the pure classify(). A failing source fails the whole inventory: an API error
// is never read as "nothing there".

import { scanAnnotations, scanConfigMapData, scanPodSpec } from '../secrets/detect.ts';
import { classify } from './classify.ts';
import { trustsIssuer } from './trust.ts';
import {
  type IamInventoryPort,
  type InventoryItem,
  InventorySourceError,
  type InventorySources,
  type RawConfigMap,
  type RawDatabaseRole,
  type RawIamRole,
  type RawIamUser,
  type RawInventory,
  type RawSecretFinding,
  type RawVaultRole,
  type RawWorkload,
} from './types.ts';

const CONCURRENCY = 8;

async function mapLimited<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      out[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
  return out;
}

/** The issuers whose tokens count as this cluster's: given explicitly, or discovered. */
async function clusterIssuers(sources: InventorySources): Promise<string[]> {
  if (sources.aws?.issuers?.length) return sources.aws.issuers;
  const [own, providers] = await Promise.all([
    sources.kubernetes.serviceAccountIssuer(),
    sources.kubernetes.providerIssuers(),
  ]);
  const issuers = [...new Set([...(own ? [own] : []), ...providers])];
  if (issuers.length === 0) {
    throw new InventorySourceError(
      'aws: the cluster publishes no ServiceAccount issuer and no ClusterCredentialProvider names one; pass the issuer explicitly',
    );
  }
  return issuers;
}

async function iamRoles(iam: IamInventoryPort, issuers: string[]): Promise<RawIamRole[]> {
  const trusting = (await iam.listRoles()).filter((role) => trustsIssuer(role.trustPolicy, issuers));
  const detailed = await mapLimited(trusting, async (role) => {
    const details = await iam.getRole(role.name);
    return details ? { ...role, ...details } : undefined;
  });
  return detailed.filter((role): role is RawIamRole => role !== undefined);
}

async function iamUsersWithKeys(iam: IamInventoryPort): Promise<RawIamUser[]> {
  const users = await mapLimited(await iam.listUsers(), async (user) => ({
    ...user,
    accessKeys: await iam.listAccessKeys(user.name),
  }));
  return mapLimited(
    users.filter((user) => user.accessKeys.length > 0),
    async (user) => ({ ...user, tags: await iam.listUserTags(user.name) }),
  );
}

async function vaultRoles(vault: NonNullable<InventorySources['vault']>): Promise<RawVaultRole[]> {
  const [names, owners] = await Promise.all([
    vault.port.listRoles(vault.authMount),
    vault.port.listOwnerRecords(vault.kvMount),
  ]);
  const roles = await mapLimited(names, (name) => vault.port.readRole(vault.authMount, name));
  return roles
    .filter((role): role is Omit<RawVaultRole, 'ownerRecord'> => role !== undefined)
    .map((role) => {
      const ownerRecord = owners[role.name];
      return ownerRecord ? { ...role, ownerRecord } : role;
    });
}

async function databaseRoles(vault: NonNullable<InventorySources['vault']>): Promise<RawDatabaseRole[]> {
  const { port, databaseMount } = vault;
  if (!databaseMount || !port.listDatabaseRoles || !port.readDatabaseRole) return [];
  const read = port.readDatabaseRole.bind(port);
  const roles = await mapLimited(await port.listDatabaseRoles(databaseMount), (name) =>
    read(databaseMount, name),
  );
  return roles.filter((role): role is RawDatabaseRole => role !== undefined);
}

const marksOf = (o: { labels?: Record<string, string>; annotations?: Record<string, string> }) => ({
  ...o.labels,
  ...o.annotations,
});

/**
 * Literal credentials in pod templates, ConfigMap data and annotations. The objects hold the values;
 * only the findings (rule, location, fingerprint) leave this function.
 */
async function scanForSecrets(
  workloads: RawWorkload[],
  configMaps: RawConfigMap[],
): Promise<RawSecretFinding[]> {
  const perWorkload = await mapLimited(workloads, async (w) => {
    const ref = { kind: w.kind, namespace: w.namespace, name: w.name };
    const found = [
      ...(await scanPodSpec(w.podSpec, ref)),
      ...(await scanAnnotations(w.annotations, ref)),
      ...(await scanAnnotations(w.templateAnnotations, ref)).map((f) => ({
        ...f,
        location: { ...f.location, field: f.location.field.replace('metadata.', 'spec.template.metadata.') },
      })),
    ];
    return found.map((f) => ({ ...f, marks: marksOf(w) }));
  });
  const perConfigMap = await mapLimited(configMaps, async (c) => {
    const ref = { kind: 'ConfigMap', namespace: c.namespace, name: c.name };
    const found = [...(await scanConfigMapData(c.data, ref)), ...(await scanAnnotations(c.annotations, ref))];
    return found.map((f) => ({ ...f, marks: marksOf(c) }));
  });
  return [...perWorkload.flat(), ...perConfigMap.flat()];
}

/** Every read the inventory makes, in one place. */
export async function gatherInventory(sources: InventorySources): Promise<RawInventory> {
  const k = sources.kubernetes;
  const [identities, serviceAccounts, tokenSecrets, pods, workloads, configMaps] = await Promise.all([
    k.listAgentIdentities(),
    k.listServiceAccounts(),
    k.listTokenSecrets(),
    k.listPods(),
    k.listWorkloads(),
    k.listConfigMaps(),
  ]);
  const raw: RawInventory = {
    now: sources.now?.() ?? new Date(),
    identities,
    serviceAccounts,
    tokenSecrets,
    pods,
    secrets: await scanForSecrets(workloads, configMaps),
  };
  if (sources.aws) {
    const issuers = await clusterIssuers(sources);
    const [roles, users] = await Promise.all([
      iamRoles(sources.aws.iam, issuers),
      iamUsersWithKeys(sources.aws.iam),
    ]);
    raw.aws = { issuers, roles, users };
  }
  if (sources.vault) {
    const [roles, databaseRoleList] = await Promise.all([
      vaultRoles(sources.vault),
      databaseRoles(sources.vault),
    ]);
    raw.vault = { roles, ...(sources.vault.databaseMount ? { databaseRoles: databaseRoleList } : {}) };
  }
  return raw;
}

/** Every NHI the cluster can reach, classified. */
export async function collectInventory(sources: InventorySources): Promise<InventoryItem[]> {
  return classify(await gatherInventory(sources));
}
