// Starting, probing and stopping the component processes. Each runs detached in its own process
// group with its output in <dir>/logs/<name>.log, so `dev up` can return while they keep running and
// `dev down` (or the test teardown) can stop the whole group without leaving a child behind.

import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface StartedProcess {
  name: string;
  pid: number;
  log: string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: { dir: string; env?: NodeJS.ProcessEnv; cwd?: string; uid?: number; gid?: number },
): StartedProcess {
  const log = join(options.dir, 'logs', `${name}.log`);
  const fd = openSync(log, 'a');
  const child = spawn(command, args, {
    cwd: options.cwd ?? options.dir,
    env: options.env ?? process.env,
    detached: true,
    stdio: ['ignore', fd, fd],
    ...(options.uid === undefined ? {} : { uid: options.uid }),
    ...(options.gid === undefined ? {} : { gid: options.gid }),
  });
  closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new Error(`${name} did not start (${command})`);
  return { name, pid: child.pid, log };
}

/** Alive, and not a zombie: this machine's PID 1 reaps orphans only after a second or two. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return process.platform !== 'linux';
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** SIGTERM the process group, then SIGKILL whatever is still alive after the grace period. */
export async function stopProcesses(processes: StartedProcess[], graceMs = 5000): Promise<void> {
  for (const p of processes) signalGroup(p.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && processes.some((p) => isAlive(p.pid))) await sleep(100);
  for (const p of processes) if (isAlive(p.pid)) signalGroup(p.pid, 'SIGKILL');
  const hardDeadline = Date.now() + 5000;
  while (Date.now() < hardDeadline && processes.some((p) => isAlive(p.pid))) await sleep(50);
}

export function tailLog(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Poll `probe` until it returns true; fail with the process's log tail if it dies or time runs out. */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  options: { timeoutMs: number; process?: StartedProcess; intervalMs?: number },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (options.process && !isAlive(options.process.pid)) {
      throw new Error(`${what} exited before it was ready; last log lines:\n${tailLog(options.process.log)}`);
    }
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error;
    }
    await sleep(options.intervalMs ?? 200);
  }
  const detail = options.process ? `\nlast log lines:\n${tailLog(options.process.log)}` : '';
  throw new Error(
    `${what} not ready after ${options.timeoutMs} ms (${String(lastError ?? 'no answer')})${detail}`,
  );
}

export async function httpOk(url: string, init?: RequestInit): Promise<boolean> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) });
  await response.body?.cancel();
  return response.ok;
}

/** GET over HTTPS trusting a specific CA, with a bearer token. Returns status and body. */
export function httpsGet(
  url: string,
  options: { ca: string; token?: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};
    const req = request(url, { ca: options.ca, headers, timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
