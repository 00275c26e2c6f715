// The soak: the reliability suites at full size — 1,000 SIGKILLs, minutes of fault storm, repeated
// leader failovers — against the real components, then docs/reliability.md regenerated from the
// figures. Run with `npm run soak` (not part of `npm test`). Shorter runs for a busy machine:
// NHI_SOAK_KILLS, NHI_SOAK_STORM_MIN, NHI_SOAK_FAILOVERS (the page then says it was shortened).

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/dev/components.ts';
import { installOperatorManifests } from '../../src/dev/install.ts';
import { auditProblems, checkCrashRun, holdingProblems } from '../integration/reliability/crash-checks.ts';
import { crashRun } from '../integration/reliability/crash-run.ts';
import { failoverRun, LEASE } from '../integration/reliability/failover-run.ts';
import { RETRY_BOUNDS, stormRun } from '../integration/reliability/storm-run.ts';
import {
  installAwsProvider,
  installVaultProvider,
  newNamespace,
  removeProvider,
} from '../support/cluster.ts';
import { kubeConfig } from '../support/env.ts';
import { reliabilityPage, type SoakFigures } from './report.ts';

const FULL = { kills: 1000, stormMin: 5, failovers: 20 };
const asked = {
  kills: Number(process.env.NHI_SOAK_KILLS ?? FULL.kills),
  stormMin: Number(process.env.NHI_SOAK_STORM_MIN ?? FULL.stormMin),
  failovers: Number(process.env.NHI_SOAK_FAILOVERS ?? FULL.failovers),
};
const figures: Partial<SoakFigures> = {};
const started = Date.now();

// Each part's figures are saved as it finishes (.nhi/soak/<part>.json), so one part can be run again
// on its own with vitest's name filter (`npm run soak -- -t 'fault storm|writes'`) and the page
// written from the saved figures of the others, each named with when it ran.
type Part = 'crash' | 'storm' | 'failover';
const PARTS: readonly Part[] = ['crash', 'storm', 'failover'];
const savedDir = join(repoRoot, '.nhi', 'soak');
const ranAt: Partial<Record<Part, string>> = {};
/** Parts whose figures come from an earlier run's saved file. */
const loaded = new Set<Part>();
const utcNow = () => `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;
function save<P extends Part>(part: P, value: SoakFigures[P]): void {
  figures[part] = value;
  ranAt[part] = utcNow();
  mkdirSync(savedDir, { recursive: true });
  writeFileSync(join(savedDir, `${part}.json`), JSON.stringify({ at: ranAt[part], asked, figures: value }));
}
function loadSaved(part: Part): void {
  const file = join(savedDir, `${part}.json`);
  if (figures[part] || !existsSync(file)) return;
  const saved = JSON.parse(readFileSync(file, 'utf8')) as { at: string; figures: never };
  figures[part] = saved.figures;
  ranAt[part] = saved.at;
  loaded.add(part);
}

beforeAll(async () => {
  await installOperatorManifests(kubeConfig());
});

afterAll(async () => {
  await removeProvider('aws');
  await removeProvider('vault');
});

describe('soak', () => {
  it(`crash injection: ${asked.kills} kills`, async () => {
    await installAwsProvider();
    await installVaultProvider();
    const run = await crashRun({
      kills: asked.kills,
      waves: Math.max(1, Math.round(asked.kills / 25)),
      namespace: await newNamespace('soak-crash'),
      log: console.log,
    });
    const report = checkCrashRun(run);
    console.log(report.problems.join('\n'));
    save('crash', {
      kills: run.kills,
      killsAfterWrite: run.killsAfterWrite,
      identities: run.identities.length,
      rotations: run.identities.reduce((n, p) => n + p.rotations, 0),
      stormS: run.stormMs / 1000,
      convergeS: run.convergeMs / 1000,
      auditRecords: report.records,
      repeatedRecords: report.repeated,
      problems: report.problems.length,
    });
    expect(report.problems).toEqual([]);
  });

  it(`fault storm: ${asked.stormMin} min`, async () => {
    const run = await stormRun({
      stormMs: asked.stormMin * 60_000,
      phaseMs: 5_000,
      namespace: await newNamespace('soak-storm'),
      active: 6,
      log: console.log,
    });
    const problems = run.identities.flatMap((p) => [
      ...holdingProblems(p, p.uid ? run.held.get(p.uid) : undefined),
      ...auditProblems(p, run.audit),
    ]);
    console.log([...run.lostDuringStorm, ...problems].join('\n'));
    save('storm', {
      stormS: run.stormMs / 1000,
      phases: run.phases,
      faults: run.faults,
      convergeS: run.convergeMs / 1000,
      samples: run.samples,
      lost: run.lostDuringStorm.length,
      problems: problems.length,
      rates: run.rates,
      operator: run.operator,
    });
    expect(run.lostDuringStorm).toEqual([]);
    expect(problems).toEqual([]);
    for (const rate of Object.values(run.rates)) {
      expect(rate.meanPerIdentityPerSecond).toBeLessThan(RETRY_BOUNDS.meanPerIdentityPerSecond);
      expect(rate.maxPerIdentityInOneSecond).toBeLessThan(RETRY_BOUNDS.maxPerIdentityInOneSecond);
    }
  });

  it(`leader failover: ${asked.failovers} failovers`, async () => {
    await installAwsProvider();
    await installVaultProvider();
    const run = await failoverRun({
      namespace: await newNamespace('soak-failover'),
      identities: 6,
      failovers: asked.failovers,
      log: console.log,
    });
    const problems = [
      ...run.brokenChains.map((r) => `audit chain of ${r} broken`),
      ...run.identities.flatMap((p) => [
        ...holdingProblems(p, p.uid ? run.held.get(p.uid) : undefined),
        ...auditProblems(p, run.audit, { intentsAnswered: false }),
      ]),
    ];
    console.log(problems.join('\n'));
    save('failover', {
      lease: LEASE,
      failovers: run.failovers,
      takeoverMs: run.takeoverMs,
      rotations: run.rotations,
      convergeS: run.convergeMs / 1000,
      problems: problems.length,
    });
    expect(problems).toEqual([]);
  });

  it('writes docs/reliability.md from this run', () => {
    for (const part of PARTS) loadSaved(part);
    expect(figures.crash && figures.storm && figures.failover).toBeTruthy();
    const cpu = cpus();
    const short = Object.entries(asked)
      .filter(([k, v]) => v < FULL[k as keyof typeof FULL])
      .map(([k, v]) => `${k} ${v} instead of ${FULL[k as keyof typeof FULL]}`);
    const page = reliabilityPage({
      ...(figures as SoakFigures),
      date:
        loaded.size === 0
          ? `${new Date(started).toISOString().slice(0, 16).replace('T', ' ')} UTC`
          : `${PARTS.map((part) => `${part} ${ranAt[part]}`).join(', ')} (the parts ran separately)`,
      machine: `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}`,
      durationMin: (Date.now() - started) / 60_000,
      ...(short.length > 0 && { shortened: `${short.join(', ')} (NHI_SOAK_* settings)` }),
    });
    const out = join(repoRoot, 'docs', 'reliability.md');
    writeFileSync(out, page);
    // The page is committed: written as the repository's formatter (biome, which aligns tables) keeps it.
    execFileSync(join(repoRoot, 'node_modules', '.bin', 'biome'), ['format', '--write', out], {
      stdio: 'ignore',
    });
  });
});
