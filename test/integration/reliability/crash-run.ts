// A crash-injection run: the real operator process is SIGKILLed again and again while identities on
// all three backends (Kubernetes, OpenBao, AWS on moto) are provisioned, rotated, locked into
// quarantine, orphaned into revocation and deleted (offboarded). Half the kills come after a random
// delay; half right after an observed write (an audit record appended — the operator has just
// finished a provider call and not yet written status — or a Secret, ServiceAccount or AgentIdentity
// changing), which lands them between two calls. Then one operator runs undisturbed until every
// identity reaches the state its fate says, and the run returns what the backends and the audit
// trail hold, for the checks in crash-checks.ts. Used by crash.test.ts (CI) and the soak.

import { mkdtempSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { type AuditRecord, readAuditFile } from '../../../src/governance/audit/audit.ts';
import { kubeConfig } from '../../support/env.ts';
import { type OperatorProcess, startOperatorProcess } from '../../support/operator.ts';
import { eventually } from '../../support/wait.ts';
import { compiledOperator, FAST_START_ENV } from './compiled-operator.ts';
import { type Held, inventory, type Known } from './inventory.ts';
import {
  createPlanned,
  driveIdentities,
  FATES,
  listIdentities,
  type Planned,
  randomInt,
  reachedFate,
} from './scenario.ts';

const kc = kubeConfig();

export interface CrashRunOptions {
  kills: number;
  /** Each wave creates one identity of every fate; waves start evenly over the kills. */
  waves: number;
  namespace: string;
  log?: (line: string) => void;
}

export interface CrashRunResult {
  kills: number;
  killsAfterWrite: number;
  /** Operator exits that were not our SIGKILL (a crash), with their last log lines. */
  selfExits: string[];
  stormMs: number;
  convergeMs: number;
  identities: Planned[];
  audit: AuditRecord[];
  held: Map<string, Held>;
}

/** Watches what the operator writes and tells the kill loop at once. */
class WriteSignal {
  private waiters: Array<() => void> = [];
  private stops: Array<() => void> = [];
  writes = 0;

  async start(namespace: string, auditLog: string): Promise<void> {
    const watcher = new k8s.Watch(kc);
    const begun = Date.now();
    for (const path of [
      `/api/v1/namespaces/${namespace}/secrets`,
      `/api/v1/namespaces/${namespace}/serviceaccounts`,
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`,
      `/apis/nhi.dev/v1alpha1/namespaces/${namespace}/agentidentities`,
    ]) {
      const request = await watcher.watch(
        path,
        {},
        () => {
          // The watch begins with an ADDED event per existing object: not a write.
          if (Date.now() - begun > 1000) this.fire();
        },
        () => undefined,
      );
      this.stops.push(() => request.abort());
    }
    const fsWatch = watch(auditLog, () => this.fire());
    this.stops.push(() => fsWatch.close());
  }

  private fire(): void {
    this.writes++;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  next(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  stop(): void {
    for (const s of this.stops) s();
  }
}

export async function crashRun(options: CrashRunOptions): Promise<CrashRunResult> {
  const log = options.log ?? (() => undefined);
  const { namespace } = options;
  const auditLog = join(mkdtempSync(join(tmpdir(), 'nhi-crash-')), 'audit.jsonl');
  const planned: Planned[] = [];
  const signal = new WriteSignal();
  writeFileSync(auditLog, '');
  await signal.start(namespace, auditLog);
  const killsPerWave = Math.max(1, Math.floor(options.kills / options.waves));
  const selfExits: string[] = [];
  let kills = 0;
  let killsAfterWrite = 0;
  const started = Date.now();
  // Its own namespace only: other suites' identities (and a soak's earlier runs) are not its work.
  const args = [`--audit-log=${auditLog}`, '--log-level=info', `--watch-namespace=${namespace}`];
  const env = FAST_START_ENV;
  const entry = compiledOperator();

  try {
    while (kills < options.kills) {
      const wave = Math.floor(kills / killsPerWave);
      if (wave < options.waves && !planned.some((p) => p.wave === wave)) {
        for (const fate of FATES) {
          const p: Planned = { namespace, name: `w${wave}-${fate}`, fate, wave, rotations: 0 };
          await createPlanned(p);
          planned.push(p);
        }
      }
      await driveIdentities(planned, Math.floor(kills / killsPerWave - 0.5));

      const operator: OperatorProcess = startOperatorProcess(args, env, entry);
      const afterWrite = Math.random() < 0.5;
      if (afterWrite) {
        // Once the process has loaded (the writes before that are the driver's own), the next write.
        await eventually(
          'the operator to start',
          async () => operator.logs().includes('nhi-operator started'),
          {
            timeoutMs: 8000,
            intervalMs: 20,
          },
        ).catch(() => undefined);
        const seen = await signal.next(2000);
        if (process.env.NHI_CRASH_DEBUG) log(`[crash] after-write: seen=${seen} writes=${signal.writes}`);
        if (seen) {
          killsAfterWrite++;
          await sleep(randomInt(0, 15));
        }
      } else {
        await sleep(randomInt(50, 1800));
      }
      if (operator.child.exitCode !== null) {
        selfExits.push(operator.logs().split('\n').slice(-20).join('\n'));
      } else {
        await operator.stop('SIGKILL');
        kills++;
      }
      if (kills % 25 === 0)
        log(`[crash] ${kills} kills (${killsAfterWrite} after a write), ${planned.length} identities`);
    }
    const stormMs = Date.now() - started;

    // Convergence: one operator, undisturbed, until every identity is where its fate puts it.
    const convergeStart = Date.now();
    // A soak's waves add up to hundreds of identities: the wait grows with them.
    const convergeTimeoutMs = 120_000 + 1_500 * planned.length;
    const operator = startOperatorProcess(args, env, entry);
    try {
      // Fates not applied yet (an identity first seen Ready now) are applied on the way.
      await eventually(
        'every identity Ready once, and its fate applied',
        async () => {
          await driveIdentities(planned, Number.POSITIVE_INFINITY, false);
          return planned.every((p) => p.fate === 'active' || p.fateApplied);
        },
        { timeoutMs: convergeTimeoutMs, intervalMs: 250 },
      );
      await eventually(
        'every identity in the state its fate says',
        async () => {
          const live = await listIdentities(planned);
          return planned.every((p) => reachedFate(p, live.get(p.name)));
        },
        { timeoutMs: convergeTimeoutMs, intervalMs: 250 },
      );
    } catch (error) {
      log(operator.logs().split('\n').slice(-40).join('\n'));
      throw error;
    } finally {
      await operator.stop();
    }
    const convergeMs = Date.now() - convergeStart;
    const known: Known[] = planned.filter((p) => p.uid).map((p) => ({ uid: p.uid ?? '', ...p }));
    return {
      kills,
      killsAfterWrite,
      selfExits,
      stormMs,
      convergeMs,
      identities: planned,
      audit: readAuditFile(auditLog),
      held: await inventory(known),
    };
  } finally {
    signal.stop();
  }
}
