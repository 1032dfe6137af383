/**
 * The CDK Provider framework as users run it: the runtime of the installed aws-cdk-lib
 * (`custom-resources/lib/provider-framework/runtime/framework.js`, with `cfn-response.js`, `consts.js`, `util.js`),
 * driven through its `outbound` seam as aws-cdk's own tests do:
 * - `invokeFunction` runs the user function named by USER_ON_EVENT_FUNCTION_ARN / USER_IS_COMPLETE_FUNCTION_ARN: a
 *   handler bundle export, as the Lambda runtime would (lambda.ts);
 * - `startExecution` starts the waiter: the state machine is emulated in virtual time — isComplete at once, then a
 *   retry every IntervalSeconds × BackoffRate^n up to MaxAttempts, then onTimeout;
 * - `httpRequest` receives the response PUT to the ResponseURL.
 * Every rule (the Delete after a failed Create, the CREATE_FAILED marker, a Delete that may not change the physical
 * id, "Data" with IsComplete false, failure reasons with stack traces, "Operation timed out") is the framework's own:
 * a change in aws-cdk-lib shows up here. Its log lines go to this process's console, like the handlers'.
 *
 * Each provider gets its own copy of the runtime with its own environment (the framework function's Environment),
 * so providers and concurrent requests do not share state.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { invokeLambda, invokeResponse, InvocationRecord, LambdaFunctionSpec } from './lambda';
import { CfnRequest, CfnResponse, CustomResourceRuntime, ProviderOutcome, RuntimeOptions } from './runtime';

/** Where the installed framework runtime lives. */
export const FRAMEWORK_RUNTIME_DIR = path.join(path.dirname(require.resolve('aws-cdk-lib/package.json')),
  'custom-resources', 'lib', 'provider-framework', 'runtime');

/** The framework's `outbound` module: everything it sends outside its own Lambda function. */
export interface Outbound {
  httpRequest(options: { hostname?: string; path?: string; method?: string }, body: string): Promise<void>;
  invokeFunction(request: { FunctionName: string; Payload: string }): Promise<{ StatusCode?: number; FunctionError?: string; Payload?: Uint8Array }>;
  startExecution(request: { stateMachineArn: string; input: string }): Promise<{ executionArn: string; startDate: Date }>;
}

interface FrameworkModule {
  onEvent(event: unknown): Promise<void>;
  isComplete(event: unknown): Promise<void>;
  onTimeout(event: unknown): Promise<void>;
}

interface CfnResponseModule {
  CREATE_FAILED_PHYSICAL_ID_MARKER: string;
  MISSING_PHYSICAL_ID_MARKER: string;
}

/**
 * Loads a fresh copy of the installed runtime whose `./outbound` is `outbound` and whose `process.env` is `env`.
 * The files are CommonJS; they run in this realm (so console spies and jest's matchers see their objects).
 */
function loadRuntime(outbound: Outbound, env: Record<string, string>): { framework: FrameworkModule; cfnResponse: CfnResponseModule } {
  const ownProcess = new Proxy(process, { get: (target, prop) => (prop === 'env' ? env : Reflect.get(target, prop)) });
  const loaded = new Map<string, unknown>();
  const load = (request: string): unknown => {
    if (request === './outbound') return outbound;
    if (!request.startsWith('./')) return require(request);
    const file = path.join(FRAMEWORK_RUNTIME_DIR, `${request.slice(2)}.js`);
    if (!loaded.has(file)) {
      const module = { exports: {} as unknown };
      const source = `${fs.readFileSync(file, 'utf8')}\n//# sourceURL=${file}`;
      // eslint-disable-next-line @typescript-eslint/no-implied-eval
      const run = new Function('exports', 'require', 'module', '__filename', '__dirname', 'process', 'console', source);
      run(module.exports, load, module, file, FRAMEWORK_RUNTIME_DIR, ownProcess, console);
      loaded.set(file, module.exports);
    }
    return loaded.get(file);
  };
  return { framework: load('./framework') as FrameworkModule, cfnResponse: load('./cfn-response') as CfnResponseModule };
}

const NO_OUTBOUND: Outbound = {
  httpRequest: () => Promise.reject(new Error('not connected')),
  invokeFunction: () => Promise.reject(new Error('not connected')),
  startExecution: () => Promise.reject(new Error('not connected')),
};

/** The framework's marker physical ids (from the installed cfn-response.js). */
export const { CREATE_FAILED_PHYSICAL_ID_MARKER: CREATE_FAILED_MARKER, MISSING_PHYSICAL_ID_MARKER } = loadRuntime(NO_OUTBOUND, {}).cfnResponse;

/** The provider: the framework's onEvent function (its Environment) and the user functions and waiter behind it. */
export interface ProviderSpec {
  /** The framework onEvent function's environment (USER_ON_EVENT_FUNCTION_ARN, ...), with concrete ARNs. */
  readonly environment: Record<string, string>;
  /** The user functions by the ARN the environment names. */
  readonly functions: Readonly<Record<string, { readonly kind: 'onEvent' | 'isComplete'; readonly spec: LambdaFunctionSpec }>>;
  /** The waiter state machine's Retry of the isComplete task. */
  readonly waiter?: { readonly intervalMs: number; readonly maxAttempts: number; readonly backoffRate: number };
}

/** What one request in flight collects (requests are told apart by their RequestId). */
interface Inflight {
  readonly request: CfnRequest;
  readonly responses: CfnResponse[];
  readonly executions: string[];
  readonly invocations: InvocationRecord[];
}

export class ProviderFrameworkRuntime implements CustomResourceRuntime {
  private readonly framework: FrameworkModule;
  private readonly inflight = new Map<string, Inflight>();

  constructor(private readonly spec: ProviderSpec, private readonly options: RuntimeOptions = {}) {
    this.framework = loadRuntime({
      httpRequest: async (_options, body) => {
        const response = JSON.parse(body) as CfnResponse;
        this.track(response.RequestId).responses.push(response);
      },
      invokeFunction: async ({ FunctionName, Payload }) => {
        const fn = this.spec.functions[FunctionName];
        if (!fn) throw Object.assign(new Error(`Function not found: ${FunctionName}`), { name: 'ResourceNotFoundException' });
        const payload = JSON.parse(Payload) as Record<string, unknown>;
        const flight = this.track(String(payload.RequestId));
        const budget = this.options.budgetMs?.(fn.kind, flight.request) ?? fn.spec.timeoutMs;
        const record = await invokeLambda(fn.spec, fn.kind, payload, budget);
        flight.invocations.push(record);
        this.options.onInvocation?.(record);
        return invokeResponse(record);
      },
      startExecution: async ({ input }) => {
        this.track(String((JSON.parse(input) as { RequestId?: unknown }).RequestId)).executions.push(input);
        return { executionArn: `${this.spec.environment.WAITER_STATE_MACHINE_ARN}:execution`, startDate: new Date() };
      },
    }, spec.environment).framework;
  }

  public async handle(request: CfnRequest): Promise<ProviderOutcome> {
    const started = Date.now();
    const flight: Inflight = { request, responses: [], executions: [], invocations: [] };
    this.inflight.set(request.RequestId, flight);
    try {
      // CloudFormation invokes the framework's onEvent function with the request as its JSON payload.
      await this.framework.onEvent(JSON.parse(JSON.stringify(request)));
      let waited = 0;
      let polls = 0;
      for (const input of flight.executions) {
        const run = await this.runWaiter(input);
        waited += run.waitedMs;
        polls += run.polls;
      }
      if (flight.responses.length !== 1) {
        throw new Error(`the Provider framework sent ${flight.responses.length} responses for ${request.RequestType} of ${request.LogicalResourceId}`);
      }
      const realMs = Date.now() - started;
      return { request, response: flight.responses[0], invocations: flight.invocations, polls, realMs, elapsedMs: realMs + waited };
    } finally {
      this.inflight.delete(request.RequestId);
    }
  }

  /**
   * The waiter state machine: the isComplete task (the framework's isComplete function, whose Retry error means
   * "not yet"), retried on any error every IntervalSeconds × BackoffRate^n up to MaxAttempts times; then the Catch
   * runs onTimeout with the last error as its Cause.
   */
  private async runWaiter(input: string): Promise<{ polls: number; waitedMs: number }> {
    const waiter = this.spec.waiter;
    if (!waiter) throw new Error('the framework started a waiter, but the provider has no waiter state machine');
    let waitedMs = 0;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        const ms = waiter.intervalMs * waiter.backoffRate ** (attempt - 1);
        waitedMs += ms;
        await (this.options.wait ?? defaultWait)(ms);
      }
      try {
        await this.framework.isComplete(JSON.parse(input));
        return { polls: attempt + 1, waitedMs };
      } catch (err) {
        if (attempt >= waiter.maxAttempts) {
          const e = err as Error;
          const cause = { errorType: e.name, errorMessage: e.message, trace: String(e.stack ?? '').split('\n') };
          await this.framework.onTimeout({ Error: e.name, Cause: JSON.stringify(cause) });
          return { polls: attempt + 1, waitedMs };
        }
      }
    }
  }

  private track(requestId: string): Inflight {
    const flight = this.inflight.get(requestId);
    if (!flight) throw new Error(`the Provider framework acted on request ${requestId}, which is not in flight`);
    return flight;
  }
}

async function defaultWait(): Promise<void> {
  await new Promise((r) => setImmediate(r));
}
