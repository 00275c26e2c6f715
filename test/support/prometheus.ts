// The real Prometheus tools (Debian package `prometheus`, installed by scripts/build-components.sh):
// promtool, a Prometheus server on a loopback port with a temporary TSDB, its HTTP API, and the metric
// names a PromQL expression refers to.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { eventually } from './wait.ts';

const run = promisify(execFile);

/** The path of `name` on PATH (or /usr/bin); throws naming the package when it is missing. */
export function prometheusTool(name: 'promtool' | 'prometheus'): string {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/bin']) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(
    `${name} not found: install the Debian package prometheus (bash scripts/build-components.sh system)`,
  );
}

export interface PromtoolResult {
  code: number;
  output: string;
}

/** Runs promtool; never throws on its exit status (the output says what failed). */
export async function promtool(args: readonly string[], cwd?: string): Promise<PromtoolResult> {
  try {
    const { stdout, stderr } = await run(prometheusTool('promtool'), [...args], { cwd, timeout: 60_000 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** A free TCP port on 127.0.0.1 (the kernel's choice, released for the caller to bind). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}

export interface PrometheusServer {
  url: string;
  child: ChildProcess;
  logs(): string;
  /** GET `path` on the HTTP API; the parsed JSON body, whatever the HTTP status. */
  api<T = unknown>(path: string, params?: Record<string, string>): Promise<ApiAnswer<T>>;
  stop(): Promise<void>;
}

export interface ApiAnswer<T> {
  status: 'success' | 'error';
  data: T;
  error?: string;
  errorType?: string;
}

export interface ScrapeTarget {
  job: string;
  /** host:port on the loopback interface. */
  target: string;
}

/**
 * Starts `prometheus` on 127.0.0.1 with a temporary TSDB, scraping `targets` every second and
 * evaluating `ruleFiles` every second. Resolves once /-/ready answers.
 */
export async function startPrometheus(options: {
  targets: ScrapeTarget[];
  ruleFiles: string[];
}): Promise<PrometheusServer> {
  for (const { target } of options.targets) {
    if (!target.startsWith('127.0.0.1:')) throw new Error(`not a loopback target: ${target}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'nhi-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(
    configFile,
    stringify({
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: options.ruleFiles,
      scrape_configs: options.targets.map(({ job, target }) => ({
        job_name: job,
        static_configs: [{ targets: [target] }],
      })),
    }),
  );
  const port = await freeLoopbackPort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    prometheusTool('prometheus'),
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const server: PrometheusServer = {
    url,
    child,
    logs: () => output,
    async api<T>(path: string, params: Record<string, string> = {}) {
      const query = new URLSearchParams(params).toString();
      const response = await fetch(`${url}${path}${query ? `?${query}` : ''}`);
      return (await response.json()) as ApiAnswer<T>;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(killer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await eventually(
      'prometheus to be ready',
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}: ${output}`);
        return (await fetch(`${url}/-/ready`)).ok;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

// PromQL words that are not metric names where an identifier may stand.
const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL expression selects: identifiers that are not functions, keywords, label
 * names (inside {...} or the label lists of by/without/on/ignoring/group_*), strings or durations.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const at = match.index ?? 0;
    const word = match[0];
    if (/[0-9.]/.test(stripped[at - 1] ?? '')) continue; // 1e3, 5m
    if (/^\s*\(/.test(stripped.slice(at + word.length))) continue; // a function call
    if (KEYWORDS.has(word.toLowerCase())) continue;
    names.add(word);
  }
  return [...names];
}
