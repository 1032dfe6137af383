import { Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/** ImportKeyMaterial KeyMaterialDescription (API Reference): at most 256 characters of this pattern. */
export const MAX_KEY_MATERIAL_DESCRIPTION_LENGTH = 256;
export const KEY_MATERIAL_DESCRIPTION_PATTERN = /^[a-zA-Z0-9:/_\s.-]+$/;

/**
 * Fails at synth time for a literal KeyMaterialDescription that KMS would refuse (tokens are skipped).
 */
export function validateKeyMaterialDescription(scope: Construct, description: string | undefined, keySpec: string): void {
  if (description === undefined || Token.isUnresolved(description)) return;
  const problem = description.length > MAX_KEY_MATERIAL_DESCRIPTION_LENGTH
    ? `is ${description.length} characters long, and KMS accepts at most ${MAX_KEY_MATERIAL_DESCRIPTION_LENGTH}`
    : !KEY_MATERIAL_DESCRIPTION_PATTERN.test(description)
      ? `must be 1 to ${MAX_KEY_MATERIAL_DESCRIPTION_LENGTH} characters of letters, digits, whitespace and : / _ . - (KMS's pattern ${KEY_MATERIAL_DESCRIPTION_PATTERN.source})`
      : undefined;
  if (problem) {
    throw new Error(`${scope.node.path}: keyMaterialDescription ${problem}, got '${description.length > 300 ? `${description.slice(0, 300)}...` : description}'`);
  }
  if (keySpec !== 'SYMMETRIC_DEFAULT') {
    throw new Error(`${scope.node.path}: keyMaterialDescription is only accepted for SYMMETRIC_DEFAULT keys (KMS refuses it for ${keySpec} material); remove it`);
  }
}
