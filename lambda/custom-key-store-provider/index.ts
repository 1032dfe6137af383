/**
 * The custom key store handler, run by the CDK Provider framework: `index.onEventHandler` (onEvent) and
 * `index.isCompleteHandler` (isComplete, polled every QUERY_INTERVAL_SECONDS until it reports completion).
 *
 * Creates (or adopts), updates, connects, disconnects and deletes a KMS custom key store (AWS CloudHSM key store
 * or external key store). Physical resource id: the store id (`cks-…`). See contract.ts for the properties.
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
 */
import {
  ConnectCustomKeyStoreCommand,
  CreateCustomKeyStoreCommand,
  CreateCustomKeyStoreCommandInput,
  CustomKeyStoresListEntry,
  DeleteCustomKeyStoreCommand,
  DescribeCustomKeyStoresCommand,
  DisconnectCustomKeyStoreCommand,
  KMSClient,
  UpdateCustomKeyStoreCommand,
} from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { errorMessage, errorName, sdkClientConfig } from '../shared/aws';
import { Deadline } from '../shared/deadline';
import { Logger } from '../shared/log';
import { connectionFailureMessage } from './connection-errors';
import {
  CLOUDHSM_CLUSTER_ID_PATTERN,
  CREATE_FAILED_MARKER,
  CUSTOM_KEY_STORE_ID_PATTERN,
  CustomKeyStoreResourceAttributes,
  CustomKeyStoreResourceProperties,
  XKS_PROXY_URI_PATH_PATTERN,
} from '../../lib/private/custom-key-store-contract';
import { CustomKeyStoreError, kmsFailure, StoreSubject, subjectText, timeoutMessage } from './errors';
import { describeKeys, findKeysInStore, StoreKeys } from './keys';
import {
  DesiredConnection,
  desiredConnectionForUpdate,
  hasConnectedFields,
  hasDisconnectedFields,
  inPlaceBaseline,
  isAdopted,
  missingCreateProperties,
  planUpdate,
  replacementReason,
  storeMatchesReplacementFields,
  storeTypeOf,
  UpdatePlan,
  updateInput,
  wantsConnection,
} from './plan';
import { readKeyStorePassword, readXksCredential, SecretReader, XksCredential } from './secrets';

export { CONNECTION_ERROR_ADVICE, connectionErrorAdvice, connectionFailureMessage } from './connection-errors';
export type { ConnectionErrorAdvice, ConnectionErrorCodeName } from './connection-errors';
export { CustomKeyStoreError } from './errors';
export { Deadline, DeadlineExceededError } from '../shared/deadline';
import { onRequestType } from '../shared/dispatch';
import { ActionableError } from '../shared/errors';

/** What Delete decided in onEvent (passed to isComplete in Data; Delete's Data never becomes attributes). */
export type DeleteAction = 'DELETE' | 'DISCONNECT_AND_RETAIN';

/**
 * What Update decided in onEvent when its properties call for a replacement but the store behind the physical id
 * already matches them (the rollback of a failed replacement): update it in place. isComplete cannot tell this
 * from a replacement by looking at the store (both match the new properties), so it is passed on in Data.
 */
export type UpdateAction = 'IN_PLACE';

/** The Data onEvent returns (and isComplete receives). */
export interface OnEventData extends CustomKeyStoreResourceAttributes {
  /** Delete only. */
  readonly DeleteAction?: DeleteAction;
  /** Update only, when a replacement was skipped. */
  readonly UpdateAction?: UpdateAction;
}

/** The custom resource event the Provider framework passes to onEvent and isComplete. */
export interface CustomKeyStoreEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResourceProperties: CustomKeyStoreResourceProperties;
  readonly OldResourceProperties?: CustomKeyStoreResourceProperties;
  readonly PhysicalResourceId?: string;
  readonly LogicalResourceId: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly ResourceType: string;
  readonly ResponseURL?: string;
  readonly ServiceToken?: string;
  /** isComplete only: the Data onEvent returned. */
  readonly Data?: Partial<OnEventData>;
}

export interface OnEventResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: OnEventData;
}

export interface IsCompleteResponse {
  readonly IsComplete: boolean;
  readonly Data?: CustomKeyStoreResourceAttributes;
}

/** The SDK clients the handler uses. */
export interface CustomKeyStoreClients {
  readonly kms: KMSClient;
  readonly secretsManager: SecretsManagerClient;
}

export interface HandlerOptions {
  /** When calls must stop (the Lambda deadline minus a safety margin). @default - unbounded (SDK retries only) */
  readonly deadline?: Deadline;
  /** Clients to use instead of the default ones (tests). */
  readonly clients?: Partial<CustomKeyStoreClients>;
}

interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

let defaultKms: KMSClient | undefined;
let defaultSecretsManager: SecretsManagerClient | undefined;

/** The default clients: region and endpoints from the environment (AWS_REGION, AWS_ENDPOINT_URL_*), SDK standard retries. */
function clientsFor(options: HandlerOptions): CustomKeyStoreClients {
  return {
    kms: options.clients?.kms ?? (defaultKms ??= new KMSClient(sdkClientConfig())),
    secretsManager: options.clients?.secretsManager ?? (defaultSecretsManager ??= new SecretsManagerClient(sdkClientConfig())),
  };
}

/** Lambda entry point of onEvent. */
export async function onEventHandler(event: CustomKeyStoreEvent, context: LambdaContext): Promise<OnEventResponse> {
  return onEvent(event, { deadline: Deadline.fromLambdaContext(context) });
}

/** Lambda entry point of isComplete. */
export async function isCompleteHandler(event: CustomKeyStoreEvent, context: LambdaContext): Promise<IsCompleteResponse> {
  return isComplete(event, { deadline: Deadline.fromLambdaContext(context) });
}

const CREATE_FAILURE_TAIL = 'The store is left FAILED; if the stack rolls back, the handler disconnects and deletes it (it holds no keys yet). Fix the cause and deploy again.';
const UPDATE_FAILURE_TAIL = 'The store is left FAILED and its KMS keys are unusable until it connects. Fix the cause and deploy again (the handler disconnects a FAILED store before connecting it), ' +
  'or disconnect and connect it yourself (DisconnectCustomKeyStore, ConnectCustomKeyStore).';

/** Per-invocation state: event, clients, deadline, logger, and what to log at the end. */
class Context {
  public outcome = 'UNKNOWN';
  public storeId: string | undefined;
  public storeName: string | undefined;
  public connectionState: string | undefined;
  public readonly props: CustomKeyStoreResourceProperties;
  public readonly oldProps: CustomKeyStoreResourceProperties | undefined;

  public constructor(
    public readonly handler: 'onEvent' | 'isComplete',
    public readonly event: CustomKeyStoreEvent,
    public readonly clients: CustomKeyStoreClients,
    public readonly deadline: Deadline,
    public readonly log: Logger,
  ) {
    this.props = event.ResourceProperties ?? ({} as CustomKeyStoreResourceProperties);
    this.oldProps = event.OldResourceProperties;
    this.storeName = this.props.CustomKeyStoreName;
  }

  public get physicalId(): string {
    return this.event.PhysicalResourceId ?? '';
  }

  public subject(): StoreSubject {
    return { logicalResourceId: this.event.LogicalResourceId, storeId: this.storeId, storeName: this.storeName };
  }

  public secretReader(): SecretReader {
    return { client: this.clients.secretsManager, deadline: this.deadline, subject: this.subject() };
  }

  /** Runs one KMS call within the deadline; rejects with the raw SDK error (or the time-out error). */
  public kms<T>(operation: string, call: (kms: KMSClient, abortSignal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    this.log.debug('calling KMS', { operation, customKeyStoreId: this.storeId });
    return this.deadline.run((signal) => call(this.clients.kms, signal), () => timeoutMessage('KMS', operation, this.subject()));
  }

  /** Forgets the store observed last (it is not the store this request is about). */
  public forgetStore(): void {
    this.storeId = undefined;
    this.storeName = this.props.CustomKeyStoreName;
    this.connectionState = undefined;
  }

  /** Remembers the store as DescribeCustomKeyStores showed it. */
  public observe(store: CustomKeyStoresListEntry): void {
    this.storeId = store.CustomKeyStoreId ?? this.storeId;
    this.storeName = store.CustomKeyStoreName ?? this.storeName;
    this.connectionState = store.ConnectionState;
  }

  public fields(extra: Record<string, string | number | boolean | undefined> = {}): Record<string, string | number | boolean | undefined> {
    return { customKeyStoreId: this.storeId, connectionState: this.connectionState, ...extra };
  }
}

function newContext(handler: 'onEvent' | 'isComplete', event: CustomKeyStoreEvent, options: HandlerOptions): Context {
  const log = new Logger({
    handler,
    requestType: event.RequestType,
    logicalResourceId: event.LogicalResourceId,
    physicalResourceId: event.PhysicalResourceId,
  });
  return new Context(handler, event, clientsFor(options), options.deadline ?? Deadline.none(), log);
}

function asHandlerError(ctx: Context, err: unknown): Error {
  if (err instanceof ActionableError) {
    return err;
  }
  return new CustomKeyStoreError(`Unexpected ${errorName(err) ?? 'error'} while handling ${ctx.event.RequestType} of ${subjectText(ctx.subject())}: ${errorMessage(err) || 'no message'}.`);
}

/** Handles one custom resource event: the first move. Throws an actionable Error on failure. */
export async function onEvent(event: CustomKeyStoreEvent, options: HandlerOptions = {}): Promise<OnEventResponse> {
  const started = Date.now();
  const ctx = newContext('onEvent', event, options);
  ctx.log.info('request received');
  try {
    const result = await onRequestType(event, {
      Create: () => onCreate(ctx),
      Update: () => onUpdate(ctx),
      Delete: () => onDelete(ctx),
    }, (message) => new CustomKeyStoreError(message));
    ctx.log.info('request succeeded', ctx.fields({ outcome: ctx.outcome, resultPhysicalResourceId: result.PhysicalResourceId, durationMs: Date.now() - started }));
    return result;
  } catch (err) {
    const safe = asHandlerError(ctx, err);
    ctx.log.error('request failed', ctx.fields({ outcome: 'FAILED', error: safe.message, durationMs: Date.now() - started }));
    throw safe;
  }
}

/** Reports whether the request has finished, making the next move when it has not. Throws on failure. */
export async function isComplete(event: CustomKeyStoreEvent, options: HandlerOptions = {}): Promise<IsCompleteResponse> {
  const started = Date.now();
  const ctx = newContext('isComplete', event, options);
  try {
    const result = await onRequestType(event, {
      Create: () => createComplete(ctx),
      Update: () => updateComplete(ctx),
      Delete: () => deleteComplete(ctx),
    }, (message) => new CustomKeyStoreError(message));
    ctx.log.info(result.IsComplete ? 'request complete' : 'still in progress', ctx.fields({ outcome: ctx.outcome, isComplete: result.IsComplete, durationMs: Date.now() - started }));
    return result;
  } catch (err) {
    const safe = asHandlerError(ctx, err);
    ctx.log.error('request failed', ctx.fields({ outcome: 'FAILED', error: safe.message, durationMs: Date.now() - started }));
    throw safe;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// KMS moves

/** DescribeCustomKeyStores of one store; undefined when KMS does not know it. */
async function describeStore(ctx: Context, storeId: string): Promise<CustomKeyStoresListEntry | undefined> {
  ctx.storeId = storeId;
  try {
    const out = await ctx.kms('DescribeCustomKeyStores', (kms, abortSignal) =>
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
async function requireStore(ctx: Context, storeId: string): Promise<CustomKeyStoresListEntry> {
  const store = await describeStore(ctx, storeId);
  if (!store) {
    throw new CustomKeyStoreError(`Custom key store ${storeId} of resource ${ctx.event.LogicalResourceId} does not exist in this account and Region: it was deleted outside CloudFormation. ` +
      'Remove the resource from the stack (or let the stack create a new store by changing its name and type), or restore the store and deploy again.');
  }
  return store;
}

/** ConnectCustomKeyStore; false when KMS refused it because of the store's state (DISCONNECTING or FAILED). */
function connect(ctx: Context): Promise<boolean> {
  return requestConnectionChange(ctx, 'ConnectCustomKeyStore', 'connect', 'connect refused in the current state: checking again on the next poll');
}

/** DisconnectCustomKeyStore; false when KMS refused it because of the store's state (DISCONNECTING or DISCONNECTED). */
function disconnect(ctx: Context): Promise<boolean> {
  return requestConnectionChange(ctx, 'DisconnectCustomKeyStore', 'disconnect', 'disconnect refused in the current state (already disconnecting or disconnected)');
}

async function requestConnectionChange(
  ctx: Context, operation: 'ConnectCustomKeyStore' | 'DisconnectCustomKeyStore', verb: string, refused: string,
): Promise<boolean> {
  const Command = operation === 'ConnectCustomKeyStore' ? ConnectCustomKeyStoreCommand : DisconnectCustomKeyStoreCommand;
  try {
    await ctx.kms(operation, (kms, abortSignal) => kms.send(new Command({ CustomKeyStoreId: ctx.storeId }), { abortSignal }));
    ctx.log.info(`${verb} requested`, ctx.fields());
    return true;
  } catch (err) {
    if (errorName(err) === 'CustomKeyStoreInvalidStateException') {
      ctx.log.info(refused, ctx.fields());
      return false;
    }
    throw kmsFailure(operation, err, ctx.subject());
  }
}

const COMPLETE_PENDING: IsCompleteResponse = { IsComplete: false };

function complete(ctx: Context, store: CustomKeyStoresListEntry | undefined): IsCompleteResponse {
  const id = store?.CustomKeyStoreId ?? ctx.storeId ?? ctx.physicalId;
  return { IsComplete: true, Data: { CustomKeyStoreId: id, ConnectionState: store?.ConnectionState ?? 'UNKNOWN' } };
}

/** One step towards the desired connection state. */
async function converge(ctx: Context, desired: DesiredConnection, store: CustomKeyStoresListEntry, failureTail: string): Promise<IsCompleteResponse> {
  const state = store.ConnectionState;
  if (desired === undefined) {
    ctx.outcome = ctx.outcome === 'UNKNOWN' ? 'COMPLETE' : ctx.outcome;
    return complete(ctx, store);
  }
  if (desired === 'CONNECTED') {
    switch (state) {
      case 'CONNECTED':
        ctx.outcome = 'CONNECTED';
        return complete(ctx, store);
      case 'FAILED':
        ctx.outcome = 'CONNECT_FAILED';
        throw new CustomKeyStoreError(connectionFailureMessage(store.CustomKeyStoreId ?? ctx.storeId ?? '', store.CustomKeyStoreName, store.ConnectionErrorCode, failureTail));
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

// ---------------------------------------------------------------------------------------------------------------
// Create

function validateStoreId(ctx: Context, id: string | undefined, what: string): string {
  if (!id || !CUSTOM_KEY_STORE_ID_PATTERN.test(id)) {
    throw new CustomKeyStoreError(`${what} of resource ${ctx.event.LogicalResourceId} must match cks- followed by 17 hex digits, got '${id ?? ''}'.`);
  }
  return id;
}

function validateCreateProperties(ctx: Context): void {
  const p = ctx.props;
  const type = storeTypeOf(p);
  if (type !== 'AWS_CLOUDHSM' && type !== 'EXTERNAL_KEY_STORE') {
    throw new CustomKeyStoreError(`CustomKeyStoreType of resource ${ctx.event.LogicalResourceId} must be AWS_CLOUDHSM or EXTERNAL_KEY_STORE, got '${String(type)}'.`);
  }
  const missing = missingCreateProperties(p);
  if (missing.length > 0) {
    throw new CustomKeyStoreError(`Resource ${ctx.event.LogicalResourceId} cannot create a ${type} custom key store: missing ${missing.join(', ')}.`);
  }
  if (type === 'AWS_CLOUDHSM' && !CLOUDHSM_CLUSTER_ID_PATTERN.test(p.CloudHsmClusterId!)) {
    throw new CustomKeyStoreError(`CloudHsmClusterId of resource ${ctx.event.LogicalResourceId} must match cluster- followed by 11 characters, got '${p.CloudHsmClusterId}'.`);
  }
  if (type === 'EXTERNAL_KEY_STORE' && !XKS_PROXY_URI_PATH_PATTERN.test(p.XksProxyUriPath!)) {
    throw new CustomKeyStoreError(`XksProxyUriPath of resource ${ctx.event.LogicalResourceId} must start with / and end with /kms/xks/v1, got '${p.XksProxyUriPath}'.`);
  }
}

async function adopt(ctx: Context): Promise<OnEventResponse> {
  const id = validateStoreId(ctx, ctx.props.CustomKeyStoreId, 'CustomKeyStoreId (adopted store)');
  const store = await describeStore(ctx, id);
  if (!store) {
    throw new CustomKeyStoreError(`Cannot adopt custom key store ${id} for resource ${ctx.event.LogicalResourceId}: KMS has no custom key store with this id in this account and Region. ` +
      'Check the id (DescribeCustomKeyStores), the account and the Region.');
  }
  ctx.outcome = 'ADOPTED';
  ctx.log.info('adopted an existing custom key store (no change made)', ctx.fields());
  return { PhysicalResourceId: id, Data: { CustomKeyStoreId: id, ConnectionState: store.ConnectionState ?? 'UNKNOWN' } };
}

/** Creates the store (and requests the connection); `replacement` says why an update replaces the old store. */
async function onCreate(ctx: Context, replacement?: string): Promise<OnEventResponse> {
  if (isAdopted(ctx.props)) {
    return adopt(ctx);
  }
  validateCreateProperties(ctx);
  const p = ctx.props;
  const reader = ctx.secretReader();
  let input: CreateCustomKeyStoreCommandInput;
  let secrets: (string | undefined)[];
  if (storeTypeOf(p) === 'AWS_CLOUDHSM') {
    const password = await readKeyStorePassword(reader, p.KeyStorePassword!);
    secrets = [password];
    input = {
      CustomKeyStoreName: p.CustomKeyStoreName,
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      CloudHsmClusterId: p.CloudHsmClusterId,
      TrustAnchorCertificate: p.TrustAnchorCertificate,
      KeyStorePassword: password,
    };
  } else {
    const credential = await readXksCredential(reader, p.XksProxyAuthenticationCredential!);
    secrets = [credential.RawSecretAccessKey];
    const vpc = p.XksProxyConnectivity === 'VPC_ENDPOINT_SERVICE';
    input = {
      CustomKeyStoreName: p.CustomKeyStoreName,
      CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
      XksProxyUriEndpoint: p.XksProxyUriEndpoint,
      XksProxyUriPath: p.XksProxyUriPath,
      XksProxyConnectivity: p.XksProxyConnectivity,
      ...(vpc ? { XksProxyVpcEndpointServiceName: p.XksProxyVpcEndpointServiceName } : {}),
      ...(vpc && p.XksProxyVpcEndpointServiceOwner ? { XksProxyVpcEndpointServiceOwner: p.XksProxyVpcEndpointServiceOwner } : {}),
      XksProxyAuthenticationCredential: credential,
    };
  }
  let storeId: string | undefined;
  try {
    storeId = (await ctx.kms('CreateCustomKeyStore', (kms, abortSignal) => kms.send(new CreateCustomKeyStoreCommand(input), { abortSignal }))).CustomKeyStoreId;
  } catch (err) {
    throw kmsFailure('CreateCustomKeyStore', err, ctx.subject(), { secrets, replacement: replacement !== undefined });
  }
  if (!storeId) {
    throw new CustomKeyStoreError(`KMS CreateCustomKeyStore returned no store id for ${subjectText(ctx.subject())}; check DescribeCustomKeyStores for a store named '${p.CustomKeyStoreName}' and retry.`);
  }
  ctx.storeId = storeId;
  ctx.connectionState = 'DISCONNECTED';
  ctx.log.info('custom key store created', ctx.fields({ storeType: storeTypeOf(p), replacementReason: replacement }));
  if (wantsConnection(p)) {
    // The store exists now: never fail onEvent from here on (the physical id must reach CloudFormation so a
    // rollback deletes the store). isComplete connects a DISCONNECTED store and reports any failure.
    try {
      await connect(ctx);
    } catch (err) {
      ctx.log.warn('connect request failed: isComplete retries it and reports the cause', ctx.fields({ error: errorMessage(err) }));
    }
  }
  ctx.outcome = replacement ? 'REPLACED' : 'CREATED';
  return { PhysicalResourceId: storeId, Data: { CustomKeyStoreId: storeId, ConnectionState: 'DISCONNECTED' } };
}

async function createComplete(ctx: Context): Promise<IsCompleteResponse> {
  const store = await requireStore(ctx, ctx.physicalId);
  if (isAdopted(ctx.props)) {
    ctx.outcome = 'ADOPTED';
    return complete(ctx, store);
  }
  return converge(ctx, wantsConnection(ctx.props) ? 'CONNECTED' : 'DISCONNECTED', store, CREATE_FAILURE_TAIL);
}

// ---------------------------------------------------------------------------------------------------------------
// Update

interface PlanSecrets {
  readonly password?: string;
  readonly credential?: XksCredential;
}

/** Reads the secrets whose reference changed (the only secret values an update sends). */
async function readChangedSecrets(ctx: Context, plan: UpdatePlan): Promise<PlanSecrets> {
  const reader = ctx.secretReader();
  return {
    password: plan.passwordChanged ? await readKeyStorePassword(reader, ctx.props.KeyStorePassword!) : undefined,
    credential: plan.credentialChanged ? await readXksCredential(reader, ctx.props.XksProxyAuthenticationCredential!) : undefined,
  };
}

/** UpdateCustomKeyStore; false when KMS refused it because of the store's state. */
async function sendUpdate(ctx: Context, plan: UpdatePlan, includeDisconnected: boolean, secrets: PlanSecrets, tolerateState: boolean): Promise<boolean> {
  const input = updateInput(ctx.storeId!, plan, { includeDisconnected, password: secrets.password, credential: secrets.credential });
  const fieldNames = Object.keys(input).filter((k) => k !== 'CustomKeyStoreId');
  if (fieldNames.length === 0) {
    return true;
  }
  try {
    await ctx.kms('UpdateCustomKeyStore', (kms, abortSignal) => kms.send(new UpdateCustomKeyStoreCommand(input), { abortSignal }));
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
async function storeMatchingReplacement(ctx: Context): Promise<CustomKeyStoresListEntry | undefined> {
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

async function onUpdate(ctx: Context): Promise<OnEventResponse> {
  const reason = replacementReason(ctx.oldProps, ctx.props);
  let old: Partial<CustomKeyStoreResourceProperties> | undefined = ctx.oldProps;
  let store: CustomKeyStoresListEntry | undefined;
  if (reason) {
    store = await storeMatchingReplacement(ctx);
    if (!store) {
      ctx.log.info('replacing the custom key store: creating a new one (CloudFormation then deletes the old one)', { replacementReason: reason });
      return onCreate(ctx, reason);
    }
    ctx.log.warn('the store already has the new properties that call for a replacement (the rollback of a failed replacement): updating it in place, no new store',
      ctx.fields({ replacementReason: reason }));
    old = inPlaceBaseline(ctx.oldProps, ctx.props);
  }
  const id = ctx.physicalId;
  store ??= await requireStore(ctx, id);
  const before = store.ConnectionState ?? 'UNKNOWN';
  const data: OnEventData = { CustomKeyStoreId: id, ConnectionState: before, ...(reason ? { UpdateAction: 'IN_PLACE' as const } : {}) };
  if (isAdopted(ctx.props)) {
    ctx.outcome = 'NO_CHANGE';
    ctx.log.info('adopted store: properties are not applied to it', ctx.fields());
    return { PhysicalResourceId: id, Data: data };
  }
  const plan = planUpdate(old, ctx.props, store);
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
      ctx.log.info('the change needs a disconnected store: disconnecting, isComplete updates it once DISCONNECTED', ctx.fields({ reconnect: desired === 'CONNECTED' }));
      await disconnect(ctx);
      ctx.outcome = 'DISCONNECTING_TO_UPDATE';
    }
    return { PhysicalResourceId: id, Data: data };
  }

  if (hasConnectedFields(plan) || plan.credentialChanged) {
    await sendUpdate(ctx, plan, false, secrets, false);
    ctx.outcome = 'UPDATED';
  } else {
    ctx.outcome = 'NO_CHANGE';
  }
  if (desired === 'CONNECTED' && before === 'DISCONNECTED') {
    await connect(ctx);
    ctx.outcome += '_CONNECTING';
  } else if (desired === 'CONNECTED' && before === 'FAILED') {
    await disconnect(ctx); // KMS connects a FAILED store only after a disconnect: isComplete connects it once DISCONNECTED
    ctx.outcome += '_RECONNECTING';
  } else if (desired === 'DISCONNECTED' && (before === 'CONNECTED' || before === 'CONNECTING' || before === 'FAILED')) {
    await disconnect(ctx);
    ctx.outcome += '_DISCONNECTING';
  }
  return { PhysicalResourceId: id, Data: data };
}

async function updateComplete(ctx: Context): Promise<IsCompleteResponse> {
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
  const plan = planUpdate(old, ctx.props, store);
  const desired = desiredConnectionForUpdate(old, ctx.props, plan, ctx.event.Data?.ConnectionState);
  const state = store.ConnectionState;
  // Observable fields still differ (the update is not applied yet), or the password is to be sent and the
  // store is DISCONNECTED (KMS never shows the password: it is sent again, which is harmless).
  if (hasDisconnectedFields(plan) || (plan.passwordChanged && state === 'DISCONNECTED')) {
    if (state === 'DISCONNECTED') {
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
    if (state === 'DISCONNECTING') {
      ctx.outcome = 'WAITING_FOR_DISCONNECT';
      return COMPLETE_PENDING;
    }
    await disconnect(ctx);
    ctx.outcome = 'DISCONNECTING_TO_UPDATE';
    return COMPLETE_PENDING;
  }
  return converge(ctx, desired, store, UPDATE_FAILURE_TAIL);
}

// ---------------------------------------------------------------------------------------------------------------
// Delete

function keysRemainingMessage(ctx: Context, found: StoreKeys): string {
  const n = found.keys.length;
  const count = found.end === 'COMPLETE' ? `${n} KMS key${n === 1 ? '' : 's'}` : `at least ${n} KMS key${n === 1 ? '' : 's'}`;
  const stopped = found.end === 'LIMIT' ? ` (listing stopped at ${n})`
    : found.end === 'DEADLINE' ? ` (listing stopped before the Lambda function's deadline, after checking ${found.checked} of the account's keys)` : '';
  const listed = n > 0 ? `it still holds ${count}${stopped}: ${describeKeys(found.keys)}`
    : `KMS reports that it still holds KMS keys${found.end === 'DEADLINE' ? ' (the account has too many keys to find them within one invocation)' : ''}`;
  const hidden = found.undescribable > 0 ? ` (${found.undescribable} other key${found.undescribable === 1 ? '' : 's'} in the account could not be described: AccessDeniedException; they may be in this store)` : '';
  return `Cannot delete custom key store ${ctx.storeId} (${ctx.storeName ?? 'unnamed'}): ${listed}${hidden}. ` +
    'Schedule the remaining keys for deletion and wait until their waiting period ends (keys pending deletion still count), ' +
    'or set keysRemaining to DISCONNECT_AND_RETAIN, or retain this resource when you retry the stack delete.';
}

/**
 * The failure of a Delete in keysRemaining FAIL mode whose scan stopped at the deadline before finding any key of
 * the store: without a completed scan the store must not be disconnected (its keys would become unusable).
 */
function scanIncompleteMessage(ctx: Context, found: StoreKeys): string {
  return `Cannot delete custom key store ${ctx.storeId} (${ctx.storeName ?? 'unnamed'}): could not check whether it still holds KMS keys, ` +
    `because the account has too many KMS keys to check within one invocation (checked ${found.checked} of the ${found.listed} keys listed before the Lambda function's deadline; ` +
    'KMS can only list all keys of the account and describe them one by one). The store was left as it is (not disconnected). ' +
    'To go on, set keysRemaining to DISCONNECT_AND_RETAIN and retry (the store is then disconnected, and deleted only if KMS reports no keys in it); ' +
    "or delete the store's keys or schedule them for deletion, then disconnect and delete the store yourself once KMS no longer counts them " +
    '(DisconnectCustomKeyStore, DeleteCustomKeyStore) and retry the stack delete (a store that is gone is not checked again); ' +
    'or retain this resource when you retry the stack delete.';
}

async function keysInStore(ctx: Context): Promise<StoreKeys> {
  let found: StoreKeys;
  try {
    found = await findKeysInStore((operation, call) => ctx.kms(operation, call), ctx.storeId!, { deadline: ctx.deadline });
  } catch (err) {
    throw kmsFailure('ListKeys/DescribeKey', err, ctx.subject());
  }
  if (found.undescribable > 0) {
    ctx.log.warn('some KMS keys could not be described (AccessDeniedException) while looking for keys in the store', ctx.fields({ undescribableKeys: found.undescribable }));
  }
  if (found.end !== 'COMPLETE') {
    ctx.log.warn('stopped looking for keys in the store before checking every key of the account', ctx.fields({
      scanEnd: found.end, keysFound: found.keys.length, keysChecked: found.checked, keysListed: found.listed,
    }));
  }
  return found;
}

function retainWarning(ctx: Context, keyCount: number | undefined): void {
  ctx.log.warn('custom key store still holds KMS keys: disconnecting it and retaining it (not deleted), as keysRemaining is DISCONNECT_AND_RETAIN', ctx.fields({ keyCount }));
}

function isRetainMode(ctx: Context): boolean {
  return ctx.props.KeysRemaining === 'DISCONNECT_AND_RETAIN';
}

/** DeleteCustomKeyStore of a DISCONNECTED store; the outcome, or a throw when keys remain (FAIL mode). */
async function deleteStore(ctx: Context): Promise<'DELETED' | 'ALREADY_GONE' | 'RETAINED' | 'NOT_DISCONNECTED'> {
  try {
    await ctx.kms('DeleteCustomKeyStore', (kms, abortSignal) => kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: ctx.storeId }), { abortSignal }));
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

/** True when the physical id cannot name a store (Delete then has nothing to do). */
function nothingToDelete(ctx: Context): boolean {
  const id = ctx.physicalId;
  if (id === CREATE_FAILED_MARKER) {
    ctx.outcome = 'SKIPPED_FAILED_CREATE';
    return true;
  }
  if (!CUSTOM_KEY_STORE_ID_PATTERN.test(id)) {
    ctx.outcome = 'SKIPPED_NOT_A_STORE_ID';
    ctx.log.warn('physical id is not a custom key store id: nothing to delete');
    return true;
  }
  return false;
}

async function onDelete(ctx: Context): Promise<OnEventResponse> {
  const id = ctx.physicalId;
  if (nothingToDelete(ctx)) {
    return { PhysicalResourceId: id };
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

async function deleteComplete(ctx: Context): Promise<IsCompleteResponse> {
  if (nothingToDelete(ctx)) {
    return { IsComplete: true };
  }
  const store = await describeStore(ctx, ctx.physicalId);
  if (!store) {
    ctx.outcome = ctx.outcome === 'UNKNOWN' ? 'DELETED' : ctx.outcome;
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
