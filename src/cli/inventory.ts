// `nhictl inventory`: every non-human identity the cluster can reach (AgentIdentities,
// ServiceAccounts, legacy token Secrets, IAM roles trusting the cluster's issuer, IAM users with
// access keys, Vault kubernetes-auth roles), with owner, state and findings. Read-only.
// Also the source setup (flags and the standard env vars) that `risk` and `report` share.

import type { Command } from 'commander';
import {
  collectInventory,
  type Finding,
  type InventoryItem,
  type InventorySources,
  iamInventoryClient,
  iamInventoryPort,
  kubernetesInventoryPort,
  SYSTEM_RULES,
  summarize,
  vaultInventoryPort,
} from '../governance/inventory/index.ts';
import { loadKubeConfig } from './kube.ts';
import { type OutputFormat, outputOption, printListing, renderTable } from './output.ts';
import { withProgressLine } from './progress.ts';

export interface SourceOptions {
  awsEndpoint?: string;
  awsRegion?: string;
  aws?: boolean;
  issuer?: string[];
  vaultAddr?: string;
  vaultAuthMount?: string;
  vaultKvMount?: string;
  vaultDatabaseMount?: string;
  vault?: boolean;
}

export interface SourceConfig {
  aws?: { region: string; endpoint?: string; issuers?: string[] };
  vault?: {
    address: string;
    token: string;
    namespace?: string;
    authMount: string;
    kvMount: string;
    databaseMount?: string;
  };
}

/**
 * Which optional sources to read: AWS when --aws-endpoint, AWS_ENDPOINT_URL or AWS_REGION is set;
 * Vault/OpenBao when --vault-addr, BAO_ADDR or VAULT_ADDR is set (token from BAO_TOKEN/VAULT_TOKEN
 * only, never a flag, so it stays out of shell history and `ps`). --no-aws / --no-vault turn them off.
 */
export function sourceConfig(options: SourceOptions, env: NodeJS.ProcessEnv): SourceConfig {
  const config: SourceConfig = {};
  const endpoint = options.awsEndpoint ?? env.AWS_ENDPOINT_URL;
  const region = options.awsRegion ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (options.aws !== false && (endpoint || region)) {
    config.aws = { region: region ?? 'us-east-1' };
    if (endpoint) config.aws.endpoint = endpoint;
    if (options.issuer?.length) config.aws.issuers = options.issuer;
  }
  const address = options.vaultAddr ?? env.BAO_ADDR ?? env.VAULT_ADDR;
  if (options.vault !== false && address) {
    const token = env.BAO_TOKEN ?? env.VAULT_TOKEN;
    if (!token)
      throw new Error(`Vault/OpenBao at ${address}: set BAO_TOKEN or VAULT_TOKEN (or pass --no-vault)`);
    config.vault = {
      address,
      token,
      authMount: options.vaultAuthMount ?? 'kubernetes',
      kvMount: options.vaultKvMount ?? 'secret',
      ...(options.vaultDatabaseMount ? { databaseMount: options.vaultDatabaseMount } : {}),
    };
    const namespace = env.BAO_NAMESPACE ?? env.VAULT_NAMESPACE;
    if (namespace) config.vault.namespace = namespace;
  }
  return config;
}

export function inventorySources(config: SourceConfig): InventorySources {
  const sources: InventorySources = { kubernetes: kubernetesInventoryPort(loadKubeConfig()) };
  if (config.aws) {
    const iam = iamInventoryPort(
      iamInventoryClient({ region: config.aws.region, endpoint: config.aws.endpoint }),
    );
    sources.aws = config.aws.issuers ? { iam, issuers: config.aws.issuers } : { iam };
  }
  if (config.vault) {
    const { address, token, namespace, authMount, kvMount, databaseMount } = config.vault;
    sources.vault = {
      port: vaultInventoryPort({ address, token, namespace }),
      authMount,
      kvMount,
      ...(databaseMount ? { databaseMount } : {}),
    };
  }
  return sources;
}

export function describeSources(config: SourceConfig): string[] {
  return [
    'kubernetes',
    ...(config.aws ? [`aws${config.aws.endpoint ? ` (${config.aws.endpoint})` : ''}`] : []),
    ...(config.vault ? [`vault (${config.vault.address})`] : []),
  ];
}

export function addSourceOptions(command: Command): Command {
  return command
    .option('--aws-endpoint <url>', 'IAM endpoint (default: AWS_ENDPOINT_URL); enables the AWS source')
    .option('--aws-region <region>', 'AWS region (default: AWS_REGION)')
    .option('--no-aws', 'skip IAM even when AWS_* is set')
    .option(
      '--issuer <url...>',
      "the cluster's ServiceAccount issuer(s) IAM trust policies name (default: OIDC discovery and ClusterCredentialProviders)",
    )
    .option(
      '--vault-addr <url>',
      'Vault/OpenBao address (default: BAO_ADDR or VAULT_ADDR); token from BAO_TOKEN/VAULT_TOKEN',
    )
    .option('--vault-auth-mount <mount>', 'kubernetes auth mount', 'kubernetes')
    .option('--vault-kv-mount <mount>', 'KV v2 mount holding the operator owner records', 'secret')
    .option(
      '--vault-database-mount <mount>',
      'database secrets engine mount whose roles to list (default: none)',
    )
    .option('--no-vault', 'skip Vault even when BAO_ADDR/VAULT_ADDR is set');
}

const SEVERITY_ORDER: Finding['severity'][] = ['critical', 'high', 'warning', 'info'];

export function itemLabel(item: Pick<InventoryItem, 'type' | 'namespace' | 'name'>): string {
  return `${item.type} ${item.namespace ? `${item.namespace}/` : ''}${item.name}`;
}

export function renderInventoryTable(
  items: readonly InventoryItem[],
  options: { includeSystem: boolean },
): string {
  const shown = options.includeSystem ? items : items.filter((i) => i.type !== 'System');
  const table = renderTable(
    ['TYPE', 'NAMESPACE', 'NAME', 'PROVIDER', 'OWNER', 'ENV', 'STATE', 'MANAGED', 'FINDINGS'],
    shown.map((i) => [
      i.type,
      i.namespace ?? '-',
      i.name,
      i.provider,
      i.owner ?? '-',
      i.environment ?? '-',
      i.state,
      i.managed ? 'yes' : 'no',
      [...new Set(i.findings.map((f) => f.kind))].join(',') || '-',
    ]),
  );
  const summary = summarize(items);
  const findings = items
    .flatMap((item) => item.findings.filter((f) => f.severity !== 'info').map((f) => ({ item, f })))
    .sort((a, b) => SEVERITY_ORDER.indexOf(a.f.severity) - SEVERITY_ORDER.indexOf(b.f.severity));
  const lines = [
    table,
    '',
    `${summary.total} identities: ${summary.managed} managed, ${summary.shadow.length} shadow, ${summary.danglingTrust.length} dangling trust, ${summary.wildcardTrust.length} wildcard trust, ${summary.orphanedMarks.length} ghosts with our marks, ${summary.hardCodedSecrets.length} hard-coded secrets`,
  ];
  if (findings.length > 0) {
    lines.push('', 'Findings:');
    for (const { item, f } of findings) lines.push(`  [${f.severity}] ${itemLabel(item)}: ${f.message}`);
  }
  const system = summary.byType.System;
  lines.push(
    '',
    `${system} system accounts not judged${options.includeSystem ? '' : ' (--include-system lists them)'}:`,
    ...SYSTEM_RULES.map((rule) => `  - ${rule}`),
  );
  return lines.join('\n');
}

export function inventoryJson(items: readonly InventoryItem[], sources: string[], now: Date): unknown {
  const summary = summarize(items);
  const label = (i: InventoryItem) => itemLabel(i);
  return {
    generatedAt: now.toISOString(),
    sources,
    systemRules: SYSTEM_RULES,
    summary: {
      total: summary.total,
      managed: summary.managed,
      byType: summary.byType,
      bySeverity: summary.bySeverity,
      shadow: summary.shadow.map(label),
      danglingTrust: summary.danglingTrust.map(label),
      wildcardTrust: summary.wildcardTrust.map(label),
      orphanedMarks: summary.orphanedMarks.map(label),
      hardCodedSecrets: summary.hardCodedSecrets.map(label),
    },
    items,
  };
}

export function registerInventoryCommand(program: Command): void {
  addSourceOptions(
    program
      .command('inventory')
      .description(
        'list every non-human identity the cluster can reach, with owner, state, shadow and dangling-trust findings',
      ),
  )
    .addOption(outputOption())
    .option('--include-system', 'list the built-in system accounts in the table too', false)
    .action(async (options: SourceOptions & { output: OutputFormat; includeSystem: boolean }) => {
      const config = sourceConfig(options, process.env);
      const now = new Date();
      const items = await withProgressLine(inventorySources(config), (sources) =>
        collectInventory({ ...sources, now: () => now }),
      );
      const sources = describeSources(config);
      printListing(options.output, {
        data: inventoryJson(items, sources, now),
        human: () =>
          `sources: ${sources.join(', ')}\n\n${renderInventoryTable(items, { includeSystem: options.includeSystem })}`,
      });
    });
}
