// The operator as a user runs it: the bundle the image's entrypoint runs, with the image's Node.js
// flags and environment (`--operator=tsc`: tsc's dist/main.js, what the npm package runs), in its
// own process, reaching the apiserver through a kubeconfig the benchmark chooses (the counting
// proxy). Read from outside only: the start line's port, /metrics, /readyz, and the kernel's
// view of its memory (/proc/<pid>/status).

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { bundleOperator } from '../src/dev/bundle.ts';
import { repoRoot } from '../src/dev/components.ts';
import { OPERATOR_IMAGE, OPERATOR_NODE_FLAGS } from '../src/dev/node/images.ts';
import { compiledOperator, FAST_START_ENV } from '../test/integration/reliability/compiled-operator.ts';
import type { BenchEnv } from './cluster.ts';
import { memoryCgroup } from './memory-limit.ts';

export interface OperatorOptions {
  workers: number;
  /** The apiserver URL the operator uses (the counting proxy's). */
  server: string;
  extraArgs?: string[];
  /** NODE_OPTIONS for the process, in place of the image's Node.js flags. */
  nodeOptions?: string;
  /** Which build runs: the image's bundle (default) or tsc's output. */
  build?: OperatorBuild;
  /** Run in a memory cgroup with this limit, as the kubelet runs the pod (bench/memory-limit.ts). */
  memoryLimit?: { quantity: string; bytes: number };
  /** Let heapSnapshot() write the process's V8 heap snapshot into this folder. */
  heapSnapshotDir?: string;
}

export interface BenchOperator {
  pid: number;
  startedAt: number;
  /** How its memory was limited, for the report: e.g. "a 512Mi memory cgroup". */
  limit: string;
  /** Resolves with the metrics port once the process logged its start line. */
  port(): Promise<number>;
  metrics(): Promise<string>;
  /** Resident set size, its peak, and its anonymous and file-backed parts (VmRSS, VmHWM, RssAnon, RssFile), MiB. */
  memory(): { rssMiB: number; peakMiB: number; anonMiB: number; fileMiB: number };
  logs(): string;
  /** Writes a V8 heap snapshot (needs heapSnapshotDir) and resolves with its path once it is whole. */
  heapSnapshot(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * A kubeconfig for the counting proxy: plain HTTP on loopback, which client-node accepts only with
 * TLS verification off (there is no TLS to verify; the proxy verifies the apiserver with its CA).
 */
function proxiedKubeconfig(server: string, token: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: bench',
    `  cluster: { server: '${server}', insecure-skip-tls-verify: true }`,
    'users:',
    `- name: nhi-admin`,
    `  user: { token: '${token}' }`,
    'contexts:',
    '- name: bench',
    '  context: { cluster: bench, user: nhi-admin }',
    'current-context: bench',
    '',
  ].join('\n');
}

/** Operator processes still running: killed if the benchmark itself exits early. */
const live = new Map<ChildProcess, string>();
process.on('exit', () => {
  for (const [child, dir] of live) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The image's bundle (src/dev/bundle.ts), or tsc's dist/main.js beside node_modules (the npm package). */
export type OperatorBuild = 'bundle' | 'tsc';

let bundle: string | undefined;

/** Builds (once per run) and returns the entry file of `build`. */
export function buildOperator(build: OperatorBuild = 'bundle'): string {
  if (build === 'tsc') return compiledOperator();
  if (!bundle) {
    const out = join(repoRoot, '.nhi', 'bench-dist', 'nhi-operator.js');
    bundleOperator(out);
    bundle = out;
  }
  return bundle;
}

export function startBenchOperator(env: BenchEnv, options: OperatorOptions): BenchOperator {
  const dir = mkdtempSync(join(tmpdir(), 'nhi-bench-operator-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, proxiedKubeconfig(options.server, env.dev.adminToken), { mode: 0o600 });
  const startedAt = Date.now();
  const cgroup = options.memoryLimit
    ? memoryCgroup(`nhi-bench-${process.pid}-${Date.now()}`, options.memoryLimit.bytes)
    : undefined;
  const joined = cgroup && 'procs' in cgroup ? cgroup : undefined;
  // Without a cgroup to join, the heap ceiling Node would give itself under the limit (half of it).
  const fallbackHeap =
    options.memoryLimit && !joined
      ? ` --max-old-space-size=${Math.floor(options.memoryLimit.bytes / 2 ** 21)}`
      : '';
  const limit = !options.memoryLimit
    ? 'no memory limit'
    : joined
      ? `a ${options.memoryLimit.quantity} memory cgroup`
      : `no cgroup (${(cgroup as { unavailable: string }).unavailable}): the heap ceiling Node sets under ${options.memoryLimit.quantity} instead`;
  const node = [process.execPath];
  const command = joined ? ['/bin/sh', '-c', 'echo $$ > "$0" && exec "$@"', joined.procs, ...node] : node;
  const child: ChildProcess = spawn(
    command[0] as string,
    [
      ...command.slice(1),
      ...(options.nodeOptions === undefined ? OPERATOR_NODE_FLAGS : []),
      ...(options.heapSnapshotDir === undefined
        ? []
        : ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${options.heapSnapshotDir}`]),
      buildOperator(options.build),
      '--http-port=0',
      '--http-host=127.0.0.1',
      '--leader-elect=false',
      `--workers=${options.workers}`,
      `--audit-log=${join(dir, 'audit.jsonl')}`,
      ...(options.extraArgs ?? []),
    ],
    {
      env: {
        ...process.env,
        // The image's environment, as the pod has it (its malloc settings among it).
        ...Object.fromEntries(OPERATOR_IMAGE.env.map((entry) => entry.split('=', 2))),
        ...FAST_START_ENV,
        KUBECONFIG: kubeconfig,
        NODE_OPTIONS: `${options.nodeOptions ?? ''}${fallbackHeap}`.trim(),
        AWS_REGION: env.dev.aws.region,
        AWS_ACCESS_KEY_ID: env.dev.aws.accessKeyId,
        AWS_SECRET_ACCESS_KEY: env.dev.aws.secretAccessKey,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  live.set(child, dir);
  child.once('exit', () => {
    live.delete(child);
    joined?.remove();
  });
  // Keep the last lines only: at thousands of identities the info log is large.
  let tail: string[] = [];
  let startLine: string | undefined;
  const onData = (chunk: Buffer) => {
    const lines = chunk.toString().split('\n');
    if (!startLine) startLine = lines.find((l) => l.includes('"nhi-operator started"'));
    tail = [...tail, ...lines].slice(-200);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const failure = () =>
    new Error(`the operator exited (${child.exitCode ?? child.signalCode}):\n${tail.slice(-40).join('\n')}`);

  const port = async () => {
    for (;;) {
      if (startLine) return (JSON.parse(startLine) as { port: number }).port;
      if (exited()) throw failure();
      await sleep(50);
    }
  };
  return {
    pid: child.pid ?? -1,
    startedAt,
    limit,
    port,
    metrics: async () => (await fetch(`http://127.0.0.1:${await port()}/metrics`)).text(),
    memory: () => {
      if (exited()) throw failure();
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
      return {
        rssMiB: kib('VmRSS') / 1024,
        peakMiB: kib('VmHWM') / 1024,
        anonMiB: kib('RssAnon') / 1024,
        fileMiB: kib('RssFile') / 1024,
      };
    },
    logs: () => tail.join('\n'),
    heapSnapshot: async () => {
      const folder = options.heapSnapshotDir;
      if (folder === undefined) throw new Error('the operator was started without heapSnapshotDir');
      const snapshots = () => readdirSync(folder).filter((f) => f.endsWith('.heapsnapshot'));
      const before = new Set(snapshots());
      child.kill('SIGUSR2');
      // Node writes the snapshot on the main thread: once /metrics answers again, the file is whole.
      for (;;) {
        await sleep(500);
        if (exited()) throw failure();
        const written = snapshots().find((f) => !before.has(f));
        if (written === undefined) continue;
        const answered = await fetch(`http://127.0.0.1:${await port()}/metrics`).then(
          () => true,
          () => false,
        );
        if (answered) return join(folder, written);
      }
    },
    stop: async () => {
      if (!exited()) {
        const gone = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await gone;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The sum of a Prometheus metric's samples (all label sets) in a /metrics text. */
export function metricSum(text: string, name: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}
