// An IdentityStore over one in-memory AgentIdentity, for unit tests of the reconciler: it applies
// status writes (only when changed, as the real store does), finalizers and annotations to the object.

import type { AgentIdentity } from '../../api/v1alpha1/types.ts';
import { statusEqual } from '../../runtime/status.ts';
import type { IdentityStore } from './ports.ts';

export class MemoryIdentityStore implements IdentityStore {
  statusWrites = 0;

  constructor(public identity: AgentIdentity) {}

  get(): AgentIdentity {
    return structuredClone(this.identity);
  }

  async writeStatus(_identity: AgentIdentity, status: AgentIdentity['status'] & object): Promise<void> {
    if (statusEqual(this.identity.status, status)) return;
    this.statusWrites++;
    this.identity.status = structuredClone(status);
  }

  async addFinalizer(_identity: AgentIdentity, finalizer: string): Promise<void> {
    this.identity.metadata.finalizers = [...(this.identity.metadata.finalizers ?? []), finalizer];
  }

  async removeFinalizer(_identity: AgentIdentity, finalizer: string): Promise<void> {
    this.identity.metadata.finalizers = (this.identity.metadata.finalizers ?? []).filter(
      (f) => f !== finalizer,
    );
  }

  async annotate(_identity: AgentIdentity, annotations: Record<string, string | null>): Promise<void> {
    const next = { ...(this.identity.metadata.annotations ?? {}) };
    for (const [key, value] of Object.entries(annotations)) {
      if (value === null) delete next[key];
      else next[key] = value;
    }
    this.identity.metadata.annotations = next;
  }
}
