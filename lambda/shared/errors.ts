/**
 * Errors whose message is already actionable, the SDK's own error classification, and the wording shared by
 * the handlers' error mappers.
 */
import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';

/**
 * An error whose message says what failed, where, why and what to do, and holds no secret: the
 * handlers pass it through unchanged to the Provider framework (which reports it to CloudFormation).
 */
export class ActionableError extends Error {
  public constructor(message: string, name = 'ActionableError') {
    super(message);
    this.name = name;
  }
}

/** The AWS error name (`ThrottlingException`, `NotFoundException`, ...) of an SDK error, or undefined. */
export function errorName(err: unknown): string | undefined {
  const name = (err as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' && name.length > 0 ? name : undefined;
}

/** The message of an error, or '' (never a response body: SDK errors carry only the service's message). */
export function errorMessage(err: unknown): string {
  const message = (err as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : '';
}

/**
 * True for the faults the SDK's retry strategy retries (throttling, transient and server errors), as the SDK
 * classifies them: seeing one here means it persisted through every attempt.
 */
export function isRetriedFault(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as Parameters<typeof isTransientError>[0];
  return isThrottlingError(e) || isTransientError(e) || isServerError(e);
}

/** True for the errors an aborted or cut-off call rejects with. */
export function isAbortError(err: unknown): boolean {
  const name = errorName(err);
  return name === 'AbortError' || name === 'DeadlineExceededError';
}

/** The failure to report as it is: an actionable error passes through, a call cut off at the deadline becomes `timedOut()`. */
export function settledFailure(err: unknown, timedOut: () => Error): Error | undefined {
  if (err instanceof ActionableError) return err;
  if (isAbortError(err)) return timedOut();
  return undefined;
}

/** Shortens a service message to something safe to quote (one line, bounded length). */
export function quoteServiceMessage(message: string, max = 300): string {
  const oneLine = message.replace(/\s+/g, ' ').trim();
  return oneLine.length > max ? `${oneLine.slice(0, max)}...` : oneLine;
}

/** The reason for a transient fault that outlived the SDK's retries. */
export function transientText(err: unknown, service: string): string {
  const attempts = (err as { $metadata?: { attempts?: unknown } } | undefined)?.$metadata?.attempts;
  return `a transient ${service} fault that persisted${typeof attempts === 'number' ? ` through ${attempts} attempts` : ''}; retry the deployment.`;
}

/** The message for a call cut off at the Lambda deadline; `subject` says which resource. */
export function deadlineText(service: string, operation: string, subject: string): string {
  return `${service} ${operation} for ${subject} ran out of time before the Lambda function's deadline: ` +
    `transient ${service} faults (throttling, internal errors, dependency time-outs or network errors) persisted through the SDK's retries; ` +
    'retry the deployment.';
}

/** KMS's default request quotas (requests per second, per account and Region) of the operations the handlers call. */
export const KMS_DEFAULT_REQUEST_QUOTAS: Readonly<Record<string, number>> = {
  GetParametersForImport: 1, ImportKeyMaterial: 15, DeleteImportedKeyMaterial: 15, RotateKeyOnDemand: 5, ListKeyRotations: 100,
  DescribeKey: 2000, CreateCustomKeyStore: 5, ConnectCustomKeyStore: 5, DisconnectCustomKeyStore: 5, DescribeCustomKeyStores: 5,
  UpdateCustomKeyStore: 5, DeleteCustomKeyStore: 5,
};

/**
 * The reason for a KMS call that was still throttled when its retries ended (at the deadline, or when the SDK's
 * retry quota ran out), with the next step: retrying the same deployment meets the same quota.
 * @param budgetMs the time the invocation had for its calls (the Lambda timeout, less the safety margin)
 */
export function throttledText(operation: string, subject: string, throttledRetries: number, budgetMs: number): string {
  const rate = KMS_DEFAULT_REQUEST_QUOTAS[operation];
  const seconds = Number.isFinite(budgetMs) ? Math.max(1, Math.floor(budgetMs / 1000)) : undefined;
  const quota = rate === undefined ? `its ${operation} request quota` : `its ${operation} request quota (default ${rate} per second)`;
  const capacity = rate !== undefined && seconds !== undefined
    ? ` At ${rate} per second, the ${seconds} s this function had serve about ${rate * seconds} such calls, fewer when other callers use the quota.`
    : '';
  const batch = rate !== undefined && seconds !== undefined ? ` of at most about ${Math.max(1, Math.floor(rate * seconds * 0.8))} resources each` : '';
  return `KMS ${operation} for ${subject} was still throttled (ThrottlingException) when its retries ended, after ${throttledRetries} throttled ` +
    `attempts: the account and Region exceed ${quota}, which every caller in the account and Region shares, and CloudFormation calls it for ` +
    `every resource of the deployment at once.${capacity} Retrying the same deployment meets the same quota: request a higher quota (Service ` +
    `Quotas, AWS Key Management Service, "${operation} request rate"), or deploy fewer of these resources at once (split them over several ` +
    `stacks or successive deployments${batch}).`;
}
