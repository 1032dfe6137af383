/**
 * The custom key store handler, run by the CDK Provider framework: `index.onEventHandler` (onEvent) and
 * `index.isCompleteHandler` (isComplete, polled every QUERY_INTERVAL_SECONDS until it reports completion).
 *
 * Creates (or adopts), updates, connects, disconnects and deletes a KMS custom key store (AWS CloudHSM key store
 * or external key store). Physical resource id: the store id (`cks-…`). The properties are in
 * lib/private/custom-key-store-contract.ts.
 *
 * How the waits work: onEvent makes the first move (create, connect, disconnect, update, delete) and returns;
 * isComplete is then called with the same event (plus onEvent's PhysicalResourceId and Data) until it returns
 * IsComplete true. isComplete keeps no state between calls: on every call it reads the store
 * (DescribeCustomKeyStores), re-derives what is left to do from OldResourceProperties → ResourceProperties and
 * the store as it is now, and makes the next move. Every move is safe to repeat:
 * - ConnectCustomKeyStore is valid on DISCONNECTED, CONNECTING and CONNECTED stores, so a DISCONNECTED store that
 *   should be connected is simply connected (again) — also when the DISCONNECTED read was stale right after a
 *   connect request. KMS refuses it only on DISCONNECTING or FAILED stores (then the next poll decides).
 * - DisconnectCustomKeyStore is repeated while the store is CONNECTED/CONNECTING/FAILED and should not be.
 * - UpdateCustomKeyStore sends only the fields the store does not show yet (plus a changed secret), so a
 *   repeated call is harmless and a CONNECTED store that still shows an old value is known not to be updated.
 * - A FAILED store that should connect fails the request at once with the ConnectionErrorCode explained.
 * onEvent's Data (`CustomKeyStoreId`, `ConnectionState` = the state onEvent saw before acting, for Delete
 * `DeleteAction`, and for an Update that skipped a replacement `UpdateAction`) is the only thing passed on;
 * isComplete's final Data overwrites both attributes.
 *
 * One file per concern: create.ts, update.ts, delete.ts (each request type's onEvent and isComplete steps),
 * connection.ts (connect, disconnect, converge), store.ts (reading the store), plan.ts (pure update decisions),
 * keys.ts (keys left in a store), secrets.ts, errors.ts and connection-errors.ts (actionable messages),
 * transient.ts (a transient fault in isComplete means "not complete yet");
 * ../shared holds the request runner, the SDK clients, the deadline and the logger.
 */
import { Deadline } from '../shared/deadline';
import { HandlerOptions, LambdaContext, runRequest } from '../shared/run';
import { CustomKeyStoreEvent, IsCompleteResponse, OnEventResponse, StoreContext } from './context';
import { createComplete, onCreate } from './create';
import { deleteComplete, onDelete } from './delete';
import { CustomKeyStoreError } from './errors';
import { pollAgainOnTransientFault } from './transient';
import { onUpdate, updateComplete } from './update';

export { CONNECTION_ERROR_ADVICE, connectionErrorAdvice, connectionFailureMessage } from './connection-errors';
export type { ConnectionErrorAdvice, ConnectionErrorCodeName } from './connection-errors';
export type { CustomKeyStoreEvent, DeleteAction, IsCompleteResponse, OnEventData, OnEventResponse, UpdateAction } from './context';
export { CustomKeyStoreError } from './errors';
export { Deadline, DeadlineExceededError } from '../shared/deadline';
export type { HandlerOptions } from '../shared/run';

const fail = (message: string) => new CustomKeyStoreError(message);

/** Lambda entry point of onEvent. */
export async function onEventHandler(event: CustomKeyStoreEvent, context: LambdaContext): Promise<OnEventResponse> {
  return onEvent(event, { deadline: Deadline.fromLambdaContext(context) });
}

/** Lambda entry point of isComplete. */
export async function isCompleteHandler(event: CustomKeyStoreEvent, context: LambdaContext): Promise<IsCompleteResponse> {
  return isComplete(event, { deadline: Deadline.fromLambdaContext(context) });
}

/** Handles one custom resource event: the first move. Throws an actionable Error on failure. */
export async function onEvent(event: CustomKeyStoreEvent, options: HandlerOptions = {}): Promise<OnEventResponse> {
  return runRequest(new StoreContext('onEvent', event, options.deadline ?? Deadline.none()), {
    handlers: { Create: (ctx) => onCreate(ctx), Update: onUpdate, Delete: onDelete },
    fail,
    summary: (result) => ({ message: 'request succeeded', fields: { resultPhysicalResourceId: result.PhysicalResourceId } }),
  });
}

/** Reports whether the request has finished, making the next move when it has not. Throws on failure. */
export async function isComplete(event: CustomKeyStoreEvent, options: HandlerOptions = {}): Promise<IsCompleteResponse> {
  return runRequest(new StoreContext('isComplete', event, options.deadline ?? Deadline.none()), {
    // A transient KMS fault after the SDK's retries means "not complete yet": the waiter polls again (transient.ts).
    handlers: { Create: pollAgainOnTransientFault(createComplete), Update: pollAgainOnTransientFault(updateComplete), Delete: pollAgainOnTransientFault(deleteComplete) },
    fail,
    logReceived: false,
    summary: (result) => ({ message: result.IsComplete ? 'request complete' : 'still in progress', fields: { isComplete: result.IsComplete } }),
  });
}
