// Typed errors of the runtime, and the one place that reads HTTP status codes out of client-node's
// errors (ApiException carries `code`; the watch carries `statusCode`).

/**
 * The object changed (or appeared) since it was read: HTTP 409. The one conflict error of the
 * operator: status writes, finalizer patches and the Kubernetes provider's port all throw it, and the
 * controller turns it into a quiet requeue, not an error worth a log. Re-read and decide again.
 */
export class ConflictError extends Error {
  readonly reason = 'Conflict';

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConflictError';
  }
}

/** The HTTP status of a failed apiserver call, if the error carries one. */
export function httpStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, statusCode } = err as { code?: unknown; statusCode?: unknown };
  if (typeof code === 'number') return code;
  if (typeof statusCode === 'number') return statusCode;
  return undefined;
}

export function isNotFound(err: unknown): boolean {
  return httpStatus(err) === 404;
}

export function isConflict(err: unknown): boolean {
  return err instanceof ConflictError || httpStatus(err) === 409;
}

/** Rethrows a 409 as ConflictError (keeping the cause), anything else unchanged. */
export function asConflict(err: unknown, what: string): unknown {
  if (err instanceof ConflictError || httpStatus(err) !== 409) return err;
  return new ConflictError(`${what}: the object was modified; requeue`, { cause: err });
}
