// Kubernetes Events (events.k8s.io/v1) with aggregation: the same event for the same object
// (same type, reason, action and note) seen again within `seriesWindowMs` does not create a new
// Event; it bumps series.count on the existing one, patched at most every `minPatchIntervalMs`.
// Recording never throws and never blocks a reconcile on the apiserver for long: a failed write is
// logged at debug level and forgotten. Notes pass through the secret mask like log lines do.
import { randomBytes } from 'node:crypto';
import {
  type EventsV1Api,
  type EventsV1Event,
  type KubernetesObject,
  PatchStrategy,
  setHeaderOptions,
  V1MicroTime,
} from '@kubernetes/client-node';
import { type Clock, systemClock } from './clock.ts';
import { isNotFound } from './errors.ts';
import { type Logger, silentLogger } from './logger.ts';
import { maskSecrets } from './redact.ts';

export type EventType = 'Normal' | 'Warning';

/** The two Event calls the recorder needs. */
export interface EventSink {
  create(namespace: string, event: EventsV1Event): Promise<EventsV1Event>;
  patch(namespace: string, name: string, patch: object): Promise<unknown>;
}

export function eventSink(api: EventsV1Api): EventSink {
  return {
    create: (namespace, body) => api.createNamespacedEvent({ namespace, body }),
    patch: (namespace, name, body) =>
      api.patchNamespacedEvent(
        { namespace, name, body },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
  };
}

export interface EventRecorderOptions {
  sink: EventSink;
  /** reportingController, e.g. 'nhi.dev/nhi-operator'. */
  controller: string;
  /** reportingInstance, e.g. the leader identity. */
  instance: string;
  clock?: Clock;
  logger?: Logger;
  seriesWindowMs?: number;
  minPatchIntervalMs?: number;
  /** How many distinct events to remember for aggregation. */
  maxEntries?: number;
}

interface Series {
  namespace: string;
  name: string;
  count: number;
  lastSeen: number;
  lastWritten: number;
}

const maxNoteBytes = 1000;

export class EventRecorder {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly series = new Map<string, Series>();
  /** API calls made, for tests and metrics. */
  writes = 0;

  constructor(private readonly options: EventRecorderOptions) {
    this.clock = options.clock ?? systemClock;
    this.log = options.logger ?? silentLogger();
  }

  /** Records an event about `regarding`; `action` defaults to `reason`. Never throws. */
  async record(regarding: KubernetesObject, type: EventType, reason: string, note: string, action = reason) {
    const safeNote = truncate(maskSecrets(note));
    const id = [regarding.metadata?.uid, objectRefKey(regarding), type, reason, action, safeNote].join(
      '\u0000',
    );
    const now = this.clock.now();
    try {
      const existing = this.series.get(id);
      if (existing && now - existing.lastSeen <= (this.options.seriesWindowMs ?? 360_000)) {
        await this.repeat(id, existing, now);
      } else {
        await this.create(id, regarding, type, reason, action, safeNote, now);
      }
    } catch (err) {
      this.log.debug('could not record event', { reason, err });
    }
  }

  private async repeat(id: string, series: Series, now: number): Promise<void> {
    series.count++;
    series.lastSeen = now;
    if (now - series.lastWritten < (this.options.minPatchIntervalMs ?? 30_000)) return;
    const patch = { series: { count: series.count, lastObservedTime: new V1MicroTime(now) } };
    try {
      this.writes++;
      await this.options.sink.patch(series.namespace, series.name, patch);
      series.lastWritten = now;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      this.series.delete(id); // expired by the apiserver's event TTL; the next one starts anew
    }
  }

  private async create(
    id: string,
    regarding: KubernetesObject,
    type: EventType,
    reason: string,
    action: string,
    note: string,
    now: number,
  ): Promise<void> {
    const meta = regarding.metadata ?? {};
    const namespace = meta.namespace || 'default';
    const name = `${meta.name ?? 'object'}.${now.toString(16)}${randomBytes(3).toString('hex')}`;
    const event: EventsV1Event = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name, namespace },
      eventTime: new V1MicroTime(now),
      reportingController: this.options.controller,
      reportingInstance: this.options.instance,
      action,
      reason,
      type,
      note,
      regarding: {
        ...(regarding.apiVersion && { apiVersion: regarding.apiVersion }),
        ...(regarding.kind && { kind: regarding.kind }),
        ...(meta.name && { name: meta.name }),
        ...(meta.namespace && { namespace: meta.namespace }),
        ...(meta.uid && { uid: meta.uid }),
        ...(meta.resourceVersion && { resourceVersion: meta.resourceVersion }),
      },
    };
    this.writes++;
    await this.options.sink.create(namespace, event);
    this.remember(id, { namespace, name, count: 1, lastSeen: now, lastWritten: now });
  }

  private remember(id: string, series: Series): void {
    this.series.set(id, series);
    const max = this.options.maxEntries ?? 4096;
    while (this.series.size > max) this.series.delete(this.series.keys().next().value as string);
  }
}

function objectRefKey(obj: KubernetesObject): string {
  return `${obj.kind}/${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

function truncate(note: string): string {
  if (Buffer.byteLength(note) <= maxNoteBytes) return note;
  return `${Buffer.from(note)
    .subarray(0, maxNoteBytes - 3)
    .toString()
    .replace(/\uFFFD$/, '')}...`;
}
