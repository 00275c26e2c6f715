// A second, private environment starts, answers, and stops without leaving a process or a port.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEnvironment, stopEnvironment } from '../../../src/dev/environment.ts';
import { isAlive } from '../../../src/dev/processes.ts';
import { eventually } from '../../support/wait.ts';

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

describe('environment lifecycle', () => {
  it('tears down every process and frees every port', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nhi-lifecycle-'));
    try {
      const env = await startEnvironment(dir);
      expect(env.processes.map((p) => p.name).sort()).toEqual(
        // PostgreSQL when the machine has it (src/dev/postgres.ts); the environment starts without.
        [
          'etcd',
          'kube-apiserver',
          'kube-controller-manager',
          'moto',
          'openbao',
          ...(env.database ? ['postgres'] : []),
        ].sort(),
      );
      const ports = [env.apiserverUrl, env.bao.addr, env.aws.endpoint].map((url) =>
        Number(new URL(url).port),
      );
      await stopEnvironment(dir);
      expect(env.processes.filter((p) => isAlive(p.pid))).toEqual([]);
      // A socket can outlive its process by a moment (a zombie the slow init of this sandbox reaps late).
      for (const port of ports)
        await eventually(`port ${port} free`, () => portIsFree(port), { timeoutMs: 10_000 });
    } finally {
      await stopEnvironment(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
