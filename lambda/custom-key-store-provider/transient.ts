/**
 * isComplete and transient faults: a KMS call that still fails with a transient fault (throttling, 5xx, time-outs)
 * after the SDK's retries, or that runs into the invocation's deadline, means "not complete yet". isComplete then
 * reports IsComplete false and the waiter polls again, within the provider's totalTimeout, instead of failing the
 * resource. Every isComplete move is safe to repeat, so the next poll simply starts over from the store's state.
 */
import { ActionableError, errorName, isAbortError, isRetriedFault } from '../shared/errors';
import type { IsCompleteResponse, StoreContext } from './context';

/** Thrown from a KMS call in isComplete when it failed transiently; `pollAgainOnTransientFault` turns it into IsComplete false. */
export class PollAgain extends ActionableError {
  public constructor(public readonly operation: string, public readonly faultName: string) {
    super(`KMS ${operation} failed transiently (${faultName}): polling again`, 'PollAgain');
  }
}

/** Runs a KMS call of isComplete; a transient failure (after the SDK's retries) or the deadline rejects with PollAgain. */
export async function pollAgainOnTransient<T>(operation: string, call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (isRetriedFault(err) || isAbortError(err)) throw new PollAgain(operation, errorName(err) ?? 'transient fault');
    throw err;
  }
}

/** An isComplete step that answers IsComplete false (and logs why) when one of its KMS calls failed transiently. */
export function pollAgainOnTransientFault(step: (ctx: StoreContext) => Promise<IsCompleteResponse>): (ctx: StoreContext) => Promise<IsCompleteResponse> {
  return async (ctx) => {
    try {
      return await step(ctx);
    } catch (err) {
      if (!(err instanceof PollAgain)) throw err;
      ctx.outcome = 'TRANSIENT_FAULT';
      ctx.log.warn('transient KMS fault after the SDK retries: not complete yet, the waiter polls again',
        ctx.fields({ operation: err.operation, errorName: err.faultName }));
      return { IsComplete: false };
    }
  };
}
