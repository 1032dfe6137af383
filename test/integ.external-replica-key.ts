/**
 * Integration test: a multi-Region EXTERNAL primary key in us-east-1 and its ExternalReplicaKey in eu-west-1,
 * both importing the same material from a generated secret that Secrets Manager replicates to eu-west-1, with
 * an expiry alarm on the replica. Snapshot-checked offline in `npm test`; to run it against a real account:
 * `npx integ-runner --directory test --language typescript --update-on-failed integ.external-replica-key.ts`.
 */
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { ExternalKey, ExternalReplicaKey, KeyMaterial, KeyMaterialExpiration, MaterialEncoding } from '../lib';

const SECRET_NAME = 'integ-kms-lifecycle/replica-key-material';

const app = new App();
const primaryStack = new Stack(app, 'integ-kms-lifecycle-replica-primary', { env: { region: 'us-east-1' } });
const replicaStack = new Stack(app, 'integ-kms-lifecycle-replica-replica', { env: { region: 'eu-west-1' } });

// 64 lowercase hexadecimal characters: SYMMETRIC_DEFAULT material (32 bytes), replicated to eu-west-1.
const secret = new secretsmanager.Secret(primaryStack, 'Material', {
  secretName: SECRET_NAME,
  generateSecretString: {
    passwordLength: 64, excludePunctuation: true, excludeUppercase: true, includeSpace: false, requireEachIncludedType: false,
    excludeCharacters: 'ghijklmnopqrstuvwxyz',
  },
  replicaRegions: [{ region: replicaStack.region }],
  removalPolicy: RemovalPolicy.DESTROY,
});
const primary = new ExternalKey(primaryStack, 'Primary', {
  multiRegion: true,
  material: KeyMaterial.fromSecret(secret, { encoding: MaterialEncoding.HEX }),
  expiration: KeyMaterialExpiration.after(Duration.days(30)),
  removalPolicy: RemovalPolicy.DESTROY,
});
const replica = new ExternalReplicaKey(replicaStack, 'Replica', {
  primaryKey: primary,
  material: KeyMaterial.fromSecret(secretsmanager.Secret.fromSecretNameV2(replicaStack, 'ReplicatedMaterial', SECRET_NAME), { encoding: MaterialEncoding.HEX }),
  expiration: KeyMaterialExpiration.after(Duration.days(30)),
  removalPolicy: RemovalPolicy.DESTROY,
});
replica.addExpirationAlarm('ExpiresSoon', { before: Duration.days(7) });
replicaStack.addDependency(primaryStack);

const assertions = new Stack(app, 'integ-kms-lifecycle-replica-assertions', { env: { region: replicaStack.region } });
const integ = new IntegTest(app, 'ExternalReplicaKeyTest', { testCases: [primaryStack, replicaStack], assertionStack: assertions });
integ.assertions
  .awsApiCall('KMS', 'describeKey', { KeyId: replica.keyId })
  .expect(ExpectedResult.objectLike({
    KeyMetadata: { Origin: 'EXTERNAL', KeyState: 'Enabled', MultiRegion: true, MultiRegionConfiguration: { MultiRegionKeyType: 'REPLICA' } },
  }));

app.synth();
