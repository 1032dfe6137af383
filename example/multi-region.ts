import { Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ExternalKey, ExternalReplicaKey, KeyMaterial, KeyMaterialExpiration } from '../lib';

/** The material secret, created out of band in the primary's Region and replicated to the replica's (same name). */
const MATERIAL_SECRET = 'kms-lifecycle/example-mrk-material';
const EXPIRES_AFTER = Duration.days(365);
const WARN_BEFORE = Duration.days(30);

/** Alarms and expiry events of a key go to a topic of its own Region. */
function watchExpiry(scope: Construct, key: ExternalKey | ExternalReplicaKey): void {
  const topic = new sns.Topic(scope, 'KeyMaterialExpiry', { enforceSSL: true, masterKey: kms.Alias.fromAliasName(scope, 'SnsKey', 'alias/aws/sns') });
  key.addExpirationAlarm('MaterialExpiresSoon', { before: WARN_BEFORE }).addAlarmAction(new cloudwatchActions.SnsAction(topic));
  key.onKeyMaterialExpiration('MaterialExpired', { target: new targets.SnsTopic(topic) });
}

/** A multi-Region primary key whose material is imported on deploy and expires a year after each import. */
export class KmsLifecyclePrimaryStack extends Stack {
  public readonly key: ExternalKey;

  constructor(scope: Construct, id: string, props: StackProps) {
    super(scope, id, props);
    this.key = new ExternalKey(this, 'OrdersKey', {
      alias: 'alias/kms-lifecycle-example-orders',
      multiRegion: true,
      material: KeyMaterial.fromSecret(secretsmanager.Secret.fromSecretNameV2(this, 'Material', MATERIAL_SECRET)),
      expiration: KeyMaterialExpiration.after(EXPIRES_AFTER),
      keyMaterialDescription: 'orders key material - HSM export 2026-12',
      removalPolicy: RemovalPolicy.DESTROY,
    });
    watchExpiry(this, this.key);
  }
}

/** Its replica in another Region, with the same material read from the replicated secret, and its own alarm. */
export class KmsLifecycleReplicaStack extends Stack {
  constructor(scope: Construct, id: string, props: StackProps & { readonly primaryKey: ExternalKey }) {
    super(scope, id, props);
    const replica = new ExternalReplicaKey(this, 'OrdersKeyReplica', {
      primaryKey: props.primaryKey,
      alias: 'alias/kms-lifecycle-example-orders',
      material: KeyMaterial.fromSecret(secretsmanager.Secret.fromSecretNameV2(this, 'Material', MATERIAL_SECRET)),
      expiration: KeyMaterialExpiration.after(EXPIRES_AFTER),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    watchExpiry(this, replica);
  }
}
