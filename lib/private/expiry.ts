import { Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import type { KeyMaterialExpiration } from '../key-material';
import type { KeyMaterialExpirationAlarmOptions } from '../key-material-expiry';

/** True when the construct imports material that never expires (then an expiration alarm could never fire). */
export function importsNonExpiringMaterial(props: { readonly material?: unknown; readonly expiration?: KeyMaterialExpiration }): boolean {
  return props.material !== undefined && (props.expiration?.expirationModel ?? 'KEY_MATERIAL_DOES_NOT_EXPIRE') === 'KEY_MATERIAL_DOES_NOT_EXPIRE';
}

/** CloudWatch namespace and metric KMS publishes per key with expiring imported material (dimension KeyId). */
export const KMS_METRIC_NAMESPACE = 'AWS/KMS';
export const SECONDS_UNTIL_KEY_MATERIAL_EXPIRATION = 'SecondsUntilKeyMaterialExpiration';

/** The EventBridge event KMS sends when it deletes expired imported material (best effort, after the fact). */
export const KEY_MATERIAL_EXPIRATION_EVENT = { source: 'aws.kms', detailType: 'KMS Imported Key Material Expiration' } as const;

/** KMS accepts a ValidTo at most 365 days after the import, so an earlier warning could never clear. */
const MAX_WARNING_DAYS = 365;

/**
 * `SecondsUntilKeyMaterialExpiration` of `key`, Minimum over 5 minutes by default (the statistic the KMS
 * Developer Guide recommends: the least time left in the period).
 */
export function metricSecondsUntilKeyMaterialExpiration(key: kms.IKey, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: KMS_METRIC_NAMESPACE,
    metricName: SECONDS_UNTIL_KEY_MATERIAL_EXPIRATION,
    dimensionsMap: { KeyId: key.keyId },
    statistic: cloudwatch.Stats.MINIMUM,
    ...props,
  }).attachTo(key);
}

/**
 * An alarm that goes off when less than `options.before` is left until the key's imported material expires.
 *
 * Missing data is MISSING by default: the alarm keeps its state while KMS publishes nothing, so it stays in
 * ALARM after the material has expired (KMS stops publishing then), stays INSUFFICIENT_DATA for material
 * that never expires, and does not flap if data points are sparser than the period.
 */
export function addExpirationAlarm(key: kms.IKey & Construct, id: string, options: KeyMaterialExpirationAlarmOptions, importsNonExpiringMaterial = false): cloudwatch.Alarm {
  if (importsNonExpiringMaterial) {
    throw new Error(`${key.node.path}: the material this key imports never expires (KeyMaterialExpiration.never() is the default), so an expiration alarm would never fire; ` +
      'set expiration (KeyMaterialExpiration.after(...) or at(...)), or remove the alarm');
  }
  const before = options.before;
  if (!Token.isUnresolved(before.toSeconds({ integral: false }))) {
    const seconds = before.toSeconds({ integral: false });
    if (seconds <= 0 || seconds > MAX_WARNING_DAYS * 24 * 3600) {
      throw new Error(`${key.node.path}: addExpirationAlarm needs before between 1 second and ${MAX_WARNING_DAYS} days (material never lasts longer than ${MAX_WARNING_DAYS} days after an import), got ${before.toHumanString()}`);
    }
  }
  const metric = metricSecondsUntilKeyMaterialExpiration(key, { period: options.period });
  return new cloudwatch.Alarm(key, id, {
    metric,
    threshold: before.toSeconds(),
    comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    evaluationPeriods: options.evaluationPeriods ?? 1,
    treatMissingData: options.treatMissingData ?? cloudwatch.TreatMissingData.MISSING,
    alarmName: options.alarmName,
    alarmDescription: options.alarmDescription ?? `Imported key material of KMS key ${key.node.path} expires in less than ${before.toHumanString()}: import it again with a later expiration`,
    actionsEnabled: options.actionsEnabled,
  });
}

/** An EventBridge rule for `KMS Imported Key Material Expiration` events of `key` (in the key's Region). */
export function onKeyMaterialExpiration(key: kms.IKey & Construct, id: string, options: events.OnEventOptions = {}): events.Rule {
  const rule = new events.Rule(key, id, options);
  rule.addTarget(options.target);
  rule.addEventPattern({
    source: [KEY_MATERIAL_EXPIRATION_EVENT.source],
    detailType: [KEY_MATERIAL_EXPIRATION_EVENT.detailType],
    resources: [key.keyArn],
  });
  return rule;
}
