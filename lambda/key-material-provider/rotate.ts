/**
 * A new material source on a key that already holds material: re-import it when the key already has it
 * (EXISTING_KEY_MATERIAL), otherwise import it as NEW_KEY_MATERIAL and rotate to it (RotateKeyOnDemand).
 * Only SYMMETRIC_DEFAULT keys can take new material (multi-Region ones: multi-region.ts).
 */
import { DeleteImportedKeyMaterialCommand, paginateListKeyRotations, RotateKeyOnDemandCommand } from '@aws-sdk/client-kms';
import { canRotateMaterial, KeyMaterialResourceProperties } from '../../lib/private/key-material-contract';
import { kms } from '../shared/clients';
import { Deadline } from '../shared/deadline';
import { errorName } from '../shared/errors';
import { KeyMaterialContext, KeyMaterialResponse } from './context';
import { HandlerError, kmsFailure } from './errors';
import { prepareImport, sendImport, withMaterial } from './import';
import { isRollingBack } from './rollback';

export async function changeMaterial(ctx: KeyMaterialContext, oldProps: KeyMaterialResourceProperties): Promise<KeyMaterialResponse> {
  const multiRegion = ctx.props.MultiRegion === 'true';
  if (!canRotateMaterial(ctx.props.KeySpec, multiRegion)) {
    if (await isRollingBack(ctx)) {
      ctx.outcome = 'ROLLBACK_ACCEPTED';
      ctx.log.warn('stack is rolling back: accepting the reversed material change as a no-op (the refused forward update changed nothing in KMS)');
      return ctx.result();
    }
    throw new HandlerError(`Cannot change the key material of ${ctx.keyArn} (${ctx.props.KeySpec}${multiRegion ? ', multi-Region' : ''}) ` +
      `for resource ${ctx.event.LogicalResourceId}: KMS only accepts new material for SYMMETRIC_DEFAULT keys; asymmetric and HMAC material never ` +
      'changes after the first import. ' +
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
  return ctx.result(imported.keyMaterialId);
}

/**
 * After a material change re-imported material the key already had: if that material is still PENDING_ROTATION
 * (a previous attempt imported it as new and was cut off before RotateKeyOnDemand), rotate to it now, so that
 * the retried deployment makes it current instead of reporting success with the old material still in use.
 * NON_CURRENT material (a change back to an older material) cannot be made current again: it is only re-imported.
 */
async function settleExistingMaterial(ctx: KeyMaterialContext, keyMaterialId: string | undefined): Promise<void> {
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
      ctx.log.warn('could not find the re-imported material among the key materials: its state is unknown',
        { keyMaterialId, keyMaterialState: state });
  }
}

/** The KeyMaterialState of one material of the key (ListKeyRotations with ALL_KEY_MATERIAL); undefined when not listed. */
export async function keyMaterialState(ctx: KeyMaterialContext, keyMaterialId: string): Promise<string | undefined> {
  try {
    return await ctx.kms('ListKeyRotations', async (abortSignal) => {
      const pages = paginateListKeyRotations({ client: kms }, { KeyId: ctx.keyArn, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }, { abortSignal });
      for await (const page of pages) {
        const found = (page.Rotations ?? []).find((r) => r.KeyMaterialId === keyMaterialId);
        if (found) return found.KeyMaterialState;
      }
      return undefined;
    });
  } catch (err) {
    throw kmsFailure('ListKeyRotations', err, ctx.subject());
  }
}

/**
 * RotateKeyOnDemand to the material that is PENDING_ROTATION. When the rotation fails, the pending material is
 * removed (left pending, it is only made current when a later deployment re-imports it), so that a retry starts
 * from the previous state.
 */
export async function rotateToPendingMaterial(ctx: KeyMaterialContext, keyMaterialId: string | undefined): Promise<void> {
  try {
    await ctx.kms('RotateKeyOnDemand', (abortSignal) => kms.send(new RotateKeyOnDemandCommand({ KeyId: ctx.keyArn }), { abortSignal }));
  } catch (err) {
    await discardPendingMaterial(ctx, keyMaterialId);
    throw kmsFailure('RotateKeyOnDemand', err, ctx.subject());
  }
}

/**
 * Deletes new material that is still PENDING_ROTATION (KMS then removes it from the key entirely). Runs on
 * half of the deadline's safety margin, since the deadline itself may be what failed the rotation.
 */
export async function discardPendingMaterial(ctx: KeyMaterialContext, keyMaterialId: string | undefined): Promise<void> {
  if (!keyMaterialId) {
    return;
  }
  const { at, safetyMarginMs } = ctx.deadline;
  const deadline = at === undefined ? ctx.deadline : new Deadline(at, safetyMarginMs / 2);
  try {
    await deadline.run(
      (abortSignal) => kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: ctx.keyArn, KeyMaterialId: keyMaterialId }), { abortSignal }),
      () => 'DeleteImportedKeyMaterial was cut off at the deadline');
    ctx.log.warn('rotation failed: removed the new material that was pending rotation', { keyMaterialId });
  } catch (err) {
    ctx.log.error('rotation failed and the new material pending rotation could not be removed', { keyMaterialId, errorName: errorName(err) });
  }
}
