/**
 * A single Lambda function behind the ServiceToken whose responses to CloudFormation are written by aws-cdk-lib's
 * own custom resource entrypoint (`custom-resource-handlers/dist/core/nodejs-entrypoint-handler`, the code that
 * `CustomResourceProvider` stages as `__entrypoint__.js`), bundled in front of the handler. CloudFormation invokes
 * the function with the request (ResponseURL included); the entrypoint calls the handler, then PUTs the response
 * to the ResponseURL through its `external.sendHttpRequest` seam, which is stubbed here, as aws-cdk's own tests of
 * the entrypoint do. Its rules (the Delete after a failed Create, the CREATE_FAILED marker, a Delete that may not
 * change the physical id) are the installed entrypoint's own.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BundleModule } from './bundles';
import { invokeLambda, LambdaFunctionSpec } from './lambda';
import { CfnRequest, CfnResponse, CustomResourceRuntime, ProviderOutcome, RuntimeOptions } from './runtime';

/** The entrypoint module a bundle exposes (as `cfnEntrypoint`), with its seams. */
interface EntrypointModule {
  external: {
    sendHttpRequest: (options: { hostname?: string; path?: string; method?: string }, body: string) => Promise<void>;
    log: (...args: unknown[]) => void;
    /** What the entrypoint `require`s for the user handler. */
    userHandlerIndex: string;
  };
}

let copies = 0;

/** Responses PUT by any sandbox's entrypoint, by RequestId (sandboxes are shared by every runtime of a bundle). */
const collectors = new Map<string, CfnResponse[]>();

/**
 * Routes a bundle copy's responses to the request in flight, and makes its entrypoint call this copy's handler
 * (once per copy). In Lambda the entrypoint `require`s the bundle itself, which Node has cached; jest keeps each
 * copy in a registry of its own (bundles.ts), so the entrypoint's `userHandlerIndex` seam (the one aws-cdk's tests
 * of the entrypoint use) names a module that is this copy's exports.
 */
export function connectEntrypoint(module: BundleModule): void {
  const entrypoint = module.cfnEntrypoint as EntrypointModule | undefined;
  if (!entrypoint?.external) throw new Error('the bundle exports no cfnEntrypoint: its Handler is not the aws-cdk-lib custom resource entrypoint');
  if (entrypoint.external.sendHttpRequest === routeResponse) return;
  const key = `cdk-kms-lifecycle-bundle-copy-${process.pid}-${++copies}`;
  (globalThis as Record<string, unknown>)[key] = module;
  const proxy = path.join(os.tmpdir(), `${key}.js`);
  fs.writeFileSync(proxy, `module.exports = globalThis[${JSON.stringify(key)}];\n`);
  entrypoint.external.userHandlerIndex = proxy;
  entrypoint.external.sendHttpRequest = routeResponse;
}

async function routeResponse(_options: unknown, body: string): Promise<void> {
  const response = JSON.parse(body) as CfnResponse;
  const collector = collectors.get(response.RequestId);
  if (!collector) throw new Error(`the entrypoint answered request ${response.RequestId}, which is not in flight`);
  collector.push(response);
}

export class EntrypointRuntime implements CustomResourceRuntime {
  constructor(private readonly fn: LambdaFunctionSpec, private readonly options: RuntimeOptions = {}) {}

  public async handle(request: CfnRequest): Promise<ProviderOutcome> {
    const started = Date.now();
    const responses: CfnResponse[] = [];
    collectors.set(request.RequestId, responses);
    try {
      const budget = this.options.budgetMs?.('onEvent', request) ?? this.fn.timeoutMs;
      const record = await invokeLambda(this.fn, 'onEvent', { ...request }, budget);
      this.options.onInvocation?.(record);
      const realMs = Date.now() - started;
      let response = responses[0];
      if (responses.length > 1) throw new Error(`the entrypoint sent ${responses.length} responses for ${request.RequestType} of ${request.LogicalResourceId}`);
      if (!response) {
        // Nobody answered CloudFormation: it waits for the resource's ServiceTimeout, then fails the resource.
        response = {
          Status: 'FAILED', StackId: request.StackId, RequestId: request.RequestId, LogicalResourceId: request.LogicalResourceId,
          PhysicalResourceId: request.PhysicalResourceId ?? '',
          Reason: `CloudFormation did not receive a response from the custom resource (the function failed: ${record.error?.errorMessage ?? 'no error'})`,
        };
      }
      return { request, response, invocations: [record], polls: 0, realMs, elapsedMs: realMs };
    } finally {
      collectors.delete(request.RequestId);
    }
  }
}
