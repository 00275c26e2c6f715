// OpenBao stopped in the middle of a reconcile. This file runs its own OpenBao (not the shared dev
// server) with raft storage on disk, so it can stop, restart (sealed) and unseal it without
// disturbing other tests, and state survives the restart as it does in production.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureBaoKubernetesAuth } from '../../../src/dev/bao-setup.ts';
import { componentPaths } from '../../../src/dev/components.ts';
import {
  freePort,
  type StartedProcess,
  startProcess,
  stopProcesses,
  waitUntil,
} from '../../../src/dev/processes.ts';
import { UnavailableError } from '../../../src/providers/types.ts';
import { vaultPortFromSpec, vaultProviderOptions } from '../../../src/providers/vault/factory.ts';
import { identityNames } from '../../../src/providers/vault/names.ts';
import type { VaultPort } from '../../../src/providers/vault/port.ts';
import { VaultProvider } from '../../../src/providers/vault/provider.ts';
import { systemClock } from '../../../src/runtime/clock.ts';
import { testEnv } from '../../support/env.ts';
import { uniqueName } from '../../support/wait.ts';
import {
  bao,
  createNamespace,
  deleteNamespace,
  identityRef,
  KV_MOUNT,
  type OperatorLogin,
  operatorLogin,
  serviceAccountToken,
  workloadLogin,
} from './support.ts';

const env = testEnv();
const namespace = uniqueName('vault-outage');
const mount = 'kubernetes';
const dir = mkdtempSync(join(tmpdir(), 'nhi-vault-outage-'));
let addr = '';
let root = '';
let unsealKey = '';
let server: StartedProcess | undefined;
let operator: OperatorLogin;
let port: VaultPort;
let provider: VaultProvider;

async function status(path: string): Promise<number> {
  return (await fetch(`${addr}/v1/${path}`, { signal: AbortSignal.timeout(2000) })).status;
}

async function startServer(): Promise<void> {
  server = startProcess(
    'openbao-outage',
    componentPaths().bao,
    ['server', `-config=${join(dir, 'bao.hcl')}`],
    {
      dir,
      env: { ...process.env, HOME: dir },
    },
  );
  await waitUntil('private OpenBao to listen', async () => (await status('sys/health')) > 0, {
    timeoutMs: 30_000,
    process: server,
  });
}

async function stopServer(): Promise<void> {
  if (server) await stopProcesses([server]);
  server = undefined;
}

async function unseal(): Promise<void> {
  const answer = await bao(addr, '', 'PUT', 'sys/unseal', { key: unsealKey });
  if (answer.json.sealed !== false) throw new Error('unseal did not complete');
  await waitUntil('private OpenBao to be active', async () => (await status('sys/health')) === 200, {
    timeoutMs: 30_000,
  });
}

/** A port that stops the server right after call number `at` succeeded: the rest of the reconcile hits an outage. */
function stopsServerAfter(inner: VaultPort, at: number): VaultPort {
  let count = 0;
  return new Proxy(inner, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const result = await value.apply(target, args);
        if (count++ === at) await stopServer();
        return result;
      };
    },
  });
}

async function footprint(ref: ReturnType<typeof identityRef>) {
  const names = identityNames(ref);
  return {
    policy: (await bao(addr, root, 'GET', `sys/policies/acl/${names.base}`)).status,
    role: (await bao(addr, root, 'GET', `auth/${mount}/role/${names.base}`)).status,
    record: (await bao(addr, root, 'GET', `${KV_MOUNT}/metadata/${names.ownerRecord}`)).status,
  };
}

beforeAll(async () => {
  const [listen, cluster] = [await freePort(), await freePort()];
  addr = `http://127.0.0.1:${listen}`;
  mkdirSync(join(dir, 'logs'), { recursive: true });
  mkdirSync(join(dir, 'raft'), { recursive: true });
  // OpenBao 2.x has no file storage backend; single-node raft keeps state on disk across restarts.
  writeFileSync(
    join(dir, 'bao.hcl'),
    [
      `storage "raft" {\n  path = "${join(dir, 'raft')}"\n  node_id = "outage-test"\n}`,
      `listener "tcp" {\n  address = "127.0.0.1:${listen}"\n  cluster_address = "127.0.0.1:${cluster}"\n  tls_disable = true\n}`,
      `api_addr = "${addr}"`,
      `cluster_addr = "http://127.0.0.1:${cluster}"`,
      '',
    ].join('\n'),
  );
  await startServer();
  const init = await bao(addr, '', 'PUT', 'sys/init', { secret_shares: 1, secret_threshold: 1 });
  unsealKey = init.json.keys_base64[0];
  root = init.json.root_token;
  await unseal();
  await bao(addr, root, 'POST', `sys/mounts/${KV_MOUNT}`, { type: 'kv', options: { version: '2' } });
  await configureBaoKubernetesAuth({
    baoAddr: addr,
    baoToken: root,
    kubeconfigPath: env.kubeconfigPath,
    apiserverUrl: env.apiserverUrl,
    caPem: env.caPem,
    mount,
  });
  await createNamespace(namespace, ['steady', 'interrupted']);
  operator = await operatorLogin(addr, root, mount);
  port = vaultPortFromSpec(operator.spec, { timeoutMs: 3000 });
  provider = new VaultProvider(vaultProviderOptions(operator.spec), port, systemClock);
});

afterAll(async () => {
  await operator?.cleanup().catch(() => {});
  await stopServer();
  await deleteNamespace(namespace);
  if (!process.env.NHI_KEEP_TEST_ENV) rmSync(dir, { recursive: true, force: true });
});

describe('OpenBao stopped in the middle of a reconcile', () => {
  const steady = identityRef(namespace, 'steady');
  const interrupted = identityRef(namespace, 'interrupted', [
    { path: 'other/data/x', capabilities: ['read'] },
  ]);

  it('fails the reconcile as unavailable (retryable), deletes nothing, and converges after restart', async () => {
    await provider.provision(steady);
    await provider.rotate(steady, { name: 'key', backend: 'vault-kv', generator: { type: 'random' } });

    // The server goes away right after the ownership record of `interrupted` was written.
    const dying = new VaultProvider(
      vaultProviderOptions(operator.spec),
      stopsServerAfter(port, 3),
      systemClock,
    );
    const failure = await dying.provision(interrupted).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UnavailableError);
    expect(String((failure as Error).message)).not.toContain(root);

    // Every kind of call fails the same way while it is down; none of them deletes anything.
    for (const call of [
      () => provider.provision(steady),
      () => provider.observe(steady, { correctDrift: true }),
      () => provider.revoke(interrupted),
      () => provider.readSecret(steady, { name: 'key', backend: 'vault-kv', generator: { type: 'random' } }),
    ]) {
      await expect(call()).rejects.toBeInstanceOf(UnavailableError);
    }

    // Restarted but sealed: 503 is unavailable too.
    await startServer();
    expect((await provider.health()).sealed).toBe(true);
    await expect(provider.provision(interrupted)).rejects.toBeInstanceOf(UnavailableError);

    await unseal();
    expect(await footprint(steady)).toEqual({ policy: 200, role: 200, record: 200 });
    expect(await footprint(interrupted)).toEqual({ policy: 404, role: 404, record: 200 });

    const converged = await provider.provision(interrupted);
    expect(converged.changes.map((c) => c.action)).toEqual(['create', 'create']);
    expect(await footprint(interrupted)).toEqual({ policy: 200, role: 200, record: 200 });
    for (const ref of [steady, interrupted]) {
      const jwt = await serviceAccountToken(namespace, ref.subject.serviceAccountName);
      expect((await workloadLogin(addr, mount, identityNames(ref).base, jwt)).status).toBe(200);
    }
    expect(
      (await provider.readSecret(steady, { name: 'key', backend: 'vault-kv', generator: { type: 'random' } }))
        ?.current.version,
    ).toBe(1);
  });
});
