/**
 * Create: verify the target key (verify-target.ts), then import the material when the resource has a material source.
 */
import { KeyMaterialContext, KeyMaterialResponse } from './context';
import { HandlerError } from './errors';
import { importMaterial, withMaterial } from './import';
import { verifyTargetKey } from './verify-target';

/** KeyArn is always set by the construct; a Delete or rollback must never call KMS without it. */
export function requireKeyArn(ctx: KeyMaterialContext): void {
  if (typeof ctx.props.KeyArn !== 'string' || ctx.props.KeyArn === '') {
    throw new HandlerError(`Resource ${ctx.event.LogicalResourceId} has no KeyArn property: set it to the ARN of an EXTERNAL-origin KMS key.`);
  }
}

export async function onCreate(ctx: KeyMaterialContext): Promise<KeyMaterialResponse> {
  requireKeyArn(ctx);
  if (!ctx.props.Material) {
    await verifyTargetKey(ctx); // never deploy a resource whose destroy would delete nothing
    ctx.outcome = 'NO_MATERIAL';
    ctx.log.info('no material to import');
    return ctx.result();
  }
  // The material is read and checked first (no KMS call for a bad secret), then the target is verified.
  const imported = await withMaterial(ctx, async (material) => {
    await verifyTargetKey(ctx);
    return importMaterial(ctx, material, {});
  });
  ctx.outcome = 'IMPORTED';
  return ctx.result(imported.keyMaterialId);
}
