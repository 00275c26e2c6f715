import { describe, expect, it } from 'vitest';
import type {
  IamInventoryPort,
  InventorySources,
  KubernetesInventoryPort,
  VaultInventoryPort,
} from '../governance/inventory/index.ts';
import { collectInventory } from '../governance/inventory/index.ts';
import { ProgressLine, ScanTally, withProgressLine, withScanProgress } from './progress.ts';

function terminal(isTTY: boolean, columns = 80) {
  const writes: string[] = [];
  return { isTTY, columns, writes, write: (text: string) => writes.push(text) };
}

const kubernetes: KubernetesInventoryPort = {
  listAgentIdentities: async () => [],
  listServiceAccounts: async () => [
    { namespace: 'apps', name: 'web' },
    { namespace: 'apps', name: 'batch' },
  ],
  listTokenSecrets: async () => [],
  listPods: async () => [{ namespace: 'apps', serviceAccountName: 'web' }],
  listWorkloads: async () => [],
  listConfigMaps: async () => [],
  serviceAccountIssuer: async () => 'https://127.0.0.1:6443',
  providerIssuers: async () => [],
};

const trusting = (name: string) => ({
  name,
  arn: `arn:aws:iam::1:role/${name}`,
  path: '/',
  trustPolicy: {
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: 'arn:aws:iam::1:oidc-provider/127.0.0.1:6443' },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { StringEquals: { '127.0.0.1:6443:sub': `system:serviceaccount:apps:${name}` } },
      },
    ],
  },
});

const iam: IamInventoryPort = {
  listRoles: async () => [trusting('web'), trusting('batch'), trusting('gone')],
  getRole: async () => ({ tags: {} }),
  listUsers: async () => [
    { name: 'ci', arn: 'arn:aws:iam::1:user/ci' },
    { name: 'ops', arn: 'arn:aws:iam::1:user/ops' },
  ],
  listAccessKeys: async () => [],
  listUserTags: async () => ({}),
};

const vault: VaultInventoryPort = {
  listRoles: async () => ['a', 'b'],
  readRole: async (mount, name) => ({
    mount,
    name,
    boundServiceAccountNames: ['web'],
    boundServiceAccountNamespaces: ['apps'],
    policies: [],
  }),
  listOwnerRecords: async () => ({}),
};

const sources: InventorySources = {
  kubernetes,
  aws: { iam },
  vault: { port: vault, authMount: 'kubernetes', kvMount: 'secret' },
  now: () => new Date('2025-06-01T00:00:00Z'),
};

describe('ProgressLine', () => {
  it('writes nothing at all when the stream is not a terminal', () => {
    const stream = terminal(false);
    const line = new ProgressLine(stream);
    line.update('scanning pods (3)...');
    line.done();
    expect(stream.writes).toEqual([]);
  });

  it('rewrites one line in place on a terminal and erases it when done', () => {
    const stream = terminal(true);
    let now = 0;
    const line = new ProgressLine(stream, () => now, 80);
    line.update('scanning pods...');
    now = 100;
    line.update('scanning pods (3)...');
    line.done();
    expect(stream.writes).toEqual([
      '\r\x1b[2Kscanning pods...',
      '\r\x1b[2Kscanning pods (3)...',
      '\r\x1b[2K',
    ]);
  });

  it('keeps to the terminal width and to one update per interval', () => {
    const stream = terminal(true, 20);
    let now = 0;
    const line = new ProgressLine(stream, () => now, 80);
    line.update('scanning ServiceAccounts (1200), pods (5000)...');
    now = 10;
    line.update('dropped: too soon after the last one');
    expect(stream.writes).toEqual(['\r\x1b[2Kscanning ServiceAc…']);
  });
});

describe('ScanTally', () => {
  it('shows what is being read, with counts and totals as they become known', () => {
    const lines: string[] = [];
    const tally = new ScanTally((line) => lines.push(line));
    tally.start('pods');
    tally.set('IAM roles', 120);
    tally.increment('IAM roles read');
    tally.increment('Vault roles read', 7);
    expect(lines.at(0)).toBe('scanning pods...');
    expect(lines.at(-1)).toBe(
      'scanning pods, IAM roles (120), IAM roles read (1), Vault roles read (1/7)...',
    );
  });
});

describe('withScanProgress', () => {
  it('counts what every source read, and the scan finds the same identities as without it', async () => {
    const lines: string[] = [];
    const counted = await collectInventory(withScanProgress(sources, new ScanTally((l) => lines.push(l))));
    expect(counted).toEqual(await collectInventory(sources));
    const last = lines.at(-1) ?? '';
    for (const part of [
      'AgentIdentities (0)',
      'ServiceAccounts (2)',
      'pods (1)',
      'IAM roles (3)',
      'IAM roles read (3)',
      'IAM users (2)',
      'access keys checked (2/2)',
      'Vault roles (2)',
      'Vault roles read (2/2)',
    ]) {
      expect(last).toContain(part);
    }
  });
});

describe('withProgressLine', () => {
  it('leaves a piped stderr untouched and erases its line on a terminal, also when the scan fails', async () => {
    const piped = terminal(false);
    await withProgressLine(sources, collectInventory, piped);
    expect(piped.writes).toEqual([]);

    const tty = terminal(true);
    const failing = {
      ...sources,
      kubernetes: { ...kubernetes, listPods: async () => Promise.reject(new Error('HTTP 500')) },
    };
    await expect(withProgressLine(failing, collectInventory, tty)).rejects.toThrow('HTTP 500');
    expect(tty.writes[0]?.startsWith('\r\x1b[2Kscanning ')).toBe(true);
    expect(tty.writes.at(-1)).toBe('\r\x1b[2K');
  });
});
