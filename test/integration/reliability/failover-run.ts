// Leader failover under rotation load: two operator processes with Lease-based leader election while
// identities on all three backends rotate one request after another. The leader is SIGKILLed right
// after it appended an audit record (mid-rotation) or after a random delay; the standby must take the
// lease, and a fresh standby is started in the killed one's place, so two always run. Each process
// writes its own audit file (as pods do). Returns the measured takeover times and what the backends
// and audit files hold after convergence, for the same checks as the crash runs.

import { mkdtempSync, readFileSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { type AuditRecord, readAuditFile } from '../../../src/governance/audit/audit.ts';
import { parseTrailText, verifyTrail } from '../../../src/governance/audit/verify.ts';
import { kubeConfig } from '../../support/env.ts';
import { type OperatorProcess, startOperatorProcess } from '../../support/operator.ts';
import { eventually, uniqueName } from '../../support/wait.ts';
import { compiledOperator, FAST_START_ENV } from './compiled-operator.ts';
import { type Held, inventory } from './inventory.ts';
import {
  createPlanned,
  driveIdentities,
  listIdentities,
  type Planned,
  randomInt,
  reachedFate,
} from './scenario.ts';

export const LEASE = { durationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 500 };

export interface FailoverOptions {
  namespace: string;
  identities: number;
  failovers: number;
  log?: (line: string) => void;
}

export interface FailoverResult {
  failovers: number;
  /** SIGKILL of the leader -> another holder in the Lease, per failover. */
  takeoverMs: number[];
  rotations: number;
  convergeMs: number;
  identities: Planned[];
  audit: AuditRecord[];
  /** Audit files whose chain does not verify. */
  brokenChains: string[];
  held: Map<string, Held>;
}

const coordination = kubeConfig().makeApiClient(k8s.CoordinationV1Api);

interface Replica {
  name: string;
  process: OperatorProcess;
  auditLog: string;
}

export async function failoverRun(options: FailoverOptions): Promise<FailoverResult> {
  const log = options.log ?? (() => undefined);
  const lease = { namespace: 'kube-system', name: uniqueName('nhi-failover') };
  const dir = mkdtempSync(join(tmpdir(), 'nhi-failover-'));
  const entry = compiledOperator();
  const replicas: Replica[] = [];
  let started = 0;
  const start = (): Replica => {
    const name = `replica-${String(started++).padStart(3, '0')}`;
    const auditLog = join(dir, `${name}.jsonl`);
    writeFileSync(auditLog, '');
    const process = startOperatorProcess(
      [
        `--audit-log=${auditLog}`,
        '--log-level=info',
        '--leader-elect=true',
        `--watch-namespace=${options.namespace}`,
        `--lease-name=${lease.name}`,
        `--lease-duration=${LEASE.durationMs / 1000}s`,
        `--renew-deadline=${LEASE.renewDeadlineMs / 1000}s`,
        `--retry-period=${LEASE.retryPeriodMs}ms`,
      ],
      { ...FAST_START_ENV, POD_NAMESPACE: lease.namespace, POD_NAME: name },
      entry,
    );
    const replica = { name, process, auditLog };
    replicas.push(replica);
    return replica;
  };
  const holder = async () =>
    (await coordination.readNamespacedLease(lease).catch(() => undefined))?.spec?.holderIdentity ?? undefined;
  const leaderOf = async (): Promise<Replica | undefined> => {
    const h = await holder();
    return replicas.find(
      (r) => h?.startsWith(r.name) && r.process.child.exitCode === null && !r.process.child.signalCode,
    );
  };

  const planned: Planned[] = [];
  try {
    start();
    start();
    for (let i = 0; i < options.identities; i++) {
      const p: Planned = {
        namespace: options.namespace,
        name: `f${i}`,
        fate: 'active',
        wave: 0,
        rotations: 0,
      };
      await createPlanned(p);
      planned.push(p);
    }
    await eventually(
      'every identity Ready under the first leader',
      async () => {
        await driveIdentities(planned, -1);
        return planned.every((p) => p.seenReady);
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );

    const takeoverMs: number[] = [];
    for (let n = 0; n < options.failovers; n++) {
      await driveIdentities(planned, -1);
      const leader = await eventually('a live leader', leaderOf, { timeoutMs: 30_000, intervalMs: 50 });
      // Mid-rotation: right after the leader appends an audit record, or after a random delay.
      if (n % 2 === 0) {
        await new Promise<void>((resolve) => {
          const w = watch(leader.auditLog, () => {
            w.close();
            clearTimeout(timer);
            resolve();
          });
          const timer = setTimeout(() => {
            w.close();
            resolve();
          }, 5000);
        });
      } else {
        await sleep(randomInt(200, 2000));
      }
      const before = await holder();
      const killedAt = Date.now();
      await leader.process.stop('SIGKILL');
      const next = await eventually(
        'the standby to take the lease',
        async () => {
          const h = await holder();
          return h && h !== before ? h : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 25 },
      );
      takeoverMs.push(Date.now() - killedAt);
      log(`[failover] ${n + 1}: ${before} -> ${next} in ${takeoverMs.at(-1)} ms`);
      start();
      // The new leader finishes every request (the one the old leader was cut in, too) before the next.
      await eventually(
        'every rotation request handled by the new leader',
        async () => {
          const live = await listIdentities(planned);
          return planned.every((p) => reachedFate(p, live.get(p.name)));
        },
        { timeoutMs: 120_000, intervalMs: 250 },
      );
    }

    const convergeStart = Date.now();
    await eventually(
      'every rotation request handled after the last failover',
      async () => {
        const live = await listIdentities(planned);
        return planned.every((p) => reachedFate(p, live.get(p.name)));
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
    const convergeMs = Date.now() - convergeStart;
    await Promise.all(replicas.map((r) => r.process.stop()));
    // In time order: the replicas' files are listed by start, not by when each led (two start at
    // once), and a killed leader's unanchored tail shares seqs with its successor's records.
    const audit = replicas
      .flatMap((r) => readAuditFile(r.auditLog))
      .sort((a, b) => a.timestamp.localeCompare(b.timestamp));
    const brokenChains = replicas
      // One chain per cluster: each leader's file opens with the signed head it continued from, so it
      // is verified as `nhictl audit verify` does (from that head, not from genesis).
      .map((r) => ({
        r,
        report: verifyTrail({
          lines: parseTrailText(readFileSync(r.auditLog, 'utf8')),
          skipSignatures: true,
        }),
      }))
      .filter(({ report }) => report.problem !== undefined)
      .map(({ r, report }) => `${r.name}: ${report.problem?.message}`);
    return {
      failovers: takeoverMs.length,
      takeoverMs,
      rotations: planned.reduce((sum, p) => sum + p.rotations, 0),
      convergeMs,
      identities: planned,
      audit,
      brokenChains,
      held: await inventory(planned.map((p) => ({ uid: p.uid ?? '', namespace: p.namespace, name: p.name }))),
    };
  } finally {
    await Promise.all(replicas.map((r) => r.process.stop('SIGKILL')));
  }
}
