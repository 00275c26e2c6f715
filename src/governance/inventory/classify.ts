// The pure core of the inventory: raw objects from Kubernetes, IAM and Vault in, one classified
// InventoryItem per non-human identity out, with its owner, state and findings (shadow, dangling
// or wildcard trust, ghosts left with our marks, legacy tokens, static keys, risk).

import { Marks } from '../../api/v1alpha1/annotations.ts';
import type { AgentIdentity } from '../../api/v1alpha1/types.ts';
import { serviceAccountNameOf } from '../../providers/kubernetes/names.ts';
import { assessRisk, summarizeRisk } from '../risk/risk.ts';
import { describeLocation, hardCodedSecretOf } from '../secrets/detect.ts';
import { isSystemServiceAccount } from './system.ts';
import { iamTrustBinding, type SubjectRef, type TrustBinding, vaultRoleBinding } from './trust.ts';
import {
  type Finding,
  type InventoryItem,
  InventoryTypes,
  type RawDatabaseRole,
  type RawIamRole,
  type RawIamUser,
  type RawInventory,
  type RawSecretFinding,
  type RawServiceAccount,
  type RawTokenSecret,
  type RawVaultRole,
} from './types.ts';

const DAY_MS = 86_400_000;
/** Access keys older than this are overdue for rotation (the quarterly review). */
export const ACCESS_KEY_MAX_AGE_DAYS = 90;

interface Context {
  now: Date;
  identitiesByUid: Map<string, AgentIdentity>;
  identitiesByRef: Map<string, AgentIdentity>;
  /** `ns/name` of every ServiceAccount that exists. */
  serviceAccounts: Set<string>;
  podsByServiceAccount: Map<string, number>;
  /** Owners of ServiceAccounts, for the token Secrets that belong to them. */
  saItems: Map<string, InventoryItem>;
  /** `ns/Kind/name` of a workload -> the literal credentials found in it. */
  secretsByWorkload: Map<string, RawSecretFinding[]>;
  /** `ns/Kind/name` of a workload -> the AgentIdentity whose workloadRef names it. */
  identityByWorkload: Map<string, AgentIdentity>;
  /** `ServiceAccount:ns/name`, `IAMRole:name`, `VaultRole:name` -> the Observe-mode identity reporting it. */
  observedBy: Map<string, AgentIdentity>;
}

/**
 * What Observe-mode identities observe: their ServiceAccount (in their own namespace), and the roles
 * their status reports (a role is reported only when its trust binds that namespace alone).
 */
function observedObjects(identities: readonly AgentIdentity[]): Map<string, AgentIdentity> {
  const out = new Map<string, AgentIdentity>();
  for (const identity of identities) {
    const refs = identity.spec.management === 'Observe' ? identity.spec.observe : undefined;
    if (!refs) continue;
    out.set(`ServiceAccount:${key(identity.metadata.namespace ?? '', refs.serviceAccountName)}`, identity);
    for (const o of identity.status?.observed?.objects ?? []) {
      if (o.reported && o.kind !== 'ServiceAccount') out.set(`${o.kind}:${o.name}`, identity);
    }
  }
  return out;
}

const workloadKey = (namespace: string | undefined, kind: string, name: string) =>
  `${namespace ?? ''}/${kind}/${name}`;

const key = (namespace: string, name: string) => `${namespace}/${name}`;
const ref = (identity: AgentIdentity) => key(identity.metadata.namespace ?? '', identity.metadata.name);

function condition(identity: AgentIdentity, type: string) {
  return identity.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

/** Lifecycle state from conditions (the phase is only a hint for humans). */
export function identityState(identity: AgentIdentity): string {
  if (identity.metadata.deletionTimestamp) return 'Deleting';
  if (condition(identity, 'Revoked')) return 'Revoked';
  const quarantined = condition(identity, 'Quarantined');
  if (quarantined) return `Quarantined (${quarantined.reason})`;
  if (condition(identity, 'Orphaned')) return 'Orphaned';
  if (condition(identity, 'Expired')) return 'Expired';
  const compliant = identity.status?.conditions?.find((c) => c.type === 'PolicyCompliant');
  if (compliant?.status === 'False') return 'NonCompliant';
  if (condition(identity, 'Ready')) return 'Active';
  return identity.status?.phase ?? 'Pending';
}

interface Ownership {
  managed: boolean;
  identity?: AgentIdentity;
  owner?: string;
  purpose?: string;
  environment?: string;
  findings: Finding[];
}

/** Who owns an object, from our marks (labels, annotations, tags, Vault owner records). */
function ownership(
  marks: Record<string, string>,
  ctx: Context,
  what: string,
  ownerUid?: string,
  observedAs?: string,
): Ownership {
  const uid = marks[Marks.identityUid] ?? ownerUid;
  const identity = uid ? ctx.identitiesByUid.get(uid) : undefined;
  const observer = !identity && observedAs ? ctx.observedBy.get(observedAs) : undefined;
  if (observer) {
    return {
      managed: false,
      identity: observer,
      owner: observer.spec.owner.team,
      purpose: observer.spec.purpose,
      environment: observer.spec.environment,
      findings: [
        {
          kind: 'observed',
          severity: 'info',
          message: `${what} is observed (not managed) by AgentIdentity ${ref(observer)}: recorded and reported, never changed; switch it to Managed to move the workload to managed credentials`,
        },
      ],
    };
  }
  if (identity) {
    return {
      managed: true,
      identity,
      owner: identity.spec.owner.team,
      purpose: identity.spec.purpose,
      environment: identity.spec.environment,
      findings: [],
    };
  }
  const out: Ownership = { managed: false, findings: [] };
  const [owner, purpose, environment] = [marks[Marks.owner], marks[Marks.purpose], marks[Marks.environment]];
  if (owner) out.owner = owner;
  if (purpose) out.purpose = purpose;
  if (environment) out.environment = environment;
  if (uid) {
    out.findings.push({
      kind: 'orphaned-marks',
      severity: 'high',
      message: `${what} carries ${Marks.identityUid}=${uid} but that AgentIdentity no longer exists: a ghost left behind`,
    });
  } else if (!out.owner) {
    out.findings.push({
      kind: 'shadow',
      severity: 'warning',
      message: `${what} is not owned by an AgentIdentity and has no ${Marks.owner} annotation or tag`,
    });
  }
  return out;
}

function item(
  base: Omit<InventoryItem, 'findings' | 'managed'>,
  own: Ownership,
  extra: Finding[] = [],
): InventoryItem {
  const out: InventoryItem = { ...base, managed: own.managed, findings: [...own.findings, ...extra] };
  if (own.owner) out.owner = own.owner;
  if (own.purpose) out.purpose = own.purpose;
  if (own.environment) out.environment = own.environment;
  if (own.identity) out.identity = ref(own.identity);
  return out;
}

/** What the operator found in the audit logs: anomalies, and grants unused over a whole window. */
function activityFindings(identity: AgentIdentity): Finding[] {
  const activity = identity.status?.activity;
  const out: Finding[] = (activity?.anomalies ?? []).map((a) => ({
    kind: 'anomaly',
    severity: a.kind === 'after-quarantine' ? 'high' : 'warning',
    message: `${a.kind} at ${a.time}: ${a.message}`,
  }));
  const unused = activity?.rightSizing?.complete ? activity.rightSizing.unused : [];
  if (unused.length > 0)
    out.push({
      kind: 'unused-grants',
      severity: 'info',
      message: `${unused.length} grant${unused.length > 1 ? 's' : ''} not (fully) used since ${activity?.rightSizing?.since}: ${unused
        .slice(0, 3)
        .map((u) => `${u.field} ${u.unused}`)
        .join('; ')}${unused.length > 3 ? `; and ${unused.length - 3} more` : ''}`,
    });
  return out;
}

function identityItem(identity: AgentIdentity, ctx: Context): InventoryItem {
  const w = identity.spec.workloadRef;
  const secrets = w
    ? (ctx.secretsByWorkload.get(workloadKey(identity.metadata.namespace, w.kind, w.name)) ?? [])
    : [];
  const hardCodedSecrets = secrets.map(hardCodedSecretOf);
  const risk = assessRisk({ identity, now: ctx.now, hardCodedSecrets });
  const findings: Finding[] = [];
  if (risk.level === 'High' || risk.level === 'Critical') {
    const overdue = risk.remediateBy && Date.parse(risk.remediateBy) < ctx.now.getTime();
    findings.push({
      kind: 'risk',
      severity: risk.level === 'Critical' ? 'critical' : 'high',
      message: `${summarizeRisk(risk)}; remediate by ${risk.remediateBy?.slice(0, 10) ?? '-'}${overdue ? ' (overdue)' : ''}`,
    });
  }
  findings.push(...activityFindings(identity));
  const namespace = identity.metadata.namespace ?? '';
  return {
    type: 'AgentIdentity',
    name: identity.metadata.name,
    namespace,
    provider: 'kubernetes',
    owner: identity.spec.owner.team,
    purpose: identity.spec.purpose,
    environment: identity.spec.environment,
    state: identityState(identity),
    managed: true,
    identity: ref(identity),
    boundTo: [key(namespace, serviceAccountNameOf(identity))],
    risk,
    ...(identity.status?.activity?.rightSizing ? { rightSizing: identity.status.activity.rightSizing } : {}),
    findings,
  };
}

const merged = (o: { labels?: Record<string, string>; annotations?: Record<string, string> }) => ({
  ...o.labels,
  ...o.annotations,
});

function serviceAccountItem(sa: RawServiceAccount, ctx: Context): InventoryItem {
  const pods = ctx.podsByServiceAccount.get(key(sa.namespace, sa.name)) ?? 0;
  const state = pods > 0 ? `in use (${pods} pod${pods > 1 ? 's' : ''})` : 'unused';
  const base = { name: sa.name, namespace: sa.namespace, provider: 'kubernetes' as const, state };
  const system = isSystemServiceAccount(sa.namespace, sa.name);
  if (system)
    return { ...base, type: 'System', managed: false, owner: 'kubernetes', purpose: system, findings: [] };
  const ownerRef = sa.ownerReferences?.find((o) => o.kind === 'AgentIdentity')?.uid;
  const own = ownership(
    merged(sa),
    ctx,
    `ServiceAccount ${key(sa.namespace, sa.name)}`,
    ownerRef,
    `ServiceAccount:${key(sa.namespace, sa.name)}`,
  );
  const extra: Finding[] =
    !own.managed && pods === 0
      ? [
          {
            kind: 'unused',
            severity: 'info',
            message: 'no pod runs as this ServiceAccount: a candidate for removal',
          },
        ]
      : [];
  return item({ ...base, type: 'ServiceAccount' }, own, extra);
}

function tokenSecretItem(secret: RawTokenSecret, ctx: Context): InventoryItem {
  const saName = secret.serviceAccountName ?? '';
  const saKey = key(secret.namespace, saName);
  const base = {
    name: secret.name,
    namespace: secret.namespace,
    provider: 'kubernetes' as const,
    state: `token of ${saName || '?'}`,
    boundTo: [saKey],
  };
  const system = isSystemServiceAccount(secret.namespace, saName);
  if (system)
    return { ...base, type: 'System', managed: false, owner: 'kubernetes', purpose: system, findings: [] };
  const marks = merged(secret);
  const sa = ctx.saItems.get(saKey);
  // The token belongs to its ServiceAccount: it inherits the SA's owner unless it names its own.
  const own: Ownership =
    marks[Marks.identityUid] || marks[Marks.owner] || !sa
      ? ownership(marks, ctx, `token Secret ${key(secret.namespace, secret.name)}`)
      : inherited(sa, ctx, `token Secret ${key(secret.namespace, secret.name)}`);
  const extra: Finding[] = [
    {
      kind: 'legacy-token',
      severity: 'warning',
      message:
        'a non-expiring ServiceAccount token stored in a Secret; use projected (TokenRequest) tokens instead',
    },
  ];
  if (!ctx.serviceAccounts.has(saKey)) {
    extra.push({
      kind: 'dangling-trust',
      severity: 'high',
      message: `token of ServiceAccount ${saKey}, which does not exist`,
    });
  }
  return item({ ...base, type: 'ServiceAccountToken' }, own, extra);
}

function inherited(sa: InventoryItem, ctx: Context, what: string): Ownership {
  const identity = sa.identity ? ctx.identitiesByRef.get(sa.identity) : undefined;
  const out: Ownership = { managed: sa.managed, findings: [] };
  if (identity) out.identity = identity;
  if (sa.owner) out.owner = sa.owner;
  if (sa.purpose) out.purpose = sa.purpose;
  if (sa.environment) out.environment = sa.environment;
  if (!sa.managed && !sa.owner) {
    out.findings.push({
      kind: 'shadow',
      severity: 'warning',
      message: `${what} belongs to ServiceAccount ${sa.namespace}/${sa.name}, which has no owner`,
    });
  }
  return out;
}

/** Findings about whom a role trusts: unrestricted, wildcard subjects, subjects that do not exist. */
function trustFindings(binding: TrustBinding, ctx: Context, what: string): Finding[] {
  const findings: Finding[] = [];
  if (binding.unrestricted) {
    findings.push({
      kind: 'wildcard-trust',
      severity: 'critical',
      message: `${what} does not restrict which ServiceAccount may use it`,
    });
  }
  const patterns = binding.subjects.filter((s) => s.pattern);
  if (patterns.length > 0) {
    findings.push({
      kind: 'wildcard-trust',
      severity: 'high',
      message: `${what} trusts ServiceAccounts by wildcard: ${patterns.map((s) => s.text).join(', ')}`,
    });
  }
  const missing = binding.subjects.filter(
    (s: SubjectRef) => !s.pattern && !ctx.serviceAccounts.has(key(s.namespace, s.name)),
  );
  if (missing.length > 0) {
    findings.push({
      kind: 'dangling-trust',
      severity: 'high',
      message: `${what} trusts ServiceAccount${missing.length > 1 ? 's' : ''} ${missing.map((s) => s.text).join(', ')}, which do${missing.length > 1 ? '' : 'es'} not exist: whoever creates ${missing.length > 1 ? 'them' : 'it'} inherits the grant`,
    });
  }
  if (binding.unrecognized.length > 0) {
    findings.push({
      kind: 'wildcard-trust',
      severity: 'warning',
      message: `${what} has subject conditions that name no ServiceAccount: ${binding.unrecognized.join(', ')}`,
    });
  }
  return findings;
}

function iamRoleItem(role: RawIamRole, issuers: string[], ctx: Context): InventoryItem {
  const binding = iamTrustBinding(role.trustPolicy, issuers);
  const what = `IAM role ${role.name}`;
  const state = role.lastUsed ? `used ${role.lastUsed.slice(0, 10)}` : 'never used';
  return item(
    {
      type: 'IAMRole',
      name: role.name,
      provider: 'aws',
      state,
      boundTo: binding.subjects.map((s) => s.text),
    },
    ownership(role.tags, ctx, what, undefined, `IAMRole:${role.name}`),
    trustFindings(binding, ctx, what),
  );
}

function ageDays(date: string | undefined, now: Date): number | undefined {
  const t = date ? Date.parse(date) : Number.NaN;
  return Number.isFinite(t) ? Math.floor((now.getTime() - t) / DAY_MS) : undefined;
}

function iamUserItem(user: RawIamUser, ctx: Context): InventoryItem {
  const active = user.accessKeys.filter((k) => k.status === 'Active');
  const ages = active.map((k) => ageDays(k.createDate, ctx.now) ?? 0);
  const oldest = ages.length > 0 ? Math.max(...ages) : undefined;
  const lastUsed = user.accessKeys
    .map((k) => k.lastUsed)
    .filter((d): d is string => Boolean(d))
    .sort()
    .at(-1);
  const state = `${active.length} active / ${user.accessKeys.length} keys${lastUsed ? `, used ${lastUsed.slice(0, 10)}` : ', never used'}`;
  const findings: Finding[] = [];
  if (active.length > 0) {
    const stale = oldest !== undefined && oldest > ACCESS_KEY_MAX_AGE_DAYS;
    findings.push({
      kind: 'static-access-key',
      severity: stale ? 'high' : 'warning',
      message: `${active.length} active long-lived access key${active.length > 1 ? 's' : ''}, oldest ${oldest ?? '?'} days${stale ? ` (older than ${ACCESS_KEY_MAX_AGE_DAYS} days)` : ''}: prefer roles with short-lived sessions`,
    });
  }
  return item(
    { type: 'IAMUser', name: user.name, provider: 'aws', state },
    ownership(user.tags, ctx, `IAM user ${user.name}`),
    findings,
  );
}

function vaultRoleItem(role: RawVaultRole, ctx: Context): InventoryItem {
  const binding = vaultRoleBinding(role);
  const what = `Vault role ${role.mount}/${role.name}`;
  const state = role.policies.length > 0 ? `policies ${role.policies.join(', ')}` : 'no policies';
  return item(
    {
      type: 'VaultRole',
      name: role.name,
      provider: 'vault',
      state,
      boundTo: binding.subjects.map((s) => s.text),
    },
    ownership(role.ownerRecord ?? {}, ctx, what, undefined, `VaultRole:${role.name}`),
    trustFindings(binding, ctx, what),
  );
}

function databaseRoleItem(role: RawDatabaseRole, ctx: Context): InventoryItem {
  const what = `database role ${role.mount}/roles/${role.name}`;
  const writes = role.writes.length > 0 ? `, writes ${role.writes.join(', ')}` : ', read only';
  const state = `${role.quarantined ? 'quarantined' : 'issuing logins'} on ${role.connection || '?'}${writes}`;
  return item(
    { type: 'DatabaseRole', name: role.name, provider: 'vault', state },
    ownership({}, ctx, what, role.ownerUid),
  );
}

/** One item per literal credential: where, which rule, the fingerprint, and who owns the object. */
function secretItem(secret: RawSecretFinding, ctx: Context): InventoryItem {
  const { marks, ...finding } = secret;
  const l = finding.location;
  const identity = ctx.identityByWorkload.get(workloadKey(l.namespace, l.kind, l.name));
  const owner = marks?.[Marks.owner] ?? identity?.spec.owner.team;
  if (owner) finding.owner = identity && !marks?.[Marks.owner] ? ref(identity) : owner;
  const out: InventoryItem = {
    type: 'HardCodedSecret',
    name: `${l.kind}/${l.name}`,
    ...(l.namespace !== undefined ? { namespace: l.namespace } : {}),
    provider: 'kubernetes',
    state: `${l.container !== undefined ? `${l.container} ` : ''}${l.field}${l.line !== undefined ? ` line ${l.line}` : ''}`,
    managed: false,
    secret: finding,
    findings: [
      {
        kind: 'hard-coded-secret',
        severity: 'high',
        message: `${finding.rule} in ${describeLocation(l)} (fingerprint ${finding.fingerprint}): move it into a managed secret`,
      },
    ],
  };
  if (owner) out.owner = owner;
  if (identity) out.identity = ref(identity);
  return out;
}

export function classify(raw: RawInventory): InventoryItem[] {
  const secretsByWorkload = new Map<string, RawSecretFinding[]>();
  for (const s of raw.secrets ?? []) {
    const k = workloadKey(s.location.namespace, s.location.kind, s.location.name);
    secretsByWorkload.set(k, [...(secretsByWorkload.get(k) ?? []), s]);
  }
  const identityByWorkload = new Map<string, AgentIdentity>();
  for (const i of raw.identities) {
    const w = i.spec.workloadRef;
    if (w) identityByWorkload.set(workloadKey(i.metadata.namespace, w.kind, w.name), i);
  }
  const ctx: Context = {
    now: raw.now,
    identitiesByUid: new Map(
      raw.identities.filter((i) => i.metadata.uid).map((i) => [i.metadata.uid ?? '', i]),
    ),
    identitiesByRef: new Map(raw.identities.map((i) => [ref(i), i])),
    serviceAccounts: new Set(raw.serviceAccounts.map((sa) => key(sa.namespace, sa.name))),
    podsByServiceAccount: new Map(),
    saItems: new Map(),
    secretsByWorkload,
    identityByWorkload,
    observedBy: observedObjects(raw.identities),
  };
  for (const pod of raw.pods) {
    const k = key(pod.namespace, pod.serviceAccountName);
    ctx.podsByServiceAccount.set(k, (ctx.podsByServiceAccount.get(k) ?? 0) + 1);
  }
  const items: InventoryItem[] = raw.identities.map((identity) => identityItem(identity, ctx));
  for (const sa of raw.serviceAccounts) {
    const saItem = serviceAccountItem(sa, ctx);
    ctx.saItems.set(key(sa.namespace, sa.name), saItem);
    items.push(saItem);
  }
  items.push(...raw.tokenSecrets.map((secret) => tokenSecretItem(secret, ctx)));
  if (raw.aws) {
    const { issuers } = raw.aws;
    items.push(...raw.aws.roles.map((role) => iamRoleItem(role, issuers, ctx)));
    items.push(...raw.aws.users.filter((u) => u.accessKeys.length > 0).map((user) => iamUserItem(user, ctx)));
  }
  if (raw.vault) items.push(...raw.vault.roles.map((role) => vaultRoleItem(role, ctx)));
  items.push(...(raw.vault?.databaseRoles ?? []).map((role) => databaseRoleItem(role, ctx)));
  items.push(...(raw.secrets ?? []).map((secret) => secretItem(secret, ctx)));
  return items.sort(
    (a, b) =>
      InventoryTypes.indexOf(a.type) - InventoryTypes.indexOf(b.type) ||
      (a.namespace ?? '').localeCompare(b.namespace ?? '') ||
      a.name.localeCompare(b.name),
  );
}
