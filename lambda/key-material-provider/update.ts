/**
 * Update: what changed between OldResourceProperties and ResourceProperties decides the move — a new key
 * (handled as a create), material added or removed, a new material source (rotate.ts), or a new expiration.
 */
import { DeleteImportedKeyMaterialCommand } from '@aws-sdk/client-kms';
import { KeyMaterialResourceProperties, MaterialSourceProperties } from '../../lib/private/key-material-contract';
import { kms } from '../shared/clients';
import { KeyMaterialContext, keyIdFromArn, KeyMaterialResponse } from './context';
import { onCreate, requireKeyArn } from './create';
import { HandlerError, kmsFailure } from './errors';
import { expirationModelOf, expirationSignature } from './expiration';
import { importMaterial, prepareImport, sendImport, withMaterial } from './import';
import { verifyTargetKey } from './verify-target';
import { changeMultiRegionMaterial } from './multi-region';
import { changeMaterial } from './rotate';

function sameSource(a: MaterialSourceProperties, b: MaterialSourceProperties): boolean {
  return a.SecretArn === b.SecretArn && (a.VersionId ?? '') === (b.VersionId ?? '') && (a.VersionStage ?? '') === (b.VersionStage ?? '')
    && (a.Encoding ?? 'AUTO') === (b.Encoding ?? 'AUTO') && (a.JsonField ?? '') === (b.JsonField ?? '');
}

/** The same expiration: the same model and ValidTo instant, or the same ValidFor duration (then no re-import). */
function sameExpiration(a: KeyMaterialResourceProperties, b: KeyMaterialResourceProperties): boolean {
  return expirationSignature(a) === expirationSignature(b);
}

export async function onUpdate(ctx: KeyMaterialContext): Promise<KeyMaterialResponse> {
  requireKeyArn(ctx);
  const oldProps = ctx.oldProps ?? ({} as KeyMaterialResourceProperties);
  const next = ctx.props;

  if (!oldProps.KeyArn || keyIdFromArn(oldProps.KeyArn) !== ctx.keyId) {
    ctx.log.info('key changed: handling as a create on the new key (CloudFormation then deletes the old resource)', {
      oldKeyId: oldProps.KeyArn ? keyIdFromArn(oldProps.KeyArn) : undefined,
    });
    return onCreate(ctx);
  }
  if (oldProps.KeySpec !== next.KeySpec || oldProps.MultiRegion !== next.MultiRegion) {
    await verifyTargetKey(ctx); // the declared key changed
  }
  if (!next.Material) {
    ctx.outcome = oldProps.Material ? 'MATERIAL_SOURCE_REMOVED' : 'NO_CHANGE';
    if (oldProps.Material) {
      ctx.log.info('material source removed from the template: the imported material stays in the key (and is still deleted on destroy unless ' +
        'retained)');
    }
    return ctx.result();
  }
  if (!oldProps.Material) {
    const imported = await withMaterial(ctx, (material) => importMaterial(ctx, material, {}));
    ctx.outcome = 'IMPORTED';
    return ctx.result(imported.keyMaterialId);
  }
  if (!sameSource(oldProps.Material, next.Material)) {
    return next.MultiRegion === 'true' && next.KeySpec === 'SYMMETRIC_DEFAULT' ? changeMultiRegionMaterial(ctx, oldProps) : changeMaterial(ctx, oldProps);
  }
  if (!sameExpiration(oldProps, next)) {
    return changeExpiration(ctx);
  }
  ctx.outcome = 'NO_CHANGE';
  return ctx.result();
}

/** Same material, new ExpirationModel/ValidTo: KMS requires deleting the material and importing it again. */
async function changeExpiration(ctx: KeyMaterialContext): Promise<KeyMaterialResponse> {
  const symmetric = ctx.props.KeySpec === 'SYMMETRIC_DEFAULT';
  const imported = await withMaterial(ctx, async (material) => {
    // Everything that can fail on our side (secret, validation, wrapping) happens before the delete,
    // so the key is unusable only for the seconds between DeleteImportedKeyMaterial and ImportKeyMaterial.
    const prepared = await prepareImport(ctx, material);
    ctx.log.warn('changing the expiration: deleting and re-importing the same material; the key is unusable until the re-import completes', {
      expirationModel: expirationModelOf(ctx.props),
    });
    try {
      await ctx.kms('DeleteImportedKeyMaterial', (abortSignal) =>
        kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: ctx.keyArn }), { abortSignal }));
    } catch (err) {
      throw kmsFailure('DeleteImportedKeyMaterial', err, ctx.subject());
    }
    try {
      return await sendImport(ctx, prepared, symmetric ? { importType: 'EXISTING_KEY_MATERIAL' } : {});
    } catch (err) {
      throw new HandlerError(`${err instanceof Error ? err.message : String(err)} The previous material of key ${ctx.keyArn} was deleted to change ` +
        `its expiration: ` +
        'the key is unusable (PendingImport) until the material is imported again; fix the cause and retry the deployment.');
    }
  });
  ctx.outcome = 'REIMPORTED';
  return ctx.result(imported.keyMaterialId);
}
