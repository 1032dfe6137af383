/**
 * Templates with many keys stay within CloudFormation's, IAM's, KMS's and Lambda's limits (bench/templates.ts
 * checks them on the synthesized template, tokens resolved to concrete ARNs), and the cost per key does not grow
 * with the number of keys.
 */
import { App, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { ImportedKeyMaterial } from '../lib';
import { checkLimits, shapeStack, synthTemplate, templateBytes } from '../bench/templates';

describe.each(['externalKey', 'externalKeyWithMaterial', 'foreignKeys'] as const)('%s', (shape) => {
  test('240 keys in one stack break no limit', () => {
    const report = checkLimits(synthTemplate(shapeStack(shape, 240)));
    expect(report.broken).toEqual([]);
    expect(report.max.managedPolicyChars).toBeLessThanOrEqual(6_144);
  });

  test('the cost per key does not grow with the number of keys', () => {
    const base = templateBytes(synthTemplate(shapeStack(shape, 0)));
    const perKey = (n: number) => (templateBytes(synthTemplate(shapeStack(shape, n))) - base) / n;
    expect(perKey(240)).toBeLessThanOrEqual(perKey(60));
  });
});

test('a role that would need more managed policies than IAM attaches fails at synth, naming the limit', () => {
  const stack = new Stack(new App(), 'TooMany', { env: { account: '111122223333', region: 'us-east-1' } });
  for (let i = 0; i < 800; i++) {
    const keyId = `${i.toString(16).padStart(8, '0')}-1234-4abc-8def-1234567890ab`;
    new ImportedKeyMaterial(stack, `Shred${i}`, { key: kms.Key.fromKeyArn(stack, `Key${i}`, `arn:aws:kms:us-east-1:111122223333:key/${keyId}`) });
  }
  expect(() => synthTemplate(stack)).toThrow(/CdkKmsLifecycleKeyMaterialProvider: its role would need about \d+,000 characters of IAM policy .* more than IAM allows one role \(10,240 characters of inline policy and 10 managed policies of 6,144 characters each\)\. Split the keys over several stacks/);
});
