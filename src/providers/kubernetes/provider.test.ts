import type * as k8s from '@kubernetes/client-node';
import { beforeEach, describe, expect, it } from 'vitest';
import { Marks, ObjectMarks } from '../../api/v1alpha1/annotations.ts';
import {
  agentIdentity,
  type Modifier,
  withRules,
  withSecrets,
  withServiceAccount,
} from '../../testing/agent-identity.ts';
import { InvalidConfigError, NotOwnedError } from '../types.ts';
import { KubernetesProvider } from './provider.ts';
import { QuarantinedError, writeTargetSecret } from './secrets.ts';
import { FakeKubernetesPort } from './testing/fake-port.ts';
import { counterGenerator, randomSecret, readConfigMaps, refOf } from './testing/fixtures.ts';

const NS = 'agents';
const T0 = Date.parse('2025-03-01T12:00:00Z');
let port: FakeKubernetesPort;
let now: number;
let provider: KubernetesProvider;

beforeEach(() => {
  port = new FakeKubernetesPort();
  now = T0;
  provider = new KubernetesProvider({ port, clock: { now: () => now }, generate: counterGenerator() });
});

const apiKey = randomSecret('api-key', { overlap: '10m' });
const bot = (...mods: Modifier[]) =>
  refOf(agentIdentity('bot', withRules(readConfigMaps), withSecrets(apiKey), ...mods));
const unmarked = (name: string) => ({ metadata: { name, namespace: NS, labels: { app: 'legacy' } } });
const decode = (s: k8s.V1Secret | undefined, key: string) =>
  s?.data?.[key] === undefined ? undefined : Buffer.from(s.data[key] as string, 'base64').toString();

describe('provision', () => {
  it('creates the ServiceAccount, Role, RoleBinding and first Secret value, all marked, none owned through an ownerReference', async () => {
    const result = await provider.provision(bot());
    expect(result.status).toEqual({ serviceAccount: 'bot' });
    expect(result.changes.map((c) => `${c.action} ${c.resource}`)).toEqual([
      'create ServiceAccount/agents/bot',
      'create Role/agents/nhi-bot',
      'create RoleBinding/agents/nhi-bot',
      'create Secret/agents/bot-api-key',
    ]);
    const sa = port.peek('ServiceAccount', NS, 'bot');
    expect(sa?.automountServiceAccountToken).toBe(false);
    for (const object of [sa, port.peek('Role', NS, 'nhi-bot'), port.peek('RoleBinding', NS, 'nhi-bot')]) {
      expect(object?.metadata?.labels).toMatchObject({
        [Marks.managedBy]: 'nhi-operator',
        [Marks.identityUid]: 'uid-of-bot',
      });
      expect(object?.metadata?.annotations?.[Marks.purpose]).toBe(bot().identity.spec.purpose);
      // No ownerReference: the garbage collector must never cascade from the AgentIdentity.
      expect(object?.metadata?.ownerReferences).toBeUndefined();
    }
    expect(port.peek('Secret', NS, 'bot-api-key')?.metadata?.ownerReferences).toBeUndefined();
    expect(port.peek('Role', NS, 'nhi-bot')?.rules).toEqual([readConfigMaps]);
    expect(port.peek('RoleBinding', NS, 'nhi-bot')?.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'bot', namespace: NS },
    ]);
    expect(decode(port.peek('Secret', NS, 'bot-api-key'), 'api-key')).toBe('value-1');
  });

  it('changes nothing the second time', async () => {
    await provider.provision(bot());
    const writes = port.writes.length;
    expect((await provider.provision(bot())).changes).toEqual([]);
    expect(port.writes.length).toBe(writes);
  });

  it('plans the same changes without writing', async () => {
    const planned = await provider.plan(bot());
    expect(port.writes).toEqual([]);
    expect((await provider.provision(bot())).changes).toEqual(planned);
  });

  it('honours spec.automountServiceAccountToken', async () => {
    const ref = bot();
    ref.identity.spec.automountServiceAccountToken = true;
    await provider.provision(ref);
    expect(port.peek('ServiceAccount', NS, 'bot')?.automountServiceAccountToken).toBe(true);
  });

  it('sets, keeps and removes the annotations other providers ask for', async () => {
    const arn = { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/nhi-bot' };
    await provider.provision(bot());
    expect(await provider.ensureServiceAccount(bot(), arn)).toHaveLength(1);
    expect(port.peek('ServiceAccount', NS, 'bot')?.metadata?.annotations).toMatchObject(arn);
    expect((await provider.provision(bot())).changes).toEqual([]);
    await provider.ensureServiceAccount(bot(), {});
    const annotations = port.peek('ServiceAccount', NS, 'bot')?.metadata?.annotations ?? {};
    expect(annotations['eks.amazonaws.com/role-arn']).toBeUndefined();
    expect(annotations[ObjectMarks.extraAnnotations]).toBeUndefined();
  });

  it('removes our Role and RoleBinding when the kubernetes scopes go away, and stale Secrets and ServiceAccounts', async () => {
    await provider.provision(bot());
    const changed = refOf(agentIdentity('bot', withServiceAccount('bot-v2')));
    const { changes } = await provider.provision(changed);
    expect(changes.map((c) => `${c.action} ${c.resource}`)).toEqual([
      'create ServiceAccount/agents/bot-v2',
      'delete RoleBinding/agents/nhi-bot',
      'delete Role/agents/nhi-bot',
      'delete Secret/agents/bot-api-key',
      'delete ServiceAccount/agents/bot',
    ]);
  });

  it('adopts an object carrying our identity uid and restores the rest of our marks', async () => {
    port.seed('ServiceAccount', {
      metadata: { name: 'bot', namespace: NS, labels: { [Marks.identityUid]: 'uid-of-bot' } },
    });
    const uid = port.peek('ServiceAccount', NS, 'bot')?.metadata?.uid;
    const { changes } = await provider.provision(bot());
    expect(changes[0]).toMatchObject({ action: 'adopt', resource: 'ServiceAccount/agents/bot' });
    const sa = port.peek('ServiceAccount', NS, 'bot');
    expect(sa?.metadata?.uid).toBe(uid);
    expect(sa?.metadata?.labels?.[Marks.managedBy]).toBe('nhi-operator');
  });

  it.each([
    ['ServiceAccount', 'bot'],
    ['Role', 'nhi-bot'],
    ['RoleBinding', 'nhi-bot'],
    ['Secret', 'bot-api-key'],
  ] as const)('refuses a %s named %s without our marks, and leaves it untouched', async (kind, name) => {
    port.seed(kind, unmarked(name) as never);
    const before = port.peek(kind, NS, name);
    await expect(provider.provision(bot())).rejects.toThrow(NotOwnedError);
    await expect(provider.plan(bot())).rejects.toThrow(NotOwnedError);
    expect(port.peek(kind, NS, name)).toEqual(before);
    expect(port.writesOf(kind, name)).toEqual([]);
  });

  it('recreates a RoleBinding whose immutable roleRef was changed', async () => {
    await provider.provision(bot());
    port.mutate('RoleBinding', NS, 'nhi-bot', (b) => {
      b.roleRef = { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' };
    });
    const { changes } = await provider.provision(bot());
    expect(changes).toEqual([
      expect.objectContaining({ action: 'recreate', resource: 'RoleBinding/agents/nhi-bot' }),
    ]);
    expect(port.peek('RoleBinding', NS, 'nhi-bot')?.roleRef.name).toBe('nhi-bot');
  });
});

describe('rotate: one write per rotation', () => {
  beforeEach(async () => {
    await provider.provision(bot());
    port.writes.length = 0;
    now = T0 + 60_000;
  });

  it('makes the new value current and keeps the old one as previous, in one write', async () => {
    const result = await provider.rotate(bot(), apiKey);
    expect(result.writes).toBe(1);
    expect(port.writes).toEqual([{ verb: 'replace', kind: 'Secret', namespace: NS, name: 'bot-api-key' }]);
    expect(result.material).toEqual({
      current: { version: 2, value: 'value-2', createdAt: '2025-03-01T12:01:00.000Z' },
      previous: { version: 1, value: 'value-1' },
    });
    expect(await provider.readSecret(bot(), apiKey)).toEqual(result.material);
  });

  it('writes nothing when the expected current version has already moved on (a retried rotation)', async () => {
    await provider.rotate(bot(), apiKey, { expectedCurrentVersion: 1 });
    const again = await provider.rotate(bot(), apiKey, { expectedCurrentVersion: 1 });
    expect(again.writes).toBe(0);
    expect(again.material.current.version).toBe(2);
    expect(port.writesOf('Secret')).toHaveLength(1);
  });

  it('after a conflict caused by a metadata edit, re-reads and lands the same rotation once', async () => {
    port.beforeWrite = () => {
      port.beforeWrite = undefined;
      port.mutate('Secret', NS, 'bot-api-key', (s) => {
        s.metadata = { ...s.metadata, labels: { ...s.metadata?.labels, touched: 'yes' } };
      });
    };
    const result = await provider.rotate(bot(), apiKey);
    expect(result).toMatchObject({
      writes: 1,
      material: { current: { version: 2 }, previous: { version: 1 } },
    });
    expect(port.peek('Secret', NS, 'bot-api-key')?.metadata?.labels?.touched).toBe('yes');
  });

  it('after a conflict caused by a concurrent rotation, writes nothing and returns that rotation', async () => {
    port.beforeWrite = () => {
      port.beforeWrite = undefined;
      port.mutate('Secret', NS, 'bot-api-key', (s) => {
        s.data = { 'api-key': Buffer.from('theirs').toString('base64') };
        s.metadata = {
          ...s.metadata,
          annotations: { ...s.metadata?.annotations, [ObjectMarks.currentVersion]: '2' },
        };
      });
    };
    const result = await provider.rotate(bot(), apiKey);
    expect(result.writes).toBe(0);
    expect(result.material.current).toMatchObject({ version: 2, value: 'theirs' });
  });

  it.each([
    ['an unmarked Secret', () => port.seed('Secret', unmarked('bot-other') as never), NotOwnedError],
    ['a quarantined Secret', () => provider.quarantine(bot()), QuarantinedError],
  ])('refuses to rotate %s', async (_, setup, error) => {
    await setup();
    const spec = error === NotOwnedError ? randomSecret('other') : apiKey;
    await expect(provider.rotate(bot(), spec)).rejects.toThrow(error);
  });

  it('rotates only secrets of the kubernetes backend', async () => {
    await expect(provider.rotate(bot(), { ...apiKey, backend: 'vault-kv' })).rejects.toThrow(
      InvalidConfigError,
    );
  });

  it('retires the previous value only once its window has ended, in one write', async () => {
    await provider.rotate(bot(), apiKey);
    port.writes.length = 0;
    now += 9 * 60_000;
    await provider.retirePrevious(bot(), apiKey);
    expect(port.writes).toEqual([]);
    now += 60_000;
    await provider.retirePrevious(bot(), apiKey);
    expect(port.writes).toHaveLength(1);
    expect((await provider.readSecret(bot(), apiKey))?.previous).toBeUndefined();
  });
});

describe('writeTargetSecret', () => {
  const vaultKey = randomSecret('db', { backend: 'vault-kv' });
  const material = { current: { version: 3, value: 'from-vault' } };
  const clock = { now: () => T0 };

  it('creates the target, then writes only when the value or version changes', async () => {
    expect(await writeTargetSecret(port, bot(), vaultKey, material, clock)).toEqual({
      written: true,
      secretName: 'bot-db',
    });
    expect(await writeTargetSecret(port, bot(), vaultKey, material, clock)).toMatchObject({ written: false });
    const next = { current: { version: 4, value: 'newer' }, previous: { version: 3, value: 'from-vault' } };
    expect(await writeTargetSecret(port, bot(), vaultKey, next, clock)).toMatchObject({ written: true });
    expect(decode(port.peek('Secret', NS, 'bot-db'), 'db.previous')).toBe('from-vault');
  });

  it('leaves a quarantined target empty until restore lifts the quarantine', async () => {
    const ref = bot(withSecrets(vaultKey));
    await provider.provision(ref);
    await writeTargetSecret(port, ref, vaultKey, material, clock);
    await provider.quarantine(ref);
    expect(await writeTargetSecret(port, ref, vaultKey, material, clock)).toMatchObject({ written: false });
    expect(port.peek('Secret', NS, 'bot-db')?.data).toEqual({});
    await provider.restore(ref);
    expect(await writeTargetSecret(port, ref, vaultKey, material, clock)).toMatchObject({ written: true });
    expect(decode(port.peek('Secret', NS, 'bot-db'), 'db')).toBe('from-vault');
  });

  it('refuses a target without our marks', async () => {
    port.seed('Secret', unmarked('bot-db') as never);
    await expect(writeTargetSecret(port, bot(), vaultKey, material, clock)).rejects.toThrow(NotOwnedError);
  });
});

describe('quarantine, restore, revoke', () => {
  beforeEach(async () => {
    await provider.provision(bot());
    port.seed('ServiceAccount', unmarked('bot-legacy') as never);
    port.seed('Secret', unmarked('bot-api-key-old') as never);
    port.seed('RoleBinding', {
      ...unmarked('nhi-bot-extra'),
      roleRef: { apiGroup: '', kind: 'Role', name: 'x' },
    } as never);
  });

  const untouched = () => {
    for (const [kind, name] of [
      ['ServiceAccount', 'bot-legacy'],
      ['Secret', 'bot-api-key-old'],
      ['RoleBinding', 'nhi-bot-extra'],
    ] as const) {
      expect(port.peek(kind, NS, name), `${kind} ${name}`).toBeDefined();
      expect(port.writesOf(kind, name)).toEqual([]);
    }
  };

  it('quarantine deletes our RoleBinding, empties our Secrets (versions kept) and marks the ServiceAccount', async () => {
    const uid = port.peek('ServiceAccount', NS, 'bot')?.metadata?.uid;
    await provider.quarantine(bot());
    expect(port.peek('RoleBinding', NS, 'nhi-bot')).toBeUndefined();
    const secret = port.peek('Secret', NS, 'bot-api-key');
    expect(secret?.data).toEqual({});
    expect(secret?.metadata?.annotations).toMatchObject({
      [ObjectMarks.quarantined]: 'true',
      [ObjectMarks.currentVersion]: '1',
    });
    const sa = port.peek('ServiceAccount', NS, 'bot');
    expect(sa?.metadata?.uid).toBe(uid);
    expect(sa?.metadata?.annotations?.[ObjectMarks.quarantined]).toBe('true');
    untouched();
    const writes = port.writes.length;
    expect(await provider.quarantineWithChanges(bot())).toEqual([]);
    expect((await provider.provision(bot())).changes).toEqual([]);
    expect(port.writes.length).toBe(writes);
  });

  it('restore brings back the RoleBinding and a fresh value, and lifts the annotations', async () => {
    const uid = port.peek('ServiceAccount', NS, 'bot')?.metadata?.uid;
    await provider.quarantine(bot());
    await provider.restore(bot());
    expect(port.peek('RoleBinding', NS, 'nhi-bot')?.subjects?.[0]?.name).toBe('bot');
    expect(await provider.readSecret(bot(), apiKey)).toMatchObject({
      current: { version: 2, value: 'value-2' },
    });
    expect((await provider.readSecret(bot(), apiKey))?.previous).toBeUndefined();
    const sa = port.peek('ServiceAccount', NS, 'bot');
    expect(sa?.metadata?.uid).toBe(uid);
    expect(sa?.metadata?.annotations?.[ObjectMarks.quarantined]).toBeUndefined();
    expect(
      port.peek('Secret', NS, 'bot-api-key')?.metadata?.annotations?.[ObjectMarks.quarantined],
    ).toBeUndefined();
    untouched();
  });

  it('revoke deletes everything carrying our marks and nothing else; a second revoke finds nothing', async () => {
    const other = refOf(agentIdentity('other', withRules(readConfigMaps)));
    await provider.provision(other);
    const deleted = await provider.revokeWithChanges(bot());
    expect(deleted.map((c) => c.resource).sort()).toEqual([
      'Role/agents/nhi-bot',
      'RoleBinding/agents/nhi-bot',
      'Secret/agents/bot-api-key',
      'ServiceAccount/agents/bot',
    ]);
    untouched();
    expect(port.peek('RoleBinding', NS, 'nhi-other')).toBeDefined();
    expect(await provider.revokeWithChanges(bot())).toEqual([]);
  });
});

describe('lifetimes: no ownerReference, explicit deletion only', () => {
  it('drops the ownerReference an earlier version wrote, changing nothing else', async () => {
    await provider.provision(bot());
    const owner = {
      apiVersion: 'nhi.dev/v1alpha1',
      kind: 'AgentIdentity',
      name: 'bot',
      uid: 'uid-of-bot',
      controller: true,
      blockOwnerDeletion: false,
    };
    for (const kind of ['ServiceAccount', 'Secret'] as const) {
      const name = kind === 'Secret' ? 'bot-api-key' : 'bot';
      const live = port.peek(kind, NS, name);
      port.seed(kind, { ...live, metadata: { ...live?.metadata, ownerReferences: [owner] } } as never);
    }
    const before = port.peek('Secret', NS, 'bot-api-key');
    const { changes } = await provider.provision(bot());
    expect(changes.map((c) => `${c.action} ${c.resource}`).sort()).toEqual([
      'update Secret/agents/bot-api-key',
      'update ServiceAccount/agents/bot',
    ]);
    expect(port.peek('ServiceAccount', NS, 'bot')?.metadata?.ownerReferences).toBeUndefined();
    const after = port.peek('Secret', NS, 'bot-api-key');
    expect(after?.metadata?.ownerReferences).toBeUndefined();
    expect(after?.data).toEqual(before?.data);
    expect(after?.metadata?.uid).toBe(before?.metadata?.uid);
  });

  it('retain marks every object it owns for the identity, keeps their data, and marks each once', async () => {
    await provider.provision(bot());
    port.seed('ServiceAccount', unmarked('bot-legacy') as never);
    const data = port.peek('Secret', NS, 'bot-api-key')?.data;
    const marked = await provider.retainWithChanges(bot(), 'spec.deletionPolicy Retain');
    expect(marked.map((c) => `${c.action} ${c.resource}`).sort()).toEqual([
      'retain Role/agents/nhi-bot',
      'retain RoleBinding/agents/nhi-bot',
      'retain Secret/agents/bot-api-key',
      'retain ServiceAccount/agents/bot',
    ]);
    for (const [kind, name] of [
      ['ServiceAccount', 'bot'],
      ['Role', 'nhi-bot'],
      ['RoleBinding', 'nhi-bot'],
      ['Secret', 'bot-api-key'],
    ] as const) {
      expect(port.peek(kind, NS, name)?.metadata?.annotations?.[ObjectMarks.retained]).toMatch(
        /^spec\.deletionPolicy Retain at \d{4}-/,
      );
    }
    expect(port.peek('Secret', NS, 'bot-api-key')?.data).toEqual(data);
    expect(port.writesOf('ServiceAccount', 'bot-legacy')).toEqual([]);
    expect(await provider.retainWithChanges(bot(), 'again')).toEqual([]);
  });
});

describe('observe', () => {
  const pod = (
    name: string,
    serviceAccountName: string,
    status: k8s.V1PodStatus,
    created = '2025-02-01T00:00:00Z',
  ) =>
    port.seed('Pod', {
      metadata: { name, namespace: NS, creationTimestamp: new Date(created) },
      spec: { serviceAccountName, containers: [] },
      status,
    });

  beforeEach(async () => {
    await provider.provision(bot());
  });

  it.each([
    ['no pods', [], undefined, 0],
    ['a pending pod: its creation', [['p1', 'bot', { phase: 'Pending' }]], '2025-02-01T00:00:00.000Z', 1],
    [
      'a running pod: now',
      [['p1', 'bot', { phase: 'Running', startTime: new Date('2025-02-02T00:00:00Z') }]],
      '2025-03-01T12:00:00.000Z',
      1,
    ],
    ['pods of another ServiceAccount: nothing', [['p1', 'default', { phase: 'Running' }]], undefined, 0],
  ] as const)('with %s, last use and bound pods follow', async (_, pods, lastUsed, boundPods) => {
    for (const [name, sa, status] of pods) pod(name, sa, status as k8s.V1PodStatus);
    const observation = await provider.observe(bot(), { correctDrift: false });
    expect(observation.lastUsed?.toISOString()).toBe(lastUsed);
    expect(observation.boundPods).toBe(boundPods);
    expect(observation.drift).toEqual([]);
  });

  it('reports Role rules changed behind our back, and restores them when asked', async () => {
    port.mutate('Role', NS, 'nhi-bot', (r) => {
      r.rules = [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }];
    });
    const seen = await provider.observe(bot(), { correctDrift: false });
    expect(seen).toMatchObject({
      corrected: false,
      drift: [{ resource: 'Role/agents/nhi-bot', field: 'rules' }],
    });
    const fixed = await provider.observe(bot(), { correctDrift: true });
    expect(fixed.corrected).toBe(true);
    expect(port.peek('Role', NS, 'nhi-bot')?.rules).toEqual([readConfigMaps]);
  });

  it('reports RoleBinding subjects changed behind our back', async () => {
    port.mutate('RoleBinding', NS, 'nhi-bot', (b) => {
      b.subjects = [...(b.subjects ?? []), { kind: 'ServiceAccount', name: 'default', namespace: NS }];
    });
    const fixed = await provider.observe(bot(), { correctDrift: true });
    expect(fixed.drift).toEqual([
      expect.objectContaining({ resource: 'RoleBinding/agents/nhi-bot', field: 'subjects' }),
    ]);
    expect(port.peek('RoleBinding', NS, 'nhi-bot')?.subjects).toHaveLength(1);
  });
});

describe('Opaque Secrets only', () => {
  const ours = { [Marks.identityUid]: 'uid-of-bot' };
  const typed = (name: string, type: string): k8s.V1Secret => ({
    type,
    metadata: { name, namespace: NS, labels: ours },
    data: { token: Buffer.from('not-ours-to-touch').toString('base64') },
  });

  it('writes every Secret it creates as Opaque', async () => {
    await provider.provision(bot());
    expect(port.peek('Secret', NS, 'bot-api-key')?.type).toBe('Opaque');
  });

  it.each(['kubernetes.io/service-account-token', 'kubernetes.io/dockerconfigjson', 'kubernetes.io/tls'])(
    'refuses to adopt or overwrite a %s Secret at a target name, even one carrying our identity uid',
    async (type) => {
      port.seed('Secret', typed('bot-api-key', type));
      port.seed('Secret', typed('bot-db', type));
      const before = port.peek('Secret', NS, 'bot-api-key');
      await expect(provider.provision(bot())).rejects.toThrow(/type other than Opaque/);
      await expect(provider.plan(bot())).rejects.toThrow(NotOwnedError);
      const vaultKey = randomSecret('db', { backend: 'vault-kv' });
      await expect(
        writeTargetSecret(port, bot(), vaultKey, { current: { version: 1, value: 'v' } }, { now: () => T0 }),
      ).rejects.toThrow(/is of type .* only Opaque/);
      expect(port.peek('Secret', NS, 'bot-api-key')).toEqual(before);
      expect(port.writesOf('Secret')).toEqual([]);
    },
  );

  it('never empties or deletes a Secret of another type that carries our marks', async () => {
    await provider.provision(bot());
    port.seed('Secret', typed('bot-token', 'kubernetes.io/service-account-token'));
    const before = port.peek('Secret', NS, 'bot-token');
    await provider.quarantine(bot());
    await provider.restore(bot());
    await provider.provision(bot());
    await provider.revoke(bot());
    expect(port.peek('Secret', NS, 'bot-token')).toEqual(before);
    expect(port.writesOf('Secret', 'bot-token')).toEqual([]);
    expect(port.peek('Secret', NS, 'bot-api-key')).toBeUndefined();
  });
});
