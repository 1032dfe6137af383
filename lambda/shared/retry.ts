/**
 * Throttle-tolerant retries for the KMS client, from the SDK's own retry machinery.
 *
 * KMS's request quotas are per account and Region and shared by every caller (GetParametersForImport: 1 per
 * second; the custom key store operations: 5 per second). CloudFormation sends every custom resource of a stack
 * wave at once, so N resources make N calls at once and all but the quota's worth are throttled. The SDK's
 * standard strategy gives up after 8 attempts (about 13 s): too early for N > 10. Here the SDK keeps retrying a
 * throttled call, with full-jitter exponential backoff capped at `RETRY_BACKOFF_CAP_MS`, until it succeeds or the
 * Lambda deadline cuts it off (deadline.ts aborts every call 5 s before it): the function's timeout is the bound.
 * Other transient faults (5xx, network errors) keep the standard bound of `TRANSIENT_MAX_ATTEMPTS` attempts: a
 * service fault that persists is reported in seconds, not at the deadline.
 *
 * The standard strategy's retry quota (500 tokens; a throttled retry costs 5, another transient retry 14, and a
 * success gives back only the cost of its last retry) belongs to the client, and the client lives as long as the
 * Lambda sandbox. It protects a long-lived client from retry storms; here every call is bounded by the deadline
 * instead, and the quota would otherwise decide the outcome: 100 throttled retries are about 4 minutes of waiting
 * with this backoff, less than the last of 240 concurrent imports needs, and a warm sandbox would start its next
 * invocation with what the previous one left. So each invocation starts with a fresh quota (`renew()`, called by
 * the request runner), and a quota that runs dry during throttling is renewed: throttling is retried until the
 * deadline; other transient faults stay within `TRANSIENT_MAX_ATTEMPTS` and the quota.
 */
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import type { RetryErrorInfo, RetryStrategyV2, RetryToken, StandardRetryToken } from '@smithy/types';

/** Attempts per call (first try included); in practice the deadline or the retry quota ends the retries first. */
export const QUOTA_RETRY_MAX_ATTEMPTS = 1_000;

/** What a throttled retry takes from the SDK's retry quota (the standard strategy's throttling cost). */
const THROTTLING_RETRY_COST = 5;

/** Attempts per call for transient faults other than throttling (the SDK standard strategy's bound here). */
export const TRANSIENT_MAX_ATTEMPTS = 8;

/** Backoff of the first retry (full jitter: a random wait up to this, doubling per retry). */
export const RETRY_BACKOFF_BASE_MS = 100;

/**
 * The longest wait between two attempts. With k callers waiting on a quota, a token that frees up waits about
 * cap / 2 / k for the next attempt, so N concurrent calls at r per second take about N / r + (cap / 2) × ln N
 * seconds: 5 s adds about 15 s to the 240 s that 240 imports need at 1 per second (the SDK's own cap, 20 s, would add
 * a minute), for one throttled attempt per waiting caller every 2.5 s.
 */
export const RETRY_BACKOFF_CAP_MS = 5_000;

/** Full-jitter exponential backoff: a random wait in [0, min(cap, base × 2^attempt)). */
export function fullJitterBackoff(attempt: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(RETRY_BACKOFF_CAP_MS, RETRY_BACKOFF_BASE_MS * 2 ** attempt));
}

/**
 * The SDK's `ConfiguredRetryStrategy`, renewed at the start of every invocation, and counting the throttled
 * retries of the current invocation (for the error message when the deadline still wins).
 */
export class RenewableRetryStrategy implements RetryStrategyV2 {
  public readonly mode = 'standard';
  private current: ConfiguredRetryStrategy;
  private throttled = 0;
  /** Transient (non-throttling) retries of the call each token belongs to. */
  private readonly transientRetries = new WeakMap<RetryToken, number>();

  public constructor(
    private readonly maxAttempts = QUOTA_RETRY_MAX_ATTEMPTS,
    private readonly backoff: (attempt: number) => number = fullJitterBackoff,
  ) {
    this.current = new ConfiguredRetryStrategy(this.maxAttempts, this.backoff);
  }

  /** A full retry quota for the next invocation. */
  public renew(): void {
    this.current = new ConfiguredRetryStrategy(this.maxAttempts, this.backoff);
    this.throttled = 0;
  }

  /** Throttled responses since the last `renew()`. */
  public get throttledRetries(): number {
    return this.throttled;
  }

  public acquireInitialRetryToken(retryTokenScope: string): Promise<RetryToken> {
    return this.current.acquireInitialRetryToken(retryTokenScope);
  }

  public async refreshRetryTokenForRetry(token: RetryToken, errorInfo: RetryErrorInfo): Promise<RetryToken> {
    // Transient faults other than throttling are counted on their own: a network blip late in a long wait
    // for the quota is retried like one at the first attempt.
    let transient = this.transientRetries.get(token) ?? 0;
    if (errorInfo.errorType === 'THROTTLING') {
      this.throttled++;
      if (this.current.getCapacity() < THROTTLING_RETRY_COST) {
        // Dry after long throttling: the deadline, not the retry quota, ends these retries (see above).
        this.current = new ConfiguredRetryStrategy(this.maxAttempts, this.backoff);
      }
    } else if (++transient >= TRANSIENT_MAX_ATTEMPTS) {
      // What the SDK's strategies throw when they refuse a retry: the client then rejects with the last error.
      throw new Error('No retry token available');
    }
    const next = await this.current.refreshRetryTokenForRetry(token as StandardRetryToken, errorInfo);
    this.transientRetries.set(next, transient);
    return next;
  }

  public recordSuccess(token: RetryToken): void {
    this.current.recordSuccess(token as StandardRetryToken);
  }
}
