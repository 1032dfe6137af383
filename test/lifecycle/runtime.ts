/**
 * What a custom resource runtime is to the lifecycle driver: the code between CloudFormation and the user handler,
 * which takes one CloudFormation request and PUTs one response to its ResponseURL.
 *
 * provider-framework.ts runs aws-cdk-lib's Provider framework (the installed one) in front of the handler bundles.
 * A second runtime (for example aws-cdk-lib's core custom-resource-provider entrypoint, where a single Lambda
 * answers CloudFormation itself) implements `CustomResourceRuntime` too, and `LifecycleDriver` picks it by
 * what the resource's ServiceToken names.
 */
import type { InvocationRecord } from './lambda';

export type RequestType = 'Create' | 'Update' | 'Delete';

/** A CloudFormation custom resource request, as CloudFormation sends it to the ServiceToken. */
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

/** What the runtime PUTs to the ResponseURL. */
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

/** One request handled by a runtime, with everything that happened. */
export interface ProviderOutcome {
  readonly request: CfnRequest;
  readonly response: CfnResponse;
  /** Every user handler invocation, in order. */
  readonly invocations: InvocationRecord[];
  /** Waiter polls (isComplete calls). */
  readonly polls: number;
  /** Real time spent. */
  readonly realMs: number;
  /** Real time plus the waiter intervals (which advance the emulator clock instead of sleeping). */
  readonly elapsedMs: number;
}

export interface CustomResourceRuntime {
  /** Handles one request end to end: resolves once the runtime has sent CloudFormation its response. */
  handle(request: CfnRequest): Promise<ProviderOutcome>;
}

/** How a runtime treats time and invocations. */
export interface RuntimeOptions {
  /** Waits between waiter polls; the default advances nothing and yields (the driver advances the emulator clock). */
  readonly wait?: (ms: number) => Promise<void>;
  /** The budget of one user handler invocation. @default the function's timeout */
  readonly budgetMs?: (kind: 'onEvent' | 'isComplete', request: CfnRequest) => number | undefined;
  /** Called after every user handler invocation (tests change the emulator between calls). */
  readonly onInvocation?: (record: InvocationRecord) => void;
}
