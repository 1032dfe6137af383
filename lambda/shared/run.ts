/**
 * The request runner shared by the handlers: one context per invocation (event, deadline, logger, outcome),
 * AWS calls bounded by the deadline, dispatch on RequestType, and error normalisation — written once.
 */
import { kmsRetry } from './clients';
import { Deadline } from './deadline';
import { ActionableError, deadlineText, errorMessage, errorName } from './errors';
import { LogFields, Logger } from './log';

export type RequestType = 'Create' | 'Update' | 'Delete';

/** A custom resource event as the Provider framework passes it to the user functions. */
export interface CustomResourceEvent<P> {
  readonly RequestType: RequestType;
  readonly ResourceProperties: P;
  readonly OldResourceProperties?: P;
  readonly PhysicalResourceId?: string;
  readonly LogicalResourceId: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly ResourceType: string;
  readonly ResponseURL?: string;
  readonly ServiceToken?: string;
}

/** The Lambda context, as far as the handlers use it. */
export interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

export interface HandlerOptions {
  /** When calls must stop (the Lambda deadline minus a safety margin). @default - unbounded (SDK retries only) */
  readonly deadline?: Deadline;
}

/** What one invocation knows: its event, its deadline, its logger, and the outcome it logs at the end. */
export abstract class RequestContext<E extends CustomResourceEvent<object>, O extends string> {
  public readonly log: Logger;

  protected constructor(
    public readonly event: E,
    public readonly deadline: Deadline,
    public outcome: O | 'UNKNOWN',
    context: LogFields,
  ) {
    this.log = new Logger({
      ...context,
      requestType: event.RequestType,
      logicalResourceId: event.LogicalResourceId,
      physicalResourceId: event.PhysicalResourceId,
    });
  }

  /** What the request is about, for messages: `key … (resource …)`. */
  public abstract subjectText(): string;

  /** Fields that describe the current state in every summary line. */
  public fields(): LogFields {
    return {};
  }

  /** Runs one AWS call within the deadline; rejects with the raw SDK error, or a DeadlineExceededError naming the call. */
  public call<T>(service: string, operation: string, send: (abortSignal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    this.log.debug(`calling ${service}`, { operation, ...this.fields() });
    return this.deadline.run(send, () => deadlineText(service, operation, this.subjectText()));
  }
}

export interface Run<C, T> {
  /** The function for each RequestType. */
  readonly handlers: Readonly<Record<RequestType, (ctx: C) => Promise<T>>>;
  /** The handler's error for a message (an unknown RequestType, an unexpected error). */
  readonly fail: (message: string) => Error;
  /** The summary line of a success. */
  readonly summary: (result: T) => { readonly message: string; readonly fields?: LogFields };
  /** Log 'request received' first. @default true */
  readonly logReceived?: boolean;
}

/**
 * Runs the function for the event's RequestType and logs one summary line (outcome, duration). Any error that
 * is not already actionable becomes `fail('Unexpected …')`; the error is logged and rethrown, so that the
 * Provider framework reports it to CloudFormation.
 */
export async function runRequest<E extends CustomResourceEvent<object>, C extends RequestContext<E, string>, T>(ctx: C, run: Run<C, T>): Promise<T> {
  const started = Date.now();
  const { event } = ctx;
  kmsRetry.renew();
  if (run.logReceived !== false) ctx.log.info('request received');
  try {
    if (!Object.prototype.hasOwnProperty.call(run.handlers, event.RequestType)) {
      throw run.fail(`Unknown RequestType '${String(event.RequestType)}' for resource ${event.LogicalResourceId}.`);
    }
    const result = await run.handlers[event.RequestType](ctx);
    const summary = run.summary(result);
    ctx.log.info(summary.message, { ...ctx.fields(), outcome: ctx.outcome, ...summary.fields, durationMs: Date.now() - started });
    return result;
  } catch (err) {
    const safe = err instanceof ActionableError ? err : run.fail(
      `Unexpected ${errorName(err) ?? 'error'} while handling ${event.RequestType} of ${ctx.subjectText()}: ${errorMessage(err) || 'no message'}.`);
    ctx.log.error('request failed', { ...ctx.fields(), outcome: 'FAILED', error: safe.message, durationMs: Date.now() - started });
    throw safe;
  }
}
