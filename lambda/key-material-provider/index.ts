/**
 * The key-material custom resource handler (`index.handler`, run by the CDK Provider framework's onEvent).
 *
 * Imports key material from a Secrets Manager secret into an EXTERNAL-origin KMS key on Create/Update and
 * deletes the imported material on Delete. Physical resource id: the key id.
 * See contract.ts for the resource properties.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  DeleteImportedKeyMaterialCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  ImportKeyMaterialCommandInput,
  KMSClient,
  ListKeyRotationsCommand,
  RotateKeyOnDemandCommand,
} from '@aws-sdk/client-kms';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { errorName, errorMessage, sdkClientConfig } from '../shared/aws';
import { Deadline } from '../shared/deadline';
import { Logger } from '../shared/log';
import {
  canRotateMaterial,
  CREATE_FAILED_MARKER,
  ExpirationModelName,
  IMPORTABLE_KEY_SPECS,
  KeyMaterialResourceAttributes,
  KeyMaterialResourceProperties,
  MaterialSourceProperties,
  WRAPPING_KEY_SPEC,
  wrappingAlgorithmFor,
} from '../../lib/private/key-material-contract';
import { FailureSubject, HandlerError, kmsFailure, secretFailure, timeoutMessage } from './errors';
import { decodeMaterial, validateMaterial, wrapMaterial } from './material';

export { DeadlineExceededError, Deadline } from '../shared/deadline';
import { onRequestType } from '../shared/dispatch';
import { ActionableError } from '../shared/errors';
export { HandlerError } from './errors';

/** The custom resource event the Provider framework passes to onEvent. */
export interface KeyMaterialEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResourceProperties: KeyMaterialResourceProperties;
  readonly OldResourceProperties?: KeyMaterialResourceProperties;
  readonly PhysicalResourceId?: string;
  readonly LogicalResourceId: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly ResponseURL?: string;
  readonly ResourceType: string;
  readonly ServiceToken?: string;
}

/** What onEvent returns to the Provider framework. */
export interface KeyMaterialResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: KeyMaterialResourceAttributes;
}

/** The SDK clients the handler uses. */
export interface KeyMaterialClients {
  readonly kms: KMSClient;
  readonly secretsManager: SecretsManagerClient;
  readonly cloudFormation: CloudFormationClient;
}

export interface OnEventOptions {
  /** When calls must stop (the Lambda deadline minus a safety margin). @default - unbounded (SDK retries only) */
  readonly deadline?: Deadline;
  /** Clients to use instead of the default ones (tests). */
  readonly clients?: Partial<KeyMaterialClients>;
}

let defaultKms: KMSClient | undefined;
let defaultSecretsManager: SecretsManagerClient | undefined;
let defaultCloudFormation: CloudFormationClient | undefined;

/** The handler's default clients: region and endpoints from the environment, SDK standard retries. */
export function defaultClients(): KeyMaterialClients {
  return {
    get kms() {
      return (defaultKms ??= new KMSClient(sdkClientConfig()));
    },
    get secretsManager() {
      return (defaultSecretsManager ??= new SecretsManagerClient(sdkClientConfig()));
    },
    get cloudFormation() {
      return (defaultCloudFormation ??= new CloudFormationClient(sdkClientConfig()));
    },
  };
}

/** The key id in a key ARN (`arn:...:key/<id>` → `<id>`); a bare key id is returned as is. */
export function keyIdFromArn(keyArn: string): string {
  const i = keyArn.lastIndexOf('key/');
  return i >= 0 ? keyArn.slice(i + 'key/'.length) : keyArn;
}

/** The Lambda entry point: onEvent bounded by the invocation's remaining time. */
export async function handler(event: KeyMaterialEvent, context: { getRemainingTimeInMillis(): number }): Promise<KeyMaterialResponse> {
  return onEvent(event, { deadline: Deadline.fromLambdaContext(context) });
}

/** Handles one custom resource event. Throws an actionable Error on failure (the Provider reports FAILED). */
export async function onEvent(event: KeyMaterialEvent, options: OnEventOptions = {}): Promise<KeyMaterialResponse> {
  const started = Date.now();
  const props = event.ResourceProperties ?? ({} as KeyMaterialResourceProperties);
  const keyArn = typeof props.KeyArn === 'string' ? props.KeyArn : '';
  const log = new Logger({
    requestType: event.RequestType,
    logicalResourceId: event.LogicalResourceId,
    physicalResourceId: event.PhysicalResourceId,
    keyId: keyArn ? keyIdFromArn(keyArn) : undefined,
  });
  const defaults = defaultClients();
  const clients: KeyMaterialClients = {
    kms: options.clients?.kms ?? defaults.kms,
    secretsManager: options.clients?.secretsManager ?? defaults.secretsManager,
    cloudFormation: options.clients?.cloudFormation ?? defaults.cloudFormation,
  };
  const ctx = new Context(event, props, clients, options.deadline ?? Deadline.none(), log);
  log.info('request received');
  try {
    const result = await onRequestType(event, {
      Create: () => onCreate(ctx),
      Update: () => onUpdate(ctx),
      Delete: () => onDelete(ctx),
    }, (message) => new HandlerError(message));
    log.info('request succeeded', { outcome: ctx.outcome, resultPhysicalResourceId: result.PhysicalResourceId, durationMs: Date.now() - started });
    return result;
  } catch (err) {
    const safe = err instanceof ActionableError ? err : new HandlerError(
      `Unexpected ${errorName(err) ?? 'error'} while handling ${event.RequestType} of resource ${event.LogicalResourceId} (key ${keyArn || 'unknown'}): ${errorMessage(err) || 'no message'}.`);
    log.error('request failed', { outcome: 'FAILED', error: safe.message, durationMs: Date.now() - started });
    throw safe;
  }
}

/** Per-event state: properties, clients, deadline, logger and the outcome to log. */
class Context {
  public outcome = 'UNKNOWN';

  public constructor(
    public readonly event: KeyMaterialEvent,
    public readonly props: KeyMaterialResourceProperties,
    public readonly clients: KeyMaterialClients,
    public readonly deadline: Deadline,
    public readonly log: Logger,
  ) {}

  public get keyArn(): string {
    return this.props.KeyArn;
  }

  public get keyId(): string {
    return keyIdFromArn(this.props.KeyArn);
  }

  public subject(secretArn?: string): FailureSubject {
    return { keyArn: this.props.KeyArn, logicalResourceId: this.event.LogicalResourceId, secretArn };
  }

  /** Runs one KMS call within the deadline; rejects with the raw SDK error (or the time-out error). */
  public kms<T>(operation: string, call: (kms: KMSClient, abortSignal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    this.log.debug('calling KMS', { operation });
    return this.deadline.run((signal) => call(this.clients.kms, signal), () => timeoutMessage('KMS', operation, this.subject()));
  }
}

function requireKeyArn(ctx: Context): void {
  if (typeof ctx.props.KeyArn !== 'string' || ctx.props.KeyArn === '') {
    throw new HandlerError(`Resource ${ctx.event.LogicalResourceId} has no KeyArn property: set it to the ARN of an EXTERNAL-origin KMS key.`);
  }
}

function result(ctx: Context, keyMaterialId?: string): KeyMaterialResponse {
  return { PhysicalResourceId: ctx.keyId, Data: keyMaterialId ? { KeyId: ctx.keyId, KeyMaterialId: keyMaterialId } : { KeyId: ctx.keyId } };
}

// ---------------------------------------------------------------------------------------------------------------
// Create

async function onCreate(ctx: Context): Promise<KeyMaterialResponse> {
  requireKeyArn(ctx);
  if (!ctx.props.Material) {
    ctx.outcome = 'NO_MATERIAL';
    ctx.log.info('no material to import');
    return result(ctx);
  }
  const imported = await withMaterial(ctx, async (material) => importMaterial(ctx, material, {}));
  ctx.outcome = 'IMPORTED';
  return result(ctx, imported.keyMaterialId);
}

// ---------------------------------------------------------------------------------------------------------------
// Update

function sameSource(a: MaterialSourceProperties, b: MaterialSourceProperties): boolean {
  return a.SecretArn === b.SecretArn && (a.VersionId ?? '') === (b.VersionId ?? '') && (a.VersionStage ?? '') === (b.VersionStage ?? '')
    && (a.Encoding ?? 'AUTO') === (b.Encoding ?? 'AUTO') && (a.JsonField ?? '') === (b.JsonField ?? '');
}

function expirationModelOf(p: KeyMaterialResourceProperties): ExpirationModelName {
  return p.ExpirationModel ?? 'KEY_MATERIAL_DOES_NOT_EXPIRE';
}

function validToOf(p: KeyMaterialResourceProperties): string {
  if (expirationModelOf(p) !== 'KEY_MATERIAL_EXPIRES' || !p.ValidTo) {
    return '';
  }
  const t = Date.parse(p.ValidTo);
  return Number.isNaN(t) ? p.ValidTo : String(t);
}

async function onUpdate(ctx: Context): Promise<KeyMaterialResponse> {
  requireKeyArn(ctx);
  const oldProps = ctx.event.OldResourceProperties ?? ({} as KeyMaterialResourceProperties);
  const next = ctx.props;

  if (!oldProps.KeyArn || keyIdFromArn(oldProps.KeyArn) !== ctx.keyId) {
    ctx.log.info('key changed: handling as a create on the new key (CloudFormation then deletes the old resource)', {
      oldKeyId: oldProps.KeyArn ? keyIdFromArn(oldProps.KeyArn) : undefined,
    });
    return onCreate(ctx);
  }
  if (!next.Material) {
    ctx.outcome = oldProps.Material ? 'MATERIAL_SOURCE_REMOVED' : 'NO_CHANGE';
    if (oldProps.Material) {
      ctx.log.info('material source removed from the template: the imported material stays in the key (and is still deleted on destroy unless retained)');
    }
    return result(ctx);
  }
  if (!oldProps.Material) {
    const imported = await withMaterial(ctx, async (material) => importMaterial(ctx, material, {}));
    ctx.outcome = 'IMPORTED';
    return result(ctx, imported.keyMaterialId);
  }
  if (!sameSource(oldProps.Material, next.Material)) {
    return changeMaterial(ctx, oldProps);
  }
  if (expirationModelOf(oldProps) !== expirationModelOf(next) || validToOf(oldProps) !== validToOf(next)) {
    return changeExpiration(ctx);
  }
  ctx.outcome = 'NO_CHANGE';
  return result(ctx);
}

/** Same material, new ExpirationModel/ValidTo: KMS requires deleting the material and importing it again. */
async function changeExpiration(ctx: Context): Promise<KeyMaterialResponse> {
  const symmetric = ctx.props.KeySpec === 'SYMMETRIC_DEFAULT';
  const imported = await withMaterial(ctx, async (material) => {
    // Everything that can fail on our side (secret, validation, wrapping) happens before the delete,
    // so the key is unusable only for the seconds between DeleteImportedKeyMaterial and ImportKeyMaterial.
    const prepared = await prepareImport(ctx, material);
    ctx.log.warn('changing the expiration: deleting and re-importing the same material; the key is unusable until the re-import completes', {
      expirationModel: expirationModelOf(ctx.props),
    });
    try {
      await ctx.kms('DeleteImportedKeyMaterial', (kms, abortSignal) => kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: ctx.keyArn }), { abortSignal }));
    } catch (err) {
      throw kmsFailure('DeleteImportedKeyMaterial', err, ctx.subject());
    }
    try {
      return await sendImport(ctx, prepared, symmetric ? { importType: 'EXISTING_KEY_MATERIAL' } : {});
    } catch (err) {
      throw new HandlerError(`${err instanceof Error ? err.message : String(err)} The previous material of key ${ctx.keyArn} was deleted to change its expiration: ` +
        'the key is unusable (PendingImport) until the material is imported again; fix the cause and retry the deployment.');
    }
  });
  ctx.outcome = 'REIMPORTED';
  return result(ctx, imported.keyMaterialId);
}

/** The material source changed. */
async function changeMaterial(ctx: Context, oldProps: KeyMaterialResourceProperties): Promise<KeyMaterialResponse> {
  const multiRegion = ctx.props.MultiRegion === 'true';
  if (!canRotateMaterial(ctx.props.KeySpec, multiRegion)) {
    if (await isRollingBack(ctx)) {
      ctx.outcome = 'ROLLBACK_ACCEPTED';
      ctx.log.warn('stack is rolling back: accepting the reversed material change as a no-op (the refused forward update changed nothing in KMS)');
      return result(ctx);
    }
    throw new HandlerError(`Cannot change the key material of ${ctx.keyArn} (${ctx.props.KeySpec}${multiRegion ? ', multi-Region' : ''}) for resource ${ctx.event.LogicalResourceId}: ` +
      'KMS only accepts new material for single-Region SYMMETRIC_DEFAULT keys. ' +
      `Restore the previous material source (secret ${oldProps.Material?.SecretArn}), or create a new key for the new material.`);
  }
  const imported = await withMaterial(ctx, async (material) => {
    let existing: { keyMaterialId?: string } | undefined;
    try {
      existing = await sendImport(ctx, await prepareImport(ctx, material), { importType: 'EXISTING_KEY_MATERIAL', raw: true });
    } catch (err) {
      if (errorName(err) !== 'IncorrectKeyMaterialException') {
        throw kmsFailure('ImportKeyMaterial', err, ctx.subject());
      }
    }
    if (existing) {
      ctx.log.info('the material is already associated with the key: re-imported as EXISTING_KEY_MATERIAL');
      await settleExistingMaterial(ctx, existing.keyMaterialId);
      return existing;
    }
    ctx.log.info('new material: importing as NEW_KEY_MATERIAL and rotating to it; previous material stays associated with the key');
    const fresh = await sendImport(ctx, await prepareImport(ctx, material), { importType: 'NEW_KEY_MATERIAL' });
    await rotateToPendingMaterial(ctx, fresh.keyMaterialId);
    ctx.outcome = 'ROTATED';
    return fresh;
  });
  return result(ctx, imported.keyMaterialId);
}

/**
 * After a material change re-imported material the key already had: if that material is still PENDING_ROTATION
 * (a previous attempt imported it as new and was cut off before RotateKeyOnDemand), rotate to it now, so that
 * the retried deployment makes it current instead of reporting success with the old material still in use.
 * NON_CURRENT material (a change back to an older material) cannot be made current again: it is only re-imported.
 */
async function settleExistingMaterial(ctx: Context, keyMaterialId: string | undefined): Promise<void> {
  const state = keyMaterialId ? await keyMaterialState(ctx, keyMaterialId) : undefined;
  switch (state) {
    case 'PENDING_ROTATION':
      ctx.log.warn('the material was left pending rotation by an earlier attempt: rotating to it now', { keyMaterialId });
      await rotateToPendingMaterial(ctx, keyMaterialId);
      ctx.outcome = 'ROTATED_PENDING';
      return;
    case 'NON_CURRENT':
      ctx.outcome = 'EXISTING_MATERIAL_NON_CURRENT';
      ctx.log.warn('the material is a previous (NON_CURRENT) material of the key: re-imported, but KMS cannot make it current again; ' +
        'the current material stays in use for encryption', { keyMaterialId });
      return;
    case 'CURRENT':
      ctx.outcome = 'EXISTING_MATERIAL';
      return;
    default:
      ctx.outcome = 'EXISTING_MATERIAL';
      ctx.log.warn('could not find the re-imported material among the key materials: its state is unknown', { keyMaterialId, keyMaterialState: state });
  }
}

/** The KeyMaterialState of one material of the key (ListKeyRotations with ALL_KEY_MATERIAL); undefined when not listed. */
async function keyMaterialState(ctx: Context, keyMaterialId: string): Promise<string | undefined> {
  let marker: string | undefined;
  try {
    do {
      const page = await ctx.kms('ListKeyRotations', (kms, abortSignal) =>
        kms.send(new ListKeyRotationsCommand({ KeyId: ctx.keyArn, IncludeKeyMaterial: 'ALL_KEY_MATERIAL', ...(marker ? { Marker: marker } : {}) }), { abortSignal }));
      const found = (page.Rotations ?? []).find((r) => r.KeyMaterialId === keyMaterialId);
      if (found) {
        return found.KeyMaterialState;
      }
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker);
  } catch (err) {
    throw kmsFailure('ListKeyRotations', err, ctx.subject());
  }
  return undefined;
}

/**
 * RotateKeyOnDemand to the material that is PENDING_ROTATION. When the rotation fails, the pending material is
 * removed (left pending, it is only made current when a later deployment re-imports it), so that a retry starts
 * from the previous state.
 */
async function rotateToPendingMaterial(ctx: Context, keyMaterialId: string | undefined): Promise<void> {
  try {
    await ctx.kms('RotateKeyOnDemand', (kms, abortSignal) => kms.send(new RotateKeyOnDemandCommand({ KeyId: ctx.keyArn }), { abortSignal }));
  } catch (err) {
    await discardPendingMaterial(ctx, keyMaterialId);
    throw kmsFailure('RotateKeyOnDemand', err, ctx.subject());
  }
}

/**
 * Deletes new material that is still PENDING_ROTATION (KMS then removes it from the key entirely). Runs on
 * half of the deadline's safety margin, since the deadline itself may be what failed the rotation.
 */
async function discardPendingMaterial(ctx: Context, keyMaterialId: string | undefined): Promise<void> {
  if (!keyMaterialId) {
    return;
  }
  const deadline = ctx.deadline.at === undefined ? ctx.deadline : new Deadline(ctx.deadline.at, ctx.deadline.safetyMarginMs / 2);
  try {
    await deadline.run(
      (abortSignal) => ctx.clients.kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: ctx.keyArn, KeyMaterialId: keyMaterialId }), { abortSignal }),
      () => timeoutMessage('KMS', 'DeleteImportedKeyMaterial', ctx.subject()));
    ctx.log.warn('rotation failed: removed the new material that was pending rotation', { keyMaterialId });
  } catch (err) {
    ctx.log.error('rotation failed and the new material pending rotation could not be removed', { keyMaterialId, errorName: errorName(err) });
  }
}

/** True when the stack is rolling back an update (then a refused change is being reversed). */
async function isRollingBack(ctx: Context): Promise<boolean> {
  try {
    const out = await ctx.deadline.run(
      (abortSignal) => ctx.clients.cloudFormation.send(new DescribeStacksCommand({ StackName: ctx.event.StackId }), { abortSignal }),
      () => timeoutMessage('CloudFormation', 'DescribeStacks', ctx.subject()));
    const status = out.Stacks?.[0]?.StackStatus;
    ctx.log.info('checked stack status before refusing', { stackStatus: status });
    return status === 'UPDATE_ROLLBACK_IN_PROGRESS';
  } catch (err) {
    ctx.log.warn('could not read the stack status (rollback detection skipped)', { errorName: errorName(err) });
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Delete

const ALREADY_GONE_STATE = /pending ?import|pendingimport|pending ?deletion|pendingdeletion/i;

async function onDelete(ctx: Context): Promise<KeyMaterialResponse> {
  const physicalResourceId = ctx.event.PhysicalResourceId ?? '';
  if (physicalResourceId === CREATE_FAILED_MARKER) {
    ctx.outcome = 'SKIPPED_FAILED_CREATE';
    ctx.log.info('delete after a failed create: nothing to do');
    return { PhysicalResourceId: physicalResourceId };
  }
  if (ctx.props.MaterialRemovalPolicy === 'retain') {
    ctx.outcome = 'RETAINED';
    ctx.log.info('material removal policy is retain: the imported material stays in the key');
    return { PhysicalResourceId: physicalResourceId };
  }
  requireKeyArn(ctx);
  const pinned = ctx.props.KeyMaterialId || undefined;
  // A single-Region symmetric key can hold several materials (rotations): delete each one this key
  // still has imported, the current one first, so nothing can be brought back by re-importing.
  const ids = pinned ? [pinned] : canRotateMaterial(ctx.props.KeySpec, ctx.props.MultiRegion === 'true') ? await importedMaterialIds(ctx) : [undefined];
  if (ids === 'GONE') {
    ctx.outcome = 'ALREADY_GONE';
    ctx.log.info('key not found: nothing to delete');
    return { PhysicalResourceId: physicalResourceId };
  }
  ctx.outcome = ids.length === 0 ? 'ALREADY_GONE' : 'DELETED';
  for (const keyMaterialId of ids) {
    if (!(await deleteMaterial(ctx, keyMaterialId))) ctx.outcome = 'ALREADY_GONE';
  }
  ctx.log.info('imported material deleted', { materials: ids.length });
  return { PhysicalResourceId: physicalResourceId };
}

/** Deletes one material (the current one without an id). False when there was nothing to delete. */
async function deleteMaterial(ctx: Context, keyMaterialId: string | undefined): Promise<boolean> {
  try {
    await ctx.kms('DeleteImportedKeyMaterial', (kms, abortSignal) =>
      kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: ctx.keyArn, ...(keyMaterialId ? { KeyMaterialId: keyMaterialId } : {}) }), { abortSignal }));
    return true;
  } catch (err) {
    const name = errorName(err);
    if (name === 'NotFoundException') {
      ctx.log.info('key or material not found: nothing to delete', { keyMaterialId });
      return false;
    }
    if (name === 'KMSInvalidStateException' && ALREADY_GONE_STATE.test(errorMessage(err))) {
      ctx.log.info('key is pending import or pending deletion: no material to delete', { keyMaterialId });
      return false;
    }
    throw kmsFailure('DeleteImportedKeyMaterial', err, ctx.subject());
  }
}

/**
 * The ids of every material the key still has imported (ListKeyRotations with ALL_KEY_MATERIAL),
 * the current one first; 'GONE' when the key does not exist. Falls back to "the current material"
 * ([undefined]) when KMS cannot list the key's materials (for example a key pending deletion).
 */
async function importedMaterialIds(ctx: Context): Promise<(string | undefined)[] | 'GONE'> {
  const entries: { id: string; current: boolean }[] = [];
  let marker: string | undefined;
  try {
    do {
      const page = await ctx.kms('ListKeyRotations', (kms, abortSignal) =>
        kms.send(new ListKeyRotationsCommand({ KeyId: ctx.keyArn, IncludeKeyMaterial: 'ALL_KEY_MATERIAL', Marker: marker }), { abortSignal }));
      for (const r of page.Rotations ?? []) {
        if (r.KeyMaterialId && r.ImportState === 'IMPORTED') entries.push({ id: r.KeyMaterialId, current: r.KeyMaterialState === 'CURRENT' });
      }
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker);
  } catch (err) {
    const name = errorName(err);
    if (name === 'NotFoundException') return 'GONE';
    if (name === 'KMSInvalidStateException' || name === 'UnsupportedOperationException') {
      ctx.log.info('cannot list the key materials: deleting the current material', { error: name });
      return [undefined];
    }
    throw kmsFailure('ListKeyRotations', err, ctx.subject());
  }
  return entries.sort((a, b) => Number(b.current) - Number(a.current)).map((e) => e.id);
}

// ---------------------------------------------------------------------------------------------------------------
// Import

/** Reads, decodes and validates the material, runs `use`, and zeroes the plaintext whatever happens. */
async function withMaterial<T>(ctx: Context, use: (material: Buffer) => Promise<T>): Promise<T> {
  const source = ctx.props.Material!;
  const subject = ctx.subject(source.SecretArn);
  if (!IMPORTABLE_KEY_SPECS.includes(ctx.props.KeySpec)) {
    throw new HandlerError(`Key spec '${ctx.props.KeySpec}' of key ${ctx.keyArn} (resource ${ctx.event.LogicalResourceId}) does not accept imported material: use one of ${IMPORTABLE_KEY_SPECS.join(', ')}.`);
  }
  validateExpiration(ctx);
  let secret: { SecretString?: string; SecretBinary?: Uint8Array };
  try {
    secret = await ctx.deadline.run(
      (abortSignal) => ctx.clients.secretsManager.send(new GetSecretValueCommand({
        SecretId: source.SecretArn,
        ...(source.VersionId ? { VersionId: source.VersionId } : {}),
        ...(source.VersionStage ? { VersionStage: source.VersionStage } : {}),
      }), { abortSignal }),
      () => timeoutMessage('Secrets Manager', 'GetSecretValue', subject));
  } catch (err) {
    throw secretFailure(err, subject);
  }
  let material: Buffer | undefined;
  try {
    material = decodeMaterial(secret, source.Encoding ?? 'AUTO', source.JsonField, {
      keyArn: ctx.keyArn, logicalResourceId: ctx.event.LogicalResourceId, secretArn: source.SecretArn,
    });
    validateMaterial(material, ctx.props.KeySpec, { keyArn: ctx.keyArn, logicalResourceId: ctx.event.LogicalResourceId, secretArn: source.SecretArn });
    ctx.log.info('material read and validated', { keySpec: ctx.props.KeySpec, materialBytes: material.length });
    return await use(material);
  } finally {
    material?.fill(0);
    secret.SecretBinary?.fill(0);
  }
}

function validateExpiration(ctx: Context): void {
  const model = ctx.props.ExpirationModel;
  if (model !== undefined && model !== 'KEY_MATERIAL_DOES_NOT_EXPIRE' && model !== 'KEY_MATERIAL_EXPIRES') {
    throw new HandlerError(`ExpirationModel of resource ${ctx.event.LogicalResourceId} (key ${ctx.keyArn}) must be KEY_MATERIAL_DOES_NOT_EXPIRE or KEY_MATERIAL_EXPIRES, got '${model}'.`);
  }
  if (model === 'KEY_MATERIAL_EXPIRES') {
    if (!ctx.props.ValidTo || Number.isNaN(Date.parse(ctx.props.ValidTo))) {
      throw new HandlerError(`ExpirationModel KEY_MATERIAL_EXPIRES of resource ${ctx.event.LogicalResourceId} (key ${ctx.keyArn}) needs ValidTo as an ISO-8601 time, got '${ctx.props.ValidTo ?? ''}'.`);
    }
  }
}

/** The wrapped material and import token, ready for ImportKeyMaterial. */
interface PreparedImport {
  readonly importToken: Uint8Array;
  readonly encryptedKeyMaterial: Uint8Array;
}

/** GetParametersForImport, then wrap the material under the returned public key. */
async function prepareImport(ctx: Context, material: Buffer): Promise<PreparedImport> {
  const wrappingAlgorithm = wrappingAlgorithmFor(ctx.props.KeySpec);
  let params;
  try {
    params = await ctx.kms('GetParametersForImport', (kms, abortSignal) => kms.send(new GetParametersForImportCommand({
      KeyId: ctx.keyArn,
      WrappingAlgorithm: wrappingAlgorithm,
      WrappingKeySpec: WRAPPING_KEY_SPEC,
    }), { abortSignal }));
  } catch (err) {
    throw kmsFailure('GetParametersForImport', err, ctx.subject());
  }
  if (!params.PublicKey || !params.ImportToken) {
    throw new HandlerError(`KMS GetParametersForImport for key ${ctx.keyArn} (resource ${ctx.event.LogicalResourceId}) returned no public key or import token; retry the deployment.`);
  }
  let encryptedKeyMaterial: Buffer;
  try {
    encryptedKeyMaterial = wrapMaterial(material, params.PublicKey, wrappingAlgorithm);
  } catch (err) {
    throw new HandlerError(`Wrapping the key material for key ${ctx.keyArn} (resource ${ctx.event.LogicalResourceId}) with ${wrappingAlgorithm} failed: ${errorMessage(err) || errorName(err) || 'unknown error'}. ` +
      (wrappingAlgorithm === 'RSAES_OAEP_SHA_256' ? `The material (${material.length} bytes) may be too long for RSA-OAEP under ${WRAPPING_KEY_SPEC}.` : 'Retry the deployment.'));
  }
  return { importToken: params.ImportToken, encryptedKeyMaterial };
}

interface ImportOptions {
  /** ImportType (only sent for SYMMETRIC_DEFAULT keys). */
  readonly importType?: 'EXISTING_KEY_MATERIAL' | 'NEW_KEY_MATERIAL';
  /** Reject with the raw SDK error instead of the mapped one. */
  readonly raw?: boolean;
}

async function sendImport(ctx: Context, prepared: PreparedImport, options: ImportOptions): Promise<{ keyMaterialId?: string }> {
  const expirationModel = expirationModelOf(ctx.props);
  const input: ImportKeyMaterialCommandInput = {
    KeyId: ctx.keyArn,
    ImportToken: prepared.importToken,
    EncryptedKeyMaterial: prepared.encryptedKeyMaterial,
    ExpirationModel: expirationModel,
    ...(expirationModel === 'KEY_MATERIAL_EXPIRES' ? { ValidTo: new Date(ctx.props.ValidTo!) } : {}),
    ...(options.importType && ctx.props.KeySpec === 'SYMMETRIC_DEFAULT' ? { ImportType: options.importType } : {}),
  };
  try {
    const out = await ctx.kms('ImportKeyMaterial', (kms, abortSignal) => kms.send(new ImportKeyMaterialCommand(input), { abortSignal }));
    ctx.log.info('material imported', { importType: input.ImportType, expirationModel, keyMaterialId: out.KeyMaterialId });
    return { keyMaterialId: out.KeyMaterialId };
  } catch (err) {
    if (options.raw) {
      throw err;
    }
    throw kmsFailure('ImportKeyMaterial', err, ctx.subject());
  }
}

/** First import (Create, or material added on Update). */
async function importMaterial(ctx: Context, material: Buffer, options: ImportOptions): Promise<{ keyMaterialId?: string }> {
  return sendImport(ctx, await prepareImport(ctx, material), options);
}
