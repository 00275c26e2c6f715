import { beforeEach, describe, expect, it } from 'vitest';
import { agentIdentity, type Modifier, withRules, withSecrets } from '../../testing/agent-identity.ts';
import { InvalidConfigError, NotOwnedError } from '../types.ts';
import { cachedKubernetesPort } from './cached-port.ts';
import type { KubernetesPort } from './port.ts';
import { KubernetesProvider } from './provider.ts';
import { FakeCaches } from './testing/fake-caches.ts';
import { FakeKubernetesPort } from './testing/fake-port.ts';
import { counterGenerator, randomSecret, readConfigMaps, refOf } from './testing/fixtures.ts';

const NS = 'agents';
let store: FakeKubernetesPort;
let caches: FakeCaches;
let reads: string[];
let clock: number;
let provider: KubernetesProvider;
let port: KubernetesPort;

/** The store as the apiserver, every read through it recorded. */
function countingLive(live: FakeKubernetesPort): KubernetesPort {
  return {
    get: (kind, namespace, name) => {
      reads.push(`get ${kind}/${name}`);
      return live.get(kind, namespace, name);
    },
    list: (kind, options) => {
      reads.push(`list ${kind}`);
      return live.list(kind, options);
    },
    create: (kind, object) => live.create(kind, object),
    replace: (kind, object) => live.replace(kind, object),
    delete: (kind, namespace, name, uid) => live.delete(kind, namespace, name, uid),
  };
}

beforeEach(() => {
  store = new FakeKubernetesPort();
  caches = new FakeCaches(store);
  reads = [];
  clock = Date.parse('2025-03-01T12:00:00Z');
  port = cachedKubernetesPort(countingLive(store), caches.owned, { now: () => clock, freshForMs: 5_000 });
  provider = new KubernetesProvider({ port, clock: { now: () => clock }, generate: counterGenerator() });
});

const bot = (...mods: Modifier[]) =>
  refOf(agentIdentity('bot', withRules(readConfigMaps), withSecrets(randomSecret('api-key')), ...mods));

describe('the cached Kubernetes port', () => {
  it('lets a steady provision read nothing from the apiserver once the caches hold what it made', async () => {
    await provider.provision(bot());
    await caches.sync(NS);
    clock += 10_000;
    reads = [];
    const again = await provider.provision(bot());
    expect(again.changes).toEqual([]);
    expect(reads).toEqual([]);
  });

  it('reads the ServiceAccount live before anything: one someone else owns is refused before a write', async () => {
    store.seed('ServiceAccount', { metadata: { name: 'bot', namespace: NS, labels: { app: 'legacy' } } });
    await caches.sync(NS);
    await expect(provider.provision(bot())).rejects.toBeInstanceOf(NotOwnedError);
    expect(reads).toContain('get ServiceAccount/bot');
    expect(store.writes).toEqual([]);
  });

  it('an unmarked Role the cache does not show is refused, never adopted: the create meets it, then it is read live', async () => {
    store.seed('Role', { metadata: { name: 'nhi-bot', namespace: NS, labels: { app: 'legacy' } } });
    await caches.sync(NS);
    const before = structuredClone(store.peek('Role', NS, 'nhi-bot'));
    await expect(provider.provision(bot())).rejects.toBeInstanceOf(NotOwnedError);
    expect(reads).toContain('get Role/nhi-bot');
    expect(store.peek('Role', NS, 'nhi-bot')).toEqual(before);
    expect(store.writesOf('Role').map((w) => w.verb)).toEqual(['create']);
    // From then on that name is read before anything is planned for it: no second create.
    clock += 10_000;
    await expect(provider.provision(bot())).rejects.toBeInstanceOf(NotOwnedError);
    expect(store.writesOf('Role').map((w) => w.verb)).toEqual(['create']);
  });

  it("creates a new identity's Role, RoleBinding and Secret without reading them first once the caches have synced", async () => {
    await caches.sync(NS);
    await provider.provision(bot());
    expect(reads.filter((r) => r.startsWith('get'))).toEqual(['get ServiceAccount/bot']);
  });

  it('creates nothing twice when the cache has not seen its own creation yet', async () => {
    await provider.provision(bot());
    clock += 10_000; // past the remembered writes; the caches never saw them
    const again = await provider.provision(bot());
    // The ServiceAccount is read live and found; the Role's create meets the object (AlreadyExists):
    // the namespace is read live from then on, so it finds everything in place and changes nothing.
    expect(again.changes).toEqual([]);
    expect(store.writes.filter((w) => w.verb === 'create').map((w) => w.kind)).toEqual([
      'ServiceAccount',
      'Role',
      'RoleBinding',
      'Secret',
      'Role',
    ]);
    for (const kind of ['ServiceAccount', 'Role', 'RoleBinding', 'Secret'] as const)
      expect(await store.list(kind, { namespace: NS })).toHaveLength(1);
  });

  it('plans a Secret change from the live object, as a cached Secret holds no values', async () => {
    await provider.provision(bot());
    await caches.sync(NS);
    store.mutate('Secret', NS, 'bot-api-key', (s) => {
      s.data = {};
    });
    await caches.sync(NS);
    clock += 10_000;
    reads = [];
    const again = await provider.provision(bot());
    expect(again.changes.map((c) => c.resource)).toEqual([`Secret/${NS}/bot-api-key`]);
    expect(reads).toEqual(['get Secret/bot-api-key']);
  });

  it('refuses to write a Secret built from a cached view', async () => {
    await provider.provision(bot());
    await caches.sync(NS);
    const view = caches.caches.Secret.get('bot-api-key', NS);
    expect(view?.data?.['api-key']).not.toBe(store.peek('Secret', NS, 'bot-api-key')?.data?.['api-key']);
    await expect(port.replace('Secret', { ...view, metadata: { ...view?.metadata } })).rejects.toBeInstanceOf(
      InvalidConfigError,
    );
  });

  it('revokes what was created a moment ago even though the caches never saw it', async () => {
    await provider.provision(bot());
    await provider.revoke(bot());
    expect(
      store.writes
        .filter((w) => w.verb === 'delete')
        .map((w) => w.kind)
        .sort(),
    ).toEqual(['Role', 'RoleBinding', 'Secret', 'ServiceAccount']);
  });
});

describe('the cached Kubernetes port after a conflict', () => {
  it('reads an object live once a write of it conflicted, so the next plan sees what the apiserver holds', async () => {
    await provider.provision(bot());
    await caches.sync(NS);
    clock += 10_000;
    // Someone empties the Role's rules (the cache sees it), then changes it again (the cache has not
    // seen that yet): the restoring write from the cache's copy conflicts, the retry reads live.
    store.mutate('Role', NS, 'nhi-bot', (r) => {
      r.rules = [];
    });
    await caches.sync(NS);
    store.mutate('Role', NS, 'nhi-bot', (r) => {
      r.metadata = { ...r.metadata, annotations: { note: 'someone else' } };
    });
    reads = [];
    await provider.provision(bot());
    expect(store.peek('Role', NS, 'nhi-bot')?.rules).toEqual([readConfigMaps]);
    expect(reads).toContain('get Role/nhi-bot');
  });
});
