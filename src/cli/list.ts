// `nhictl list [NAME]`: the AgentIdentities (all namespaces unless -n) with what `kubectl get aid`
// does not show on one line: why one is not Ready, which backends hold its credentials, and the
// ServiceAccount, AWS role and Vault role it was given. Read from status, as the operator wrote it.

import type { Command } from 'commander';
import type { AgentIdentity } from '../api/v1alpha1/types.ts';
import { type OutputFormat, outputOption, printListing, renderTable } from './output.ts';
import { readIdentities } from './risk.ts';

export interface IdentityRow {
  namespace: string;
  name: string;
  environment: string;
  owner: string;
  phase?: string;
  ready?: { status: string; reason: string };
  backends: string[];
  serviceAccount?: string;
  awsRole?: string;
  vaultRole?: string;
  risk?: string;
  expiresAt?: string;
  quarantineUntil?: string;
}

export function identityRows(identities: readonly AgentIdentity[]): IdentityRow[] {
  return identities
    .map((identity) => {
      const s = identity.status ?? {};
      const ready = s.conditions?.find((c) => c.type === 'Ready');
      const row: IdentityRow = {
        namespace: identity.metadata.namespace ?? '',
        name: identity.metadata.name,
        environment: identity.spec.environment,
        owner: identity.spec.owner.team,
        backends: s.providers ?? [],
      };
      if (s.phase) row.phase = s.phase;
      if (ready) row.ready = { status: ready.status, reason: ready.reason };
      if (s.serviceAccount) row.serviceAccount = s.serviceAccount;
      if (s.aws?.roleArn) row.awsRole = s.aws.roleArn;
      if (s.vault?.role) row.vaultRole = s.vault.role;
      if (s.risk) row.risk = `${s.risk.level} ${s.risk.score}`;
      if (s.expiresAt) row.expiresAt = s.expiresAt;
      if (s.quarantineUntil) row.quarantineUntil = s.quarantineUntil;
      return row;
    })
    .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}

export function renderIdentityTable(rows: readonly IdentityRow[]): string {
  if (rows.length === 0) return 'no AgentIdentities found';
  return renderTable(
    ['NAMESPACE', 'NAME', 'ENV', 'OWNER', 'PHASE', 'READY', 'BACKENDS', 'RISK', 'EXPIRES'],
    rows.map((r) => [
      r.namespace,
      r.name,
      r.environment,
      r.owner,
      r.phase ?? '-',
      r.ready ? (r.ready.status === 'True' ? 'True' : `${r.ready.status} (${r.ready.reason})`) : '-',
      r.backends.join(',') || '-',
      r.risk ?? '-',
      r.expiresAt?.slice(0, 10) ?? '-',
    ]),
  );
}

export function registerListCommand(program: Command): void {
  program
    .command('list [name]')
    .description(
      'list AgentIdentities (all namespaces unless -n): phase, why not Ready, the backends holding credentials, risk',
    )
    .option('-n, --namespace <namespace>', 'only AgentIdentities in this namespace')
    .addOption(outputOption())
    .action(async (name: string | undefined, options: { namespace?: string; output: OutputFormat }) => {
      const rows = identityRows(await readIdentities(name, options.namespace));
      printListing(options.output, { data: { identities: rows }, human: () => renderIdentityTable(rows) });
    });
}
