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
