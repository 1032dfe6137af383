/**
 * SDK client configuration and error helpers shared by the handlers.
 *
 * Transient faults (throttling, KMSInternalException, DependencyTimeoutException, 5xx, network
 * errors) are retried by the SDK's standard retry strategy; handlers contain no retry loops.
 * Region and endpoints come from the standard environment (AWS_REGION, AWS_ENDPOINT_URL_KMS,
 * AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL_CLOUDFORMATION): never set `endpoint` here.
 */

/** Attempts per call (first try included) made by the SDK before giving up on a transient fault. */
export const DEFAULT_MAX_ATTEMPTS = 8;

/** The retry part of an SDK v3 client configuration. */
export interface SdkRetryConfig {
  readonly maxAttempts: number;
  readonly retryMode: 'standard';
}

/** Client configuration for handler SDK clients, merged with `overrides` (tests shrink the backoff there). */
export function sdkClientConfig<T extends object>(overrides?: T): SdkRetryConfig & T {
  return { maxAttempts: DEFAULT_MAX_ATTEMPTS, retryMode: 'standard', ...(overrides ?? ({} as T)) };
}

/** The AWS error name (`ThrottlingException`, `NotFoundException`, ...) of an SDK error, or undefined. */
export function errorName(err: unknown): string | undefined {
  if (err && typeof err === 'object') {
    const e = err as { name?: unknown; Code?: unknown; code?: unknown };
    for (const v of [e.name, e.Code, e.code]) {
      if (typeof v === 'string' && v.length > 0) {
        return v;
      }
    }
  }
  return undefined;
}

/** The message of an error, or '' (never a response body: SDK errors carry only the service's message). */
export function errorMessage(err: unknown): string {
  if (err && typeof err === 'object' && typeof (err as { message?: unknown }).message === 'string') {
    return (err as { message: string }).message;
  }
  return '';
}

/** Number of attempts the SDK made for a failed call, when it says so. */
export function attemptsMade(err: unknown): number | undefined {
  const meta = (err as { $metadata?: { attempts?: unknown } } | undefined)?.$metadata;
  return typeof meta?.attempts === 'number' ? meta.attempts : undefined;
}

/** Error names the SDK's standard strategy treats as transient (retried); seeing one here means it persisted. */
export const TRANSIENT_ERROR_NAMES: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'KMSInternalException',
  'DependencyTimeoutException',
  'InternalServiceError',
  'InternalServiceErrorException',
  'InternalFailure',
  'ServiceUnavailable',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
]);

/** True when the error is a transient fault (the SDK already retried it `maxAttempts` times). */
export function isTransientError(err: unknown): boolean {
  const name = errorName(err);
  if (name && TRANSIENT_ERROR_NAMES.has(name)) {
    return true;
  }
  const status = (err as { $metadata?: { httpStatusCode?: unknown } } | undefined)?.$metadata?.httpStatusCode;
  return typeof status === 'number' && status >= 500;
}

/** True for the errors an aborted SDK call rejects with. */
export function isAbortError(err: unknown): boolean {
  const name = errorName(err);
  return name === 'AbortError' || name === 'DeadlineExceededError';
}

/** Shortens a service message to something safe to quote (one line, bounded length). */
export function quoteServiceMessage(message: string, max = 300): string {
  const oneLine = message.replace(/\s+/g, ' ').trim();
  return oneLine.length > max ? `${oneLine.slice(0, max)}...` : oneLine;
}
