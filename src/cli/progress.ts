// Progress of a long scan, on stderr and only when stderr is a terminal: one line rewritten in place
// ("scanning ServiceAccounts (340), IAM roles (120), IAM roles read (37)..."), erased when the scan
// ends, so piped output, -o json and CI logs stay exactly as they were. The counts come from
// wrapping the inventory's read-only ports: the scan itself (governance/inventory) knows nothing of it.

import type {
  IamInventoryPort,
  InventorySources,
  KubernetesInventoryPort,
  VaultInventoryPort,
} from '../governance/inventory/index.ts';

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

const CLEAR_LINE = '\r\x1b[2K';

/** One status line on a terminal; does nothing at all on anything else. */
export class ProgressLine {
  private shown = false;
  private lastWrite = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly stream: ProgressStream,
    private readonly now: () => number = Date.now,
    private readonly minIntervalMs = 80,
  ) {}

  get enabled(): boolean {
    return this.stream.isTTY === true;
  }

  update(message: string): void {
    if (!this.enabled) return;
    const at = this.now();
    if (this.shown && at - this.lastWrite < this.minIntervalMs) return;
    const width = Math.max((this.stream.columns || 80) - 1, 10);
    const text = message.length > width ? `${message.slice(0, width - 1)}…` : message;
    this.stream.write(`${CLEAR_LINE}${text}`);
    this.shown = true;
    this.lastWrite = at;
  }

  /** Erases the line, so whatever is printed next starts on a clean line. */
  done(): void {
    if (this.shown) this.stream.write(CLEAR_LINE);
    this.shown = false;
  }
}

/** Counts per kind of object, rendered as one line: `scanning pods (120), IAM roles read (3/7)...`. */
export class ScanTally {
  private readonly counts = new Map<string, { done?: number; total?: number }>();

  constructor(private readonly show: (line: string) => void) {}

  /** `label` is being read; its count is not known yet. */
  start(label: string): void {
    if (!this.counts.has(label)) this.counts.set(label, {});
    this.show(this.line());
  }

  set(label: string, done: number, total?: number): void {
    this.counts.set(label, total === undefined ? { done } : { done, total });
    this.show(this.line());
  }

  increment(label: string, total?: number): void {
    this.set(label, (this.counts.get(label)?.done ?? 0) + 1, total);
  }

  line(): string {
    const parts = [...this.counts].map(([label, { done, total }]) =>
      done === undefined ? label : `${label} (${total === undefined ? done : `${done}/${total}`})`,
    );
    return `scanning ${parts.join(', ')}...`;
  }
}

function listed<T>(tally: ScanTally, label: string, list: () => Promise<T[]>): () => Promise<T[]> {
  return async () => {
    tally.start(label);
    const items = await list();
    tally.set(label, items.length);
    return items;
  };
}

function countedKubernetes(port: KubernetesInventoryPort, tally: ScanTally): KubernetesInventoryPort {
  return {
    listAgentIdentities: listed(tally, 'AgentIdentities', () => port.listAgentIdentities()),
    listServiceAccounts: listed(tally, 'ServiceAccounts', () => port.listServiceAccounts()),
    listTokenSecrets: listed(tally, 'token Secrets', () => port.listTokenSecrets()),
    listPods: listed(tally, 'pods', () => port.listPods()),
    listWorkloads: listed(tally, 'workloads', () => port.listWorkloads()),
    listConfigMaps: listed(tally, 'ConfigMaps', () => port.listConfigMaps()),
    serviceAccountIssuer: () => port.serviceAccountIssuer(),
    providerIssuers: () => port.providerIssuers(),
  };
}

function countedIam(port: IamInventoryPort, tally: ScanTally): IamInventoryPort {
  let users = 0;
  return {
    listRoles: listed(tally, 'IAM roles', () => port.listRoles()),
    getRole: async (name) => {
      const role = await port.getRole(name);
      tally.increment('IAM roles read');
      return role;
    },
    listUsers: async () => {
      const found = await listed(tally, 'IAM users', () => port.listUsers())();
      users = found.length;
      return found;
    },
    listAccessKeys: async (user) => {
      const keys = await port.listAccessKeys(user);
      tally.increment('access keys checked', users);
      return keys;
    },
    listUserTags: (user) => port.listUserTags(user),
  };
}

function countedVault(port: VaultInventoryPort, tally: ScanTally): VaultInventoryPort {
  let roles = 0;
  return {
    listRoles: async (mount) => {
      const names = await listed(tally, 'Vault roles', () => port.listRoles(mount))();
      roles = names.length;
      return names;
    },
    readRole: async (mount, name) => {
      const role = await port.readRole(mount, name);
      tally.increment('Vault roles read', roles);
      return role;
    },
    listOwnerRecords: (kvMount) => port.listOwnerRecords(kvMount),
  };
}

/** The same sources, reporting what they have read so far to `tally`. */
export function withScanProgress(sources: InventorySources, tally: ScanTally): InventorySources {
  const counted: InventorySources = {
    ...sources,
    kubernetes: countedKubernetes(sources.kubernetes, tally),
  };
  if (sources.aws) counted.aws = { ...sources.aws, iam: countedIam(sources.aws.iam, tally) };
  if (sources.vault) counted.vault = { ...sources.vault, port: countedVault(sources.vault.port, tally) };
  return counted;
}

/**
 * Runs `scan` over `sources` with a progress line on `stream` (stderr by default) when it is a
 * terminal; the line is erased when the scan ends, whether it succeeded or not.
 */
export async function withProgressLine<T>(
  sources: InventorySources,
  scan: (sources: InventorySources) => Promise<T>,
  stream: ProgressStream = process.stderr,
): Promise<T> {
  const line = new ProgressLine(stream);
  if (!line.enabled) return scan(sources);
  try {
    return await scan(withScanProgress(sources, new ScanTally((text) => line.update(text))));
  } finally {
    line.done();
  }
}
