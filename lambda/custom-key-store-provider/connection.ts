/**
 * Connect and disconnect requests, and the step towards the desired connection state that isComplete makes on
 * every poll. Both requests are safe to repeat (see index.ts).
 */
import { ConnectCustomKeyStoreCommand, CustomKeyStoresListEntry, DisconnectCustomKeyStoreCommand } from '@aws-sdk/client-kms';
import { kms } from '../shared/clients';
import { errorName } from '../shared/errors';
import { connectionFailureMessage } from './connection-errors';
import { IsCompleteResponse, StoreContext } from './context';
import { CustomKeyStoreError, kmsFailure } from './errors';
import { DesiredConnection } from './plan';
import { complete, COMPLETE_PENDING } from './store';

/** ConnectCustomKeyStore; false when KMS refused it because of the store's state (DISCONNECTING or FAILED). */
export function connect(ctx: StoreContext): Promise<boolean> {
  return requestConnectionChange(ctx, 'ConnectCustomKeyStore', 'connect requested', 'connect refused in the current state: checking again on the ' +
    'next poll');
}

/** DisconnectCustomKeyStore; false when KMS refused it because of the store's state (DISCONNECTING or DISCONNECTED). */
export function disconnect(ctx: StoreContext): Promise<boolean> {
  return requestConnectionChange(ctx, 'DisconnectCustomKeyStore', 'disconnect requested',
    'disconnect refused in the current state (already disconnecting or disconnected)');
}

async function requestConnectionChange(
  ctx: StoreContext, operation: 'ConnectCustomKeyStore' | 'DisconnectCustomKeyStore', requested: string, refused: string,
): Promise<boolean> {
  const Command = operation === 'ConnectCustomKeyStore' ? ConnectCustomKeyStoreCommand : DisconnectCustomKeyStoreCommand;
  try {
    await ctx.kms(operation, (abortSignal) => kms.send(new Command({ CustomKeyStoreId: ctx.storeId }), { abortSignal }));
    ctx.log.info(requested, ctx.fields());
    return true;
  } catch (err) {
    if (errorName(err) === 'CustomKeyStoreInvalidStateException') {
      ctx.log.info(refused, ctx.fields());
      return false;
    }
    throw kmsFailure(operation, err, ctx.subject());
  }
}

/** One step towards the desired connection state; a FAILED store that should connect fails with its ConnectionErrorCode explained. */
export async function converge(
  ctx: StoreContext, desired: DesiredConnection, store: CustomKeyStoresListEntry, failureTail: string,
): Promise<IsCompleteResponse> {
  const state = store.ConnectionState;
  if (desired === undefined) {
    if (ctx.outcome === 'UNKNOWN') ctx.outcome = 'COMPLETE';
    return complete(ctx, store);
  }
  if (desired === 'CONNECTED') {
    switch (state) {
      case 'CONNECTED':
        ctx.outcome = 'CONNECTED';
        return complete(ctx, store);
      case 'FAILED':
        ctx.outcome = 'CONNECT_FAILED';
        throw new CustomKeyStoreError(
          connectionFailureMessage(store.CustomKeyStoreId ?? ctx.storeId ?? '', store.CustomKeyStoreName, store.ConnectionErrorCode, failureTail));
      case 'DISCONNECTED':
        // Not connected (or a stale read right after a connect request): connecting again is harmless.
        await connect(ctx);
        ctx.outcome = 'CONNECTING';
        return COMPLETE_PENDING;
      default: // CONNECTING, DISCONNECTING (connect once it is DISCONNECTED)
        ctx.outcome = state === 'CONNECTING' ? 'CONNECTING' : 'WAITING_FOR_DISCONNECT';
        return COMPLETE_PENDING;
    }
  }
  switch (state) {
    case 'DISCONNECTED':
      ctx.outcome = 'DISCONNECTED';
      return complete(ctx, store);
    case 'DISCONNECTING':
      ctx.outcome = 'DISCONNECTING';
      return COMPLETE_PENDING;
    default: // CONNECTED, CONNECTING, FAILED
      await disconnect(ctx);
      ctx.outcome = 'DISCONNECTING';
      return COMPLETE_PENDING;
  }
}
