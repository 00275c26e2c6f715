// `nhictl lint FILE...`: offline validation of manifests for CI and GitOps pre-merge. It gives
// the verdict the apiserver would give, from the same definitions: the CRD schemas and CEL rules
// and the ValidatingAdmissionPolicy with an IdentityPolicy as params (src/policies/admission.ts),
// plus the permissions-boundary rule the operator checks when providers are among the inputs.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { type Command, Option } from 'commander';
import { LineCounter, parseAllDocuments } from 'yaml';
import { DEFAULT_IDENTITY_POLICY_NAME, RESTART_RESOURCES } from '../api/v1alpha1/admission-policy.ts';
import { Marks } from '../api/v1alpha1/annotations.ts';
import type {
  AgentIdentity,
  ClusterCredentialProvider,
  Environment,
  IdentityPolicy,
} from '../api/v1alpha1/types.ts';
import { type AdmissionContext, isNhiKind, requesterRules, validateObject } from '../policies/admission.ts';
import { permissionsBoundaryViolations } from '../policies/permissions-boundary.ts';
import { ProviderNamespaceRules, providerNamespaceViolations } from '../policies/provider-namespaces.ts';
import { describe, type Violation } from '../policies/violation.ts';
import { loadKubeConfig } from './kube.ts';
import { type OutputFormat, outputOption, printListing } from './output.ts';

export interface Source {
  /** File name as shown in the report; `-` is standard input. */
  name: string;
  text: string;
}

export interface DocumentResult {
  file: string;
  /** 1-based line where the document starts. */
  line: number;
  apiVersion?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  /** Set when the document is not an nhi.dev object and was not checked. */
  skipped?: string;
  violations: Violation[];
}

export interface LintReport {
  /** Where the IdentityPolicy used as admission params came from. */
  policy: string;
  documents: DocumentResult[];
  violations: number;
  notes: string[];
}

interface ParsedDocument {
  result: DocumentResult;
  object: unknown;
}

const SHIPPED_POLICY = join('config', 'policies', 'default-identitypolicy.yaml');

/** The shipped default IdentityPolicy, found from this module up to the package root. */
export function shippedPolicyPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, SHIPPED_POLICY);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error(`cannot find ${SHIPPED_POLICY} above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

function parseSource(source: Source): ParsedDocument[] {
  const lines = new LineCounter();
  const parsed = parseAllDocuments(source.text, { lineCounter: lines });
  const documents = Array.isArray(parsed) ? parsed : [parsed];
  return documents.flatMap((document): ParsedDocument[] => {
    const line = lines.linePos(document.range[0]).line;
    const result: DocumentResult = { file: source.name, line, violations: [] };
    if (document.errors.length > 0) {
      result.violations = document.errors.map((error) => ({
        field: '',
        message: `YAML: ${error.message}`,
        rule: 'yaml',
      }));
      return [{ result, object: undefined }];
    }
    const object = document.toJS() as Record<string, unknown> | null;
    if (object === null || object === undefined) return [];
    if (object.kind === 'List' && Array.isArray(object.items)) {
      // `kubectl get -o yaml` output: check each item, reported at the List's line.
      return object.items.map((item) => ({
        result: describeDocument(source.name, line, item),
        object: item,
      }));
    }
    return [{ result: describeDocument(source.name, line, object), object }];
  });
}

function describeDocument(file: string, line: number, value: unknown): DocumentResult {
  const result: DocumentResult = { file, line, violations: [] };
  const object = (value ?? {}) as Record<string, unknown>;
  const metadata = (object.metadata ?? {}) as { name?: string; namespace?: string };
  Object.assign(result, {
    ...(typeof object.apiVersion === 'string' ? { apiVersion: object.apiVersion } : {}),
    ...(typeof object.kind === 'string' ? { kind: object.kind } : {}),
    ...(typeof metadata.name === 'string' ? { name: metadata.name } : {}),
    ...(typeof metadata.namespace === 'string' ? { namespace: metadata.namespace } : {}),
  });
  return result;
}

const isKind = <K extends string>(object: unknown, kind: K): boolean =>
  isNhiKind(object) && object.kind === kind;

/** The IdentityPolicy named `default` among `documents`, or the only IdentityPolicy there. */
function pickPolicy(documents: ParsedDocument[]): IdentityPolicy | undefined {
  const policies = documents
    .map((d) => d.object)
    .filter((o) => isKind(o, 'IdentityPolicy')) as IdentityPolicy[];
  return (
    policies.find((p) => p.metadata?.name === DEFAULT_IDENTITY_POLICY_NAME) ??
    (policies.length === 1 ? policies[0] : undefined)
  );
}

/**
 * Lints parsed sources. The IdentityPolicy comes from `policy` (a --policy file), else an
 * IdentityPolicy named `default` among the inputs (what the cluster would use), else the one
 * shipped in config/policies/.
 */
export interface LintOptions {
  /** The environment label of the namespaces the identities go to; default: each identity's own. */
  namespaceEnvironment?: Environment;
}

export function lintSources(sources: Source[], policy?: Source, options: LintOptions = {}): LintReport {
  const documents = sources.flatMap(parseSource);
  const notes: string[] = [];
  const contextFor = (object: unknown): AdmissionContext => {
    const spec = (object as { spec?: { environment?: unknown } }).spec;
    const environment =
      options.namespaceEnvironment ?? (typeof spec?.environment === 'string' ? spec.environment : undefined);
    return environment ? { namespaceLabels: { [Marks.environment]: environment } } : {};
  };
  const policyDocuments = policy ? parseSource(policy) : [];
  let params = policy ? pickPolicy(policyDocuments) : pickPolicy(documents);
  let policyOrigin = policy ? policy.name : 'the inputs';
  if (policy && !params)
    throw new Error(`${policy.name} holds no IdentityPolicy named ${DEFAULT_IDENTITY_POLICY_NAME}`);
  if (!params) {
    const shipped = shippedPolicyPath();
    params = pickPolicy(parseSource({ name: shipped, text: readFileSync(shipped, 'utf8') }));
    policyOrigin = relative(process.cwd(), shipped) || shipped;
  }
  const providers = new Map(
    documents
      .map((d) => d.object)
      .filter((o) => isKind(o, 'ClusterCredentialProvider'))
      .map((o) => [(o as ClusterCredentialProvider).metadata.name, o as ClusterCredentialProvider]),
  );
  const checked = [...policyDocuments, ...documents];
  for (const { result, object } of checked) {
    if (object === undefined) continue;
    if (!isNhiKind(object)) {
      if (typeof result.apiVersion === 'string' && result.apiVersion.split('/')[0] === 'nhi.dev') {
        result.violations = validateObject(object, params);
      } else {
        result.skipped = 'not an nhi.dev object';
      }
      continue;
    }
    result.violations = validateObject(object, params, contextFor(object));
    if (object.kind === 'AgentIdentity' && !notes.includes(NAMESPACE_NOTE(options))) {
      notes.push(NAMESPACE_NOTE(options), REQUESTER_NOTE);
    }
    if (object.kind === 'AgentIdentity' && result.violations.length === 0 && params) {
      if (providers.size > 0) {
        result.violations = permissionsBoundaryViolations(
          object as unknown as AgentIdentity,
          params,
          providers,
        );
      } else if (!notes.includes(BOUNDARY_NOTE)) {
        notes.push(BOUNDARY_NOTE);
      }
    }
    if (object.kind === 'AgentIdentity' && providers.size > 0) {
      // Offline, namespace labels are unknown: a provider that admits by selector is noted, not judged.
      const tenancy = providerNamespaceViolations(object as unknown as AgentIdentity, providers, undefined);
      const unknown = tenancy.filter((v) => v.rule === ProviderNamespaceRules.unknown);
      result.violations = [...tenancy.filter((v) => !unknown.includes(v)), ...result.violations];
      if (unknown.length > 0 && !notes.includes(SELECTOR_NOTE)) notes.push(SELECTOR_NOTE);
    }
  }
  const results = checked.map((d) => d.result);
  return {
    policy: params ? `IdentityPolicy ${params.metadata.name} from ${policyOrigin}` : 'none',
    documents: results,
    violations: results.reduce((sum, d) => sum + d.violations.length, 0),
    notes,
  };
}

const NAMESPACE_NOTE = (options: LintOptions) =>
  options.namespaceEnvironment
    ? `assumed every namespace carries ${Marks.environment}=${options.namespaceEnvironment}`
    : `assumed each identity's namespace carries ${Marks.environment} equal to its spec.environment; pass --namespace-environment to check against the namespace it goes to`;

const REQUESTER_NOTE = `not checked offline: ${requesterRules.join(', ')} (the apiserver asks whether the requesting user holds every Kubernetes grant requested)`;

const SELECTOR_NOTE =
  "ClusterCredentialProvider allowedNamespaces.selector not checked: lint does not know the namespaces' labels (the operator checks it)";

const BOUNDARY_NOTE =
  'requirePermissionsBoundary not checked: no ClusterCredentialProvider among the inputs (the operator checks it)';

function readSource(file: string): Source {
  return { name: file, text: readFileSync(file === '-' ? 0 : resolve(file), 'utf8') };
}

export function lintFiles(files: string[], options: { policyFile?: string } & LintOptions = {}): LintReport {
  return lintSources(
    files.map(readSource),
    options.policyFile ? readSource(options.policyFile) : undefined,
    options,
  );
}

function title(d: DocumentResult): string {
  const what = [d.kind ?? '(no kind)', [d.namespace, d.name].filter(Boolean).join('/')]
    .filter(Boolean)
    .join(' ');
  return `${d.file}:${d.line} ${what}`;
}

export function formatText(report: LintReport): string {
  const lines: string[] = [];
  for (const d of report.documents) {
    if (d.skipped) {
      lines.push(`${title(d)}: skipped (${d.skipped})`);
    } else if (d.violations.length === 0) {
      lines.push(`${title(d)}: ok`);
    } else {
      lines.push(`${title(d)}: ${d.violations.length} violation${d.violations.length === 1 ? '' : 's'}`);
      for (const v of d.violations) lines.push(`  ${describe(v)}  [${v.rule}]`);
    }
  }
  for (const note of report.notes) lines.push(`note: ${note}`);
  const checked = report.documents.filter((d) => !d.skipped).length;
  lines.push(
    `${checked} object${checked === 1 ? '' : 's'} checked against ${report.policy}: ${report.violations} violation${report.violations === 1 ? '' : 's'}`,
  );
  return `${lines.join('\n')}\n`;
}

export function registerLintCommand(program: Command): void {
  program
    .command('lint')
    .description(
      'Validate AgentIdentity, ClusterCredentialProvider and IdentityPolicy manifests offline, with the schema, CEL rules and admission policy the apiserver enforces. Exits 1 on any violation.',
    )
    .argument('<files...>', 'YAML files, multi-document; - reads standard input')
    .addOption(outputOption('text'))
    .option(
      '--policy <file>',
      `IdentityPolicy used as admission params (default: one named default among the inputs, else ${SHIPPED_POLICY})`,
    )
    .addOption(
      new Option(
        '--namespace-environment <environment>',
        `the ${Marks.environment} label of the namespace the identities go to (default: assume each identity's spec.environment)`,
      ).choices(['development', 'staging', 'production']),
    )
    .option(
      '--check-requester',
      'also ask the cluster (current kubeconfig) whether you hold every Kubernetes grant each identity requests, as admission will',
    )
    .action(
      async (
        files: string[],
        options: {
          output: OutputFormat;
          policy?: string;
          namespaceEnvironment?: Environment;
          checkRequester?: boolean;
        },
      ) => {
        let report: LintReport;
        try {
          report = lintFiles(files, {
            ...(options.policy && { policyFile: options.policy }),
            ...(options.namespaceEnvironment && { namespaceEnvironment: options.namespaceEnvironment }),
          });
          if (options.checkRequester) {
            report = await addRequesterViolations(report, files.map(readSource), loadKubeConfig());
          }
        } catch (error) {
          process.stderr.write(`nhictl lint: ${error instanceof Error ? error.message : String(error)}\n`);
          process.exitCode = 2;
          return;
        }
        printListing(options.output, { data: report, human: () => formatText(report) });
        process.exitCode = report.violations > 0 ? 1 : 0;
      },
    );
}

/**
 * Adds the requester check to a report made by lintSources over `sources` (policy documents, if any,
 * come first in the report and are no AgentIdentity, so the identities are matched by file and line).
 */
export async function addRequesterViolations(
  report: LintReport,
  sources: Source[],
  kc: k8s.KubeConfig,
): Promise<LintReport> {
  let violations = report.violations;
  const requesterNote = report.notes.filter((n) => n !== REQUESTER_NOTE);
  for (const { result, object } of sources.flatMap(parseSource)) {
    if (!isKind(object, 'AgentIdentity')) continue;
    const target = report.documents.find((d) => d.file === result.file && d.line === result.line);
    if (!target) continue;
    const found = await requesterViolations(object as AgentIdentity, kc);
    target.violations.push(...found);
    violations += found.length;
  }
  return { ...report, violations, notes: requesterNote };
}

/** One Kubernetes grant an identity asks for, as the apiserver's authorizer sees it. */
export interface RequestedGrant {
  group: string;
  resource: string;
  subresource: string;
  verb: string;
  name?: string;
}

/** Every grant the kubernetes scopes of `identity` ask for, one per group, resource, verb and name. */
export function requestedGrants(identity: AgentIdentity): RequestedGrant[] {
  const grants: RequestedGrant[] = [];
  for (const scope of identity.spec.scopes ?? []) {
    if (scope.provider !== 'kubernetes') continue;
    for (const rule of scope.rules) {
      for (const group of rule.apiGroups ?? [])
        for (const full of rule.resources ?? []) {
          const [resource = '', subresource = ''] = full.split('/');
          for (const verb of rule.verbs) {
            const names = rule.resourceNames?.length ? rule.resourceNames : [undefined];
            for (const name of names)
              grants.push({ group, resource, subresource, verb, ...(name && { name }) });
          }
        }
    }
  }
  return grants;
}

const grantText = (g: RequestedGrant) =>
  `${g.verb} ${g.group ? `${g.group}/` : ''}${g.resource}${g.subresource ? `/${g.subresource}` : ''}${g.name ? ` ${g.name}` : ''}`;

/** The workload spec.secrets[].restartWorkload would roll, as the admission rule sees it. */
function restartedWorkload(
  identity: AgentIdentity,
): { kind: string; name: string; resource: string } | undefined {
  const ref = identity.spec.workloadRef;
  if (!ref || !(identity.spec.secrets ?? []).some((s) => s.restartWorkload)) return undefined;
  const resource = RESTART_RESOURCES[ref.kind as keyof typeof RESTART_RESOURCES];
  return resource ? { kind: ref.kind, name: ref.name, resource } : undefined;
}

/**
 * The admission rule only the apiserver can evaluate offline, asked of the cluster instead: does the
 * current user hold every Kubernetes grant the identity requests, in its namespace? One
 * SelfSubjectAccessReview per grant, as `kubectl auth can-i` would.
 */
export async function requesterViolations(identity: AgentIdentity, kc: k8s.KubeConfig): Promise<Violation[]> {
  const api = kc.makeApiClient(k8s.AuthorizationV1Api);
  const namespace = identity.metadata.namespace ?? 'default';
  const unheld: string[] = [];
  for (const grant of requestedGrants(identity)) {
    const review = await api.createSelfSubjectAccessReview({
      body: {
        spec: {
          resourceAttributes: {
            namespace,
            group: grant.group,
            resource: grant.resource,
            subresource: grant.subresource,
            verb: grant.verb,
            ...(grant.name && { name: grant.name }),
          },
        },
      },
    });
    if (!review.status?.allowed) unheld.push(grantText(grant));
  }
  const violations: Violation[] = [];
  const restarted = restartedWorkload(identity);
  if (restarted) {
    const review = await api.createSelfSubjectAccessReview({
      body: {
        spec: {
          resourceAttributes: {
            namespace,
            group: 'apps',
            resource: restarted.resource,
            verb: 'patch',
            name: restarted.name,
          },
        },
      },
    });
    if (!review.status?.allowed)
      violations.push({
        field: 'spec.secrets[].restartWorkload',
        message: `spec.secrets[].restartWorkload rolls ${restarted.kind} ${restarted.name}, which the requester may not patch in namespace ${namespace}`,
        rule: 'policy:requester-may-restart-workload',
      });
  }
  if (unheld.length === 0) return violations;
  return [
    ...violations,
    {
      field: 'spec.scopes[].rules',
      message: `spec.scopes[].rules grant what the requester may not do in namespace ${namespace}: ${unheld.join(', ')} (the operator grants nothing its requester could not grant: RBAC escalation prevention)`,
      rule: 'policy:requester-holds-kubernetes-grants',
    },
  ];
}
