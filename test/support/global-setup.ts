// Vitest global setup for the `integration` project: starts the whole local environment once
// (etcd, kube-apiserver, kube-controller-manager, OpenBao, moto) and hands its coordinates to the
// tests through `provide`. Teardown stops every process it started.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { type DevEnvironment, startEnvironment, stopEnvironment } from '../../src/dev/environment.ts';
import { startNode } from '../../src/dev/node/node.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    nhiEnv: DevEnvironment;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = mkdtempSync(join(tmpdir(), 'nhi-test-env-'));
  const started = Date.now();
  const env = await startEnvironment(dir, (message) => {
    if (process.env.NHI_TEST_VERBOSE) console.log(`[env +${Date.now() - started}ms] ${message}`);
  });
  console.log(`[nhi] test environment ready in ${((Date.now() - started) / 1000).toFixed(1)} s (${dir})`);
  // NHI_TEST_NODE=1: the dev node from the start, so every suite runs with it (docs/node.md);
  // otherwise the node suites start it on first use (test/support/node.ts).
  if (process.env.NHI_TEST_NODE === '1') {
    await startNode(env).catch(async (error: unknown) => {
      await stopEnvironment(dir); // a failed setup gets no teardown: leave nothing running
      throw error;
    });
  }
  project.provide('nhiEnv', env);
  return async () => {
    await stopEnvironment(dir);
    if (!process.env.NHI_KEEP_TEST_ENV) rmSync(dir, { recursive: true, force: true });
  };
}
