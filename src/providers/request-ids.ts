// The backends' request IDs of the calls made for one audited step, so an audit record can be matched
// with CloudTrail or OpenBao's audit log. The controller opens a scope around a provider call
// (`withRequestIds`); the SDK middleware of the AWS clients and the OpenBao port note each call's ID
// in it (`noteRequestId`), in call order, failed calls included. Outside a scope nothing is kept.
// IDs only: never a request or response body.

import { AsyncLocalStorage } from 'node:async_hooks';

/** At most this many IDs per scope: a step's record stays small however many calls it made. */
export const MAX_REQUEST_IDS = 50;

const scope = new AsyncLocalStorage<string[]>();

/** Runs `fn` with `ids` as the scope the backends' adapters append to; `ids` keeps them after a throw. */
export function withRequestIds<T>(ids: string[], fn: () => Promise<T>): Promise<T> {
  return scope.run(ids, fn);
}

/** Notes one backend call's request ID in the current scope (ignored outside one, or when not a string). */
export function noteRequestId(id: unknown): void {
  const ids = scope.getStore();
  if (!ids || typeof id !== 'string' || id === '' || ids.length >= MAX_REQUEST_IDS) return;
  ids.push(id);
}
