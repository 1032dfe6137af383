/**
 * Delete: delete the key's imported material (every material a rotatable key still holds), unless the
 * material removal policy retains it. "Already gone" (no key, no material) is success.
 * The Delete that follows a failed Create never reaches this handler: the Provider framework answers it.
 */
import { DeleteImportedKeyMaterialCommand, paginateListKeyRotations } from '@aws-sdk/client-kms';
import { canRotateMaterial } from '../../lib/private/key-material-contract';
import { kms } from '../shared/clients';
import { errorMessage, errorName } from '../shared/errors';
import { KeyMaterialContext, KeyMaterialResponse } from './context';
import { requireKeyArn } from './create';
import { kmsFailure } from './errors';

const ALREADY_GONE_STATE = /pending ?import|pendingimport|pending ?deletion|pendingdeletion/i;

export async function onDelete(ctx: KeyMaterialContext): Promise<KeyMaterialResponse> {
  const response = { PhysicalResourceId: ctx.event.PhysicalResourceId ?? '' };
  if (ctx.props.MaterialRemovalPolicy === 'retain') {
    ctx.outcome = 'RETAINED';
    ctx.log.info('material removal policy is retain: the imported material stays in the key');
    return response;
  }
  requireKeyArn(ctx);
  const pinned = ctx.props.KeyMaterialId || undefined;
  // A single-Region symmetric key can hold several materials (rotations): delete each one this key
  // still has imported, the current one first, so nothing can be brought back by re-importing.
  const rotatable = canRotateMaterial(ctx.props.KeySpec, ctx.props.MultiRegion === 'true');
  const ids = pinned ? [pinned] : rotatable ? await importedMaterialIds(ctx) : [undefined];
  if (ids === 'GONE') {
    ctx.outcome = 'ALREADY_GONE';
    ctx.log.info('key not found: nothing to delete');
    return response;
  }
  let deleted = 0;
  for (const keyMaterialId of ids) {
    if (await deleteMaterial(ctx, keyMaterialId)) deleted++;
  }
  ctx.outcome = ids.length > 0 && deleted === ids.length ? 'DELETED' : 'ALREADY_GONE';
  ctx.log.info('imported material deleted', { materials: ids.length });
  return response;
}

/** Deletes one material (the current one without an id). False when there was nothing to delete. */
async function deleteMaterial(ctx: KeyMaterialContext, keyMaterialId: string | undefined): Promise<boolean> {
  try {
    await ctx.kms('DeleteImportedKeyMaterial', (abortSignal) =>
      kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: ctx.keyArn, ...(keyMaterialId ? { KeyMaterialId: keyMaterialId } : {}) }),
        { abortSignal }));
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
