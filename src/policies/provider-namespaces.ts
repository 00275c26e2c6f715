// ClusterCredentialProvider spec.allowedNamespaces: which namespaces' AgentIdentities may use a
// provider (another team's AWS account or Vault must stay out of reach). A ValidatingAdmissionPolicy
// cannot read ClusterCredentialProviders (it sees the object, its params and the namespace), so the
// operator checks this before anything is provisioned (PolicyCompliant=False, which holds
// provisioning), and `nhictl lint` checks it when the providers are among its inputs.

import { DefaultProviderNames } from '../api/v1alpha1/defaults.ts';
import type {
  AgentIdentity,
  AllowedNamespaces,
  ClusterCredentialProvider,
  LabelSelector,
} from '../api/v1alpha1/types.ts';
import { type ProviderUse, resolvedProviderUses } from '../providers/resolution.ts';
import { childPath, type Violation } from './violation.ts';

/** A namespace's labels; undefined when they are not known (not in the operator's cache, or offline). */
export type NamespaceLabels = Readonly<Record<string, string>> | undefined;

/** metav1.LabelSelector semantics: every matchLabels entry and every expression must hold. */
export function labelSelectorMatches(
  selector: LabelSelector,
  labels: Readonly<Record<string, string>>,
): boolean {
  const has = (key: string) => Object.hasOwn(labels, key);
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (!has(key) || labels[key] !== value) return false;
  }
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const holds =
      operator === 'In'
        ? has(key) && values.includes(labels[key] as string)
        : operator === 'NotIn'
          ? !has(key) || !values.includes(labels[key] as string)
          : operator === 'Exists'
            ? has(key)
            : !has(key);
    if (!holds) return false;
  }
  return true;
}

/** An exact name, or a prefix ending in `*` (`team-a-*`; `*` alone is every namespace). */
export function namespaceNameMatches(pattern: string, namespace: string): boolean {
  return pattern.endsWith('*') ? namespace.startsWith(pattern.slice(0, -1)) : pattern === namespace;
}

/**
 * Whether `allowed` lets AgentIdentities in `namespace` use the provider: unset allows every
 * namespace; else a listed name or a matching selector does. `unknown` when only the selector could
 * decide and the labels are not known.
 */
export function namespaceAllowed(
  allowed: AllowedNamespaces | undefined,
  namespace: string,
  labels: NamespaceLabels,
): boolean | 'unknown' {
  if (!allowed) return true;
  if ((allowed.names ?? []).some((pattern) => namespaceNameMatches(pattern, namespace))) return true;
  if (!allowed.selector) return false;
  if (!labels) return 'unknown';
  return labelSelectorMatches(allowed.selector, labels);
}

/** The rule ids: a namespace refused, and a selector that could not be evaluated. */
export const ProviderNamespaceRules = {
  refused: 'operator:provider-namespace',
  unknown: 'operator:provider-namespace-unknown',
} as const;

function how(use: ProviderUse, provider: string): string {
  if (use.providerRef) return 'named in providerRef';
  if (provider === DefaultProviderNames[use.kind]) return `the default ${use.kind} provider`;
  return `where this identity's ${use.kind} credentials are recorded`;
}

/**
 * One violation per provider the identity uses whose allowedNamespaces leaves out the identity's
 * namespace, on the first scope or secret that uses it. A provider that does not exist is left to
 * provisioning, which fails naming it. Messages name the provider and the namespace, never the list
 * of namespaces the provider does allow (other tenants' names).
 */
export function providerNamespaceViolations(
  identity: AgentIdentity,
  providers: ReadonlyMap<string, ClusterCredentialProvider>,
  labels: NamespaceLabels,
): Violation[] {
  const namespace = identity.metadata.namespace ?? 'default';
  let uses: ReturnType<typeof resolvedProviderUses>;
  try {
    uses = resolvedProviderUses(identity);
  } catch {
    return []; // an ambiguous resolution fails provisioning, with its own message
  }
  const out: Violation[] = [];
  const seen = new Set<string>();
  for (const use of uses) {
    const config = providers.get(use.provider);
    if (!config?.spec[use.kind] || seen.has(use.provider)) continue;
    seen.add(use.provider);
    const verdict = namespaceAllowed(config.spec.allowedNamespaces, namespace, labels);
    if (verdict === true) continue;
    const field = use.providerRef ? childPath(use.field, 'providerRef') : use.field;
    const which = `ClusterCredentialProvider ${use.provider} (${how(use, use.provider)})`;
    out.push(
      verdict === 'unknown'
        ? {
            field,
            message: `${which} admits namespaces by label, and the labels of namespace ${namespace} are not known: nothing is provisioned through it until they are`,
            rule: ProviderNamespaceRules.unknown,
          }
        : {
            field,
            message: `${which} does not allow namespace ${namespace} (its spec.allowedNamespaces): nothing is provisioned through it`,
            rule: ProviderNamespaceRules.refused,
          },
    );
  }
  return out;
}
