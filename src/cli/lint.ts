// `nhictl lint FILE...`: offline validation of manifests for CI and GitOps pre-merge. It gives
// the verdict the apiserver would give, from the same definitions: the CRD schemas and CEL rules
// and the ValidatingAdmissionPolicy with an IdentityPolicy as params (src/policies/admission.ts),
// plus the permissions-boundary rule the operator checks when providers are among the inputs.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Command, Option } from 'commander';
import { LineCounter, parseAllDocuments } from 'yaml';
import { DEFAULT_IDENTITY_POLICY_NAME } from '../api/v1alpha1/admission-policy.ts';
import type { AgentIdentity, ClusterCredentialProvider, IdentityPolicy } from '../api/v1alpha1/types.ts';
import { isNhiKind, validateObject } from '../policies/admission.ts';
import { permissionsBoundaryViolations } from '../policies/permissions-boundary.ts';
import { describe, type Violation } from '../policies/violation.ts';

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
export function lintSources(sources: Source[], policy?: Source): LintReport {
  const documents = sources.flatMap(parseSource);
  const notes: string[] = [];
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
    result.violations = validateObject(object, params);
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
  }
  const results = checked.map((d) => d.result);
  return {
    policy: params ? `IdentityPolicy ${params.metadata.name} from ${policyOrigin}` : 'none',
    documents: results,
    violations: results.reduce((sum, d) => sum + d.violations.length, 0),
    notes,
  };
}

const BOUNDARY_NOTE =
  'requirePermissionsBoundary not checked: no ClusterCredentialProvider among the inputs (the operator checks it)';

function readSource(file: string): Source {
  return { name: file, text: readFileSync(file === '-' ? 0 : resolve(file), 'utf8') };
}

export function lintFiles(files: string[], options: { policyFile?: string } = {}): LintReport {
  return lintSources(files.map(readSource), options.policyFile ? readSource(options.policyFile) : undefined);
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
    .addOption(new Option('-o, --output <format>', 'report format').choices(['text', 'json']).default('text'))
    .option(
      '--policy <file>',
      `IdentityPolicy used as admission params (default: one named default among the inputs, else ${SHIPPED_POLICY})`,
    )
    .action((files: string[], options: { output: 'text' | 'json'; policy?: string }) => {
      let report: LintReport;
      try {
        report = lintFiles(files, options.policy ? { policyFile: options.policy } : {});
      } catch (error) {
        process.stderr.write(`nhictl lint: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exitCode = 2;
        return;
      }
      process.stdout.write(
        options.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatText(report),
      );
      process.exitCode = report.violations > 0 ? 1 : 0;
    });
}
