// docs/reliability.md from the figures of one soak run: what load was held, which faults were
// survived, what inputs were tried and what was lost. Pure: the soak passes the figures in.

export interface SoakFigures {
  date: string;
  machine: string;
  /** Parameters asked for and run; `shortened` says why a run used less than the soak's defaults. */
  shortened?: string;
  durationMin: number;
  crash: {
    kills: number;
    killsAfterWrite: number;
    identities: number;
    rotations: number;
    stormS: number;
    convergeS: number;
    auditRecords: number;
    repeatedRecords: number;
    problems: number;
  };
  storm: {
    stormS: number;
    phases: number;
    faults: Record<string, number>;
    convergeS: number;
    samples: number;
    lost: number;
    problems: number;
    rates: Record<
      string,
      { requests: number; meanPerIdentityPerSecond: number; maxPerIdentityInOneSecond: number }
    >;
    operator: { reconcilesPerIdentityPerSecond: number; statusWritesPerIdentityPerSecond: number };
  };
  failover: {
    lease: { durationMs: number; retryPeriodMs: number };
    failovers: number;
    takeoverMs: number[];
    rotations: number;
    convergeS: number;
    problems: number;
  };
}

const fixed = (n: number, digits = 1) => n.toFixed(digits);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

export function reliabilityPage(f: SoakFigures): string {
  const lost = f.crash.problems + f.storm.lost + f.storm.problems + f.failover.problems;
  const faultList = Object.entries(f.storm.faults)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, n]) => `${name} ×${n}`)
    .join(', ');
  const rates = Object.entries(f.storm.rates)
    .map(
      ([backend, r]) =>
        `${backend}: ${r.requests} requests, ${fixed(r.meanPerIdentityPerSecond, 2)}/s per identity on average, at most ${r.maxPerIdentityInOneSecond} in one second`,
    )
    .join('; ');
  return `# Reliability

What the operator held in one run of \`npm run soak\` against the real control plane, OpenBao and moto,
and what it lost. This page is written by the soak (test/soak/soak.test.ts); run it again to
regenerate it. The CI variants of the same suites run in \`npm test\` with smaller numbers
(test/integration/reliability/).

- Run: ${f.date}, ${fixed(f.durationMin)} min, on ${f.machine}.
${f.shortened ? `- Shortened run: ${f.shortened}\n` : ''}- Lost, leaked or duplicated in this run: **${lost === 0 ? 'nothing' : `${lost} findings (see the soak output)`}**.

| suite | load held | faults survived | inputs tried | lost |
| --- | --- | --- | --- | --- |
| Crash injection | ${f.crash.identities} identities, each with Kubernetes, AWS and Vault grants and a secret on each backend: provisioned, ${f.crash.rotations} rotation requests, locked, orphaned into revocation, deleted (offboarded) | ${f.crash.kills} SIGKILLs of the operator process (${f.crash.killsAfterWrite} right after an observed write, the rest after a random delay) over ${fixed(f.crash.stormS / 60)} min | every kill point the timings reached: during start, between a backend write and its audit record, between the record and the status write | ${f.crash.problems === 0 ? 'nothing' : f.crash.problems}: converged ${fixed(f.crash.convergeS)} s after the last kill; ${f.crash.auditRecords} audit records, ${f.crash.repeatedRecords} of them repeats of an interrupted action |
| Fault storm | ${f.storm.samples} inventories of every backend between ${f.storm.phases} fault phases while identities rotated, one was locked and one lost its workload | ${faultList} over ${fixed(f.storm.stormS / 60)} min | Toxiproxy TCP faults on moto, OpenBao and the apiserver; OpenBao's real 429s; ThrottlingException, 503 and lost answers in front of moto | ${f.storm.lost + f.storm.problems === 0 ? 'nothing' : f.storm.lost + f.storm.problems}: converged ${fixed(f.storm.convergeS)} s after the storm |
| Leader failover | two replicas with leader election, ${f.failover.rotations} rotation requests | ${f.failover.failovers} SIGKILLs of the leader mid-rotation; takeover median ${median(f.failover.takeoverMs)} ms, max ${Math.max(0, ...f.failover.takeoverMs)} ms (lease ${f.failover.lease.durationMs} ms + retry ${f.failover.lease.retryPeriodMs} ms) | kills right after the leader's audit append, or after a random delay | ${f.failover.problems === 0 ? 'nothing' : f.failover.problems}: exactly one new version per rotation request; converged ${fixed(f.failover.convergeS)} s after the last failover |

Request rates during the storm, counted per identity by the counting proxy behind Toxiproxy: ${rates}.
The operator's own counters over the storm: ${fixed(f.storm.operator.reconcilesPerIdentityPerSecond, 2)} reconciles and
${fixed(f.storm.operator.statusWritesPerIdentityPerSecond, 2)} status writes per identity per second.

## What is asserted

- **Backends**, counted by the operator's ownership marks (\`nhi.dev/identity-uid\` tags on IAM roles and
  Secrets Manager secrets, the uid in each OpenBao policy's header, the KV custom metadata of the owner
  records and secrets, the uid label on ServiceAccounts, Roles, RoleBindings and Secrets): an active
  identity holds exactly one of each (three Secrets), a locked one the same without its RoleBinding
  and with the IAM quarantine policy, a revoked or offboarded one nothing. A leak or a duplicate fails.
- **Rotation**: exactly one new version per rotation request on every backend: Secrets Manager
  VersionIds 1…1+r without gaps or repeats, the KV key's latest and current version 1+r, each target
  Secret at 1+r.
- **Audit trail**: the hash chain of each process's file verifies; every action has a record
  (\`provisioned\` per backend, \`rotated\` naming every version, \`locked\`, \`orphaned\`, \`quarantined\` and
  \`revoked\` per backend, \`offboarded\`) and none names a version never written. Records follow their
  action, so a kill between the two is made good by the next reconcile: a record can repeat (counted
  above), never go missing.
- **Storm**: between phases, nothing an active or locked identity should hold is missing or emptied;
  request rates stay under 5 per identity per second on average and 100 in any one second
  (one reconcile of such an identity makes about 20 AWS calls; a hot loop makes thousands).
- **Failover**: takeover times are measured, not asserted; the invariant is the rotation count.

## What this does not cover

- The apiserver's traffic is TLS, so Toxiproxy faults it at TCP level only; no 429 or 5xx from the
  apiserver is injected (the test user is in \`system:masters\`, which API Priority and Fairness exempts).
  Its request rate is read from the operator's own counters, not counted per request.
- OpenBao 2.7 refuses audit devices created through its API, so OpenBao's requests are counted by the
  counting proxy, not by its audit device.
- moto has no fault settings: throttling and 503 answers in front of it come from the AWS suite's
  fault proxy (test/integration/aws/fault-proxy.ts), which forwards to the real moto.
- Lost watch events, fuzzed input (10,000 objects), secret leakage on error paths and uninstall and
  namespace deletion semantics are covered by other suites in \`npm test\`, with their own table of
  load, faults, inputs and losses: [reliability-safety.md](reliability-safety.md).
`;
}
