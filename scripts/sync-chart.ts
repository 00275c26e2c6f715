// `npx tsx scripts/sync-chart.ts`: keeps the Helm chart and the kustomize tree in step with their
// sources. Three kinds of output:
//
//   copies      the generated CRDs, the ValidatingAdmissionPolicy with its binding and the default
//               IdentityPolicy, copied into charts/nhi-operator/{crds,files}/ and config/crd/bases/
//               and config/default/ (Helm and kustomize only read files inside their own folder);
//               the CRD copies gain Argo CD's Prune=false,Delete=false;
//   RBAC        the operator's permissions, written from the one table below into the chart
//               (templates/_rbac-rules.tpl) and into kustomize (config/rbac/role.yaml), so both
//               install methods grant exactly the same rules; and the nhi-security ClusterRole
//               (the protected controls) into the chart and config/rbac/security_role.yaml;
//   versions    Chart.yaml appVersion and the kustomize image tag follow package.json;
//   Argo CD     the AgentIdentity health check, config/argocd/health-agentidentity.lua, written into the
//               argocd-cm patch, the argo-cd Helm values and the chart (scripts/argocd-health.ts);
//   monitoring  the Prometheus rules and the Grafana dashboard of config/prometheus and config/grafana,
//               copied into the chart and wrapped in a PrometheusRule for kustomize (scripts/observability.ts).
//
// sync-chart.test.ts and test/integration/chart fail when a committed output differs from what this
// script would write: run it after `npm run crds`, after changing the table or the version.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Controls, ControlVerbs, OperatorAnnotations, RETAIN_VERB } from '../src/api/v1alpha1/annotations.ts';
import { argocdOutputs } from './argocd-health.ts';
import { observabilityOutputs } from './observability.ts';

export const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CHART = 'charts/nhi-operator';

// ---------------------------------------------------------------------------------------------
// RBAC: every permission the operator holds, with the reason it needs it. Read the code paths named
// in each `why` before adding a rule; test/integration/chart checks each one with a
// SubjectAccessReview, and checks what must stay denied.
// ---------------------------------------------------------------------------------------------

export interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
  why: string[];
}

/** Stands for the Lease name: `.Values.leaderElection.leaseName` in the chart, nhi-operator in kustomize. */
export const LEASE_NAME = '$LEASE_NAME';

/** Cluster-wide whatever `watchNamespaces` says: cluster-scoped kinds, and informers that list every namespace. */
export const clusterRules: Rule[] = [
  {
    apiGroups: ['nhi.dev'],
    resources: ['clustercredentialproviders', 'identitypolicies'],
    verbs: ['get', 'list', 'watch'],
    why: [
      'Informers on the platform-owned configuration (src/operator.ts customSource). Read only: the',
      'operator never writes a provider or a policy; get adds nothing that list does not already show.',
    ],
  },
  {
    apiGroups: ['apps'],
    resources: ['deployments', 'statefulsets', 'daemonsets'],
    verbs: ['get', 'list', 'watch'],
    why: [
      'Workload informers wake the identities that name a workload (operator.ts workloadSource lists',
      'all namespaces even with --watch-namespace), and workloadRef is read with get to judge',
      'WorkloadBound and orphans (controller/agentidentity/workload.ts).',
    ],
  },
  {
    apiGroups: [''],
    resources: ['namespaces'],
    verbs: ['get', 'list', 'watch'],
    why: [
      "Namespace labels (src/operator.ts namespaceSource): a ClusterCredentialProvider's",
      'allowedNamespaces.selector is matched against them before anything is provisioned',
      '(policies/provider-namespaces.ts); get is the leader election check that its namespace exists',
      '(runtime/leader.ts). Read only: the operator never changes a namespace.',
    ],
  },
  {
    apiGroups: ['apiextensions.k8s.io'],
    resources: ['customresourcedefinitions'],
    verbs: ['get'],
    resourceNames: ['agentidentities.nhi.dev'],
    why: [
      'When an AgentIdentity is being deleted, whether its CRD is being deleted too (an uninstall, a',
      'GitOps prune): then the operator steps aside and revokes nothing (adapters/kubernetes/',
      'api-removal.ts, controller/agentidentity/deletion.ts). One object, read only.',
    ],
  },
];

/**
 * Inside every namespace that holds AgentIdentities: cluster-wide through a ClusterRoleBinding, or
 * per namespace through RoleBindings when `watchNamespaces` is set.
 */
export const identityRules: Rule[] = [
  {
    apiGroups: ['nhi.dev'],
    resources: ['agentidentities'],
    verbs: [
      'get',
      'list',
      'watch',
      'patch',
      ControlVerbs[OperatorAnnotations.revocationStarted],
      ControlVerbs[Controls.attestRequest],
    ],
    why: [
      'The informer on AgentIdentities; patch is the JSON merge patch that adds and removes the',
      'nhi.dev/revoke-credentials finalizer (runtime/finalizers.ts) and sets the',
      `${OperatorAnnotations.revocationStarted} mark (controller/agentidentity/revoke.ts), which the`,
      `admission policy nhi-identity-controls admits only with the ${ControlVerbs[OperatorAnnotations.revocationStarted]} verb: no other role holds it.`,
      `${ControlVerbs[Controls.attestRequest]}: to remove a recorded ${Controls.attestRequest} request (controller/agentidentity/attestation.ts).`,
      'Never update, create or delete.',
    ],
  },
  {
    apiGroups: ['apps'],
    resources: ['deployments', 'statefulsets', 'daemonsets'],
    verbs: ['patch'],
    why: [
      'spec.secrets[].restartWorkload (controller/agentidentity/restart.ts): after a rotation the',
      "operator rolls the identity's own workloadRef, in the identity's namespace, with a merge patch of",
      'two pod template annotations, as kubectl rollout restart does. A tenant who can create an',
      'AgentIdentity can already patch their own workload, so this grants them nothing new.',
    ],
  },
  {
    apiGroups: ['nhi.dev'],
    resources: ['agentidentities/status'],
    verbs: ['update'],
    why: ['Status is written through the status subresource only (runtime/status.ts).'],
  },
  {
    apiGroups: [''],
    resources: ['serviceaccounts', 'secrets'],
    verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'],
    why: [
      'The Kubernetes provider (providers/kubernetes/port.ts) creates the managed ServiceAccount and the',
      'Secrets an identity owns, replaces them with a resourceVersion precondition, deletes them with a',
      'uid precondition, and lists them by the nhi.dev/identity-uid label to adopt and clean up. RBAC',
      'cannot filter list by label: `list secrets` reads every Secret in scope, the second most',
      'sensitive permission here. The provider only ever changes objects that carry its marks. watch:',
      'the informers that serve its reads (adapters/kubernetes/sources.ts ownedObjectSources), selected',
      'by the nhi.dev/identity-uid label, Secrets kept without their values. No patch (writes are full updates).',
    ],
  },
  {
    apiGroups: ['rbac.authorization.k8s.io'],
    resources: ['roles', 'rolebindings'],
    verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'],
    why: [
      "The Role and RoleBinding that carry an identity's kubernetes scopes, bound to exactly its",
      'managed ServiceAccount; managed (and watched) like the ServiceAccount above. Namespaced only: the',
      'operator never creates ClusterRoles or ClusterRoleBindings.',
    ],
  },
  {
    apiGroups: ['rbac.authorization.k8s.io'],
    resources: ['roles'],
    verbs: ['escalate', 'bind'],
    why: [
      'THE MOST SENSITIVE PERMISSION. A Role may only grant what its writer holds, and a RoleBinding may',
      'only bind a Role its writer could grant; escalate and bind lift both checks so the operator can',
      'grant the scopes an AgentIdentity asks for without holding them itself. In effect the operator',
      'can grant any namespaced permission in the namespaces it serves. What may be asked is limited',
      'by the IdentityPolicy, enforced at admission by the ValidatingAdmissionPolicy and again by the',
      'operator (PolicyCompliant): forbid escalate/bind/impersonate and wildcards there, and give',
      '`create agentidentities` only to those trusted with the namespace. Roles only, never',
      'clusterroles: nothing cluster-scoped can be granted.',
    ],
  },
  {
    apiGroups: [''],
    resources: ['pods'],
    verbs: ['list', 'watch'],
    why: [
      'Pods running as a managed ServiceAccount: bound pods and last use (providers/kubernetes/observe.ts,',
      'workload.ts), from an informer that keeps only ServiceAccount, phase and times',
      '(adapters/kubernetes/slim.ts podSlim). No get; pods are never changed.',
    ],
  },
  {
    apiGroups: ['events.k8s.io'],
    resources: ['events'],
    verbs: ['create', 'patch'],
    why: [
      'Events on AgentIdentities (events.k8s.io/v1); patch bumps the series count of a repeated event',
      '(runtime/events.ts).',
    ],
  },
];

/** In the operator's own namespace only. */
export const leaseRules: Rule[] = [
  {
    apiGroups: ['coordination.k8s.io'],
    resources: ['leases'],
    verbs: ['create'],
    why: ['The first leader creates the Lease (runtime/leader.ts); create cannot be limited to one name.'],
  },
  {
    apiGroups: ['coordination.k8s.io'],
    resources: ['leases'],
    verbs: ['get', 'update'],
    resourceNames: [LEASE_NAME],
    why: ['Reading and renewing that one Lease (runtime/leader.ts); releasing it is an update too.'],
  },
  {
    apiGroups: [''],
    resources: ['configmaps', 'secrets'],
    verbs: ['create'],
    why: [
      'The first leader creates the audit anchor ConfigMap and its signing-key Secret',
      '(adapters/kubernetes/audit-anchor.ts); create cannot be limited to one name.',
    ],
  },
  {
    apiGroups: [''],
    resources: ['configmaps'],
    verbs: ['get', 'update'],
    resourceNames: [`${LEASE_NAME}-audit`],
    why: [
      'The audit anchor: the latest signed head, replaced with compare-and-swap on resourceVersion,',
      'and the public keys auditors verify with (adapters/kubernetes/audit-anchor.ts).',
    ],
  },
  {
    apiGroups: [''],
    resources: ['secrets'],
    verbs: ['get'],
    resourceNames: [`${LEASE_NAME}-audit-signing-key`],
    why: [
      'The ed25519 key that signs audit checkpoints: read only (it is immutable once created).',
      'Grant nobody else get on it: whoever reads it can sign a forged head.',
    ],
  },
];

/**
 * The nhi-security ClusterRole: the protected controls on AgentIdentities (the admission policy
 * nhi-identity-controls checks these verbs), for the platform's security or on-call team. Never
 * aggregated to edit or admin: a namespace editor must not lift a lock. Bound to nobody by default.
 */
export const SECURITY_ROLE_NAME = 'nhi-security';

export const securityRules: Rule[] = [
  {
    apiGroups: ['nhi.dev'],
    resources: ['agentidentities'],
    verbs: [
      'get',
      'list',
      'watch',
      'patch',
      'update',
      ControlVerbs[Controls.lock],
      ControlVerbs[Controls.abandonBackends],
      ControlVerbs[Controls.rotateRequestedAt],
      ControlVerbs[Controls.attestRequest],
      RETAIN_VERB,
    ],
    why: [
      `${ControlVerbs[Controls.lock]}: set or lift the kill switch (${Controls.lock}, spec.locked; nhictl lock/unlock).`,
      `${ControlVerbs[Controls.abandonBackends]}: give up revocation in backends whose ClusterCredentialProvider is gone (${Controls.abandonBackends}).`,
      `${ControlVerbs[Controls.rotateRequestedAt]}: request a rotation (${Controls.rotateRequestedAt}; nhictl rotate).`,
      `${ControlVerbs[Controls.attestRequest]}: attest that an identity is still needed (${Controls.attestRequest}; nhictl attest).`,
      `${RETAIN_VERB}: set spec.deletionPolicy Retain (credentials kept, unmanaged, past the identity).`,
      'get, list, watch, patch and update: to read AgentIdentities and write those annotations.',
      `Not ${ControlVerbs[OperatorAnnotations.revocationStarted]}: only the operator marks a revocation.`,
    ],
  },
];

export interface WorkloadKind {
  apiGroup: string;
  resources: string[];
}

/**
 * Kinds beyond apps/v1 Deployment, StatefulSet and DaemonSet that a workloadRef may name; the operator
 * only reads them with get. The chart's `rbac.workloadKinds` default must equal this list.
 */
export const defaultWorkloadKinds: WorkloadKind[] = [
  { apiGroup: '', resources: ['pods'] },
  { apiGroup: 'batch', resources: ['jobs', 'cronjobs'] },
];

export const workloadKindsWhy = [
  'Other kinds a workloadRef may name (values rbac.workloadKinds): read with get only, through',
  'discovery (controller/agentidentity/workload.ts). An identity naming a kind missing here is',
  'reported as not found, never as an error that deletes anything.',
];

/** Not granted, on purpose; printed into the chart so reviewers see what was considered. */
export const notGranted = [
  'Not granted, on purpose: serviceaccounts/token (the operator never mints tokens; its own Vault',
  'login reads the kubelet-projected token of its pod), tokenreviews (Vault reviews tokens with its',
  'own reviewer JWT; see rbac.tokenReview), clusterroles/clusterrolebindings, namespace writes, nodes,',
  'pods/exec, patch on the kinds it manages (ServiceAccounts, Secrets, Roles, RoleBindings),',
  'deletecollection anywhere, core/v1 events.',
];

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

const list = (values: readonly string[]) => `[${values.map((v) => JSON.stringify(v)).join(', ')}]`;

/** How a resource name derived from the Lease's (`$LEASE_NAME-audit`) is written: chart or kustomize. */
type LeaseNamed = (suffix: string) => string;

function ruleYaml(rule: Rule, leaseName: LeaseNamed): string[] {
  const names = rule.resourceNames?.map((n) =>
    n.startsWith(LEASE_NAME) ? leaseName(n.slice(LEASE_NAME.length)) : JSON.stringify(n),
  );
  return [
    ...rule.why.map((line) => `# ${line}`),
    `- apiGroups: ${list(rule.apiGroups)}`,
    `  resources: ${list(rule.resources)}`,
    `  verbs: ${list(rule.verbs)}`,
    ...(names ? [`  resourceNames: [${names.join(', ')}]`] : []),
  ];
}

function rulesYaml(rules: readonly Rule[], leaseName: LeaseNamed): string[] {
  return rules.flatMap((rule) => ruleYaml(rule, leaseName));
}

function workloadKindsYaml(kinds: readonly WorkloadKind[]): string[] {
  return [
    ...workloadKindsWhy.map((line) => `# ${line}`),
    ...kinds.flatMap((k) => [
      `- apiGroups: ${list([k.apiGroup])}`,
      `  resources: ${list(k.resources)}`,
      `  verbs: ["get"]`,
    ]),
  ];
}

const GENERATED = 'Generated by scripts/sync-chart.ts from its RBAC table. Do not edit by hand.';

/** templates/_rbac-rules.tpl: the rule lists as named templates, used by templates/rbac.yaml. */
export function chartRulesTemplate(): string {
  const define = (name: string, lines: string[]) =>
    [`{{- define "nhi-operator.rules.${name}" -}}`, ...lines, '{{- end }}'].join('\n');
  const lease: LeaseNamed = (suffix) =>
    suffix
      ? `{{ printf "%s${suffix}" .Values.leaderElection.leaseName | quote }}`
      : '{{ .Values.leaderElection.leaseName | quote }}';
  const workloadKinds = [
    ...workloadKindsWhy.map((line) => `# ${line}`),
    '{{- range .Values.rbac.workloadKinds }}',
    '- apiGroups: [{{ .apiGroup | quote }}]',
    '  resources: {{ toJson .resources }}',
    '  verbs: ["get"]',
    '{{- end }}',
  ];
  return `${[
    `{{/* ${GENERATED} */}}`,
    '{{/* config/rbac/role.yaml is written from the same table: the chart and kustomize grant the same rules. */}}',
    define('cluster', rulesYaml(clusterRules, lease)),
    define('identities', [
      ...rulesYaml(identityRules, lease),
      ...workloadKinds,
      ...notGranted.map((l) => `# ${l}`),
    ]),
    define('lease', rulesYaml(leaseRules, lease)),
    define('security', rulesYaml(securityRules, lease)),
  ].join('\n')}\n`;
}

function indent(lines: string[], by: string): string[] {
  return lines.map((line) => `${by}${line}`);
}

/** config/rbac/role.yaml: the same rules as plain manifests, with the default workload kinds. */
export function kustomizeRoles(): string {
  const header = (kind: string, name: string, extra: string[] = []) => [
    'apiVersion: rbac.authorization.k8s.io/v1',
    `kind: ${kind}`,
    'metadata:',
    `  name: ${name}`,
    ...extra,
    '  labels:',
    '    app.kubernetes.io/name: nhi-operator',
    '    app.kubernetes.io/part-of: nhi-operator',
    'rules:',
  ];
  const lease: LeaseNamed = (suffix) => JSON.stringify(`nhi-operator${suffix}`);
  return `${[
    `# ${GENERATED}`,
    '# The chart renders the same rules from charts/nhi-operator/templates/_rbac-rules.tpl.',
    ...header('ClusterRole', 'nhi-operator'),
    ...indent(rulesYaml(clusterRules, lease), '  '),
    '---',
    ...header('ClusterRole', 'nhi-operator-identities'),
    ...indent(rulesYaml(identityRules, lease), '  '),
    ...indent(workloadKindsYaml(defaultWorkloadKinds), '  '),
    ...indent(
      notGranted.map((l) => `# ${l}`),
      '  ',
    ),
    '---',
    ...header('Role', 'nhi-operator-leader-election', ['  namespace: system']),
    ...indent(rulesYaml(leaseRules, lease), '  '),
  ].join('\n')}\n`;
}

/** config/rbac/security_role.yaml: the nhi-security ClusterRole, bound to nobody. */
export function kustomizeSecurityRole(): string {
  return `${[
    `# ${GENERATED}`,
    '# The chart renders the same ClusterRole from templates/security-role.yaml. Bind it to your',
    '# security or on-call group; never aggregate it to edit or admin.',
    'apiVersion: rbac.authorization.k8s.io/v1',
    'kind: ClusterRole',
    'metadata:',
    `  name: ${SECURITY_ROLE_NAME}`,
    '  labels:',
    '    app.kubernetes.io/name: nhi-operator',
    '    app.kubernetes.io/part-of: nhi-operator',
    'rules:',
    ...indent(
      rulesYaml(securityRules, (suffix) => JSON.stringify(`nhi-operator${suffix}`)),
      '  ',
    ),
  ].join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// Copies and versions
// ---------------------------------------------------------------------------------------------

export const CRD_FILES = [
  'nhi.dev_agentidentities.yaml',
  'nhi.dev_clustercredentialproviders.yaml',
  'nhi.dev_identitypolicies.yaml',
];

/** [source, copy] pairs, relative to the repository root. */
export const COPIES: ReadonlyArray<readonly [string, string]> = [
  ...CRD_FILES.map((f) => [`crds/${f}`, `${CHART}/crds/${f}`] as const),
  ...CRD_FILES.map((f) => [`crds/${f}`, `config/crd/bases/${f}`] as const),
  ['config/admission/validating-admission-policy.yaml', `${CHART}/files/validating-admission-policy.yaml`],
  [
    'config/admission/validating-admission-policy-binding.yaml',
    `${CHART}/files/validating-admission-policy-binding.yaml`,
  ],
  ['config/admission/controls-policy.yaml', `${CHART}/files/controls-policy.yaml`],
  ['config/admission/controls-policy-binding.yaml', `${CHART}/files/controls-policy-binding.yaml`],
  ['config/policies/default-identitypolicy.yaml', `${CHART}/files/default-identitypolicy.yaml`],
  ['config/policies/default-identitypolicy.yaml', 'config/default/default-identitypolicy.yaml'],
];

/**
 * Argo CD must never prune a CRD or delete it with its Application: deleting a CRD deletes every
 * AgentIdentity, which revokes every identity. Helm ignores the annotation; kubectl too.
 */
export const CRD_ANNOTATIONS = { 'argocd.argoproj.io/sync-options': 'Prune=false,Delete=false' };

function copyText(root: string, source: string): string {
  let text = readFileSync(join(root, source), 'utf8');
  if (source.startsWith('crds/')) {
    const annotations = Object.entries(CRD_ANNOTATIONS).map(([k, v]) => `    ${k}: ${v}\n`);
    text = withLine(text, /^metadata:\n/m, `metadata:\n  annotations:\n${annotations.join('')}`);
  }
  // A leading document marker: `helm show crds` concatenates the files as they are.
  const marker = source.startsWith('crds/') ? '---\n' : '';
  return `${marker}# Copied from ${source} by scripts/sync-chart.ts: edit the source, then run the script.\n${text}`;
}

export function packageVersion(root: string): string {
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

function withLine(text: string, pattern: RegExp, line: string): string {
  if (!pattern.test(text)) throw new Error(`no line matching ${pattern} to update`);
  return text.replace(pattern, line);
}

/** Every output of this script: path (relative to root) -> the text it should hold. */
export function expectedOutputs(root: string = repositoryRoot): Map<string, string> {
  const out = new Map<string, string>();
  for (const [source, copy] of COPIES) out.set(copy, copyText(root, source));
  out.set(`${CHART}/templates/_rbac-rules.tpl`, chartRulesTemplate());
  out.set('config/rbac/role.yaml', kustomizeRoles());
  out.set('config/rbac/security_role.yaml', kustomizeSecurityRole());
  for (const [path, text] of argocdOutputs(root)) out.set(path, text);
  for (const [path, text] of observabilityOutputs(root)) out.set(path, text);
  const version = packageVersion(root);
  const chartFile = `${CHART}/Chart.yaml`;
  out.set(
    chartFile,
    withLine(readFileSync(join(root, chartFile), 'utf8'), /^appVersion: .*$/m, `appVersion: "${version}"`),
  );
  const kustomization = 'config/default/kustomization.yaml';
  out.set(
    kustomization,
    withLine(readFileSync(join(root, kustomization), 'utf8'), /^(\s+newTag:) .*$/m, `$1 "${version}"`),
  );
  return out;
}

/** Outputs whose committed text differs from what the script would write. */
export function driftedOutputs(root: string = repositoryRoot): string[] {
  const drifted: string[] = [];
  for (const [path, text] of expectedOutputs(root)) {
    let committed: string | undefined;
    try {
      committed = readFileSync(join(root, path), 'utf8');
    } catch {
      committed = undefined;
    }
    if (committed !== text) drifted.push(path);
  }
  return drifted;
}

export function syncChart(root: string = repositoryRoot): string[] {
  const written: string[] = [];
  for (const [path, text] of expectedOutputs(root)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
    written.push(path);
  }
  return written;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const drifted = new Set(driftedOutputs());
  for (const path of syncChart()) console.log(`${drifted.has(path) ? 'updated' : 'unchanged'} ${path}`);
}
