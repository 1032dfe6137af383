/**
 * Bounds every AWS call by the Lambda function's remaining time.
 *
 * The SDK retries transient faults itself (see aws.ts); this module makes sure that those retries
 * (or a call that never answers) cannot outlive the invocation: each call gets an AbortSignal that
 * fires `safetyMarginMs` before the deadline, and the call is raced against that moment so that it
 * fails with a clear message even if the transport ignores the signal.
 */

import { ActionableError } from './errors';

/** Time kept back from the Lambda deadline to report the failure to CloudFormation. */
export const DEFAULT_SAFETY_MARGIN_MS = 5_000;

/** Thrown when a call is cut off at the deadline. */
export class DeadlineExceededError extends ActionableError {
  public constructor(message: string) {
    super(message, 'DeadlineExceededError');
  }
}

export class Deadline {
  /** The deadline of a Lambda invocation. */
  public static fromLambdaContext(context: { getRemainingTimeInMillis(): number }, safetyMarginMs = DEFAULT_SAFETY_MARGIN_MS): Deadline {
    return new Deadline(Date.now() + context.getRemainingTimeInMillis(), safetyMarginMs);
  }

  /** No deadline: calls are bounded only by the SDK's own retry strategy. */
  public static none(): Deadline {
    return new Deadline(undefined);
  }

  /**
   * @param at epoch milliseconds at which the invocation ends (undefined: unbounded)
   * @param safetyMarginMs time kept back before `at`
   */
  public constructor(public readonly at: number | undefined, public readonly safetyMarginMs = DEFAULT_SAFETY_MARGIN_MS) {
    this.createdAt = Date.now();
  }

  private readonly createdAt: number;

  /** The time calls had when the deadline was made (the invocation's budget, less the margin); Infinity when unbounded. */
  public budgetMs(): number {
    return this.at === undefined ? Infinity : this.at - this.safetyMarginMs - this.createdAt;
  }

  /** Milliseconds left before calls are cut off (Infinity when unbounded). */
  public remainingMs(): number {
    return this.at === undefined ? Infinity : this.at - this.safetyMarginMs - Date.now();
  }

  /**
   * Runs `call` with an AbortSignal that fires at the cut-off; rejects with a DeadlineExceededError
   * carrying `timeoutMessage()` at that moment, whatever `call` does.
   */
  public async run<T>(call: (abortSignal: AbortSignal | undefined) => Promise<T>, timeoutMessage: () => string): Promise<T> {
    if (this.at === undefined) {
      return call(undefined);
    }
    const remaining = this.remainingMs();
    if (remaining <= 0) {
      throw new DeadlineExceededError(timeoutMessage());
    }
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const cutOff = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new DeadlineExceededError(timeoutMessage()));
        controller.abort();
      }, remaining);
    });
    try {
      return await Promise.race([call(controller.signal), cutOff]);
    } finally {
      clearTimeout(timer);
    }
  }
}
