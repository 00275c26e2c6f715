// A process that only campaigns for a Lease and prints what happens, one JSON line per event.
// The leader-election integration test runs two of these and SIGKILLs the leader.
import * as k8s from '@kubernetes/client-node';
import { LeaderElector, leaseStore } from '../../../src/runtime/leader.ts';

const [namespace, lease, identity] = process.argv.slice(2) as [string, string, string];
const kc = new k8s.KubeConfig();
kc.loadFromDefault();

const say = (event: string, extra: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ event, identity, at: Date.now(), ...extra }));

const elector = new LeaderElector({
  store: leaseStore(kc.makeApiClient(k8s.CoordinationV1Api), namespace, lease),
  identity,
  leaseDurationMs: 4_000,
  renewDeadlineMs: 3_000,
  retryPeriodMs: 1_000,
  onStartedLeading: () => say('started'),
  onStoppedLeading: (reason) => {
    say('stopped', { reason });
    process.exit(0);
  },
});

process.on('SIGTERM', () => void elector.stop());
say('campaigning');
void elector.run();
