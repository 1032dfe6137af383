/**
 * The key-material custom resource handler (`index.handler`, run by the CDK Provider framework's onEvent).
 *
 * Imports key material from a Secrets Manager secret into an EXTERNAL-origin KMS key on Create/Update and
 * deletes the imported material on Delete. Physical resource id: the key id. The resource properties are
 * in lib/private/key-material-contract.ts. One file per concern:
 * - create.ts, update.ts, delete.ts: what each request type does;
 * - import.ts (read, validate, wrap, import), rotate.ts (a new material on a symmetric key), rollback.ts;
 * - verify-target.ts (DescribeKey: the target is the declared EXTERNAL key), expiration.ts (ValidTo / ValidFor,
 *   resolved at import time);
 * - material.ts (pure decoding, validation and wrapping), errors.ts (actionable messages);
 * - ../shared: the request runner, the SDK clients, the deadline, the logger.
 */
import { Deadline } from '../shared/deadline';
import { HandlerOptions, LambdaContext, runRequest } from '../shared/run';
import { KeyMaterialContext, KeyMaterialEvent, KeyMaterialResponse } from './context';
import { onCreate } from './create';
import { onDelete } from './delete';
import { HandlerError } from './errors';
import { onUpdate } from './update';

export { Deadline, DeadlineExceededError } from '../shared/deadline';
export { keyIdFromArn } from './context';
export type { KeyMaterialEvent, KeyMaterialResponse } from './context';
export { HandlerError } from './errors';
export type { HandlerOptions } from '../shared/run';

/**
 * aws-cdk-lib's custom resource entrypoint (the `__entrypoint__.js` that its CustomResourceProvider stages), bundled
 * in front of `handler`: it calls `handler` with the request (ResponseURL masked) and PUTs the response to the
 * ResponseURL, so the code that answers CloudFormation is aws-cdk-lib's. It answers the Delete that follows a failed
 * Create itself. Its own log lines would print the request's properties: the handler logs each step instead.
 * The package does not export this file: it is bundled from its installed path.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const cfnEntrypoint = require('../../node_modules/aws-cdk-lib/custom-resource-handlers/dist/core/nodejs-entrypoint-handler/index.js') as {
  external: { log: (...args: unknown[]) => void; includeStackTraces: boolean; userHandlerIndex: string };
  handler: (event: unknown, context: LambdaContext) => Promise<void>;
};
cfnEntrypoint.external.log = () => undefined;
cfnEntrypoint.external.includeStackTraces = false; // the Reason is the handler's actionable message
cfnEntrypoint.external.userHandlerIndex = __filename; // this bundle: its `handler` below

/** The Lambda function's handler (`index.main`): the entrypoint, which runs `handler` and answers CloudFormation. */
export const main = cfnEntrypoint.handler;

/** The Lambda entry point: onEvent bounded by the invocation's remaining time. */
export async function handler(event: KeyMaterialEvent, context: LambdaContext): Promise<KeyMaterialResponse> {
  return onEvent(event, { deadline: Deadline.fromLambdaContext(context) });
}

/** Handles one custom resource event. Throws an actionable Error on failure (the Provider reports FAILED). */
export async function onEvent(event: KeyMaterialEvent, options: HandlerOptions = {}): Promise<KeyMaterialResponse> {
  return runRequest(new KeyMaterialContext(event, options.deadline ?? Deadline.none()), {
    handlers: { Create: onCreate, Update: onUpdate, Delete: onDelete },
    fail: (message) => new HandlerError(message),
    summary: (result) => ({ message: 'request succeeded', fields: { resultPhysicalResourceId: result.PhysicalResourceId } }),
  });
}
