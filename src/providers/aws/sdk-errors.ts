// The one place that reads AWS SDK v3 errors: their `name`, `$fault`, `$retryable` and HTTP status.
// Adapters call `awsError()` in their catch blocks so the provider only ever sees typed errors.

import { ProviderError, ThrottledError, UnavailableError } from '../types.ts';
import { AlreadyExistsError } from './port.ts';

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $fault?: 'client' | 'server';
  $retryable?: { throttling?: boolean };
  $metadata?: { httpStatusCode?: number };
}

const throttlingNames = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'PriorRequestNotComplete',
]);

const unavailableNames = new Set([
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'ServiceFailureException',
  'InternalServiceError',
  'InternalFailure',
  'ServerException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);

const networkCodes = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND']);

const alreadyExistsNames = new Set([
  'EntityAlreadyExistsException',
  'ResourceExistsException',
  'ResourceInUseException',
]);

const notFoundNames = new Set(['NoSuchEntityException', 'ResourceNotFoundException', 'NotFoundException']);

function shape(err: unknown): SdkErrorShape {
  return typeof err === 'object' && err !== null ? (err as SdkErrorShape) : {};
}

export function errorName(err: unknown): string {
  const { name, code } = shape(err);
  return name ?? code ?? 'UnknownError';
}

/** NoSuchEntity (IAM), ResourceNotFound (Secrets Manager), NotFound (EKS). */
export function isAbsent(err: unknown): boolean {
  return notFoundNames.has(errorName(err));
}

export function isThrottling(err: unknown): boolean {
  const e = shape(err);
  return (
    throttlingNames.has(errorName(err)) ||
    e.$retryable?.throttling === true ||
    e.$metadata?.httpStatusCode === 429
  );
}

export function isUnavailable(err: unknown): boolean {
  const e = shape(err);
  const status = e.$metadata?.httpStatusCode ?? 0;
  return (
    unavailableNames.has(errorName(err)) ||
    e.$fault === 'server' ||
    status >= 500 ||
    networkCodes.has(e.code ?? '') ||
    networkCodes.has(errorName(err))
  );
}

/** The typed error for a failed SDK call. Messages carry the operation and the AWS error, never request data. */
export function awsError(err: unknown, operation: string): ProviderError {
  if (err instanceof ProviderError) return err;
  const name = errorName(err);
  const detail = `${operation}: ${name}: ${(shape(err).message ?? '').slice(0, 300)}`;
  if (isThrottling(err)) return new ThrottledError(`AWS throttled ${detail}`, { cause: err });
  if (alreadyExistsNames.has(name)) return new AlreadyExistsError(detail, { cause: err });
  if (isUnavailable(err)) return new UnavailableError(`AWS unavailable: ${detail}`, { cause: err });
  return new ProviderError(`AWS ${detail}`, { cause: err });
}

/** Runs an SDK call, returning `absent` for NotFound-type errors and typed errors otherwise. */
export async function orAbsent<T, A>(operation: string, absent: A, call: () => Promise<T>): Promise<T | A> {
  try {
    return await call();
  } catch (err) {
    if (isAbsent(err)) return absent;
    throw awsError(err, operation);
  }
}

/** Runs an SDK call, translating every failure into a typed error. */
export async function typed<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw awsError(err, operation);
  }
}
