/**
 * The shared expiry helpers (lib/private/expiry.ts) on an ExternalKey: the metric, the alarm and the
 * EventBridge rule that ExternalKey and ExternalReplicaKey expose.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { ExternalKey, KeyMaterial, KeyMaterialExpiration } from '../lib';
import { addExpirationAlarm, metricSecondsUntilKeyMaterialExpiration, onKeyMaterialExpiration } from '../lib/private/expiry';

function key(): { stack: Stack; key: ExternalKey; keyLogicalId: string } {
  const stack = new Stack(new App(), 'Expiry', { env: { account: '111111111111', region: 'us-east-1' } });
  const k = new ExternalKey(stack, 'Key');
  return { stack, key: k, keyLogicalId: stack.getLogicalId(k.node.defaultChild as any) };
}

test('the metric is AWS/KMS SecondsUntilKeyMaterialExpiration of the key id, Minimum, and options override it', () => {
  const { stack, key: k, keyLogicalId } = key();

  const metric = metricSecondsUntilKeyMaterialExpiration(k);
  const hourly = metricSecondsUntilKeyMaterialExpiration(k, { period: Duration.hours(1), label: 'left' });

  expect({ namespace: metric.namespace, metricName: metric.metricName, statistic: metric.statistic, period: metric.period.toSeconds() })
    .toEqual({ namespace: 'AWS/KMS', metricName: 'SecondsUntilKeyMaterialExpiration', statistic: 'Minimum', period: 300 });
  expect(stack.resolve(metric.dimensions)).toEqual({ KeyId: { Ref: keyLogicalId } });
  expect({ period: hourly.period.toSeconds(), label: hourly.label, statistic: hourly.statistic }).toEqual({ period: 3600, label: 'left', statistic: 'Minimum' });
});

test('the alarm fires below the threshold in seconds and keeps its state on missing data', () => {
  const { stack, key: k, keyLogicalId } = key();

  addExpirationAlarm(k, 'Soon', { before: Duration.days(14), alarmName: 'key-expires', evaluationPeriods: 3, period: Duration.hours(1) });

  Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Alarm', {
    AlarmName: 'key-expires',
    Dimensions: [{ Name: 'KeyId', Value: { Ref: keyLogicalId } }],
    Threshold: 14 * 86400,
    ComparisonOperator: 'LessThanThreshold',
    EvaluationPeriods: 3,
    Period: 3600,
    TreatMissingData: 'missing',
    AlarmDescription: Match.stringLikeRegexp('Expiry/Key expires in less than 14 days'),
  });
});

test('the alarm refuses a zero warning', () => {
  const { key: k } = key();
  expect(() => addExpirationAlarm(k, 'Now', { before: Duration.seconds(0) })).toThrow(/Expiry\/Key: addExpirationAlarm needs before between 1 second and 365 days/);
  expect(addExpirationAlarm(k, 'Breaching', { before: Duration.days(1), treatMissingData: cloudwatch.TreatMissingData.BREACHING })).toBeInstanceOf(cloudwatch.Alarm);
});

test('the rule matches KMS Imported Key Material Expiration events of this key only', () => {
  const { stack, key: k, keyLogicalId } = key();

  onKeyMaterialExpiration(k, 'Expired', { ruleName: 'key-expired' });

  Template.fromStack(stack).hasResourceProperties('AWS::Events::Rule', {
    Name: 'key-expired',
    EventPattern: { 'source': ['aws.kms'], 'detail-type': ['KMS Imported Key Material Expiration'], 'resources': [{ 'Fn::GetAtt': [keyLogicalId, 'Arn'] }] },
  });
});

test('ExternalKey exposes them: a one-line alarm on expiring material, refused for material that never expires', () => {
  const stack = new Stack(new App(), 'Methods', { env: { account: '111111111111', region: 'us-east-1' } });
  const material = KeyMaterial.fromSecret(secretsmanager.Secret.fromSecretNameV2(stack, 'Material', 'keys/app'));
  const expiring = new ExternalKey(stack, 'Expiring', { material, expiration: KeyMaterialExpiration.after(Duration.days(365)) });
  const forever = new ExternalKey(stack, 'Forever', { material });

  expiring.addExpirationAlarm('Soon', { before: Duration.days(30) });
  expiring.onKeyMaterialExpiration('Expired');

  const template = Template.fromStack(stack);
  template.hasResourceProperties('AWS::CloudWatch::Alarm', { Threshold: 30 * 86400, Dimensions: [{ Name: 'KeyId', Value: { Ref: stack.getLogicalId(expiring.node.defaultChild as any) } }] });
  template.resourceCountIs('AWS::Events::Rule', 1);
  expect(expiring.metricSecondsUntilKeyMaterialExpiration().metricName).toBe('SecondsUntilKeyMaterialExpiration');
  expect(() => forever.addExpirationAlarm('Soon', { before: Duration.days(30) })).toThrow(/^Methods\/Forever: the material this key imports never expires/);
});
