// An in-memory HeadStore with the same compare-and-swap rule as the ConfigMap one (unit tests).

import type { Checkpoint } from '../checkpoint.ts';
import { HeadConflictError, type HeadStore } from '../trail.ts';

export class MemoryHeadStore implements HeadStore {
  head: Checkpoint | undefined;
  version = 0;
  /** Every head ever written, oldest first. */
  readonly history: Checkpoint[] = [];

  async read() {
    return this.head && { checkpoint: this.head, version: String(this.version) };
  }

  async write(checkpoint: Checkpoint, version: string | undefined) {
    const current = this.head ? String(this.version) : undefined;
    if (version !== current) throw new HeadConflictError('the anchored head moved');
    this.head = checkpoint;
    this.history.push(checkpoint);
    this.version++;
    return String(this.version);
  }
}
