import { App, Stack, Token } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ExternalKey, KeyMaterial } from '../lib';
import { validateKeyMaterialDescription } from '../lib/private/key-material-description';

const scope = (): Construct => new Construct(new Stack(new App(), 'S'), 'Material');

describe('KeyMaterialDescription at synth', () => {
  test.each([
    ['256 characters of the allowed set', 'Aa0:/_ .-\t'.repeat(25) + 'abcdef'],
    ['a typical description', 'hsm-export/2026-12 batch 7'],
  ])('accepts %s', (_what, value) => {
    expect(() => validateKeyMaterialDescription(scope(), value, 'SYMMETRIC_DEFAULT')).not.toThrow();
  });

  test('skips tokens and absent values', () => {
    expect(() => validateKeyMaterialDescription(scope(), Token.asString({ Ref: 'P' }), 'SYMMETRIC_DEFAULT')).not.toThrow();
    expect(() => validateKeyMaterialDescription(scope(), undefined, 'RSA_2048')).not.toThrow();
  });

  test('refuses more than 256 characters, saying how long it is', () => {
    expect(() => validateKeyMaterialDescription(scope(), 'a'.repeat(257), 'SYMMETRIC_DEFAULT'))
      .toThrow(/^S\/Material: keyMaterialDescription is 257 characters long, and KMS accepts at most 256, got 'a{257}'$/);
  });

  test.each([['a #', 'rotation #2'], ['an empty string', ''], ['a comma', 'a,b']])('refuses %s', (_what, value) => {
    expect(() => validateKeyMaterialDescription(scope(), value, 'SYMMETRIC_DEFAULT'))
      .toThrow(`S/Material: keyMaterialDescription must be 1 to 256 characters of letters, digits, whitespace and : / _ . - (KMS's pattern ^[a-zA-Z0-9:/_\\s.-]+$), got '${value}'`);
  });

  test('refuses a description for material of other key specs, which KMS refuses', () => {
    expect(() => validateKeyMaterialDescription(scope(), 'ok', 'HMAC_256')).toThrow(/only accepted for SYMMETRIC_DEFAULT keys \(KMS refuses it for HMAC_256 material\)/);
  });
});

describe('keyMaterialDescription on the constructs', () => {
  const stack = () => new Stack(new App(), 'S', { env: { account: '111111111111', region: 'us-east-1' } });
  const material = (s: Stack) => KeyMaterial.fromSecret(secretsmanager.Secret.fromSecretNameV2(s, 'Material', 'keys/app'));

  test('goes to the material resource as KeyMaterialDescription', () => {
    const s = stack();
    new ExternalKey(s, 'Key', { material: material(s), keyMaterialDescription: 'hsm-export/2026-12 batch 7' });
    Template.fromStack(s).hasResourceProperties('Custom::KmsImportedKeyMaterial', { KeyMaterialDescription: 'hsm-export/2026-12 batch 7' });
  });

  test('is refused at synth when KMS would refuse it, naming the construct', () => {
    const s = stack();
    expect(() => new ExternalKey(s, 'Key', { material: material(s), keyMaterialDescription: 'rotation #2' }))
      .toThrow(/^S\/Key\/Material: keyMaterialDescription must be 1 to 256 characters/);
  });

  test('needs material, and a SYMMETRIC_DEFAULT key', () => {
    const s = stack();
    expect(() => new ExternalKey(s, 'NoMaterial', { keyMaterialDescription: 'x' })).toThrow(/keyMaterialDescription applies to imported material; give material too/);
    expect(() => new ExternalKey(s, 'Hmac', {
      keySpec: kms.KeySpec.HMAC_256, keyUsage: kms.KeyUsage.GENERATE_VERIFY_MAC, material: material(s), keyMaterialDescription: 'x',
    })).toThrow(/only accepted for SYMMETRIC_DEFAULT keys/);
  });
});
