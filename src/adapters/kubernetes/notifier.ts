// The reconciler's Notifier as Kubernetes Events on the AgentIdentity, through the aggregating
// EventRecorder (runtime/events.ts), which never throws and masks secrets in the note.

import type { Notifier } from '../../controller/agentidentity/ports.ts';
import type { EventRecorder } from '../../runtime/events.ts';
import { toKube } from './identity-store.ts';

export function eventNotifier(recorder: EventRecorder): Notifier {
  return {
    event: (identity, type, reason, message) =>
      recorder.record(toKube(identity), type, reason, message).then(() => undefined),
  };
}
