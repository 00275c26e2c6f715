// A fault storm: the real operator reaches moto, OpenBao and the apiserver only through the real
// Toxiproxy, which for a set time keeps adding TCP faults — latency, reset_peer, timeout (stalled
// connections), bandwidth limits, limit_data (an answer cut after the upstream applied the call) and
// slicer — phase after phase, one or two at a time, while identities rotate, one is locked and one loses
// its workload. HTTP-level faults come from what forges them for real: OpenBao's own rate-limit quota
// answers 429, and for moto (which has no fault settings) the fault-proxy of the AWS suite answers
// ThrottlingException, 503 or drops moto's answer, sitting between Toxiproxy and moto.
//
// Between phases (faults off) the backends are read directly: nothing an active or locked identity
// should hold may be missing or emptied. After the storm one more wait measures convergence; then
// the same end-state checks as the crash runs, and request rates per identity: every request to moto
// and OpenBao is counted by the counting proxy behind Toxiproxy (the apiserver's traffic is TLS, so
// for it the operator's own reconcile and status-write counters are read from /metrics).

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import YAML from 'yaml';
import { type AuditRecord, readAuditFile } from '../../../src/governance/audit/audit.ts';
import { bao, installAwsProvider, installVaultProvider, removeProvider } from '../../support/cluster.ts';
import { testEnv } from '../../support/env.ts';
import { type OperatorProcess, startOperatorProcess } from '../../support/operator.ts';
import { eventually } from '../../support/wait.ts';
import { type FaultProxy, startFaultProxy } from '../aws/fault-proxy.ts';
import { compiledOperator, FAST_START_ENV } from './compiled-operator.ts';
import { type Held, inventory, KINDS, type Kind, type Known } from './inventory.ts';
import {
  createPlanned,
  driveIdentities,
  type Fate,
  listIdentities,
  type Planned,
  randomInt,
  reachedFate,
} from './scenario.ts';
import { type ToxicType, Toxiproxy, withRetries } from './toxiproxy.ts';

export interface StormOptions {
  stormMs: number;
  phaseMs: number;
  namespace: string;
  /** Active identities (rotating throughout); one locked and one orphaned identity come with them. */
  active: number;
  log?: (line: string) => void;
}

/**
 * Bounds that no backoff-respecting operator comes near and a hot loop passes at once: requests one
 * identity sends to one backend, averaged over the storm and in its busiest second. One reconcile of
 * an identity with grants and a secret on every backend makes about 20 AWS calls (reads before each
 * write, SDK retries of a throttled call included); the CI storm measured 1.3/s on average and 26 in
 * the busiest second.
 */
export const RETRY_BOUNDS = { meanPerIdentityPerSecond: 5, maxPerIdentityInOneSecond: 100 };

export interface Rate {
  requests: number;
  /** Requests per identity per second, averaged over the storm. */
  meanPerIdentityPerSecond: number;
  /** The most requests one identity made in any one second. */
  maxPerIdentityInOneSecond: number;
}

export interface StormResult {
  stormMs: number;
  convergeMs: number;
  phases: number;
  faults: Record<string, number>;
  samples: number;
  /** What an active or locked identity lost during the storm (must stay empty). */
  lostDuringStorm: string[];
  rates: { moto: Rate; openbao: Rate };
  /** The operator's own counters over the storm, per identity per second. */
  operator: { reconcilesPerIdentityPerSecond: number; statusWritesPerIdentityPerSecond: number };
  identities: Planned[];
  audit: AuditRecord[];
  held: Map<string, Held>;
  operatorExited: boolean;
}

const TARGETS = ['moto', 'openbao', 'apiserver'] as const;
const PROVIDERS = { aws: 'aws-through-toxiproxy', vault: 'vault-through-toxiproxy' };
type Target = (typeof TARGETS)[number];

interface FaultChoice {
  name: string;
  apply(): Promise<void>;
}

function shuffled<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(0, i);
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

function hostPort(url: string): string {
  return new URL(url).host;
}

function rate(
  requests: Array<{ subject: string | undefined; at: number }>,
  from: number,
  to: number,
  identities: number,
): Rate {
  const inWindow = requests.filter((r) => r.subject && r.at >= from && r.at <= to);
  const buckets = new Map<string, number>();
  for (const r of inWindow) {
    const key = `${r.subject}@${Math.floor(r.at / 1000)}`;
    buckets.set(key, (buckets.get(key) ?? 0) + 1);
  }
  return {
    requests: inWindow.length,
    meanPerIdentityPerSecond: inWindow.length / identities / ((to - from) / 1000),
    maxPerIdentityInOneSecond: Math.max(0, ...buckets.values()),
  };
}

async function metric(operator: OperatorProcess, name: string): Promise<number> {
  if (operator.child.exitCode !== null || operator.child.signalCode !== null)
    throw new Error(
      `the operator exited (${operator.child.exitCode ?? operator.child.signalCode}):\n${operator.logs().split('\n').slice(-60).join('\n')}`,
    );
  const started = operator
    .logs()
    .split('\n')
    .find((line) => line.includes('"nhi-operator started"'));
  const port = started ? (JSON.parse(started) as { port?: number }).port : undefined;
  if (!port) return 0;
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

/** A copy of the test kubeconfig whose server is `server`. */
function kubeconfigThrough(server: string): string {
  const config = YAML.parse(readFileSync(testEnv().kubeconfigPath, 'utf8')) as {
    clusters: Array<{ cluster: { server: string } }>;
  };
  for (const c of config.clusters) c.cluster.server = server;
  const path = join(mkdtempSync(join(tmpdir(), 'nhi-storm-')), 'kubeconfig');
  writeFileSync(path, YAML.stringify(config), { mode: 0o600 });
  return path;
}

/** Which of the run's identities a request concerns, from the names the providers derive. */
function subjectOf(namespace: string): (path: string, body: string) => string | undefined {
  const pattern = new RegExp(`nhi[-/]${namespace}[-/](s\\d+)(?:[-/]|$)`);
  return (path, body) => {
    let text = `${path} ${body}`;
    try {
      text = decodeURIComponent(text);
    } catch {}
    return pattern.exec(text)?.[1];
  };
}

const LOSS_CHECKED: Record<'active' | 'locked', Partial<Record<Kind, number>>> = {
  active: Object.fromEntries(KINDS.map((k) => [k, k === 'Secret' ? 3 : 1])),
  locked: Object.fromEntries(
    KINDS.filter((k) => k !== 'RoleBinding').map((k) => [k, k === 'Secret' ? 3 : 1]),
  ),
};

/** What an active (or locked) identity should hold and does not: the storm deleted or emptied it. */
function losses(planned: Planned[], held: Map<string, Held>): string[] {
  const out: string[] = [];
  for (const p of planned) {
    const fate: Fate | undefined =
      p.fate === 'active' ? 'active' : p.fate === 'locked' ? 'locked' : undefined;
    if (!fate || !p.uid) continue;
    const h = held.get(p.uid);
    for (const [kind, want] of Object.entries(LOSS_CHECKED[fate as 'active' | 'locked'])) {
      const got = h?.counts[kind as Kind] ?? 0;
      if (got < (want ?? 0)) out.push(`${p.name}: ${got} ${kind}, ${want} expected`);
    }
    if (fate === 'active' && (h?.emptySecrets ?? 0) > 0)
      out.push(`${p.name}: ${h?.emptySecrets} Secrets emptied`);
  }
  return out;
}

/** One call to the test OpenBao, again if the connection failed (not if OpenBao answered). */
function retried(...args: Parameters<typeof bao>): ReturnType<typeof bao> {
  return withRetries(() => bao(...args));
}

const QUOTAS = [
  ['nhi-storm-kv', 'secret/'],
  ['nhi-storm-auth', 'auth/kubernetes/'],
] as const;

async function removeQuotas(): Promise<void> {
  for (const [name] of QUOTAS) {
    const answer = await retried('DELETE', `sys/quotas/rate-limit/${name}`, testEnv().bao.token);
    if (answer.status >= 300) throw new Error(`removing quota ${name}: ${answer.status}`);
  }
}

export async function stormRun(options: StormOptions): Promise<StormResult> {
  const log = options.log ?? (() => undefined);
  const env = testEnv();
  const { namespace } = options;
  const subject = subjectOf(namespace);
  const moto: FaultProxy = await startFaultProxy(env.aws.endpoint, () => undefined, subject);
  const openbao: FaultProxy = await startFaultProxy(env.bao.addr, () => undefined, subject);
  const toxiproxy = await Toxiproxy.start();
  const auditLog = join(mkdtempSync(join(tmpdir(), 'nhi-storm-')), 'audit.jsonl');
  let operator: OperatorProcess | undefined;
  try {
    const listen: Record<Target, string> = {
      moto: await toxiproxy.proxy('moto', hostPort(moto.endpoint)),
      openbao: await toxiproxy.proxy('openbao', hostPort(openbao.endpoint)),
      apiserver: await toxiproxy.proxy(
        'apiserver',
        hostPort(YAML.parse(readFileSync(env.kubeconfigPath, 'utf8')).clusters[0].cluster.server),
      ),
    };
    // Providers of their own (a provider's endpoint is immutable, and the default ones point straight
    // at moto and OpenBao).
    await installAwsProvider({ name: PROVIDERS.aws, spec: { endpoint: `http://${listen.moto}` } });
    await installVaultProvider({ name: PROVIDERS.vault, spec: { address: `http://${listen.openbao}` } });
    operator = startOperatorProcess(
      [`--audit-log=${auditLog}`, '--log-level=info', `--watch-namespace=${namespace}`],
      {
        ...FAST_START_ENV,
        KUBECONFIG: kubeconfigThrough(`https://${listen.apiserver}`),
        AWS_ENDPOINT_URL: `http://${listen.moto}`,
        BAO_ADDR: `http://${listen.openbao}`,
      },
      compiledOperator(),
    );

    const planned: Planned[] = [];
    const fates: Fate[] = [
      ...Array.from({ length: options.active }, () => 'active' as const),
      'locked',
      'orphaned',
    ];
    for (const [i, fate] of fates.entries()) {
      const p: Planned = { namespace, name: `s${i}`, fate, wave: 0, rotations: 0, providers: PROVIDERS };
      await createPlanned(p);
      planned.push(p);
    }
    await eventually(
      'every storm identity Ready before the storm',
      async () => {
        await driveIdentities(planned, -1);
        return planned.every((p) => p.seenReady);
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    const known: Known[] = planned.map((p) => ({ uid: p.uid ?? '', namespace, name: p.name }));

    const toxics = (target: Target): FaultChoice[] => {
      const add = (
        type: ToxicType,
        attributes: Record<string, number>,
        stream: 'upstream' | 'downstream' = 'downstream',
      ) => ({
        name: `${type} ${target}`,
        apply: async () => {
          await toxiproxy.addToxic(target, { name: `${type}-${stream}`, type, stream, attributes });
        },
      });
      return [
        add('latency', { latency: randomInt(200, 1500), jitter: 200 }),
        add('reset_peer', { timeout: randomInt(0, 300) }),
        add('timeout', { timeout: randomInt(500, 3000) }),
        add('bandwidth', { rate: randomInt(1, 8) }),
        add('limit_data', { bytes: randomInt(200, 4000) }),
        add('slicer', { average_size: 32, size_variation: 16, delay: 20_000 }),
      ];
    };
    const httpFaults: FaultChoice[] = [
      {
        name: 'moto ThrottlingException/503/lost answer',
        apply: async () => {
          const kinds = ['throttle', 'unavailable', 'reset-after', 'reset-before'] as const;
          moto.schedule = () => (Math.random() < 0.4 ? kinds[randomInt(0, kinds.length - 1)] : undefined);
        },
      },
      {
        name: 'openbao 429 (rate-limit quota)',
        apply: async () => {
          // On the paths the operator writes (KV and kubernetes auth roles), not on sys/ (where the
          // quota itself is removed again).
          for (const [name, path] of QUOTAS)
            await retried('POST', `sys/quotas/rate-limit/${name}`, env.bao.token, {
              path,
              rate: 2,
              interval: '1s',
            });
        },
      },
    ];
    const clear = async () => {
      await toxiproxy.reset();
      moto.schedule = () => undefined;
      await removeQuotas();
      // A limiter may still hold this second's tokens: wait until OpenBao answers freely again.
      await eventually(
        'OpenBao without 429s',
        async () => (await retried('LIST', 'auth/kubernetes/role', env.bao.token)).status !== 429,
        { timeoutMs: 10_000, intervalMs: 250 },
      );
    };

    const faults: Record<string, number> = {};
    const lostDuringStorm: string[] = [];
    let phases = 0;
    let samples = 0;
    const stormStart = Date.now();
    const reconcilesBefore = await metric(operator, 'controller_runtime_reconcile_total');
    const writesBefore = await metric(operator, 'nhi_status_writes_total');
    // Every fault comes round: the pool is shuffled, then taken two at a time, then shuffled again.
    let queue: FaultChoice[] = [];
    while (Date.now() - stormStart < options.stormMs) {
      const chosen = new Map<string, FaultChoice>();
      while (chosen.size < 2) {
        if (queue.length === 0) queue = shuffled([...TARGETS.flatMap(toxics), ...httpFaults]);
        const choice = queue.shift() as FaultChoice;
        chosen.set(choice.name, choice);
      }
      for (const choice of chosen.values()) {
        await choice.apply();
        faults[choice.name] = (faults[choice.name] ?? 0) + 1;
      }
      phases++;
      const phaseEnd = Date.now() + options.phaseMs;
      const half = Date.now() - stormStart > options.stormMs / 2;
      while (Date.now() < phaseEnd) {
        await driveIdentities(planned, half ? 0 : -1).catch(() => undefined);
        await sleep(500);
      }
      await clear();
      lostDuringStorm.push(...losses(planned, await inventory(known)).map((l) => `phase ${phases}: ${l}`));
      samples++;
      if (phases % 5 === 0)
        log(
          `[storm] ${phases} phases, ${Math.round((Date.now() - stormStart) / 1000)} s, toxiproxy restarted ${toxiproxy.restarts} times to clear stuck toxics`,
        );
    }
    const stormEnd = Date.now();
    const reconciles = (await metric(operator, 'controller_runtime_reconcile_total')) - reconcilesBefore;
    const writes = (await metric(operator, 'nhi_status_writes_total')) - writesBefore;
    const seconds = (stormEnd - stormStart) / 1000;

    await eventually(
      'every identity in the state its fate says after the storm',
      async () => {
        await driveIdentities(planned, 0, false);
        const live = await listIdentities(planned);
        return planned.every(
          (p) => (p.fate === 'active' || p.fateApplied) && reachedFate(p, live.get(p.name)),
        );
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    ).catch((error) => {
      log(operator?.logs().split('\n').slice(-40).join('\n') ?? '');
      throw error;
    });
    const convergeMs = Date.now() - stormEnd;
    const operatorExited = operator.child.exitCode !== null;
    await operator.stop();
    operator = undefined;
    return {
      stormMs: stormEnd - stormStart,
      convergeMs,
      phases,
      faults,
      samples,
      lostDuringStorm,
      rates: {
        moto: rate(moto.requests, stormStart, stormEnd, planned.length),
        openbao: rate(openbao.requests, stormStart, stormEnd, planned.length),
      },
      operator: {
        reconcilesPerIdentityPerSecond: reconciles / planned.length / seconds,
        statusWritesPerIdentityPerSecond: writes / planned.length / seconds,
      },
      identities: planned,
      audit: readAuditFile(auditLog),
      held: await inventory(known),
      operatorExited,
    };
  } finally {
    await operator?.stop();
    await removeProvider(PROVIDERS.aws);
    await removeProvider(PROVIDERS.vault);
    await removeQuotas().catch(() => undefined);
    await toxiproxy.stop();
    await moto.close();
    await openbao.close();
  }
}
