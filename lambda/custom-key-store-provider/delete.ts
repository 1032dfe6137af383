/**
 * Delete: check for keys left in the store first (KeysRemaining FAIL leaves a store with keys as it is), then
 * disconnect and delete it, or disconnect and retain it (DISCONNECT_AND_RETAIN). "Already gone" is success.
 * An adopted store that a rollback deletes (the deployment that adopted it failed) is left as it was.
 * The Delete that follows a failed Create never reaches this handler: the Provider framework answers it.
 */
import { DeleteCustomKeyStoreCommand } from '@aws-sdk/client-kms';
import { CUSTOM_KEY_STORE_ID_PATTERN } from '../../lib/private/custom-key-store-contract';
import { kms } from '../shared/clients';
import { errorName } from '../shared/errors';
import { isRollbackStatus, readStackStatus } from '../shared/stack-status';
import { disconnect } from './connection';
import { DeleteAction, IsCompleteResponse, OnEventResponse, StoreContext } from './context';
import { CustomKeyStoreError, kmsFailure } from './errors';
import { describeKeys, findKeysInStore, StoreKeys } from './keys';
import { isAdopted } from './plan';
import { COMPLETE_PENDING, describeStore } from './store';

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function keysRemainingMessage(ctx: StoreContext, found: StoreKeys): string {
  const n = found.keys.length;
  const count = found.end === 'COMPLETE' ? plural(n, 'KMS key') : `at least ${plural(n, 'KMS key')}`;
  const stopped = found.end === 'LIMIT' ? ` (listing stopped at ${n})`
    : found.end === 'DEADLINE' ? ` (listing stopped before the Lambda function's deadline, after checking ${found.checked} of the account's keys)`
      : '';
  const listed = n > 0 ? `it still holds ${count}${stopped}: ${describeKeys(found.keys)}`
    : `KMS reports that it still holds KMS ` +
      `keys${found.end === 'DEADLINE' ? ' (the account has too many keys to find them within one invocation)' : ''}`;
  const hidden = found.undescribable > 0
    ? ` (${plural(found.undescribable, 'other key')} in the account could not be described: AccessDeniedException; they may be in this store)` : '';
  return `Cannot delete custom key store ${ctx.storeId} (${ctx.storeName ?? 'unnamed'}): ${listed}${hidden}. ` +
    'Schedule the remaining keys for deletion and wait until their waiting period ends (keys pending deletion still count), ' +
    'or set keysRemaining to DISCONNECT_AND_RETAIN, or retain this resource when you retry the stack delete.';
}

/**
 * The failure of a Delete in keysRemaining FAIL mode whose scan stopped at the deadline before finding any key of
 * the store: without a completed scan the store must not be disconnected (its keys would become unusable).
 */
function scanIncompleteMessage(ctx: StoreContext, found: StoreKeys): string {
  return `Cannot delete custom key store ${ctx.storeId} (${ctx.storeName ?? 'unnamed'}): could not check whether it still holds KMS keys, ` +
    'because the account has too many KMS keys to check within one invocation ' +
    `(checked ${found.checked} of the ${found.listed} keys listed before the Lambda function's deadline; ` +
    'KMS can only list all keys of the account and describe them one by one). The store was left as it is (not disconnected). ' +
    'To go on, set keysRemaining to DISCONNECT_AND_RETAIN and retry (the store is then disconnected, and deleted only if KMS reports no keys in ' +
    'it); ' +
    "or delete the store's keys or schedule them for deletion, then disconnect and delete the store yourself once KMS no longer counts them " +
    '(DisconnectCustomKeyStore, DeleteCustomKeyStore) and retry the stack delete (a store that is gone is not checked again); ' +
    'or retain this resource when you retry the stack delete.';
}

async function keysInStore(ctx: StoreContext): Promise<StoreKeys> {
  let found: StoreKeys;
  try {
    found = await findKeysInStore(ctx, ctx.storeId!);
  } catch (err) {
    throw kmsFailure('ListKeys/DescribeKey', err, ctx.subject());
  }
  if (found.undescribable > 0) {
    ctx.log.warn('some KMS keys could not be described (AccessDeniedException) while looking for keys in the store',
      ctx.fields({ undescribableKeys: found.undescribable }));
  }
  if (found.end !== 'COMPLETE') {
    ctx.log.warn('stopped looking for keys in the store before checking every key of the account', ctx.fields({
      scanEnd: found.end, keysFound: found.keys.length, keysChecked: found.checked, keysListed: found.listed,
    }));
  }
  return found;
}

function retainWarning(ctx: StoreContext, keyCount: number | undefined): void {
  ctx.log.warn('custom key store still holds KMS keys: disconnecting it and retaining it (not deleted), as keysRemaining is DISCONNECT_AND_RETAIN',
    ctx.fields({ keyCount }));
}

function isRetainMode(ctx: StoreContext): boolean {
  return ctx.props.KeysRemaining === 'DISCONNECT_AND_RETAIN';
}

/** DeleteCustomKeyStore of a DISCONNECTED store; the outcome, or a throw when keys remain (FAIL mode). */
async function deleteStore(ctx: StoreContext): Promise<'DELETED' | 'ALREADY_GONE' | 'RETAINED' | 'NOT_DISCONNECTED'> {
  try {
    await ctx.kms('DeleteCustomKeyStore', (abortSignal) =>
      kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: ctx.storeId }), { abortSignal }));
    ctx.log.info('custom key store deleted', ctx.fields());
    return 'DELETED';
  } catch (err) {
    switch (errorName(err)) {
      case 'CustomKeyStoreNotFoundException':
        return 'ALREADY_GONE';
      case 'CustomKeyStoreInvalidStateException':
        return 'NOT_DISCONNECTED';
      case 'CustomKeyStoreHasCMKsException': {
        const found = await keysInStore(ctx);
        if (isRetainMode(ctx)) {
          retainWarning(ctx, found.keys.length);
          return 'RETAINED';
        }
        throw new CustomKeyStoreError(keysRemainingMessage(ctx, found));
      }
      default:
        throw kmsFailure('DeleteCustomKeyStore', err, ctx.subject());
    }
  }
}

/** True when the physical id cannot name a store (Delete then has nothing to do, and never calls KMS). */
function notAStoreId(ctx: StoreContext): boolean {
  if (CUSTOM_KEY_STORE_ID_PATTERN.test(ctx.physicalId)) {
    return false;
  }
  ctx.outcome = 'SKIPPED_NOT_A_STORE_ID';
  ctx.log.warn('physical id is not a custom key store id: nothing to delete');
  return true;
}

export async function onDelete(ctx: StoreContext): Promise<OnEventResponse> {
  const id = ctx.physicalId;
  if (notAStoreId(ctx)) {
    return { PhysicalResourceId: id };
  }
  if (isAdopted(ctx.props)) {
    // The store existed before the stack: a rollback of the deployment that adopted it leaves it as it was.
    ctx.storeId = id;
    const status = await readStackStatus(ctx, 'tell a rollback (which leaves an adopted store as it was) from a destroy');
    if (isRollbackStatus(status)) {
      ctx.outcome = 'LEFT_ON_ROLLBACK';
      ctx.log.info('adopted store left as it was: the stack is rolling back the deployment that adopted it, and the store existed before',
        ctx.fields({ stackStatus: status }));
      return { PhysicalResourceId: id, Data: { CustomKeyStoreId: id, ConnectionState: 'UNCHANGED', DeleteAction: 'LEAVE' } };
    }
  }
  const store = await describeStore(ctx, id);
  if (!store) {
    ctx.outcome = 'ALREADY_GONE';
    return { PhysicalResourceId: id, Data: { CustomKeyStoreId: id, ConnectionState: 'DELETED', DeleteAction: 'DELETE' } };
  }
  const before = store.ConnectionState ?? 'UNKNOWN';
  // Keys first: with keys left and keysRemaining FAIL, the store must stay as it is (no disconnect).
  const found = await keysInStore(ctx);
  if (found.keys.length === 0 && found.end === 'DEADLINE' && !isRetainMode(ctx)) {
    throw new CustomKeyStoreError(scanIncompleteMessage(ctx, found));
  }
  // (DISCONNECT_AND_RETAIN with an incomplete scan goes on: DeleteCustomKeyStore refuses a store that holds keys, and it is then retained.)
  if (found.keys.length > 0) {
    if (!isRetainMode(ctx)) {
      throw new CustomKeyStoreError(keysRemainingMessage(ctx, found));
    }
    retainWarning(ctx, found.keys.length);
    if (before !== 'DISCONNECTED' && before !== 'DISCONNECTING') {
      await disconnect(ctx);
    }
    ctx.outcome = 'DISCONNECTING_TO_RETAIN';
    return { PhysicalResourceId: id, Data: { CustomKeyStoreId: id, ConnectionState: before, DeleteAction: 'DISCONNECT_AND_RETAIN' } };
  }
  if (before === 'DISCONNECTED') {
    const result = await deleteStore(ctx);
    ctx.outcome = result === 'NOT_DISCONNECTED' ? 'WAITING_FOR_DISCONNECT' : result;
  } else if (before === 'DISCONNECTING') {
    ctx.outcome = 'WAITING_FOR_DISCONNECT';
  } else {
    await disconnect(ctx);
    ctx.outcome = 'DISCONNECTING_TO_DELETE';
  }
  return { PhysicalResourceId: id, Data: { CustomKeyStoreId: id, ConnectionState: before, DeleteAction: 'DELETE' } };
}

export async function deleteComplete(ctx: StoreContext): Promise<IsCompleteResponse> {
  if (notAStoreId(ctx)) {
    return { IsComplete: true };
  }
  if (ctx.event.Data?.DeleteAction === 'LEAVE') {
    ctx.outcome = 'LEFT_ON_ROLLBACK';
    return { IsComplete: true };
  }
  const store = await describeStore(ctx, ctx.physicalId);
  if (!store) {
    ctx.outcome = 'DELETED';
    return { IsComplete: true };
  }
  const action: DeleteAction = ctx.event.Data?.DeleteAction ?? 'DELETE';
  switch (store.ConnectionState) {
    case 'DISCONNECTED': {
      if (action === 'DISCONNECT_AND_RETAIN') {
        ctx.outcome = 'RETAINED';
        ctx.log.warn('custom key store disconnected and retained (not deleted): it still holds KMS keys', ctx.fields());
        return { IsComplete: true };
      }
      const result = await deleteStore(ctx);
      if (result === 'NOT_DISCONNECTED') {
        ctx.outcome = 'WAITING_FOR_DISCONNECT';
        return COMPLETE_PENDING;
      }
      ctx.outcome = result;
      return { IsComplete: true };
    }
    case 'DISCONNECTING':
      ctx.outcome = 'WAITING_FOR_DISCONNECT';
      return COMPLETE_PENDING;
    default: // CONNECTED, CONNECTING, FAILED: (again) disconnect
      await disconnect(ctx);
      ctx.outcome = 'DISCONNECTING';
      return COMPLETE_PENDING;
  }
}
