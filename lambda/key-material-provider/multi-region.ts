/**
 * A new material source on a multi-Region SYMMETRIC_DEFAULT key, in the order KMS requires:
 * 1. ImportKeyMaterial NEW_KEY_MATERIAL on the primary (the material is PENDING_MULTI_REGION_IMPORT_AND_ROTATION);
 * 2. ImportKeyMaterial EXISTING_KEY_MATERIAL, same material, into every replica, each in its own Region
 *    (the replicas come from DescribeKey's MultiRegionConfiguration); the material is then PENDING_ROTATION;
 * 3. RotateKeyOnDemand on the primary.
 * The primary's resource does all three. A replica's resource only re-imports the material into its own key
 * (EXISTING_KEY_MATERIAL): KMS refuses new material on a replica. Every step is idempotent, so a rotation left
 * half-done (material still pending on the primary) is finished by the next attempt; a failed rotation removes
 * the pending material again (from the primary, which removes the replicas' copies too).
 */
import { DescribeKeyCommand, KMSClient, paginateListKeyRotations } from '@aws-sdk/client-kms';
import { KeyMaterialResourceProperties } from '../../lib/private/key-material-contract';
import { kms, kmsRetry } from '../shared/clients';
import { errorName } from '../shared/errors';
import { KeyMaterialContext, KeyMaterialResponse } from './context';
import { HandlerError, kmsFailure } from './errors';
import { ImportTarget, prepareImport, sendImport, withMaterial } from './import';
import { discardPendingMaterial, keyMaterialState, rotateToPendingMaterial } from './rotate';

/** Material imported for a rotation that has not happened yet. */
const PENDING_STATES = ['PENDING_ROTATION', 'PENDING_MULTI_REGION_IMPORT_AND_ROTATION'];

/** One client per Region, created on first use (the endpoint still comes from the environment). */
const regionalClients = new Map<string, KMSClient>();

export function kmsIn(region: string): KMSClient {
  let client = regionalClients.get(region);
  if (!client) {
    client = new KMSClient({ region, retryStrategy: kmsRetry }); // throttling retried until the deadline, as at home
    regionalClients.set(region, client);
  }
  return client;
}

interface RelatedKey {
  readonly arn: string;
  readonly region: string;
}

/** What DescribeKey says about the multi-Region key of this resource. */
export interface MultiRegionView {
  readonly type: 'PRIMARY' | 'REPLICA';
  readonly primary: RelatedKey;
  readonly replicas: RelatedKey[];
}

export async function describeMultiRegion(ctx: KeyMaterialContext): Promise<MultiRegionView> {
  let config;
  try {
    config = (await ctx.kms('DescribeKey', (abortSignal) => kms.send(new DescribeKeyCommand({ KeyId: ctx.keyArn }), { abortSignal })))
      .KeyMetadata?.MultiRegionConfiguration;
  } catch (err) {
    throw kmsFailure('DescribeKey', err, ctx.subject());
  }
  if (!config?.PrimaryKey?.Arn || !config.PrimaryKey.Region) {
    throw new HandlerError(`Key ${ctx.keyArn} (resource ${ctx.event.LogicalResourceId}) was declared multi-Region, but KMS reports no multi-Region ` +
      'configuration for it. Check the key ARN, or declare the key single-Region.');
  }
  const related = (k: { Arn?: string; Region?: string }): RelatedKey => ({ arn: k.Arn!, region: k.Region! });
  return {
    type: config.MultiRegionKeyType === 'REPLICA' ? 'REPLICA' : 'PRIMARY',
    primary: related(config.PrimaryKey),
    replicas: (config.ReplicaKeys ?? []).filter((k) => k.Arn && k.Region).map(related),
  };
}

export async function changeMultiRegionMaterial(ctx: KeyMaterialContext, oldProps: KeyMaterialResourceProperties): Promise<KeyMaterialResponse> {
  const view = await describeMultiRegion(ctx);
  const imported = await withMaterial(ctx, (material) => view.type === 'REPLICA'
    ? replicaImport(ctx, material, view, oldProps)
    : primaryRotation(ctx, material, view));
  return ctx.result(imported.keyMaterialId);
}

/** A replica takes the material only once its primary has it: re-import it (EXISTING_KEY_MATERIAL) into the replica. */
async function replicaImport(ctx: KeyMaterialContext, material: Buffer, view: MultiRegionView, oldProps: KeyMaterialResourceProperties): Promise<{ keyMaterialId?: string }> {
  try {
    const imported = await sendImport(ctx, await prepareImport(ctx, material), { importType: 'EXISTING_KEY_MATERIAL', raw: true });
    const state = imported.keyMaterialId ? await keyMaterialState(ctx, imported.keyMaterialId) : undefined;
    ctx.outcome = state === 'CURRENT' ? 'EXISTING_MATERIAL' : state === 'NON_CURRENT' ? 'EXISTING_MATERIAL_NON_CURRENT' : 'REPLICA_IMPORTED_PENDING';
    ctx.log.info('replica: the material of the primary re-imported into this Region', { keyMaterialId: imported.keyMaterialId, keyMaterialState: state });
    return imported;
  } catch (err) {
    if (errorName(err) === 'IncorrectKeyMaterialException') {
      throw new HandlerError(`Cannot change the key material of replica key ${ctx.keyArn} (resource ${ctx.event.LogicalResourceId}): this material is ` +
        `not associated with the multi-Region key yet, and KMS takes new material only on the primary key ${view.primary.arn}. Deploy the primary's ` +
        `stack (in ${view.primary.region}) with the new material first: it imports it into the primary and every replica and rotates; then deploy ` +
        `this stack again. To go back, restore the previous material source (secret ${oldProps.Material?.SecretArn}).`);
    }
    throw kmsFailure('ImportKeyMaterial', err, ctx.subject());
  }
}

/** On the primary: NEW (or resume a pending one), EXISTING into every replica, then RotateKeyOnDemand. */
async function primaryRotation(ctx: KeyMaterialContext, material: Buffer, view: MultiRegionView): Promise<{ keyMaterialId?: string }> {
  let keyMaterialId: string | undefined;
  let state: string | undefined;
  try {
    keyMaterialId = (await sendImport(ctx, await prepareImport(ctx, material), { importType: 'EXISTING_KEY_MATERIAL', raw: true })).keyMaterialId;
    state = keyMaterialId ? await keyMaterialState(ctx, keyMaterialId) : undefined;
  } catch (err) {
    if (errorName(err) !== 'IncorrectKeyMaterialException') throw kmsFailure('ImportKeyMaterial', err, ctx.subject());
  }
  if (!keyMaterialId) {
    await discardOtherPendingMaterial(ctx);
    ctx.log.info('new material for a multi-Region key: NEW_KEY_MATERIAL on the primary, then the same material into every replica, then rotation',
      { replicaRegions: view.replicas.map((r) => r.region).join(',') });
    keyMaterialId = (await sendImport(ctx, await prepareImport(ctx, material), { importType: 'NEW_KEY_MATERIAL' })).keyMaterialId;
    state = 'PENDING_MULTI_REGION_IMPORT_AND_ROTATION';
  } else if (state && PENDING_STATES.includes(state)) {
    ctx.log.warn('the material was left pending by an earlier attempt: finishing the multi-Region rotation', { keyMaterialId, keyMaterialState: state });
  }
  const pending = state !== undefined && PENDING_STATES.includes(state);
  if (!pending) {
    // Material the key already uses (CURRENT, or NON_CURRENT after a change back): re-imported into the primary only;
    // each replica's own resource re-imports it there.
    ctx.outcome = state === 'NON_CURRENT' ? 'EXISTING_MATERIAL_NON_CURRENT' : 'EXISTING_MATERIAL';
    return { keyMaterialId };
  }
  try {
    for (const replica of view.replicas) {
      const target: ImportTarget = { keyArn: replica.arn, client: kmsIn(replica.region) };
      await sendImport(ctx, await prepareImport(ctx, material, target), { importType: 'EXISTING_KEY_MATERIAL', target });
    }
  } catch (err) {
    await discardPendingMaterial(ctx, keyMaterialId);
    throw err instanceof HandlerError
      ? new HandlerError(`${err.message} The new material was removed from the primary and every replica again (a multi-Region rotation needs it in ` +
        'every replica first); the previous material stays current.')
      : err;
  }
  await rotateToPendingMaterial(ctx, keyMaterialId);
  ctx.outcome = 'ROTATED';
  ctx.log.info('multi-Region rotation complete', { keyMaterialId, replicaRegions: view.replicas.map((r) => r.region).join(',') });
  return { keyMaterialId };
}

/** Pending material that is not this material (an abandoned earlier change) is deleted first: KMS holds one pending material. */
async function discardOtherPendingMaterial(ctx: KeyMaterialContext): Promise<void> {
  let stale: string | undefined;
  try {
    await ctx.kms('ListKeyRotations', async (abortSignal) => {
      for await (const page of paginateListKeyRotations({ client: kms }, { KeyId: ctx.keyArn, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }, { abortSignal })) {
        stale ??= (page.Rotations ?? []).find((r) => r.KeyMaterialState && PENDING_STATES.includes(r.KeyMaterialState))?.KeyMaterialId;
      }
    });
  } catch (err) {
    throw kmsFailure('ListKeyRotations', err, ctx.subject());
  }
  if (stale) {
    ctx.log.warn('another material is pending rotation (an abandoned earlier change): deleting it from the primary and every replica', { keyMaterialId: stale });
    await discardPendingMaterial(ctx, stale);
  }
}
