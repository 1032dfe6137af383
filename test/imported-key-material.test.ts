import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { ExternalKey, ImportedKeyMaterial, KeyMaterial } from '../lib';
import { Template as UtilTemplate, transitiveDependencies } from './util/template';

const KEY_ARN = 'arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const MATERIAL_ID = 'a'.repeat(64);
const EMPTY_POLICY = { Version: '2012-10-17', Statement: [] };

function makeStack(app = new App(), id = 'TestStack'): Stack {
  return new Stack(app, id, { env: { account: '111111111111', region: 'us-east-1' } });
}

function handlerPolicyStatements(template: Template): any[] {
  const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: Match.stringLikeRegexp('KeyMaterialProviderHandlerRole') }] } });
  return Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement);
}

describe('ImportedKeyMaterial', () => {
  test('deletes the material of an imported key ARN on destroy, via the handler role policy scoped to that key', () => {
    const stack = makeStack();
    new ImportedKeyMaterial(stack, 'Shred', { key: kms.Key.fromKeyArn(stack, 'Key', KEY_ARN) });

    const template = Template.fromStack(stack);
    template.hasResourceProperties('Custom::KmsImportedKeyMaterial', {
      KeyArn: KEY_ARN, KeySpec: Match.absent(), MultiRegion: Match.absent(), MaterialRemovalPolicy: Match.absent(), // absent = the defaults
    });
    template.hasResource('Custom::KmsImportedKeyMaterial', { DeletionPolicy: Match.absent(), UpdateReplacePolicy: Match.absent() }); // Delete, the default
    expect(handlerPolicyStatements(template)).toContainEqual({
      Action: ['kms:DeleteImportedKeyMaterial', 'kms:DescribeKey', 'kms:ListKeyRotations'], Effect: 'Allow', Resource: KEY_ARN,
    });
  });

  test('passes a specific KeyMaterialId to delete', () => {
    const stack = makeStack();
    new ImportedKeyMaterial(stack, 'Shred', { key: kms.Key.fromKeyArn(stack, 'Key', KEY_ARN), keyMaterialId: MATERIAL_ID });
    Template.fromStack(stack).hasResourceProperties('Custom::KmsImportedKeyMaterial', { KeyMaterialId: MATERIAL_ID });
  });

  test('foreign keys share one statement per action set in the handler role policy', () => {
    const stack = makeStack();
    for (let i = 0; i < 3; i++) {
      const arn = `arn:aws:kms:us-east-1:111111111111:key/0000000${i}-12ab-34cd-56ef-1234567890ab`;
      new ImportedKeyMaterial(stack, `Shred${i}`, { key: kms.Key.fromKeyArn(stack, `Key${i}`, arn) });
    }
    const deletes = handlerPolicyStatements(Template.fromStack(stack)).filter((s) => [s.Action].flat().includes('kms:DeleteImportedKeyMaterial'));
    expect(deletes).toHaveLength(1);
    expect(deletes[0].Resource).toHaveLength(3);
  });

  test('imports material into a foreign key with conditioned statements in the role policy', () => {
    const stack = makeStack();
    const secret = new secretsmanager.Secret(stack, 'Material');
    new ImportedKeyMaterial(stack, 'Import', { key: kms.Key.fromKeyArn(stack, 'Key', KEY_ARN), material: KeyMaterial.fromSecret(secret) });

    const statements = handlerPolicyStatements(Template.fromStack(stack));
    expect(statements).toEqual(expect.arrayContaining([
      {
        Action: 'kms:GetParametersForImport', Effect: 'Allow', Resource: KEY_ARN,
        Condition: { StringEquals: { 'kms:WrappingAlgorithm': 'RSAES_OAEP_SHA_256', 'kms:WrappingKeySpec': 'RSA_4096' } },
      },
      { Action: 'kms:ImportKeyMaterial', Effect: 'Allow', Resource: KEY_ARN, Condition: { StringEquals: { 'kms:ExpirationModel': 'KEY_MATERIAL_DOES_NOT_EXPIRE' } } },
      { Action: 'kms:RotateKeyOnDemand', Effect: 'Allow', Resource: KEY_ARN },
    ]));
  });

  test('takes key spec and multi-Region from a CfnKey in the app', () => {
    const stack = makeStack();
    const cfnKey = new kms.CfnKey(stack, 'Cfn', { origin: 'EXTERNAL', keySpec: 'HMAC_384', keyUsage: 'GENERATE_VERIFY_MAC', multiRegion: true, keyPolicy: EMPTY_POLICY });
    new ImportedKeyMaterial(stack, 'Shred', { key: kms.Key.fromCfnKey(cfnKey) });
    Template.fromStack(stack).hasResourceProperties('Custom::KmsImportedKeyMaterial', { KeySpec: 'HMAC_384', MultiRegion: 'true' });
  });

  test('a key of another stack in the same account is granted through the role policy, not its key policy', () => {
    const app = new App();
    const keyStack = makeStack(app, 'KeyStack');
    const key = kms.Key.fromCfnKey(new kms.CfnKey(keyStack, 'Key', { origin: 'EXTERNAL', keyPolicy: EMPTY_POLICY }));
    const stack = makeStack(app, 'UserStack');
    new ImportedKeyMaterial(stack, 'Shred', { key });

    const keyPolicy = JSON.stringify(Template.fromStack(keyStack).toJSON());
    expect(keyPolicy).not.toContain('DeleteImportedKeyMaterial');
    expect(handlerPolicyStatements(Template.fromStack(stack))).toContainEqual({
      Action: ['kms:DeleteImportedKeyMaterial', 'kms:DescribeKey', 'kms:ListKeyRotations'], Effect: 'Allow', Resource: { 'Fn::ImportValue': expect.stringMatching(/^KeyStack:/) },
    });
  });

  test('the custom resource depends on the in-stack key and on the handler role and its policy, through its references alone', () => {
    const stack = makeStack();
    new ExternalKey(stack, 'Key');
    const template = Template.fromStack(stack).toJSON() as UtilTemplate;
    const [id, resource] = Object.entries(template.Resources).find(([, r]) => r.Type === 'Custom::KmsImportedKeyMaterial')!;
    expect(resource.DependsOn).toBeUndefined(); // no DependsOn of its own: the references imply them
    expect([...transitiveDependencies(template, id)]).toEqual(expect.arrayContaining([
      expect.stringMatching(/^Key/),
      expect.stringMatching(/HandlerRoleDefaultPolicy/),
      expect.stringMatching(/HandlerRole[0-9A-F]{8}$/),
    ]));
  });

  test('grants go to the grantee IAM policy, scoped to the key ARN, for a key outside the stack', () => {
    const stack = makeStack();
    const material = new ImportedKeyMaterial(stack, 'Shred', { key: kms.Key.fromKeyArn(stack, 'Key', KEY_ARN) });
    const role = new iam.Role(stack, 'BreakGlass', { assumedBy: new iam.AccountRootPrincipal() });
    material.grantDeleteImportedKeyMaterial(role);
    material.grantImportKeyMaterial(role);

    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^BreakGlass') }],
      PolicyDocument: {
        Statement: [
          { Action: 'kms:DeleteImportedKeyMaterial', Effect: 'Allow', Resource: KEY_ARN },
          { Action: ['kms:GetParametersForImport', 'kms:ImportKeyMaterial'], Effect: 'Allow', Resource: KEY_ARN },
        ],
      },
    });
  });
});

describe('ImportedKeyMaterial bad input', () => {
  test('fails when the key is in another account', () => {
    const stack = makeStack();
    const key = kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab');
    expect(() => new ImportedKeyMaterial(stack, 'Shred', { key })).toThrow(
      'TestStack/Shred: key arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab is in account 222222222222, but this stack deploys to account 111111111111; KMS does not allow importing or deleting key material across accounts. Manage the material from a stack in account 222222222222.',
    );
  });

  test('skips the account check when the stack account is a token', () => {
    const stack = new Stack(new App(), 'Agnostic');
    const key = kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab');
    expect(() => new ImportedKeyMaterial(stack, 'Shred', { key })).not.toThrow();
  });

  test('fails when the key is known not to be EXTERNAL', () => {
    const stack = makeStack();
    const key = new kms.Key(stack, 'Key');
    expect(() => new ImportedKeyMaterial(stack, 'Shred', { key })).toThrow(
      'TestStack/Shred: key TestStack/Key/Resource has Origin AWS_KMS (the default); only keys with Origin EXTERNAL hold imported key material. Use ExternalKey, or set Origin to EXTERNAL on the key.',
    );
  });

  test('fails when a CfnKey has Origin AWS_CLOUDHSM', () => {
    const stack = makeStack();
    const cfnKey = new kms.CfnKey(stack, 'Cfn', { origin: 'AWS_CLOUDHSM', keyPolicy: EMPTY_POLICY });
    expect(() => new ImportedKeyMaterial(stack, 'Shred', { key: kms.Key.fromCfnKey(cfnKey) })).toThrow(/has Origin AWS_CLOUDHSM; only keys with Origin EXTERNAL/);
  });

  test('fails when the KeyMaterialId has the wrong shape', () => {
    const stack = makeStack();
    const key = kms.Key.fromKeyArn(stack, 'Key', KEY_ARN);
    expect(() => new ImportedKeyMaterial(stack, 'Shred', { key, keyMaterialId: 'abc123' })).toThrow(
      "TestStack/Shred: keyMaterialId must be 64 lowercase hexadecimal digits, got 'abc123'",
    );
    expect(() => new ImportedKeyMaterial(stack, 'Shred2', { key, keyMaterialId: 'G'.repeat(64) })).toThrow(/keyMaterialId must be 64/);
  });

  test('fails when two material resources manage one key (by key ARN)', () => {
    const app = new App();
    const first = makeStack(app, 'First');
    new ImportedKeyMaterial(first, 'Shred', { key: kms.Key.fromKeyArn(first, 'Key', KEY_ARN) });
    const second = makeStack(app, 'Second');
    expect(() => new ImportedKeyMaterial(second, 'Shred', { key: kms.Key.fromKeyArn(second, 'Key', KEY_ARN) })).toThrow(
      `Second/Shred: the material of key ${KEY_ARN} is already managed by First/Shred; one key takes one material resource (an ExternalKey manages its own: use its keyMaterial). Remove one of them.`,
    );
  });

  test('fails when the key ARN is in another Region than the stack', () => {
    const stack = makeStack();
    const key = kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab');
    expect(() => new ImportedKeyMaterial(stack, 'Shred', { key })).toThrow(
      'TestStack/Shred: key arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab is in Region eu-west-1, but this stack deploys to Region us-east-1; the handler manages key material in its own Region. Manage the material from a stack in eu-west-1.',
    );
  });

  test('fails when an alias ARN is given where a key ARN is expected', () => {
    const stack = makeStack();
    const key = kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:us-east-1:111111111111:alias/my-key');
    expect(() => new ImportedKeyMaterial(stack, 'Shred', { key })).toThrow(
      'TestStack/Shred: key must be a KMS key, got the alias arn:aws:kms:us-east-1:111111111111:alias/my-key. Imported material belongs to the key itself: pass kms.Key.fromKeyArn(this, id, keyArn) with the key ARN (arn:aws:kms:<region>:<account>:key/<key id>), which `aws kms describe-key --key-id <alias>` shows.',
    );
  });

  test('fails when a kms.Alias is given as the key', () => {
    const stack = makeStack();
    expect(() => new ImportedKeyMaterial(stack, 'Shred', { key: kms.Alias.fromAliasName(stack, 'Alias', 'alias/my-key') }))
      .toThrow(/TestStack\/Shred: key must be a KMS key, got the alias alias\/my-key/);
  });

  test('a JavaScript caller passing a secret ARN string instead of an ISecret gets a TypeError that names the construct and the value', () => {
    const stack = makeStack();
    const key = kms.Key.fromKeyArn(stack, 'Key', KEY_ARN);
    const arn = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:material-AbCdEf';
    expect(() => new ImportedKeyMaterial(stack, 'Import', { key, material: KeyMaterial.fromSecret(arn as any) })).toThrow(new TypeError(
      `TestStack/Import: KeyMaterial.fromSecret: secret must be a secretsmanager.ISecret, got the string '${arn}'. ` +
      'For a secret made elsewhere, pass secretsmanager.Secret.fromSecretCompleteArn(this, id, arn) (or fromSecretNameV2), not the ARN or name itself.'));
  });

  test('warns when the material secret is in another account: resource policy and customer-managed key needed', () => {
    const stack = makeStack();
    const secret = secretsmanager.Secret.fromSecretCompleteArn(stack, 'Secret', 'arn:aws:secretsmanager:us-east-1:222222222222:secret:material-AbCdEf');
    new ImportedKeyMaterial(stack, 'Import', { key: kms.Key.fromKeyArn(stack, 'Key', KEY_ARN), material: KeyMaterial.fromSecret(secret) });
    const warnings = Annotations.fromStack(stack).findWarning('/TestStack/Import', Match.anyValue());
    expect(warnings).toHaveLength(1);
    expect(warnings[0].entry.data).toMatch(/^the key material secret arn:aws:secretsmanager:us-east-1:222222222222:secret:material-AbCdEf is in account 222222222222, not in this stack's account 111111111111\. .*resource policy allows the handler role .*customer-managed KMS key \(not aws\/secretsmanager.*kms:Decrypt/);
  });

  test('no warning for a secret of the same account', () => {
    const stack = makeStack();
    const secret = secretsmanager.Secret.fromSecretCompleteArn(stack, 'Secret', 'arn:aws:secretsmanager:us-east-1:111111111111:secret:material-AbCdEf');
    new ImportedKeyMaterial(stack, 'Import', { key: kms.Key.fromKeyArn(stack, 'Key', KEY_ARN), material: KeyMaterial.fromSecret(secret) });
    expect(Annotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
  });

  test('without material and with RETAIN it deploys a resource that verifies the key and never deletes (DeletionPolicy Retain)', () => {
    const stack = makeStack();
    new ImportedKeyMaterial(stack, 'Shred', { key: kms.Key.fromKeyArn(stack, 'Key', KEY_ARN), materialRemovalPolicy: RemovalPolicy.RETAIN });
    Template.fromStack(stack).hasResource('Custom::KmsImportedKeyMaterial', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });
});
