// Runs the real nhi-operator process (bin/nhi-operator.js) against the test environment, as a user
// would, with short periods so lifecycle deadlines fit in a test.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../src/dev/components.ts';
import { childProcessEnv } from './env.ts';
import { eventually } from './wait.ts';

export interface OperatorProcess {
  child: ChildProcess;
  auditLog: string;
  logs: () => string;
  /**
   * Resolves once the process serves 200 on /readyz (its caches synced). A suite whose workload
   * needs the identity's ServiceAccount at once waits for this before applying: a ReplicaSet that
   * meets a missing ServiceAccount backs off exponentially, so a slow start would delay its pod by
   * far more than the start itself.
   */
  ready(timeoutMs?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * `entry`: the script to run; by default the bin a user runs (TypeScript through tsx in a checkout).
 * The reliability suites pass the compiled `main.js` (what the package and image run), which starts in
 * half the time, as they restart the process hundreds of times.
 */
export function startOperatorProcess(
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
  entry = join(repoRoot, 'bin', 'nhi-operator.js'),
): OperatorProcess {
  const dir = mkdtempSync(join(tmpdir(), 'nhi-operator-'));
  const auditLog = join(dir, 'audit.jsonl');
  const child = spawn(
    process.execPath,
    [
      entry,
      '--http-port=0',
      '--http-host=127.0.0.1',
      '--leader-elect=false',
      '--resync-period=2s',
      '--drift-interval=5s',
      `--audit-log=${auditLog}`,
      '--log-level=debug',
      ...args,
    ],
    { env: { ...childProcessEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  return {
    child,
    auditLog,
    logs: () => output,
    ready: async (timeoutMs = 60_000) => {
      await eventually(
        'the operator to report ready on /readyz',
        async () => {
          if (child.exitCode !== null) throw new Error(`the operator exited (${child.exitCode}):\n${output}`);
          const line = output.split('\n').find((l) => l.includes('"nhi-operator started"'));
          if (!line) return false;
          const { port } = JSON.parse(line) as { port: number };
          return (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
        },
        { timeoutMs, intervalMs: 100 },
      );
    },
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      }),
  };
}
