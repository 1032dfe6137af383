/**
 * Delete: delete the key's imported material (every material a rotatable key still holds), and log and return
 * exactly what was deleted, or why nothing was. Removal is the resource's DeletionPolicy (RETAIN: CloudFormation
 * sends no Delete); only a 0.1.0 template's MaterialRemovalPolicy 'retain' is honoured here. A rollback that
 * deletes a resource which imported nothing itself leaves the key alone. "Already gone" (no key, no material) is success.
 * The Delete that follows a failed Create never reaches this handler: the Provider framework answers it.
 */
import { DeleteImportedKeyMaterialCommand, paginateListKeyRotations } from '@aws-sdk/client-kms';
import { canRotateMaterial, KeyMaterialDeleteResult } from '../../lib/private/key-material-contract';
import { kms } from '../shared/clients';
import { errorMessage, errorName } from '../shared/errors';
import { isRollbackStatus, readStackStatus } from '../shared/stack-status';
import { KeyMaterialContext, KeyMaterialResponse } from './context';
import { requireKeyArn } from './create';
import { kmsFailure } from './errors';

const ALREADY_GONE_STATE = /pending ?import|pendingimport|pending ?deletion|pendingdeletion/i;

export async function onDelete(ctx: KeyMaterialContext): Promise<KeyMaterialResponse> {
  const physicalResourceId = ctx.event.PhysicalResourceId ?? '';
  if (ctx.props.MaterialRemovalPolicy === 'retain') {
    // Migration shim: a 0.1.0 template asked to keep the material; new templates use DeletionPolicy Retain instead.
    ctx.outcome = 'RETAINED';
    return nothingDeleted(ctx, physicalResourceId, 'the resource was deployed from a 0.1.0 template with MaterialRemovalPolicy retain, which asked to keep the material');
  }
  requireKeyArn(ctx);
  if (!ctx.props.Material) {
    // A resource that imported nothing itself leaves the key alone when a rollback deletes it.
    const status = await readStackStatus(ctx, 'tell a rollback (which leaves material this resource did not import) from a destroy');
    if (isRollbackStatus(status)) {
      ctx.outcome = 'LEFT_ON_ROLLBACK';
      return nothingDeleted(ctx, physicalResourceId,
        `the stack is rolling back (${status}) the deployment that added this resource, which imported no material itself: the key's material stays as it was`);
    }
  }
  const pinned = ctx.props.KeyMaterialId || undefined;
  // A symmetric key (single- or multi-Region) can hold several materials (rotations): delete each one this key
  // still has imported, the current one first, so nothing can be brought back by re-importing.
  const rotatable = canRotateMaterial(ctx.props.KeySpec, ctx.props.MultiRegion === 'true');
  const ids = pinned ? [pinned] : rotatable ? await importedMaterialIds(ctx) : [undefined];
  if (ids === 'GONE') {
    ctx.outcome = 'ALREADY_GONE';
    return nothingDeleted(ctx, physicalResourceId, `key ${ctx.keyArn} does not exist`);
  }
  if (ids.length === 0) {
    ctx.outcome = 'ALREADY_GONE';
    return nothingDeleted(ctx, physicalResourceId, `key ${ctx.keyArn} has no imported material (ListKeyRotations lists none in state IMPORTED)`);
  }
  const deleted: string[] = [];
  const reasons: string[] = [];
  for (const keyMaterialId of ids) {
    const notDeleted = await deleteMaterial(ctx, keyMaterialId);
    if (notDeleted) reasons.push(notDeleted);
    else deleted.push(keyMaterialId ?? 'CURRENT');
  }
  if (deleted.length === 0) {
    ctx.outcome = 'ALREADY_GONE';
    return nothingDeleted(ctx, physicalResourceId, reasons.join('; '));
  }
  ctx.outcome = 'DELETED';
  ctx.log.info('imported material deleted', { deletedKeyMaterials: deleted.join(','), materials: deleted.length });
  const data: KeyMaterialDeleteResult = { KeyId: ctx.keyId, DeletedKeyMaterials: deleted.join(',') };
  return { PhysicalResourceId: physicalResourceId, Data: data };
}

/** A Delete that deleted nothing: logs and returns why ("nothing to delete, because …"). */
function nothingDeleted(ctx: KeyMaterialContext, physicalResourceId: string, because: string): KeyMaterialResponse {
  ctx.log.info(`nothing to delete, because ${because}`, { deletedKeyMaterials: '', materials: 0 });
  const data: KeyMaterialDeleteResult = { KeyId: ctx.keyArn ? ctx.keyId : physicalResourceId, DeletedKeyMaterials: '', NothingDeletedBecause: because };
  return { PhysicalResourceId: physicalResourceId, Data: data };
}

/** Deletes one material (the current one without an id). Undefined when deleted; otherwise why there was nothing to delete. */
async function deleteMaterial(ctx: KeyMaterialContext, keyMaterialId: string | undefined): Promise<string | undefined> {
  try {
    await ctx.kms('DeleteImportedKeyMaterial', (abortSignal) =>
      kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: ctx.keyArn, ...(keyMaterialId ? { KeyMaterialId: keyMaterialId } : {}) }),
        { abortSignal }));
    return undefined;
  } catch (err) {
    const name = errorName(err);
    if (name === 'NotFoundException') {
      return `KMS found no key ${ctx.keyArn}${keyMaterialId ? ` or no material ${keyMaterialId} in it` : ''} (NotFoundException)`;
    }
    if (name === 'KMSInvalidStateException' && ALREADY_GONE_STATE.test(errorMessage(err))) {
      return `key ${ctx.keyArn} is pending import or pending deletion: it holds no ${keyMaterialId ? `material ${keyMaterialId}` : 'imported material'} ` +
        '(KMSInvalidStateException)';
    }
    throw kmsFailure('DeleteImportedKeyMaterial', err, ctx.subject());
  }
}

/**
 * The ids of every material the key still has imported (ListKeyRotations with ALL_KEY_MATERIAL),
 * the current one first; 'GONE' when the key does not exist. Falls back to "the current material"
 * ([undefined]) when KMS cannot list the key's materials (for example a key pending deletion).
 */
async function importedMaterialIds(ctx: KeyMaterialContext): Promise<(string | undefined)[] | 'GONE'> {
  const entries: { id: string; current: boolean }[] = [];
  try {
    await ctx.kms('ListKeyRotations', async (abortSignal) => {
      const pages = paginateListKeyRotations({ client: kms }, { KeyId: ctx.keyArn, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }, { abortSignal });
      for await (const page of pages) {
        for (const r of page.Rotations ?? []) {
          if (r.KeyMaterialId && r.ImportState === 'IMPORTED') entries.push({ id: r.KeyMaterialId, current: r.KeyMaterialState === 'CURRENT' });
        }
      }
    });
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
