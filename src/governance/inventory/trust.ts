// Who may assume an IAM role or log in through a Vault kubernetes-auth role, read from the trust
// policy or role binding: the ServiceAccount subjects, whether any of them is a wildcard, and
// whether the binding is unrestricted. Pure.

export interface SubjectRef {
  namespace: string;
  name: string;
  /** `ns/name` as written, wildcards kept. */
  text: string;
  /** The namespace or name is a glob (`*`, `?`), so it matches ServiceAccounts that may not exist yet. */
  pattern: boolean;
}

export interface TrustBinding {
  subjects: SubjectRef[];
  /** Conditions that do not name ServiceAccounts at all (raw text), e.g. a `sub` of another form. */
  unrecognized: string[];
  /** Nothing restricts which ServiceAccount may use it (no `sub` condition, no names, or a selector). */
  unrestricted: boolean;
}

const SA_PREFIX = 'system:serviceaccount:';

/** `https://oidc.example/id/ABC/` -> `oidc.example/id/ABC` (how IAM names the provider and its condition keys). */
export function issuerHostOf(issuer: string): string {
  return issuer.replace(/^https?:\/\//, '').replace(/\/+$/, '');
}

const isGlob = (text: string) => /[*?]/.test(text);

function asArray(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

function strings(value: unknown): string[] {
  return asArray(value).filter((v): v is string => typeof v === 'string');
}

/** `system:serviceaccount:<ns>:<sa>` -> a subject; undefined for any other form. */
export function parseServiceAccountSubject(sub: string): SubjectRef | undefined {
  if (sub === '*') return { namespace: '*', name: '*', text: '*/*', pattern: true };
  if (!sub.startsWith(SA_PREFIX)) return undefined;
  const rest = sub.slice(SA_PREFIX.length);
  const colon = rest.indexOf(':');
  const namespace = colon < 0 ? rest : rest.slice(0, colon);
  const name = colon < 0 ? '*' : rest.slice(colon + 1);
  if (!namespace) return undefined;
  return {
    namespace,
    name: name || '*',
    text: `${namespace}/${name || '*'}`,
    pattern: isGlob(namespace) || isGlob(name) || colon < 0,
  };
}

interface Statement {
  Effect?: unknown;
  Principal?: unknown;
  Action?: unknown;
  Condition?: unknown;
}

function statements(policy: unknown): Statement[] {
  const doc = policy as { Statement?: unknown } | null;
  return asArray(doc?.Statement).filter((s): s is Statement => typeof s === 'object' && s !== null);
}

function allowsWebIdentity(statement: Statement): boolean {
  if (statement.Effect !== 'Allow') return false;
  return strings(statement.Action).some((a) => /^(sts:AssumeRoleWithWebIdentity|sts:\*|\*)$/i.test(a));
}

function federated(statement: Statement): string[] {
  const principal = statement.Principal as { Federated?: unknown } | string | undefined;
  if (principal === '*') return ['*'];
  return typeof principal === 'object' && principal !== null ? strings(principal.Federated) : [];
}

/** Condition values for `<host>:<claim>` under any operator (StringEquals, StringLike, ForAnyValue:...). */
function conditionValues(statement: Statement, host: string, claim: string): string[] | undefined {
  const conditions = statement.Condition as Record<string, Record<string, unknown>> | undefined;
  if (!conditions || typeof conditions !== 'object') return undefined;
  let found: string[] | undefined;
  for (const block of Object.values(conditions)) {
    if (!block || typeof block !== 'object') continue;
    for (const [key, value] of Object.entries(block)) {
      if (key.toLowerCase() === `${host}:${claim}`.toLowerCase())
        found = [...(found ?? []), ...strings(value)];
    }
  }
  return found;
}

/** The statements of a trust policy that let tokens from one of `issuers` assume the role. */
function issuerStatements(
  policy: unknown,
  issuers: readonly string[],
): Array<{ statement: Statement; host: string }> {
  const hosts = issuers.map(issuerHostOf);
  const out: Array<{ statement: Statement; host: string }> = [];
  for (const statement of statements(policy)) {
    if (!allowsWebIdentity(statement)) continue;
    const principals = federated(statement);
    const host = hosts.find(
      (h) =>
        principals.some((p) => p.endsWith(`:oidc-provider/${h}`)) ||
        conditionValues(statement, h, 'sub') !== undefined,
    );
    if (host) out.push({ statement, host });
  }
  return out;
}

/** True when the trust policy names one of the cluster's issuers (for filtering before reading tags). */
export function trustsIssuer(policy: unknown, issuers: readonly string[]): boolean {
  return issuerStatements(policy, issuers).length > 0;
}

/** The ServiceAccounts an IAM role trusts through the cluster's OIDC issuer(s). */
export function iamTrustBinding(policy: unknown, issuers: readonly string[]): TrustBinding {
  const binding: TrustBinding = { subjects: [], unrecognized: [], unrestricted: false };
  for (const { statement, host } of issuerStatements(policy, issuers)) {
    const subs = conditionValues(statement, host, 'sub');
    if (subs === undefined || subs.length === 0) {
      binding.unrestricted = true;
      continue;
    }
    for (const sub of subs) {
      const subject = parseServiceAccountSubject(sub);
      if (subject) binding.subjects.push(subject);
      else binding.unrecognized.push(sub);
    }
  }
  return binding;
}

/** The ServiceAccounts a Vault kubernetes-auth role admits: every name in every namespace. */
export function vaultRoleBinding(role: {
  boundServiceAccountNames: readonly string[];
  boundServiceAccountNamespaces: readonly string[];
  namespaceSelector?: string | undefined;
}): TrustBinding {
  const binding: TrustBinding = { subjects: [], unrecognized: [], unrestricted: false };
  const names = role.boundServiceAccountNames.filter(Boolean);
  const namespaces = role.boundServiceAccountNamespaces.filter(Boolean);
  if (role.namespaceSelector?.trim()) binding.unrestricted = true;
  if (names.length === 0 || (namespaces.length === 0 && !role.namespaceSelector?.trim())) {
    binding.unrestricted = true;
  }
  for (const namespace of namespaces) {
    for (const name of names) {
      binding.subjects.push({
        namespace,
        name,
        text: `${namespace}/${name}`,
        pattern: isGlob(namespace) || isGlob(name),
      });
    }
  }
  return binding;
}
