// Right-sizing: an identity's grants (spec.scopes) against what it was seen to use in the audit logs
// over a window. Reports each grant, or part of one, never used, and a narrower scope list that
// still allows every use seen: Kubernetes rules cut to the verbs, resources, groups and names used;
// Vault paths to the capabilities used (and a glob to the narrowest one covering the paths used);
// AWS actions to those CloudTrail saw. Only the backends that had an audit source are judged; other
// grants (and database grants, which no audit log here shows) are kept as they are. Pure: it
// suggests, it never changes a grant.

import type {
  ActivityBackendSummary,
  AwsScope,
  KubernetesScope,
  PolicyRule,
  RightSizingStatus,
  Scope,
  UnusedGrant,
  VaultPathGrant,
  VaultScope,
} from '../../api/v1alpha1/types.ts';
import type { ActivityBackend, ActivityEvent } from './types.ts';

/** One distinct allowed request, as right-sizing compares it with the grants. */
export interface Use {
  backend: ActivityBackend;
  /** Kubernetes verb, Vault operation, or `<service>:<EventName>` for AWS. */
  verb: string;
  /** Kubernetes resource (with subresource), Vault path, or AWS resource. */
  resource: string;
  /** Kubernetes only. */
  apiGroup?: string;
  namespace?: string;
  name?: string;
  lastSeen: string;
}

/** The use an allowed event stands for; a denied or failed request uses no grant. */
export function useOf(event: ActivityEvent): Use | undefined {
  if (event.outcome !== 'allowed') return undefined;
  if (event.backend === 'kubernetes') {
    const t = event.target;
    if (!t) return undefined;
    return {
      backend: 'kubernetes',
      verb: event.verb,
      resource: t.resource,
      apiGroup: t.apiGroup,
      ...(t.namespace ? { namespace: t.namespace } : {}),
      ...(t.name ? { name: t.name } : {}),
      lastSeen: event.time,
    };
  }
  return { backend: event.backend, verb: event.verb, resource: event.resource, lastSeen: event.time };
}

/** Identifies a use regardless of when it was seen. */
export function useKey(use: Use): string {
  return [use.backend, use.verb, use.apiGroup ?? '', use.resource, use.namespace ?? '', use.name ?? ''].join(
    '\u0000',
  );
}

/** The distinct uses among events, the latest time each was seen. */
export function distinctUses(events: Iterable<ActivityEvent>): Use[] {
  const out = new Map<string, Use>();
  for (const event of events) {
    const use = useOf(event);
    if (!use) continue;
    const key = useKey(use);
    const seen = out.get(key);
    if (!seen || seen.lastSeen < use.lastSeen) out.set(key, use);
  }
  return [...out.values()];
}

// --- Kubernetes -------------------------------------------------------------------------------

function resourceMatches(granted: string, used: string): boolean {
  if (granted === '*' || granted === used) return true;
  const sub = used.indexOf('/');
  return sub > 0 && granted === `*${used.slice(sub)}`;
}

/** RBAC's own matching: group, resource (star, exact, or star-slash-subresource), verb, resourceNames. */
export function ruleAllows(rule: PolicyRule, use: Use): boolean {
  const groups = rule.apiGroups ?? [];
  const resources = rule.resources ?? [];
  return (
    (groups.includes('*') || groups.includes(use.apiGroup ?? '')) &&
    resources.some((r) => resourceMatches(r, use.resource)) &&
    (rule.verbs.includes('*') || rule.verbs.includes(use.verb)) &&
    (!rule.resourceNames?.length || (use.name !== undefined && rule.resourceNames.includes(use.name)))
  );
}

export function describeRule(rule: PolicyRule): string {
  const groups = (rule.apiGroups ?? []).map((g) => g || 'core').join(',');
  const names = rule.resourceNames?.length ? ` names=${rule.resourceNames.join(',')}` : '';
  return `${rule.verbs.join(',')} on ${(rule.resources ?? []).join(',')} (${groups})${names}`;
}

const sorted = (values: Iterable<string>) => [...new Set(values)].sort();

/** What of the rule's verbs x resources was never used, in words; undefined when all of it was. */
function unusedOfRule(rule: PolicyRule, uses: readonly Use[]): string | undefined {
  if (uses.length === 0) return 'never used';
  const parts: string[] = [];
  const usedVerbs = sorted(uses.map((u) => u.verb));
  const usedResources = sorted(uses.map((u) => u.resource));
  if (rule.verbs.includes('*')) parts.push(`verbs * used only as ${usedVerbs.join(',')}`);
  for (const resource of rule.resources ?? []) {
    if (resource.includes('*')) {
      const on = usedResources.filter((r) => resourceMatches(resource, r));
      if (on.length === 0) parts.push(`${resource}: never used`);
      else parts.push(`resources ${resource} used only as ${on.join(',')}`);
      continue;
    }
    const verbs = uses.filter((u) => u.resource === resource).map((u) => u.verb);
    if (verbs.length === 0) {
      parts.push(`${resource}: never used`);
      continue;
    }
    const idle = rule.verbs.filter((v) => v !== '*' && !verbs.includes(v));
    if (idle.length > 0) parts.push(`${idle.join(',')} on ${resource}`);
  }
  if ((rule.apiGroups ?? []).includes('*'))
    parts.push(`apiGroups * used only as ${sorted(uses.map((u) => u.apiGroup || 'core')).join(',')}`);
  if (rule.resourceNames?.length) {
    const names = new Set(uses.map((u) => u.name));
    const idle = rule.resourceNames.filter((n) => !names.has(n));
    if (idle.length > 0) parts.push(`names ${idle.join(',')}`);
  }
  return parts.length > 0 ? parts.join('; ') : undefined;
}

/** The rules that allow exactly these uses: one per group and verb set, resources together. */
function narrowRule(rule: PolicyRule, uses: readonly Use[]): PolicyRule[] {
  const byResource = new Map<string, { group: string; resource: string; verbs: Set<string> }>();
  for (const use of uses) {
    const key = `${use.apiGroup ?? ''}\u0000${use.resource}`;
    const entry = byResource.get(key) ?? {
      group: use.apiGroup ?? '',
      resource: use.resource,
      verbs: new Set<string>(),
    };
    entry.verbs.add(use.verb);
    byResource.set(key, entry);
  }
  const merged = new Map<string, PolicyRule>();
  for (const { group, resource, verbs } of byResource.values()) {
    const verbList = sorted(verbs);
    const key = `${group}\u0000${verbList.join(',')}`;
    const rule2 = merged.get(key);
    if (rule2) rule2.resources = sorted([...(rule2.resources ?? []), resource]);
    else merged.set(key, { apiGroups: [group], resources: [resource], verbs: verbList });
  }
  const names = rule.resourceNames?.length ? sorted(uses.flatMap((u) => (u.name ? [u.name] : []))) : [];
  return [...merged.values()].map((r) => (names.length > 0 ? { ...r, resourceNames: names } : r));
}

function rightSizeKubernetes(
  scope: KubernetesScope,
  index: number,
  uses: readonly Use[],
  namespace: string,
  unused: UnusedGrant[],
): KubernetesScope | undefined {
  // The Role is in the identity's namespace: only requests there can have used it.
  const here = uses.filter((u) => u.backend === 'kubernetes' && u.namespace === namespace);
  const rules: PolicyRule[] = [];
  scope.rules.forEach((rule, r) => {
    const mine = here.filter((u) => ruleAllows(rule, u));
    const idle = unusedOfRule(rule, mine);
    if (idle)
      unused.push({ field: `spec.scopes[${index}].rules[${r}]`, grant: describeRule(rule), unused: idle });
    rules.push(...(idle ? narrowRule(rule, mine) : [rule]));
  });
  return rules.length > 0 ? { provider: 'kubernetes', rules } : undefined;
}

// --- Vault ------------------------------------------------------------------------------------

/** Vault ACL path matching: a trailing `*` is a prefix match, `+` one whole segment. */
export function vaultPathMatches(pattern: string, path: string): boolean {
  const glob = pattern.endsWith('*');
  const literal = glob ? pattern.slice(0, -1) : pattern;
  const want = literal.split('/');
  const have = path.split('/');
  for (let i = 0; i < want.length; i++) {
    const w = want[i] as string;
    const h = have[i];
    if (h === undefined) return false;
    const last = i === want.length - 1;
    if (w === '+') {
      if (h === '') return false;
      continue;
    }
    if (last && glob) return h.startsWith(w);
    if (w !== h) return false;
  }
  return glob || have.length === want.length;
}

/** The capability an audited Vault operation needs. */
function capabilityOf(operation: string): string | undefined {
  return ['read', 'list', 'create', 'update', 'delete', 'patch'].includes(operation) ? operation : undefined;
}

/** The narrowest path covering every path used: one path exactly, else their common folder `/*`. */
function narrowPath(pattern: string, paths: readonly string[]): string {
  if (!/[*+]/.test(pattern)) return pattern;
  const unique = sorted(paths);
  if (unique.length === 1) return unique[0] as string;
  const split = unique.map((p) => p.split('/'));
  const common: string[] = [];
  for (let i = 0; ; i++) {
    const segment = split[0]?.[i];
    if (segment === undefined || split.some((s) => s[i] !== segment || i === s.length - 1)) break;
    common.push(segment);
  }
  const candidate = `${common.join('/')}/*`;
  const literal = pattern.slice(0, pattern.search(/[*+]/));
  return pattern.includes('+') || candidate.length <= literal.length + 1 ? pattern : candidate;
}

function rightSizeVault(
  scope: VaultScope,
  index: number,
  uses: readonly Use[],
  unused: UnusedGrant[],
): VaultScope | undefined {
  const paths: VaultPathGrant[] = [];
  (scope.paths ?? []).forEach((grant, p) => {
    const field = `spec.scopes[${index}].paths[${p}]`;
    const text = `${grant.capabilities.join(',')} on ${grant.path}`;
    const mine = uses.filter(
      (u) =>
        u.backend === 'vault' &&
        vaultPathMatches(grant.path, u.resource) &&
        grant.capabilities.includes(capabilityOf(u.verb) ?? '\u0000'),
    );
    if (mine.length === 0) {
      unused.push({ field, grant: text, unused: 'never used' });
      return;
    }
    const used = new Set(mine.map((u) => u.verb));
    const capabilities = grant.capabilities.filter((c) => used.has(c) || c === 'deny');
    const idle = grant.capabilities.filter((c) => !capabilities.includes(c));
    const path = narrowPath(
      grant.path,
      mine.map((u) => u.resource),
    );
    const parts = [
      ...(idle.length > 0 ? [`${idle.join(',')} never used`] : []),
      ...(path !== grant.path ? [`used only under ${path}`] : []),
    ];
    if (parts.length > 0) unused.push({ field, grant: text, unused: parts.join('; ') });
    paths.push({ path, capabilities });
  });
  if (paths.length === 0 && !scope.database) return undefined;
  const { paths: _granted, ...rest } = scope;
  return { ...rest, ...(paths.length > 0 ? { paths } : {}) };
}

// --- AWS --------------------------------------------------------------------------------------

function globMatcher(pattern: string, flags = ''): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, flags);
}

function awsResourceMatches(granted: readonly string[], used: string): boolean {
  // CloudTrail names some resources by name, not ARN: those cannot be told apart, so they count.
  if (!used.startsWith('arn:')) return true;
  return granted.some((g) => globMatcher(g).test(used));
}

function rightSizeAws(
  scope: AwsScope,
  index: number,
  uses: readonly Use[],
  unused: UnusedGrant[],
): AwsScope | undefined {
  const mine = uses.filter((u) => u.backend === 'aws' && awsResourceMatches(scope.resources, u.resource));
  const actions: string[] = [];
  const idle: string[] = [];
  for (const action of scope.actions) {
    const matcher = globMatcher(action, 'i');
    const used = sorted(mine.filter((u) => matcher.test(u.verb)).map((u) => u.verb));
    if (used.length === 0) idle.push(action);
    else actions.push(...(/[*?]/.test(action) ? used : [action]));
  }
  const field = `spec.scopes[${index}]`;
  const grant = `${scope.actions.join(',')} on ${scope.resources.join(',')}`;
  if (actions.length === 0) {
    unused.push({ field, grant, unused: 'never used' });
    return undefined;
  }
  const widened = scope.actions.filter((a) => /[*?]/.test(a) && !idle.includes(a));
  const parts = [
    ...(idle.length > 0 ? [`${idle.join(',')} never used`] : []),
    ...widened.map(
      (a) =>
        `${a} used only as ${sorted(mine.filter((u) => globMatcher(a, 'i').test(u.verb)).map((u) => u.verb)).join(',')}`,
    ),
  ];
  if (parts.length > 0) unused.push({ field, grant, unused: parts.join('; ') });
  return { ...scope, actions: sorted(actions) };
}

// --- All --------------------------------------------------------------------------------------

export interface RightSizeInput {
  scopes: readonly Scope[] | undefined;
  /** The identity's namespace (its Role's). */
  namespace: string;
  uses: readonly Use[];
  /** Backends whose audit source was read; grants of the others are not judged. */
  backends: readonly ActivityBackend[];
  /** Start of the evidence. */
  since: string;
  complete: boolean;
}

const BACKEND_OF: Record<Scope['provider'], ActivityBackend> = {
  kubernetes: 'kubernetes',
  vault: 'vault',
  aws: 'aws',
};

/** Unused grants and the narrower scopes, for status.activity.rightSizing and `nhictl activity`. */
export function rightSize(input: RightSizeInput): RightSizingStatus {
  const unused: UnusedGrant[] = [];
  const suggested: Scope[] = [];
  (input.scopes ?? []).forEach((scope, index) => {
    if (!input.backends.includes(BACKEND_OF[scope.provider])) {
      suggested.push(scope);
      return;
    }
    const narrowed =
      scope.provider === 'kubernetes'
        ? rightSizeKubernetes(scope, index, input.uses, input.namespace, unused)
        : scope.provider === 'vault'
          ? rightSizeVault(scope, index, input.uses, unused)
          : rightSizeAws(scope, index, input.uses, unused);
    if (narrowed) suggested.push(narrowed);
  });
  const backends = (['kubernetes', 'vault', 'aws'] as const).filter((b) => input.backends.includes(b));
  return {
    since: input.since,
    complete: input.complete,
    backends: backends as Array<ActivityBackendSummary['backend']>,
    unused: unused.slice(0, MAX_UNUSED),
    ...(unused.length > 0 ? { suggestedScopes: suggested.map(clean) } : {}),
  };
}

/** At most this many unused grants are listed (spec.scopes holds at most 32 scopes). */
export const MAX_UNUSED = 64;

function clean(scope: Scope): Scope {
  return JSON.parse(JSON.stringify(scope)) as Scope;
}
