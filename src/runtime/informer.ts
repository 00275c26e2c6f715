// A supervised informer. client-node's informer emits 'error' and stops for good on most
// failures (a failed list, a 403/500 on the watch, a dropped connection), and nothing notices a
// list or connect that hangs. InformerSource keeps one alive:
//  - on 'error' it starts a fresh informer after an exponential backoff (1s .. 60s by default);
//  - a watchdog restarts it when nothing (no event, no bookmark, no reconnect) arrived for
//    `maxSilenceMs`; a healthy watch hears a bookmark about every minute or reconnects after its
//    inactivity timeout, so silence past both means a stall;
//  - the old cache keeps serving reads until the new informer has listed, then the new one takes
//    over and every object is re-emitted (plus the ones that vanished meanwhile), so nothing that
//    changed during the outage is missed;
//  - events of an informer that is not (or no longer) the current one are ignored;
//  - an informer may store its objects packed as JSON text (runtime/packed.ts): every read and every
//    change handler gets them unpacked.
import type { Informer, KubernetesObject, ObjectCache } from '@kubernetes/client-node';
import { type CancelTimer, type Clock, systemClock } from './clock.ts';
import { objectKey } from './keys.ts';
import { type Logger, silentLogger } from './logger.ts';
import type { RuntimeMetrics } from './metrics.ts';
import { unpacked } from './packed.ts';

const RELIST = { relist: true } as const;

/** The watchdog's default: restart a source that heard nothing for this long. */
export const DEFAULT_MAX_SILENCE_MS = 120_000;

export type ManagedInformer<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

/** A cache of one kind of object that reports changes; what a Controller watches. */
export interface Source<T extends KubernetesObject> {
  readonly name: string;
  /** Starts (idempotent); resolves once the cache has listed, or when stopped. */
  start(): Promise<void>;
  stop(): Promise<void>;
  hasSynced(): boolean;
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): readonly T[];
  /** The keys (`namespace/name`) of what `list` would return, without reading the objects. */
  keys(namespace?: string): string[];
  /**
   * `handler` sees every added, updated and deleted object, and every object after a relist (then
   * with `change.relist` true: nothing need have changed, a consumer may treat it as a resync).
   */
  onChange(handler: ChangeHandler<T>): void;
}

export type ChangeHandler<T> = (obj: T, change?: { relist: boolean }) => void;

export interface InformerSourceOptions<T extends KubernetesObject> {
  /** For logs and metrics, e.g. 'agentidentities'. */
  name: string;
  /**
   * Makes a new informer, e.g. `() => makeInformer(kc, path, listFn)`; called on every restart.
   * `activity` is for what the informer hears but does not emit (a watch bookmark): it keeps the
   * watchdog from taking a quiet, healthy watch for a stalled one.
   */
  create: (activity: () => void) => ManagedInformer<T>;
  clock?: Clock;
  logger?: Logger;
  metrics?: RuntimeMetrics;
  restartBaseMs?: number;
  restartMaxMs?: number;
  /** Restart when nothing arrived for this long (default 2 minutes; 0 disables). */
  maxSilenceMs?: number;
}

export class InformerSource<T extends KubernetesObject> implements Source<T> {
  readonly name: string;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly handlers: Array<ChangeHandler<T>> = [];
  private current: ManagedInformer<T> | undefined;
  private pending: ManagedInformer<T> | undefined;
  private generation = 0;
  private running = false;
  private synced = false;
  private failures = 0;
  private lastActivity = 0;
  private cancelRelaunch: CancelTimer | undefined;
  private cancelWatchdog: CancelTimer | undefined;
  private syncWaiters: Array<() => void> = [];

  constructor(private readonly options: InformerSourceOptions<T>) {
    this.name = options.name;
    this.clock = options.clock ?? systemClock;
    this.log = options.logger ?? silentLogger();
    options.metrics?.registerSource(options.name);
  }

  start(): Promise<void> {
    if (!this.running) {
      this.running = true;
      this.launch();
      this.armWatchdog();
    }
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.synced = false;
    this.generation++;
    this.cancelRelaunch?.();
    this.cancelWatchdog?.();
    this.wakeSyncWaiters();
    await Promise.all([this.current, this.pending].map((i) => i?.stop()));
    this.pending = undefined;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  get(name: string, namespace?: string): T | undefined {
    return unpacked(this.current?.get(name, namespace));
  }

  list(namespace?: string): readonly T[] {
    return (this.current?.list(namespace) ?? []).map((obj) => unpacked(obj));
  }

  keys(namespace?: string): string[] {
    // A packed object keeps its name and namespace outside the text: nothing is parsed.
    return (this.current?.list(namespace) ?? []).map(objectKey);
  }

  onChange(handler: ChangeHandler<T>): void {
    this.handlers.push(handler);
  }

  private launch(): void {
    this.cancelRelaunch = undefined;
    const generation = ++this.generation;
    const live = () => generation === this.generation && this.running;
    const touch = () => {
      if (live()) this.lastActivity = this.clock.now();
    };
    const informer = this.options.create(touch);
    let failure: { err: unknown } | undefined;
    this.pending = informer;
    this.lastActivity = this.clock.now();
    const forward = (obj: T) => {
      touch();
      if (live() && this.current === informer) this.emit(obj);
    };
    informer.on('add', forward);
    informer.on('update', forward);
    informer.on('delete', forward);
    informer.on('connect', touch);
    informer.on('error', (err: unknown) => {
      if (!live()) return;
      if (this.current === informer) this.restart('error', err);
      else failure = { err };
    });
    informer.start().then(
      () => {
        if (!live()) void informer.stop();
        else if (failure) this.restart('error', failure.err);
        else this.adopt(informer);
      },
      (err: unknown) => {
        if (live()) this.restart('error', err);
      },
    );
  }

  /** Makes a freshly listed informer current and re-emits what it holds and what vanished. */
  private adopt(informer: ManagedInformer<T>): void {
    const previous = this.current;
    this.current = informer;
    this.pending = undefined;
    this.failures = 0;
    this.lastActivity = this.clock.now();
    if (previous) {
      void previous.stop();
      this.log.info('watch restarted', { source: this.name });
    }
    this.synced = true;
    this.wakeSyncWaiters();
    const present = new Set(informer.list().map(objectKey));
    for (const obj of previous?.list() ?? []) if (!present.has(objectKey(obj))) this.emit(obj);
    for (const obj of informer.list()) this.emit(obj, RELIST);
  }

  private restart(reason: 'error' | 'stalled', err: unknown): void {
    if (!this.running || this.cancelRelaunch) return;
    this.generation++;
    void this.pending?.stop();
    void this.current?.stop();
    this.pending = undefined;
    const delay = Math.min(
      (this.options.restartBaseMs ?? 1000) * 2 ** Math.min(this.failures, 30),
      this.options.restartMaxMs ?? 60_000,
    );
    this.failures++;
    this.options.metrics?.watchRestarted(this.name, reason);
    this.log.warn('watch failed; restarting', { source: this.name, reason, delayMs: delay, err });
    this.cancelRelaunch = this.clock.setTimer(() => this.launch(), delay);
  }

  private armWatchdog(): void {
    const maxSilence = this.options.maxSilenceMs ?? DEFAULT_MAX_SILENCE_MS;
    if (maxSilence <= 0) return;
    const check = () => {
      if (!this.running) return;
      if (!this.cancelRelaunch && this.clock.now() - this.lastActivity >= maxSilence) {
        this.restart('stalled', undefined);
      }
      this.cancelWatchdog = this.clock.setTimer(check, Math.ceil(maxSilence / 4));
    };
    this.cancelWatchdog = this.clock.setTimer(check, Math.ceil(maxSilence / 4));
  }

  private emit(stored: T, change?: { relist: boolean }): void {
    const obj = unpacked(stored);
    for (const handler of this.handlers) {
      try {
        handler(obj, change);
      } catch (err) {
        this.log.error('change handler failed', { source: this.name, object: objectKey(obj), err });
      }
    }
  }

  private wakeSyncWaiters(): void {
    for (const resolve of this.syncWaiters.splice(0)) resolve();
  }
}
