// Runs the real nhi-operator process (bin/nhi-operator.js) against the test environment, as a user
// would, with short periods so lifecycle deadlines fit in a test.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../src/dev/components.ts';
import { childProcessEnv } from './env.ts';

export interface OperatorProcess {
  child: ChildProcess;
  auditLog: string;
  logs: () => string;
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
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      }),
  };
}
