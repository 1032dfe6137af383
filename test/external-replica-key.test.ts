import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { ExternalKey, ExternalReplicaKey, ExternalReplicaKeyProps, KeyMaterial, KeyMaterialExpiration } from '../lib';

const ACCOUNT = '111111111111';
const SECRET_NAME = 'app/key-material';

function stacks(primaryProps: ConstructorParameters<typeof ExternalKey>[2] = { multiRegion: true }) {
  const app = new App();
  const primaryStack = new Stack(app, 'Primary', { env: { account: ACCOUNT, region: 'us-east-1' }, crossRegionReferences: true });
  const replicaStack = new Stack(app, 'Replica', { env: { account: ACCOUNT, region: 'eu-west-1' }, crossRegionReferences: true });
  const primary = new ExternalKey(primaryStack, 'Key', primaryProps);
  return { app, primaryStack, replicaStack, primary };
}

function replicatedMaterial(scope: Stack): KeyMaterial {
  return KeyMaterial.fromSecret(secretsmanager.Secret.fromSecretNameV2(scope, 'Material', SECRET_NAME));
}

function replica(extra: Partial<ExternalReplicaKeyProps> = {}) {
  const s = stacks();
  const key = new ExternalReplicaKey(s.replicaStack, 'Replica', { primaryKey: s.primary, material: replicatedMaterial(s.replicaStack), ...extra });
  return { ...s, key, template: () => Template.fromStack(s.replicaStack) };
}

describe('ExternalReplicaKey', () => {
  test('its stack deploys after the primary\'s, which it names through a cross-Region reference', () => {
    const { replicaStack, primaryStack, template } = replica();

    template().hasResourceProperties('AWS::KMS::ReplicaKey', { PrimaryKeyArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ExportsReader'), Match.stringLikeRegexp('^/cdk/exports/Replica/')] } });
    expect(replicaStack.dependencies).toContain(primaryStack);
  });

  test('creates an AWS::KMS::ReplicaKey of the primary, retained by default, with the kms.Key default policy', () => {
    const { template } = replica({ description: 'eu replica', pendingWindow: Duration.days(7) });

    template().hasResource('AWS::KMS::ReplicaKey', {
      Properties: {
        PrimaryKeyArn: Match.anyValue(),
        Description: 'eu replica',
        PendingWindowInDays: 7,
        KeyPolicy: {
          Statement: Match.arrayWith([Match.objectLike({
            Action: 'kms:*', Effect: 'Allow', Resource: '*',
            Principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${ACCOUNT}:root`]] } },
          })]),
        },
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  test('imports the material as the same key-material resource as ExternalKey, multi-Region, reading the secret in its own Region', () => {
    const { template: synth } = replica();
    const template = synth();

    template.hasResourceProperties('Custom::KmsImportedKeyMaterial', {
      KeyArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Replica'), 'Arn'] },
      KeySpec: Match.absent(), // SYMMETRIC_DEFAULT, the default
      MultiRegion: 'true',
      Material: Match.objectLike({
        SecretArn: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(`:secretsmanager:eu-west-1:${ACCOUNT}:secret:${SECRET_NAME}$`)])] },
      }),
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Action: 'secretsmanager:GetSecretValue',
          Resource: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(`:secretsmanager:eu-west-1:${ACCOUNT}:secret:${SECRET_NAME}-\\?\\?\\?\\?\\?\\?$`)])] },
        })]),
      },
    });
  });

  test('deletes the replica\'s material on destroy by default; RETAIN without material keeps its material resource with DeletionPolicy Retain', () => {
    const s = stacks();
    new ExternalReplicaKey(s.replicaStack, 'Shredded', { primaryKey: s.primary });
    const k = stacks();
    const kept = new ExternalReplicaKey(k.replicaStack, 'Kept', { primaryKey: k.primary, materialRemovalPolicy: RemovalPolicy.RETAIN });

    Template.fromStack(s.replicaStack).hasResource('Custom::KmsImportedKeyMaterial', { DeletionPolicy: Match.absent() }); // Delete, the default
    expect(kept.keyMaterial).toBeDefined();
    Template.fromStack(k.replicaStack).hasResource('Custom::KmsImportedKeyMaterial', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  test('is a full kms.IKey: grants go through kms.KeyGrants, aliases are in the replica\'s Region', () => {
    const { replicaStack, key } = replica();
    const role = new iam.Role(replicaStack, 'App', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const asIKey: kms.IKey = key;

    asIKey.grantEncryptDecrypt(role);
    asIKey.addAlias('alias/app');

    const template = Template.fromStack(replicaStack);
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^App') }],
      PolicyDocument: {
        Statement: [Match.objectLike({
          Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*'],
          Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Replica'), 'Arn'] },
        })],
      },
    });
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/app', TargetKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Replica'), 'Arn'] } });
  });

  test('admins and addToResourcePolicy go into the replica\'s key policy', () => {
    const s = stacks();
    const admin = new iam.Role(s.replicaStack, 'Admin', { assumedBy: new iam.AccountRootPrincipal() });
    const key = new ExternalReplicaKey(s.replicaStack, 'Replica', { primaryKey: s.primary, admins: [admin] });

    key.addToResourcePolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt'], principals: [new iam.ServicePrincipal('logs.amazonaws.com')], resources: ['*'] }));

    Template.fromStack(s.replicaStack).hasResourceProperties('AWS::KMS::ReplicaKey', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'kms:Decrypt', Principal: { Service: 'logs.amazonaws.com' } }),
        ]),
      },
    });
    Template.fromStack(s.replicaStack).hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Admin') }],
      PolicyDocument: { Statement: [Match.objectLike({ Action: Match.arrayWith(['kms:Create*', 'kms:ScheduleKeyDeletion']) })] },
    });
  });

  describe('refuses at synth', () => {
    test('a primary that is not multi-Region', () => {
      const s = stacks({});
      expect(() => new ExternalReplicaKey(s.replicaStack, 'Replica', { primaryKey: s.primary }))
        .toThrow(/Replica\/Replica: the primary key Primary\/Key is not a multi-Region key.*multiRegion: true/);
    });

    test('a replica in the primary\'s own Region', () => {
      const s = stacks();
      const sameRegion = new Stack(s.app, 'SameRegion', { env: { account: ACCOUNT, region: 'us-east-1' } });
      expect(() => new ExternalReplicaKey(sameRegion, 'Replica', { primaryKey: s.primary }))
        .toThrow(/SameRegion\/Replica: a replica must be in another Region than its primary key Primary\/Key \(us-east-1\)/);
      expect(() => new ExternalReplicaKey(s.primaryStack, 'Replica', { primaryKey: s.primary }))
        .toThrow(/a replica must be in another Region/);
    });

    test('a replica in another account', () => {
      const s = stacks();
      const other = new Stack(s.app, 'Other', { env: { account: '222222222222', region: 'eu-west-1' } });
      expect(() => new ExternalReplicaKey(other, 'Replica', { primaryKey: s.primary }))
        .toThrow(/is in account 111111111111, but this stack deploys to account 222222222222/);
    });

    test('a key spec whose material KMS cannot import', () => {
      const app = new App();
      const p = new Stack(app, 'P', { env: { account: ACCOUNT, region: 'us-east-1' } });
      const r = new Stack(app, 'R', { env: { account: ACCOUNT, region: 'eu-west-1' } });
      const primary = new ExternalKey(p, 'Key', { multiRegion: true, materialRemovalPolicy: RemovalPolicy.RETAIN });
      (primary.node.defaultChild as kms.CfnKey).keySpec = 'ML_DSA_44';
      expect(() => new ExternalReplicaKey(r, 'Replica', { primaryKey: primary }))
        .toThrow(/is ML_DSA_44, and KMS cannot import key material for ML_DSA_44 keys/);
    });

    test('a material secret of another Region', () => {
      const s = stacks();
      const secret = new secretsmanager.Secret(s.primaryStack, 'Secret', { secretName: SECRET_NAME });
      expect(() => new ExternalReplicaKey(s.replicaStack, 'Replica', { primaryKey: s.primary, material: KeyMaterial.fromSecret(secret) }))
        .toThrow(/the material secret is in Region us-east-1, but the replica's handler reads it in eu-west-1\. Replicate the primary's secret to eu-west-1/);
      const byArn = secretsmanager.Secret.fromSecretCompleteArn(s.replicaStack, 'ByArn', `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:x-AbCdEf`);
      expect(() => new ExternalReplicaKey(s.replicaStack, 'Replica2', { primaryKey: s.primary, material: KeyMaterial.fromSecret(byArn) }))
        .toThrow(/the material secret is in Region us-east-1/);
    });

    test('a primaryKey that is not an ExternalKey (JavaScript callers)', () => {
      const s = stacks();
      const plain = new kms.Key(s.primaryStack, 'Plain', { multiRegion: true });
      expect(() => new ExternalReplicaKey(s.replicaStack, 'Replica', { primaryKey: plain as unknown as ExternalKey }))
        .toThrow(/primaryKey must be an ExternalKey/);
    });

    test('a pending window outside 7 to 30 days', () => {
      const s = stacks();
      expect(() => new ExternalReplicaKey(s.replicaStack, 'Replica', { primaryKey: s.primary, pendingWindow: Duration.days(31) }))
        .toThrow(/pendingWindow must be 7 to 30 days, got 31/);
    });

  });

  describe('expiry', () => {
    test('metricSecondsUntilKeyMaterialExpiration: AWS/KMS, dimension KeyId, Minimum over 5 minutes', () => {
      const { replicaStack, key } = replica();

      const metric = key.metricSecondsUntilKeyMaterialExpiration();

      expect(metric.namespace).toBe('AWS/KMS');
      expect(metric.metricName).toBe('SecondsUntilKeyMaterialExpiration');
      expect(metric.statistic).toBe('Minimum');
      expect(metric.period.toSeconds()).toBe(300);
      expect(replicaStack.resolve(metric.dimensions)).toEqual({ KeyId: { 'Fn::GetAtt': [replicaStack.getLogicalId(key.node.defaultChild as kms.CfnReplicaKey), 'KeyId'] } });
      expect(key.metricSecondsUntilKeyMaterialExpiration({ period: Duration.hours(1), statistic: 'Average' })).toMatchObject({ statistic: 'Average' });
    });

    test('addExpirationAlarm: one line, threshold in seconds, less than, missing data keeps the state', () => {
      const { key, replicaStack } = replica({ expiration: KeyMaterialExpiration.at(new Date('2027-06-01T00:00:00Z')) });

      const alarm = key.addExpirationAlarm('ExpiresSoon', { before: Duration.days(30) });
      alarm.addAlarmAction({ bind: () => ({ alarmActionArn: 'arn:aws:sns:eu-west-1:111111111111:ops' }) });

      Template.fromStack(replicaStack).hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/KMS',
        MetricName: 'SecondsUntilKeyMaterialExpiration',
        Dimensions: [{ Name: 'KeyId', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Replica'), 'KeyId'] } }],
        Statistic: 'Minimum',
        Period: 300,
        Threshold: 30 * 24 * 3600,
        ComparisonOperator: 'LessThanThreshold',
        EvaluationPeriods: 1,
        TreatMissingData: 'missing',
        AlarmActions: ['arn:aws:sns:eu-west-1:111111111111:ops'],
      });
    });

    test('addExpirationAlarm refuses material that never expires, and a warning longer than 365 days', () => {
      const { key } = replica();
      expect(() => key.addExpirationAlarm('A', { before: Duration.days(30) })).toThrow(/never expires .* so an expiration alarm would never fire/);

      const expiring = replica({ expiration: KeyMaterialExpiration.at(new Date('2027-06-01T00:00:00Z')) }).key;
      expect(() => expiring.addExpirationAlarm('B', { before: Duration.days(366) })).toThrow(/before between 1 second and 365 days .*got 366 days/);
      expect(expiring.addExpirationAlarm('C', { before: Duration.days(7), treatMissingData: cloudwatch.TreatMissingData.BREACHING })).toBeInstanceOf(cloudwatch.Alarm);
    });

    test('addExpirationAlarm is allowed on a replica whose material is imported out of band (no material, with or without RETAIN)', () => {
      for (const materialRemovalPolicy of [RemovalPolicy.DESTROY, RemovalPolicy.RETAIN]) {
        const { key } = replica({ material: undefined, materialRemovalPolicy });
        expect(key.addExpirationAlarm('Expires', { before: Duration.days(14) })).toBeInstanceOf(cloudwatch.Alarm);
      }
    });

    test('onKeyMaterialExpiration: a rule for aws.kms "KMS Imported Key Material Expiration" of this key', () => {
      const { key, replicaStack } = replica();
      const topic = new sns.Topic(replicaStack, 'Ops');

      key.onKeyMaterialExpiration('Expired', { target: new targets.SnsTopic(topic) });

      Template.fromStack(replicaStack).hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          'source': ['aws.kms'],
          'detail-type': ['KMS Imported Key Material Expiration'],
          'resources': [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^Replica'), 'Arn'] }],
        },
        Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('^Ops') } })],
      });
    });
  });
});
