import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';

/**
 * Options for `addExpirationAlarm` on `ExternalKey` and `ExternalReplicaKey`.
 */
export interface KeyMaterialExpirationAlarmOptions {
  /**
   * Alarm when less than this is left until the imported material expires (the threshold, in seconds,
   * of `SecondsUntilKeyMaterialExpiration`). At most 365 days.
   */
  readonly before: Duration;

  /**
   * Name of the alarm.
   *
   * @default - a name CloudFormation generates
   */
  readonly alarmName?: string;

  /**
   * Description of the alarm.
   *
   * @default - says which key's material expires and what to do
   */
  readonly alarmDescription?: string;

  /**
   * What the alarm does while KMS publishes no data point. KMS publishes the metric only for material
   * that is set to expire, and stops when the material is gone.
   *
   * @default TreatMissingData.MISSING - the alarm keeps its state: it stays in ALARM once the material has
   * expired, and stays INSUFFICIENT_DATA for material that never expires
   */
  readonly treatMissingData?: cloudwatch.TreatMissingData;

  /**
   * The period over which the Minimum of the metric is taken.
   *
   * @default Duration.minutes(5)
   */
  readonly period?: Duration;

  /**
   * The number of periods over which the threshold is compared.
   *
   * @default 1
   */
  readonly evaluationPeriods?: number;

  /**
   * Whether the alarm's actions run.
   *
   * @default true
   */
  readonly actionsEnabled?: boolean;
}
