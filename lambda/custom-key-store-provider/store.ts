/**
 * Reading the store, and the two answers isComplete gives.
 */
import { CustomKeyStoresListEntry, DescribeCustomKeyStoresCommand } from '@aws-sdk/client-kms';
import { kms } from '../shared/clients';
import { errorName } from '../shared/errors';
import { IsCompleteResponse, StoreContext } from './context';
import { CustomKeyStoreError, kmsFailure } from './errors';

/** DescribeCustomKeyStores of one store; undefined when KMS does not know it. */
export async function describeStore(ctx: StoreContext, storeId: string): Promise<CustomKeyStoresListEntry | undefined> {
  ctx.storeId = storeId;
  try {
    const out = await ctx.kms('DescribeCustomKeyStores', (abortSignal) =>
      kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: storeId }), { abortSignal }));
    const store = out.CustomKeyStores?.find((s) => s.CustomKeyStoreId === storeId) ?? out.CustomKeyStores?.[0];
    if (store) {
      ctx.observe(store);
    }
    return store;
  } catch (err) {
    if (errorName(err) === 'CustomKeyStoreNotFoundException') {
      return undefined;
    }
    throw kmsFailure('DescribeCustomKeyStores', err, ctx.subject());
  }
}

/** DescribeCustomKeyStores of a store that must exist. */
export async function requireStore(ctx: StoreContext, storeId: string): Promise<CustomKeyStoresListEntry> {
  const store = await describeStore(ctx, storeId);
  if (!store) {
    throw new CustomKeyStoreError(`Custom key store ${storeId} of resource ${ctx.event.LogicalResourceId} does not exist in this account and ` +
      `Region: ` +
      'it was deleted outside CloudFormation. Remove the resource from the stack (or let the stack create a new store by changing its name and ' +
      'type), ' +
      'or restore the store and deploy again.');
  }
  return store;
}

/** isComplete: not yet (the waiter polls again). */
export const COMPLETE_PENDING: IsCompleteResponse = { IsComplete: false };

/** isComplete: done, with the attributes of the store as observed. */
export function complete(ctx: StoreContext, store: CustomKeyStoresListEntry | undefined): IsCompleteResponse {
  const id = store?.CustomKeyStoreId ?? ctx.storeId ?? ctx.physicalId;
  return { IsComplete: true, Data: { CustomKeyStoreId: id, ConnectionState: store?.ConnectionState ?? 'UNKNOWN' } };
}
