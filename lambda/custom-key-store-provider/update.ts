/**
 * Update: a replacement (a new store, created before CloudFormation deletes the old one) or an in-place
 * update of the store behind the physical id, with the disconnect, update and reconnect it needs. plan.ts
 * makes the decisions; onEvent makes the first move, isComplete every next one.
 */
import { CustomKeyStoresListEntry, UpdateCustomKeyStoreCommand } from '@aws-sdk/client-kms';
import { CUSTOM_KEY_STORE_ID_PATTERN, CustomKeyStoreResourceProperties } from '../../lib/private/custom-key-store-contract';
import { kms } from '../shared/clients';
import { errorName } from '../shared/errors';
import { connect, converge, disconnect } from './connection';
import { IsCompleteResponse, OnEventData, OnEventResponse, StoreContext, StoreOutcome } from './context';
import { createComplete, onCreate } from './create';
import { kmsFailure } from './errors';
import {
  DesiredConnection, desiredConnectionForUpdate, hasConnectedFields, hasDisconnectedFields, inPlaceBaseline, isAdopted, planUpdate,
  replacementReason, storeMatchesReplacementFields, UpdatePlan, updateInput,
} from './plan';
import { readKeyStorePassword, readXksCredential, XksCredential } from './secrets';
import { complete, COMPLETE_PENDING, describeStore, requireStore } from './store';

const UPDATE_FAILURE_TAIL = 'The store is left FAILED and its KMS keys are unusable until it connects. Fix the cause and deploy again ' +
  '(the handler disconnects a FAILED store before connecting it), or disconnect and connect it yourself (DisconnectCustomKeyStore, ' +
  'ConnectCustomKeyStore).';

interface PlanSecrets {
  readonly password?: string;
  readonly credential?: XksCredential;
}

/** Reads the secrets whose reference changed (the only secret values an update sends). */
async function readChangedSecrets(ctx: StoreContext, plan: UpdatePlan): Promise<PlanSecrets> {
  return {
    password: plan.passwordChanged ? await readKeyStorePassword(ctx, ctx.props.KeyStorePassword!) : undefined,
    credential: plan.credentialChanged ? await readXksCredential(ctx, ctx.props.XksProxyAuthenticationCredential!) : undefined,
  };
}

/** UpdateCustomKeyStore; false when KMS refused it because of the store's state (and `tolerateState`). */
async function sendUpdate(
  ctx: StoreContext, plan: UpdatePlan, includeDisconnected: boolean, secrets: PlanSecrets, tolerateState: boolean,
): Promise<boolean> {
  const input = updateInput(ctx.storeId!, plan, { includeDisconnected, password: secrets.password, credential: secrets.credential });
  const fieldNames = Object.keys(input).filter((k) => k !== 'CustomKeyStoreId');
  if (fieldNames.length === 0) {
    return true;
  }
  try {
    await ctx.kms('UpdateCustomKeyStore', (abortSignal) => kms.send(new UpdateCustomKeyStoreCommand(input), { abortSignal }));
  } catch (err) {
    if (tolerateState && errorName(err) === 'CustomKeyStoreInvalidStateException') {
      ctx.log.info('update refused in the current state: checking again on the next poll', ctx.fields());
      return false;
    }
    throw kmsFailure('UpdateCustomKeyStore', err, ctx.subject(), { secrets: [secrets.password, secrets.credential?.RawSecretAccessKey] });
  }
  if (input.NewCustomKeyStoreName) {
    ctx.storeName = input.NewCustomKeyStoreName;
  }
  ctx.log.info('custom key store updated', ctx.fields({ updatedFields: fieldNames.join(',') }));
  return true;
}

/** True when the plan still has something that can only be sent to a DISCONNECTED store. */
function needsDisconnectedUpdate(plan: UpdatePlan): boolean {
  return hasDisconnectedFields(plan) || plan.passwordChanged;
}

/**
 * The store behind the physical id when it already matches the new properties on every field that would replace
 * it (storeMatchesReplacementFields); undefined when the update must create a new store.
 */
async function storeMatchingReplacement(ctx: StoreContext): Promise<CustomKeyStoresListEntry | undefined> {
  const id = ctx.physicalId;
  if (!CUSTOM_KEY_STORE_ID_PATTERN.test(id) || (isAdopted(ctx.props) && ctx.props.CustomKeyStoreId !== id)) {
    return undefined;
  }
  const store = await describeStore(ctx, id);
  if (store && storeMatchesReplacementFields(ctx.props, id, store)) {
    return store;
  }
  ctx.forgetStore();
  return undefined;
}

/** The connection move an in-place update makes after its field changes, and the outcome it logs. */
type ConnectionMove = 'CONNECTING' | 'RECONNECTING' | 'DISCONNECTING';

function connectionMove(desired: DesiredConnection, before: string): ConnectionMove | undefined {
  if (desired === 'CONNECTED' && before === 'DISCONNECTED') return 'CONNECTING';
  // KMS connects a FAILED store only after a disconnect: isComplete connects it once DISCONNECTED.
  if (desired === 'CONNECTED' && before === 'FAILED') return 'RECONNECTING';
  if (desired === 'DISCONNECTED' && (before === 'CONNECTED' || before === 'CONNECTING' || before === 'FAILED')) return 'DISCONNECTING';
  return undefined;
}

const IN_PLACE_OUTCOMES: Record<'UPDATED' | 'NO_CHANGE', Record<ConnectionMove | 'NONE', StoreOutcome>> = {
  UPDATED: { NONE: 'UPDATED', CONNECTING: 'UPDATED_CONNECTING', RECONNECTING: 'UPDATED_RECONNECTING', DISCONNECTING: 'UPDATED_DISCONNECTING' },
  NO_CHANGE: {
    NONE: 'NO_CHANGE', CONNECTING: 'NO_CHANGE_CONNECTING', RECONNECTING: 'NO_CHANGE_RECONNECTING', DISCONNECTING: 'NO_CHANGE_DISCONNECTING',
  },
};

export async function onUpdate(ctx: StoreContext): Promise<OnEventResponse> {
  const reason = replacementReason(ctx.oldProps, ctx.props);
  let old: Partial<CustomKeyStoreResourceProperties> | undefined = ctx.oldProps;
  let store: CustomKeyStoresListEntry | undefined;
  if (reason) {
    store = await storeMatchingReplacement(ctx);
    if (!store) {
      ctx.log.info('replacing the custom key store: creating a new one (CloudFormation then deletes the old one)', { replacementReason: reason });
      return onCreate(ctx, reason);
    }
    ctx.log.warn('the store already has the new properties that call for a replacement (the rollback of a failed replacement): ' +
      'updating it in place, no new store', ctx.fields({ replacementReason: reason }));
    old = inPlaceBaseline(ctx.oldProps, ctx.props);
  }
  const id = ctx.physicalId;
  store ??= await requireStore(ctx, id);
  const before = store.ConnectionState ?? 'UNKNOWN';
  const response: OnEventResponse = {
    PhysicalResourceId: id,
    Data: { CustomKeyStoreId: id, ConnectionState: before, ...(reason ? { UpdateAction: 'IN_PLACE' } : {}) } satisfies OnEventData,
  };
  if (isAdopted(ctx.props)) {
    ctx.outcome = 'NO_CHANGE';
    ctx.log.info('adopted store: properties are not applied to it', ctx.fields());
    return response;
  }
  const plan = planUpdate(old, ctx.props, store, stackAccount(ctx.event.StackId));
  const desired = desiredConnectionForUpdate(old, ctx.props, plan, before);
  // Read (and so validate) every changed secret before touching the store.
  const secrets = await readChangedSecrets(ctx, plan);

  if (needsDisconnectedUpdate(plan)) {
    if (before === 'DISCONNECTED') {
      await sendUpdate(ctx, plan, true, secrets, false);
      if (desired === 'CONNECTED') {
        await connect(ctx);
      }
      ctx.outcome = 'UPDATED';
    } else if (before === 'DISCONNECTING') {
      ctx.outcome = 'WAITING_FOR_DISCONNECT';
    } else {
      ctx.log.info('the change needs a disconnected store: disconnecting, isComplete updates it once DISCONNECTED',
        ctx.fields({ reconnect: desired === 'CONNECTED' }));
      await disconnect(ctx);
      ctx.outcome = 'DISCONNECTING_TO_UPDATE';
    }
    return response;
  }

  const updated = hasConnectedFields(plan) || plan.credentialChanged;
  if (updated) {
    await sendUpdate(ctx, plan, false, secrets, false);
  }
  const move = connectionMove(desired, before);
  if (move === 'CONNECTING') {
    await connect(ctx);
  } else if (move) {
    await disconnect(ctx);
  }
  ctx.outcome = IN_PLACE_OUTCOMES[updated ? 'UPDATED' : 'NO_CHANGE'][move ?? 'NONE'];
  return response;
}

export async function updateComplete(ctx: StoreContext): Promise<IsCompleteResponse> {
  // Same decision as onEvent: a replacement, unless onEvent found the store already matching (UpdateAction IN_PLACE).
  const replacementSkipped = ctx.event.Data?.UpdateAction === 'IN_PLACE';
  if (replacementReason(ctx.oldProps, ctx.props) && !replacementSkipped) {
    return createComplete(ctx);
  }
  const old = replacementSkipped ? inPlaceBaseline(ctx.oldProps, ctx.props) : ctx.oldProps;
  const store = await requireStore(ctx, ctx.physicalId);
  if (isAdopted(ctx.props)) {
    ctx.outcome = 'NO_CHANGE';
    return complete(ctx, store);
  }
  const plan = planUpdate(old, ctx.props, store, stackAccount(ctx.event.StackId));
  const desired = desiredConnectionForUpdate(old, ctx.props, plan, ctx.event.Data?.ConnectionState);
  const state = store.ConnectionState;
  // Observable fields still differ (the update is not applied yet), or the password is to be sent and the
  // store is DISCONNECTED (KMS never shows the password: it is sent again, which is harmless).
  if (!hasDisconnectedFields(plan) && !(plan.passwordChanged && state === 'DISCONNECTED')) {
    return converge(ctx, desired, store, UPDATE_FAILURE_TAIL);
  }
  if (state === 'DISCONNECTING') {
    ctx.outcome = 'WAITING_FOR_DISCONNECT';
    return COMPLETE_PENDING;
  }
  if (state !== 'DISCONNECTED') {
    await disconnect(ctx);
    ctx.outcome = 'DISCONNECTING_TO_UPDATE';
    return COMPLETE_PENDING;
  }
  const secrets = await readChangedSecrets(ctx, plan);
  if (!(await sendUpdate(ctx, plan, true, secrets, true))) {
    ctx.outcome = 'WAITING_TO_UPDATE';
    return COMPLETE_PENDING;
  }
  if (desired === 'CONNECTED') {
    await connect(ctx);
    ctx.outcome = 'UPDATED_RECONNECTING';
    return COMPLETE_PENDING;
  }
  ctx.outcome = 'UPDATED';
  return complete(ctx, { ...store, CustomKeyStoreName: ctx.storeName });
}

/** The account in a stack id (`arn:aws:cloudformation:<region>:<account>:stack/...`). */
function stackAccount(stackId: string | undefined): string | undefined {
  return /^arn:aws[a-z-]*:cloudformation:[^:]*:(\d{12}):stack\//.exec(stackId ?? '')?.[1];
}
