/**
 * The CDK Provider framework (aws-cdk-lib/custom-resources provider-framework/runtime), replayed in
 * process: how it invokes the user handlers, what it answers CloudFormation, and its rules —
 *
 * - the user onEvent gets the CloudFormation request (ResponseURL included) as a JSON payload;
 * - a Delete whose PhysicalResourceId is the CREATE_FAILED marker is answered SUCCESS without
 *   invoking the user handler; a failed Create without a physical id answers FAILED with that marker;
 * - a Delete may not change the physical id;
 * - with an isComplete handler, the waiter calls it at once with `{...event, ...onEventResult}`, then
 *   every queryInterval up to totalTimeout / queryInterval more times; IsComplete false with Data is an
 *   error; a thrown error answers FAILED at once; running out of attempts answers "Operation timed out";
 *   the final Data is `{...onEventResult.Data, ...isCompleteResult.Data}`;
 * - failure reasons are the user error message, "Logs: /aws/lambda/<fn>" and the user stack trace
 *   (the framework's includeStackTraces), as sent to CloudFormation.
 *
 * Each Lambda invocation runs with a `getRemainingTimeInMillis()` budget and is cut off when it ends,
 * as the Lambda runtime would ("Task timed out after N seconds").
 */
import * as crypto from 'node:crypto';
import type { BundleModule } from './bundles';

export const CREATE_FAILED_MARKER = 'AWSCDK::CustomResourceProviderFramework::CREATE_FAILED';
export const MISSING_PHYSICAL_ID_MARKER = 'AWSCDK::CustomResourceProviderFramework::MISSING_PHYSICAL_ID';

export type RequestType = 'Create' | 'Update' | 'Delete';

/** A CloudFormation custom resource request, as the framework passes it to the user onEvent. */
export interface CfnRequest {
  readonly RequestType: RequestType;
  readonly ServiceToken: string;
  readonly ResponseURL: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly ResourceType: string;
  readonly ResourceProperties: Record<string, unknown>;
  readonly OldResourceProperties?: Record<string, unknown>;
  readonly PhysicalResourceId?: string;
}

/** What the framework PUTs to the ResponseURL. */
export interface CfnResponse {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly Reason: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly PhysicalResourceId: string;
  readonly LogicalResourceId: string;
  readonly NoEcho?: boolean;
  readonly Data?: Record<string, unknown>;
}

/** A Lambda function of the provider: a bundle export and its timeout. */
export interface LambdaFunctionSpec {
  readonly functionName: string;
  readonly module: BundleModule;
  /** The export named by the function's Handler (`index.<export>`). */
  readonly exportName: string;
  /** The function's Timeout. */
  readonly timeoutMs: number;
}

export interface ProviderSpec {
  readonly onEvent: LambdaFunctionSpec;
  readonly isComplete?: LambdaFunctionSpec;
  /** Waiter interval between isComplete calls. */
  readonly queryIntervalMs: number;
  /** Waiter total timeout: maxAttempts = totalTimeout / queryInterval retries after the first call. */
  readonly totalTimeoutMs: number;
}

export interface LambdaError {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace: string[];
}

/** One invocation of a user handler. */
export interface InvocationRecord {
  readonly functionName: string;
  readonly kind: 'onEvent' | 'isComplete';
  readonly requestType: RequestType;
  readonly logicalResourceId: string;
  /** The JSON payload the function received. */
  readonly payload: Record<string, unknown>;
  /** The JSON the function returned (after Lambda's serialization). */
  readonly result?: unknown;
  readonly error?: LambdaError;
  readonly timedOut: boolean;
  readonly budgetMs: number;
  readonly durationMs: number;
}

/** One request handled by the framework, with everything that happened. */
export interface ProviderOutcome {
  readonly request: CfnRequest;
  readonly response: CfnResponse;
  readonly invocations: InvocationRecord[];
  /** Waiter polls (isComplete calls). */
  readonly polls: number;
  /** Real time spent. */
  readonly realMs: number;
  /** Real time plus the waiter intervals (which advance the emulator clock instead of sleeping). */
  readonly elapsedMs: number;
}

export interface FrameworkOptions {
  /** Waits between waiter polls; the default advances nothing and yields (tests pass emulator.advanceTime). */
  readonly wait?: (ms: number) => Promise<void>;
  /** The budget of one invocation. @default the function's timeout */
  readonly budgetMs?: (kind: 'onEvent' | 'isComplete', request: CfnRequest) => number | undefined;
  /** Called after every user handler invocation (tests change the emulator between calls). */
  readonly onInvocation?: (record: InvocationRecord) => void;
}

/** Runs one user function as the Lambda runtime would. */
export async function invokeLambda(fn: LambdaFunctionSpec, kind: 'onEvent' | 'isComplete', payload: Record<string, unknown>, budgetMs: number): Promise<InvocationRecord> {
  const event = JSON.parse(JSON.stringify(payload)) as Record<string, unknown>;
  const requestId = crypto.randomUUID();
  const started = Date.now();
  const context = {
    functionName: fn.functionName,
    awsRequestId: requestId,
    getRemainingTimeInMillis: () => Math.max(0, started + budgetMs - Date.now()),
  };
  const base = {
    functionName: fn.functionName,
    kind,
    requestType: event.RequestType as RequestType,
    logicalResourceId: String(event.LogicalResourceId),
    payload: event,
    budgetMs,
  };
  const handler = fn.module[fn.exportName];
  if (typeof handler !== 'function') {
    return {
      ...base, timedOut: false, durationMs: 0,
      error: { errorType: 'Runtime.HandlerNotFound', errorMessage: `index.${fn.exportName} is undefined or not exported`, trace: [] },
    };
  }
  let timer: NodeJS.Timeout | undefined;
  const killed = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), budgetMs);
  });
  try {
    const outcome = await Promise.race([
      Promise.resolve().then(() => (handler as (e: unknown, c: unknown) => unknown)(event, context)).then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error })),
      killed,
    ]);
    const durationMs = Date.now() - started;
    if (outcome === 'timeout') {
      return {
        ...base, timedOut: true, durationMs,
        error: { errorType: 'Sandbox.Timedout', errorMessage: `${new Date().toISOString()} ${requestId} Task timed out after ${(budgetMs / 1000).toFixed(2)} seconds`, trace: [] },
      };
    }
    if (!outcome.ok) {
      const e = outcome.error as { name?: string; message?: string; stack?: string } | undefined;
      return {
        ...base, timedOut: false, durationMs,
        error: {
          errorType: e?.name ?? 'Error',
          errorMessage: e?.message ?? String(outcome.error),
          trace: typeof e?.stack === 'string' ? e.stack.split('\n') : [],
        },
      };
    }
    // Lambda serializes the result to JSON.
    const result = outcome.value === undefined ? null : JSON.parse(JSON.stringify(outcome.value));
    return { ...base, timedOut: false, durationMs, result };
  } finally {
    clearTimeout(timer);
  }
}

/** The reason the framework sends when the user function failed (message, log group, user stack). */
export function userErrorReason(fn: LambdaFunctionSpec, error: LambdaError): string {
  const message = [error.errorMessage || 'error', '', `Logs: /aws/lambda/${fn.functionName}`, ''].join('\n');
  return [message, ...error.trace.slice(1)].join('\n');
}

export class ProviderFramework {
  constructor(private readonly spec: ProviderSpec, private readonly options: FrameworkOptions = {}) {}

  public get hasWaiter(): boolean {
    return this.spec.isComplete !== undefined;
  }

  public async handle(request: CfnRequest): Promise<ProviderOutcome> {
    const started = Date.now();
    let waited = 0;
    const invocations: InvocationRecord[] = [];
    let polls = 0;
    const done = (status: 'SUCCESS' | 'FAILED', event: Partial<CfnResponse> & { PhysicalResourceId?: string }, reason?: string): ProviderOutcome => {
      const response: CfnResponse = {
        Status: status,
        Reason: reason ?? status,
        StackId: request.StackId,
        RequestId: request.RequestId,
        PhysicalResourceId: event.PhysicalResourceId || MISSING_PHYSICAL_ID_MARKER,
        LogicalResourceId: request.LogicalResourceId,
        ...(event.NoEcho !== undefined ? { NoEcho: event.NoEcho } : {}),
        ...(event.Data !== undefined ? { Data: event.Data } : {}),
      };
      const realMs = Date.now() - started;
      return { request, response, invocations, polls, realMs, elapsedMs: realMs + waited };
    };
    // safeHandler: a Delete after a failed Create is answered without calling the user handler.
    if (request.RequestType === 'Delete' && request.PhysicalResourceId === CREATE_FAILED_MARKER) {
      return done('SUCCESS', { PhysicalResourceId: request.PhysicalResourceId });
    }
    const failed = (reason: string, physicalResourceId = request.PhysicalResourceId): ProviderOutcome => {
      const id = physicalResourceId || (request.RequestType === 'Create' ? CREATE_FAILED_MARKER : undefined);
      return done('FAILED', { PhysicalResourceId: id }, reason);
    };

    const onEventBudget = this.options.budgetMs?.('onEvent', request) ?? this.spec.onEvent.timeoutMs;
    const onEvent = await invokeLambda(this.spec.onEvent, 'onEvent', { ...request }, onEventBudget);
    invocations.push(onEvent);
    this.options.onInvocation?.(onEvent);
    if (onEvent.error) return failed(userErrorReason(this.spec.onEvent, onEvent.error));

    const result = (onEvent.result ?? {}) as Record<string, unknown>;
    const physicalResourceId = (result.PhysicalResourceId as string | undefined)
      || (request.RequestType === 'Create' ? request.RequestId : request.PhysicalResourceId);
    if (request.RequestType === 'Delete' && physicalResourceId !== request.PhysicalResourceId) {
      return failed(`Error: DELETE: cannot change the physical resource ID from "${request.PhysicalResourceId}" to "${String(result.PhysicalResourceId)}" during deletion\n    at onEvent (provider framework)`);
    }
    const resourceEvent: Record<string, unknown> = { ...request, ...result, PhysicalResourceId: physicalResourceId };
    if (!this.spec.isComplete) {
      return done('SUCCESS', resourceEvent as Partial<CfnResponse>, undefined);
    }

    // The waiter state machine: one call at once, then maxAttempts retries every queryInterval.
    const isComplete = this.spec.isComplete;
    const maxAttempts = Math.round(this.spec.totalTimeoutMs / this.spec.queryIntervalMs);
    for (let attempt = 0; attempt <= maxAttempts; attempt++) {
      if (attempt > 0) {
        waited += this.spec.queryIntervalMs;
        await (this.options.wait ?? defaultWait)(this.spec.queryIntervalMs);
      }
      const budget = this.options.budgetMs?.('isComplete', request) ?? isComplete.timeoutMs;
      const poll = await invokeLambda(isComplete, 'isComplete', resourceEvent, budget);
      polls++;
      invocations.push(poll);
      this.options.onInvocation?.(poll);
      if (poll.error) return failed(userErrorReason(isComplete, poll.error), physicalResourceId);
      const answer = (poll.result ?? {}) as { IsComplete?: boolean; Data?: Record<string, unknown> };
      if (!answer.IsComplete) {
        if (answer.Data && Object.keys(answer.Data).length > 0) {
          return failed('Error: "Data" is not allowed if "IsComplete" is "False"\n    at isComplete (provider framework)', physicalResourceId);
        }
        continue;
      }
      const final = { ...resourceEvent, ...answer, Data: { ...(resourceEvent.Data as object | undefined), ...answer.Data } };
      return done('SUCCESS', final as Partial<CfnResponse>);
    }
    // onTimeout: the isComplete request that last ran.
    return failed('Operation timed out', physicalResourceId);
  }
}

async function defaultWait(): Promise<void> {
  await new Promise((r) => setImmediate(r));
}
