// `nhictl scan` before merge: walks files and directories (YAML manifests, kustomize trees, Helm
// values and charts, Terraform, CI workflows) and runs the same rules as the cluster inventory
// (detect.ts). A directory with a Chart.yaml is rendered with `helm template` so values that only
// reach a manifest through a template are seen in place; without helm its templates are scanned as
// text and a note says so. Findings carry file, line, rule and fingerprint; never the value.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { detectSecrets, type SecretFinding } from './detect.ts';

const run = promisify(execFile);

/** Extensions scanned inside directories (a file named on the command line is always scanned). */
export const SCANNED_EXTENSIONS = [
  '.yaml',
  '.yml',
  '.json',
  '.tf',
  '.tfvars',
  '.hcl',
  '.env',
  '.properties',
  '.ini',
  '.toml',
  '.conf',
  '.sh',
  '.tpl',
];
const SKIPPED_DIRECTORIES = new Set(['.git', 'node_modules', '.terraform', 'vendor']);

export interface ScanOptions {
  /** The helm binary; undefined: charts are scanned as text. */
  helm?: string | undefined;
  /** Paths in findings are relative to this (default: the working directory). */
  cwd?: string;
}

export interface ScanResult {
  findings: SecretFinding[];
  files: number;
  /** What the scan could not do as asked (helm missing, a chart that failed to render). */
  notes: string[];
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRECTORIES.has(entry.name)) out.push(...(await filesUnder(path)));
    } else if (entry.isFile() && SCANNED_EXTENSIONS.includes(extname(entry.name))) out.push(path);
  }
  return out;
}

async function chartRoots(dir: string): Promise<string[]> {
  const out: string[] = [];
  if (existsSync(join(dir, 'Chart.yaml'))) return [dir];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory() && !SKIPPED_DIRECTORIES.has(entry.name))
      out.push(...(await chartRoots(join(dir, entry.name))));
  }
  return out;
}

const display = (path: string, cwd: string) => relative(cwd, path).split(sep).join('/') || path;

async function scanFile(path: string, cwd: string): Promise<SecretFinding[]> {
  const text = await readFile(path, 'utf8');
  return detectSecrets(text, { source: display(path, cwd) });
}

/** Splits `helm template` output at its `# Source: <chart>/templates/x.yaml` comments. */
export function splitRendered(output: string): Array<{ template: string; text: string }> {
  const out: Array<{ template: string; text: string }> = [];
  let current: { template: string; lines: string[] } | undefined;
  for (const line of output.split('\n')) {
    const source = /^# Source: [^/]+\/(.+)$/.exec(line);
    if (source) {
      if (current) out.push({ template: current.template, text: current.lines.join('\n') });
      current = { template: source[1] ?? '', lines: [] };
    } else current?.lines.push(line);
  }
  if (current) out.push({ template: current.template, text: current.lines.join('\n') });
  return out;
}

/** A chart: its files except templates, then its rendering (or its templates as text, without helm). */
async function scanChart(
  dir: string,
  options: Required<Pick<ScanOptions, 'cwd'>> & ScanOptions,
  notes: string[],
) {
  const templates = join(dir, 'templates') + sep;
  const files = (await filesUnder(dir)).filter((f) => !f.startsWith(templates));
  const findings: SecretFinding[] = [];
  for (const f of files) findings.push(...(await scanFile(f, options.cwd)));
  const rendered = options.helm ? await render(options.helm, dir, notes) : undefined;
  if (rendered === undefined) {
    const templateFiles = existsSync(templates) ? await filesUnder(templates) : [];
    for (const f of templateFiles) findings.push(...(await scanFile(f, options.cwd)));
    return { findings, files: files.length + templateFiles.length };
  }
  // A value from values.yaml appears again in the manifest it is rendered into: report it once, where it is written.
  const known = new Set(findings.map((f) => f.fingerprint));
  let count = files.length;
  for (const part of splitRendered(rendered)) {
    count++;
    const file = display(join(dir, part.template), options.cwd);
    for (const f of await detectSecrets(part.text, { source: file })) {
      if (!known.has(f.fingerprint)) findings.push({ ...f, location: { ...f.location, field: 'rendered' } });
    }
  }
  return { findings, files: count };
}

async function render(helm: string, dir: string, notes: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await run(helm, ['template', 'scan', dir], { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    // helm's own stderr may quote template text; keep only that it failed.
    const code = (error as { code?: unknown }).code;
    notes.push(`${dir}: helm template failed (${String(code ?? 'error')}); templates scanned as text`);
    return undefined;
  }
}

export async function scanPaths(paths: readonly string[], options: ScanOptions = {}): Promise<ScanResult> {
  const cwd = options.cwd ?? process.cwd();
  const notes: string[] = [];
  const findings: SecretFinding[] = [];
  let files = 0;
  let helmMissingNoted = false;
  for (const path of paths) {
    if (!(await stat(path)).isDirectory()) {
      findings.push(...(await scanFile(path, cwd)));
      files++;
      continue;
    }
    const charts = await chartRoots(path);
    const inChart = (f: string) => charts.some((c) => f === c || f.startsWith(c + sep));
    for (const f of (await filesUnder(path)).filter((f) => !inChart(f))) {
      findings.push(...(await scanFile(f, cwd)));
      files++;
    }
    for (const chart of charts) {
      if (!options.helm && !helmMissingNoted) {
        notes.push('helm not found: Helm charts were scanned as values and template text, not rendered');
        helmMissingNoted = true;
      }
      const result = await scanChart(chart, { ...options, cwd }, notes);
      findings.push(...result.findings);
      files += result.files;
    }
  }
  return { findings, files, notes };
}

// ---- the allow-list ----

export interface AllowEntry {
  fingerprint?: string;
  path?: string;
  rule?: string;
  reason: string;
}

export class AllowListError extends Error {
  readonly reason = 'InvalidAllowList';
  constructor(message: string) {
    super(message);
    this.name = 'AllowListError';
  }
}

/**
 * `allow:` entries, each with a `reason` and either a `fingerprint` (that value, anywhere) or a
 * `path` and a `rule` (that rule in that file, e.g. a test fixture).
 */
export function parseAllowList(text: string, source = 'allow-list'): AllowEntry[] {
  const doc = (parse(text) ?? {}) as { allow?: unknown };
  if (!Array.isArray(doc.allow)) throw new AllowListError(`${source}: expected a top-level "allow:" list`);
  return doc.allow.map((raw: unknown, i: number) => {
    const e = (raw ?? {}) as Record<string, unknown>;
    const str = (k: string) => (typeof e[k] === 'string' && e[k] !== '' ? (e[k] as string) : undefined);
    const reason = str('reason');
    if (!reason) throw new AllowListError(`${source}: allow[${i}] has no reason`);
    const [fingerprint, path, rule] = [str('fingerprint'), str('path'), str('rule')];
    if (!fingerprint && !(path && rule))
      throw new AllowListError(`${source}: allow[${i}] needs a fingerprint, or a path and a rule`);
    return {
      reason,
      ...(fingerprint ? { fingerprint } : {}),
      ...(path ? { path } : {}),
      ...(rule ? { rule } : {}),
    };
  });
}

export function allowedBy(finding: SecretFinding, entries: readonly AllowEntry[]): AllowEntry | undefined {
  const file = finding.location.file ?? finding.location.name;
  return entries.find(
    (e) =>
      (e.fingerprint !== undefined && e.fingerprint === finding.fingerprint) ||
      (e.path !== undefined &&
        e.rule !== undefined &&
        e.rule === finding.rule &&
        (file === e.path || basename(file) === e.path || file.endsWith(`/${e.path}`))),
  );
}

export function applyAllowList(
  findings: readonly SecretFinding[],
  entries: readonly AllowEntry[],
): { findings: SecretFinding[]; allowed: Array<SecretFinding & { reason: string }> } {
  const out: SecretFinding[] = [];
  const allowed: Array<SecretFinding & { reason: string }> = [];
  for (const f of findings) {
    const entry = allowedBy(f, entries);
    if (entry) allowed.push({ ...f, reason: entry.reason });
    else out.push(f);
  }
  return { findings: out, allowed };
}
