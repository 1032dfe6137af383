import { App, Duration, IPropertyInjector, InjectionContext, PropertyInjectors, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { ExternalKey, ExternalKeyProps, ImportedKeyMaterial, KeyMaterial, KeyMaterialExpiration, MaterialEncoding } from '../lib';

function makeStack(): Stack {
  return new Stack(new App(), 'TestStack', { env: { account: '111111111111', region: 'us-east-1' } });
}

function materialResource(template: Template): Record<string, any> {
  const resources = template.findResources('Custom::KmsImportedKeyMaterial');
  const values = Object.values(resources);
  expect(values).toHaveLength(1);
  return values[0].Properties;
}

const handlerRolePrincipal = { AWS: { 'Fn::GetAtt': [Match.stringLikeRegexp('^CdkKmsLifecycleKeyMaterialProviderHandlerRole'), 'Arn'] } };

describe('ExternalKey', () => {
  test('creates a key with Origin EXTERNAL that is a kms.IKey', () => {
    const stack = makeStack();
    const key: kms.IKey = new ExternalKey(stack, 'Key');
    new kms.Alias(stack, 'Alias', { aliasName: 'alias/extra', targetKey: key });

    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::KMS::Key', { Origin: 'EXTERNAL', EnableKeyRotation: Match.absent() }); // off: CloudFormation's default
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/extra' });
  });

  test('follows kms.Key props: description, alias, key spec and usage, enabled, multi-Region, pending window', () => {
    const stack = makeStack();
    new ExternalKey(stack, 'Key', {
      description: 'my key',
      alias: 'my-alias',
      keySpec: kms.KeySpec.HMAC_256,
      keyUsage: kms.KeyUsage.GENERATE_VERIFY_MAC,
      enabled: false,
      multiRegion: true,
      pendingWindow: Duration.days(7),
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const template = Template.fromStack(stack);
    template.hasResource('AWS::KMS::Key', {
      Properties: {
        Description: 'my key', KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC', Enabled: false,
        MultiRegion: true, PendingWindowInDays: 7, Origin: 'EXTERNAL',
      },
      DeletionPolicy: 'Delete',
    });
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/my-alias' });
    expect(materialResource(template)).toMatchObject({ KeySpec: 'HMAC_256', MultiRegion: 'true' });
  });

  test('retains the key by default, as kms.Key does', () => {
    const stack = makeStack();
    new ExternalKey(stack, 'Key');
    Template.fromStack(stack).hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  test('deletes material on destroy by default, with no import', () => {
    const stack = makeStack();
    new ExternalKey(stack, 'Key');

    const template = Template.fromStack(stack);
    const props = materialResource(template);
    expect(props).toEqual({
      ServiceToken: expect.anything(),
      KeyArn: { 'Fn::GetAtt': [expect.stringMatching(/^Key/), 'Arn'] },
    }); // KeySpec SYMMETRIC_DEFAULT and MultiRegion false are the defaults: not written
    // Delete is CloudFormation's default DeletionPolicy and UpdateReplacePolicy: not written either
    template.hasResource('Custom::KmsImportedKeyMaterial', { DeletionPolicy: Match.absent(), UpdateReplacePolicy: Match.absent() });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          { Action: ['kms:DeleteImportedKeyMaterial', 'kms:DescribeKey', 'kms:ListKeyRotations'], Effect: 'Allow', Principal: handlerRolePrincipal, Resource: '*' },
        ]),
      },
    });
  });

  test('without material, the key policy gets no import permissions', () => {
    const stack = makeStack();
    new ExternalKey(stack, 'Key');
    const keyPolicy = JSON.stringify(Object.values(Template.fromStack(stack).findResources('AWS::KMS::Key'))[0].Properties.KeyPolicy);
    expect(keyPolicy).not.toContain('kms:ImportKeyMaterial');
    expect(keyPolicy).not.toContain('kms:GetParametersForImport');
    expect(keyPolicy).not.toContain('kms:RotateKeyOnDemand');
  });

  test('keeps its material resource when nothing is imported and material is retained: RETAIN is its DeletionPolicy', () => {
    const stack = makeStack();
    const key = new ExternalKey(stack, 'Key', { materialRemovalPolicy: RemovalPolicy.RETAIN });
    expect(key.keyMaterial).toBeDefined();
    const template = Template.fromStack(stack);
    template.resourceCountIs('Custom::KmsImportedKeyMaterial', 1);
    template.hasResource('Custom::KmsImportedKeyMaterial', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  test('switching materialRemovalPolicy between DESTROY and RETAIN changes only the DeletionPolicy, never the resource or its properties', () => {
    const synth = (materialRemovalPolicy: RemovalPolicy) => {
      const stack = makeStack();
      new ExternalKey(stack, 'Key', { materialRemovalPolicy });
      return Object.entries(Template.fromStack(stack).findResources('Custom::KmsImportedKeyMaterial'));
    };
    const [[destroyId, destroy]] = synth(RemovalPolicy.DESTROY);
    const [[retainId, retain]] = synth(RemovalPolicy.RETAIN);
    expect(retainId).toBe(destroyId);
    expect(retain.Properties).toEqual(destroy.Properties);
    expect([destroy.DeletionPolicy, retain.DeletionPolicy]).toEqual([undefined, 'Retain']); // absent: CloudFormation's default, Delete
  });

  test('imports material from a secret with conditioned key-policy statements', () => {
    const stack = makeStack();
    const secret = new secretsmanager.Secret(stack, 'Material');
    new ExternalKey(stack, 'Key', { material: KeyMaterial.fromSecret(secret) });

    const template = Template.fromStack(stack);
    expect(materialResource(template)).toMatchObject({
      Material: { SecretArn: { Ref: expect.stringMatching(/^Material/) }, Encoding: 'AUTO' },
      ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          {
            Action: 'kms:GetParametersForImport', Effect: 'Allow', Principal: handlerRolePrincipal, Resource: '*',
            Condition: { StringEquals: { 'kms:WrappingAlgorithm': 'RSAES_OAEP_SHA_256', 'kms:WrappingKeySpec': 'RSA_4096' } },
          },
          {
            Action: 'kms:ImportKeyMaterial', Effect: 'Allow', Principal: handlerRolePrincipal, Resource: '*',
            Condition: { StringEquals: { 'kms:ExpirationModel': 'KEY_MATERIAL_DOES_NOT_EXPIRE' } },
          },
          { Action: 'kms:RotateKeyOnDemand', Effect: 'Allow', Principal: handlerRolePrincipal, Resource: '*' },
        ]),
      },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          { Action: 'secretsmanager:GetSecretValue', Effect: 'Allow', Resource: { Ref: Match.stringLikeRegexp('^Material') } },
        ]),
      },
    });
  });

  test('asymmetric keys wrap with RSA_AES_KEY_WRAP_SHA_256 and cannot rotate material', () => {
    const stack = makeStack();
    const secret = new secretsmanager.Secret(stack, 'Material');
    new ExternalKey(stack, 'Key', {
      keySpec: kms.KeySpec.RSA_2048, keyUsage: kms.KeyUsage.SIGN_VERIFY,
      material: KeyMaterial.fromSecret(secret, { encoding: MaterialEncoding.PEM }),
    });

    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'kms:GetParametersForImport',
            Condition: { StringEquals: { 'kms:WrappingAlgorithm': 'RSA_AES_KEY_WRAP_SHA_256', 'kms:WrappingKeySpec': 'RSA_4096' } },
          }),
        ]),
      },
    });
    expect(JSON.stringify(template.toJSON())).not.toContain('kms:RotateKeyOnDemand');
    expect(materialResource(template)).toMatchObject({ KeySpec: 'RSA_2048', Material: { Encoding: 'PEM' } });
  });

  test('an expiration sets ValidTo and the ExpirationModel condition', () => {
    const stack = makeStack();
    const validTo = new Date(Date.now() + 30 * 24 * 3600 * 1000);
    const secret = new secretsmanager.Secret(stack, 'Material');
    new ExternalKey(stack, 'Key', { material: KeyMaterial.fromSecret(secret), expiration: KeyMaterialExpiration.at(validTo) });

    const template = Template.fromStack(stack);
    expect(materialResource(template)).toMatchObject({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: validTo.toISOString() });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'kms:ImportKeyMaterial', Condition: { StringEquals: { 'kms:ExpirationModel': 'KEY_MATERIAL_EXPIRES' } } }),
        ]),
      },
    });
  });

  test('secret options reach the handler: json field, version stage, encoding', () => {
    const stack = makeStack();
    const secret = new secretsmanager.Secret(stack, 'Material');
    new ExternalKey(stack, 'Key', {
      material: KeyMaterial.fromSecret(secret, { jsonField: 'material', versionStage: 'AWSPENDING', encoding: MaterialEncoding.HEX }),
    });
    expect(materialResource(Template.fromStack(stack)).Material).toEqual({
      SecretArn: { Ref: expect.stringMatching(/^Material/) }, Encoding: 'HEX', JsonField: 'material', VersionStage: 'AWSPENDING',
    });
  });

  test('a secret encrypted with a customer-managed key grants kms:Decrypt via Secrets Manager only', () => {
    const stack = makeStack();
    const cmk = new kms.Key(stack, 'SecretKey');
    const secret = new secretsmanager.Secret(stack, 'Material', { encryptionKey: cmk });
    new ExternalKey(stack, 'Key', { material: KeyMaterial.fromSecret(secret) });

    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([{
          Action: 'kms:Decrypt', Effect: 'Allow',
          Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SecretKey'), 'Arn'] },
          Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['secretsmanager.us-east-1.', { Ref: 'AWS::URLSuffix' }]] } } },
        }]),
      },
    });
  });

  test('RETAIN material is the DeletionPolicy and UpdateReplacePolicy of the material resource, not a property the handler reads', () => {
    const stack = makeStack();
    const secret = new secretsmanager.Secret(stack, 'Material');
    new ExternalKey(stack, 'Key', { material: KeyMaterial.fromSecret(secret), materialRemovalPolicy: RemovalPolicy.RETAIN, removalPolicy: RemovalPolicy.DESTROY });
    const template = Template.fromStack(stack);
    template.hasResource('Custom::KmsImportedKeyMaterial', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(materialResource(template).MaterialRemovalPolicy).toBeUndefined();
  });

  test('KeyMaterialExpiration.after puts the duration in the template (ValidFor, seconds), never a date', () => {
    const stack = makeStack();
    new ExternalKey(stack, 'Key', {
      material: KeyMaterial.fromSecret(new secretsmanager.Secret(stack, 'Material')),
      expiration: KeyMaterialExpiration.after(Duration.days(90)),
    });
    const props = materialResource(Template.fromStack(stack));
    expect(props).toMatchObject({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidFor: '7776000' });
    expect(props.ValidTo).toBeUndefined();
  });

  test('the same app synthesizes the same template on any day (synthesis never reads the clock)', () => {
    const synthAt = (now: number) => {
      const spy = jest.spyOn(Date, 'now').mockReturnValue(now);
      try {
        const stack = makeStack();
        new ExternalKey(stack, 'Key', {
          material: KeyMaterial.fromSecret(new secretsmanager.Secret(stack, 'Material')),
          expiration: KeyMaterialExpiration.after(Duration.days(90)),
        });
        return JSON.stringify(Template.fromStack(stack).toJSON());
      } finally {
        spy.mockRestore();
      }
    };
    expect(synthAt(Date.parse('2026-01-01T00:00:00Z'))).toEqual(synthAt(Date.parse('2031-06-30T12:00:00Z')));
  });

  test('a fixed expiration date that has passed still synthesizes (cdk destroy and cdk diff keep working); the handler checks it at import time', () => {
    const stack = makeStack();
    new ExternalKey(stack, 'Key', {
      material: KeyMaterial.fromSecret(new secretsmanager.Secret(stack, 'M')),
      expiration: KeyMaterialExpiration.at(new Date('2020-01-01T00:00:00Z')),
    });
    expect(materialResource(Template.fromStack(stack))).toMatchObject({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: '2020-01-01T00:00:00.000Z' });
  });

  test('grantDeleteImportedKeyMaterial adds exactly that action to the key policy', () => {
    const stack = makeStack();
    const key = new ExternalKey(stack, 'Key');
    const role = new iam.Role(stack, 'BreakGlass', { assumedBy: new iam.AccountRootPrincipal() });
    key.grantDeleteImportedKeyMaterial(role);

    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([{
          Action: 'kms:DeleteImportedKeyMaterial', Effect: 'Allow', Resource: '*',
          Principal: { AWS: { 'Fn::GetAtt': [Match.stringLikeRegexp('^BreakGlass'), 'Arn'] } },
        }]),
      },
    });
    // Nothing in the grantee's own IAM policy.
    template.resourcePropertiesCountIs('AWS::IAM::Policy', { Roles: [{ Ref: Match.stringLikeRegexp('^BreakGlass') }] }, 0);
  });

  test('grantImportKeyMaterial adds GetParametersForImport and ImportKeyMaterial to the key policy', () => {
    const stack = makeStack();
    const key = new ExternalKey(stack, 'Key');
    const role = new iam.Role(stack, 'Importer', { assumedBy: new iam.AccountRootPrincipal() });
    key.grantImportKeyMaterial(role);

    Template.fromStack(stack).hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([{
          Action: ['kms:GetParametersForImport', 'kms:ImportKeyMaterial'], Effect: 'Allow', Resource: '*',
          Principal: { AWS: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Importer'), 'Arn'] } },
        }]),
      },
    });
  });

  test('kms.Key grants still work', () => {
    const stack = makeStack();
    const key = new ExternalKey(stack, 'Key');
    const role = new iam.Role(stack, 'User', { assumedBy: new iam.AccountRootPrincipal() });
    key.grantEncryptDecrypt(role);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: Match.arrayWith(['kms:Decrypt', 'kms:Encrypt']) })]) },
    });
  });

  test('one provider per stack, whatever the number of keys, and its role policy does not grow with keys', () => {
    const policyFor = (n: number) => {
      const stack = makeStack();
      for (let i = 0; i < n; i++) new ExternalKey(stack, `Key${i}`);
      const template = Template.fromStack(stack);
      template.resourceCountIs('AWS::Lambda::Function', 1); // the key-material function (its own entrypoint answers CloudFormation)
      const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: Match.stringLikeRegexp('HandlerRole') }] } });
      return JSON.stringify(Object.values(policies).map((p) => p.Properties.PolicyDocument));
    };
    expect(policyFor(50)).toEqual(policyFor(1));
  });

  test('the handler role has no AWSLambdaBasicExecutionRole, no kms:* and no key action on "*"', () => {
    const stack = makeStack();
    new ExternalKey(stack, 'Key', { material: KeyMaterial.fromSecret(new secretsmanager.Secret(stack, 'Material')) });
    const template = Template.fromStack(stack);
    const roles = template.findResources('AWS::IAM::Role');
    for (const role of Object.values(roles)) expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
      for (const s of policy.Properties.PolicyDocument.Statement) {
        const actions = [s.Action].flat();
        expect(actions).not.toContain('kms:*');
        if (actions.some((a: string) => a.startsWith('kms:'))) expect(s.Resource).not.toEqual('*');
      }
    }
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([{
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Effect: 'Allow',
          Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('HandlerLogs'), 'Arn'] },
        }]),
      },
    });
  });

  test('gives the handler only a reference to the material secret (its ARN and encoding)', () => {
    const stack = makeStack();
    const secret = new secretsmanager.Secret(stack, 'Material');
    new ExternalKey(stack, 'Key', { material: KeyMaterial.fromSecret(secret) });
    const props = materialResource(Template.fromStack(stack));
    expect(Object.keys(props.Material).sort()).toEqual(['Encoding', 'SecretArn']);
  });
});

describe('ExternalKey bad input', () => {
  test('KeyMaterialExpiration.after fails for more than 365 days, without reading the clock', () => {
    expect(() => KeyMaterialExpiration.after(Duration.days(366)))
      .toThrow('KeyMaterialExpiration.after needs a whole number of seconds from 1 day to 365 days (KMS accepts a ValidTo at most 365 days after the import), got 366 days');
  });

  test('KeyMaterialExpiration.after fails for less than a day', () => {
    expect(() => KeyMaterialExpiration.after(Duration.hours(2))).toThrow(/from 1 day to 365 days .*got 2 hours/);
  });

  test('KeyMaterialExpiration.after accepts exactly 365 days', () => {
    expect(KeyMaterialExpiration.after(Duration.days(365)).validFor?.toDays()).toBe(365);
  });

  test('fails when an expiration is given without material', () => {
    const stack = makeStack();
    expect(() => new ExternalKey(stack, 'Key', { expiration: KeyMaterialExpiration.never() }))
      .toThrow('TestStack/Key/Material: expiration applies to imported material; give material too');
  });

  test('fails when a PEM secret is given for a symmetric key', () => {
    const stack = makeStack();
    expect(() => new ExternalKey(stack, 'Key', {
      material: KeyMaterial.fromSecret(new secretsmanager.Secret(stack, 'M'), { encoding: MaterialEncoding.PEM }),
    })).toThrow('TestStack/Key/Material: a PEM secret holds an asymmetric private key, which cannot be material for a SYMMETRIC_DEFAULT key; store the raw material as SecretBinary, base64 or hex instead');
  });

  test('fails when a PEM secret is given for an HMAC key', () => {
    const stack = makeStack();
    expect(() => new ExternalKey(stack, 'Key', {
      keySpec: kms.KeySpec.HMAC_512, keyUsage: kms.KeyUsage.GENERATE_VERIFY_MAC,
      material: KeyMaterial.fromSecret(new secretsmanager.Secret(stack, 'M'), { encoding: MaterialEncoding.PEM }),
    })).toThrow(/cannot be material for a HMAC_512 key/);
  });

  test('fails when the key spec cannot take imported material', () => {
    const stack = makeStack();
    expect(() => new ExternalKey(stack, 'Key', {
      keySpec: kms.KeySpec.ML_DSA_44, keyUsage: kms.KeyUsage.SIGN_VERIFY,
      material: KeyMaterial.fromSecret(new secretsmanager.Secret(stack, 'M')),
    })).toThrow(/KMS cannot import key material for ML_DSA_44 keys/);
  });

  test('fails when versionId and versionStage are both given', () => {
    const stack = makeStack();
    expect(() => KeyMaterial.fromSecret(new secretsmanager.Secret(stack, 'M'), { versionId: 'v', versionStage: 'AWSCURRENT' }))
      .toThrow('KeyMaterial.fromSecret accepts versionId or versionStage, not both');
  });

  test('fails when SNAPSHOT is given as material removal policy', () => {
    const stack = makeStack();
    expect(() => new ExternalKey(stack, 'Key', { materialRemovalPolicy: RemovalPolicy.SNAPSHOT }))
      .toThrow('TestStack/Key/Material: materialRemovalPolicy must be DESTROY or RETAIN, got snapshot');
  });
});

describe('ExternalKey and property injectors', () => {
  /** An organisation policy: every kms.Key rotates (overriding what the construct asked for). */
  class RotateEveryKey implements IPropertyInjector {
    public readonly constructUniqueId = kms.Key.PROPERTY_INJECTION_ID;
    public inject(originalProps: kms.KeyProps, _context: InjectionContext): kms.KeyProps {
      return { ...originalProps, enableKeyRotation: true };
    }
  }

  test('has its own PROPERTY_INJECTION_ID', () => {
    expect(ExternalKey.PROPERTY_INJECTION_ID).toBe('cdk-kms-lifecycle.ExternalKey');
    expect(ExternalKey.PROPERTY_INJECTION_ID).not.toBe(kms.Key.PROPERTY_INJECTION_ID);
  });

  test('a kms.Key injector that enables rotation does not produce EnableKeyRotation on the EXTERNAL key, and says so', () => {
    const app = new App();
    PropertyInjectors.of(app).add(new RotateEveryKey());
    const stack = new Stack(app, 'TestStack', { env: { account: '111111111111', region: 'us-east-1' } });
    new kms.Key(stack, 'Ordinary');
    new ExternalKey(stack, 'Key');

    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::KMS::Key', { Origin: Match.absent(), EnableKeyRotation: true });
    template.hasResourceProperties('AWS::KMS::Key', { Origin: 'EXTERNAL', EnableKeyRotation: Match.absent(), RotationPeriodInDays: Match.absent() });
    Annotations.fromStack(stack).hasWarning('/TestStack/Key', Match.stringLikeRegexp('KMS cannot rotate EXTERNAL keys automatically'));
  });

  test('a kms.Key injector that enables rotation on an HMAC ExternalKey fails with what to do (kms.Key would refuse it first)', () => {
    const app = new App();
    PropertyInjectors.of(app).add(new RotateEveryKey());
    const stack = new Stack(app, 'TestStack');
    expect(() => new ExternalKey(stack, 'Key', { keySpec: kms.KeySpec.HMAC_256, keyUsage: kms.KeyUsage.GENERATE_VERIFY_MAC }))
      .toThrow(/TestStack\/Key: a property injector for kms.Key \(aws-cdk-lib.aws-kms.Key\) turns on automatic key rotation, .*HMAC_256.*keep an explicit enableKeyRotation: false/);
  });

  test('an injector registered for ExternalKey.PROPERTY_INJECTION_ID receives and changes ExternalKeyProps', () => {
    const app = new App();
    PropertyInjectors.of(app).add({
      constructUniqueId: ExternalKey.PROPERTY_INJECTION_ID,
      inject: (props: ExternalKeyProps) => ({ description: 'injected', materialRemovalPolicy: RemovalPolicy.RETAIN, ...props }),
    });
    const stack = new Stack(app, 'TestStack');
    new ExternalKey(stack, 'Key');
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::KMS::Key', { Description: 'injected', Origin: 'EXTERNAL' });
    template.hasResource('Custom::KmsImportedKeyMaterial', { DeletionPolicy: 'Retain' });
  });
});

describe('ExternalKey material resource', () => {
  test('a second material resource on an ExternalKey fails: the key manages its own', () => {
    const stack = makeStack();
    const key = new ExternalKey(stack, 'Key');
    expect(() => new ImportedKeyMaterial(stack, 'Again', { key }))
      .toThrow('TestStack/Again: the material of key TestStack/Key/Resource is already managed by TestStack/Key/Material; one key takes one material resource (an ExternalKey manages its own: use its keyMaterial). Remove one of them.');
  });
});
