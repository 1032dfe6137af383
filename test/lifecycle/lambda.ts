/**
 * The Lambda runtime, in process: one invocation of a bundle export with a JSON round trip of the event and the
 * result, a `getRemainingTimeInMillis()` budget, and a cut-off when the budget ends ("Task timed out after N
 * seconds"), as the Lambda service would. Used by every custom resource runtime (runtime.ts).
 */
import * as crypto from 'node:crypto';
import type { BundleModule } from './bundles';

/**
 * The sandboxes of a function, as Lambda keeps them: an invocation takes an idle one or starts a new one (a fresh
 * copy of the bundle, with its own module-level SDK clients), and gives it back when it ends. A sandbox whose
 * invocation timed out is not reused.
 */
export class SandboxPool {
  private readonly idle: BundleModule[];
  /** Sandboxes started, the first one included. */
  public started: number;

  constructor(private readonly start: () => BundleModule, first?: BundleModule) {
    this.idle = first ? [first] : [];
    this.started = this.idle.length;
  }

  public acquire(): BundleModule {
    const idle = this.idle.pop();
    if (idle) return idle;
    this.started++;
    return this.start();
  }

  public release(module: BundleModule): void {
    this.idle.push(module);
  }
}

/** A Lambda function of a provider: a bundle export and its timeout. */
export interface LambdaFunctionSpec {
  readonly functionName: string;
  /** The bundle (one warm sandbox for every invocation, one at a time). */
  readonly module: BundleModule;
  /** Sandboxes for concurrent invocations. @default every invocation runs in `module` */
  readonly sandboxes?: SandboxPool;
  /** The export named by the function's Handler (`index.<export>`). */
  readonly exportName: string;
  /** The function's Timeout. */
  readonly timeoutMs: number;
}

/** What the Lambda service reports for a function error (the FunctionError payload). */
export interface LambdaError {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace: string[];
}

/** One invocation of a user handler. */
export interface InvocationRecord {
  readonly functionName: string;
  readonly kind: 'onEvent' | 'isComplete';
  readonly requestType: 'Create' | 'Update' | 'Delete';
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
    requestType: event.RequestType as InvocationRecord['requestType'],
    logicalResourceId: String(event.LogicalResourceId),
    payload: event,
    budgetMs,
  };
  const module = fn.sandboxes?.acquire() ?? fn.module;
  let reusable = true;
  try {
    const record = await runIn(module, fn, event, context, base, requestId, started, budgetMs);
    reusable = !record.timedOut;
    return record;
  } finally {
    if (reusable) fn.sandboxes?.release(module);
  }
}

async function runIn(
  module: BundleModule, fn: LambdaFunctionSpec, event: Record<string, unknown>, context: unknown,
  base: Omit<InvocationRecord, 'timedOut' | 'durationMs' | 'result' | 'error'>, requestId: string, started: number, budgetMs: number,
): Promise<InvocationRecord> {
  const handler = module[fn.exportName];
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
        error: {
          errorType: 'Sandbox.Timedout',
          errorMessage: `${new Date().toISOString()} ${requestId} Task timed out after ${(budgetMs / 1000).toFixed(2)} seconds`,
          trace: [],
        },
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

/** The Invoke response the Lambda API gives for an invocation (RequestResponse). */
export function invokeResponse(record: InvocationRecord): { StatusCode: number; FunctionError?: string; Payload: Uint8Array } {
  const body = record.error ?? record.result ?? null;
  return {
    StatusCode: 200,
    ...(record.error ? { FunctionError: 'Unhandled' } : {}),
    Payload: new TextEncoder().encode(JSON.stringify(body)),
  };
}
