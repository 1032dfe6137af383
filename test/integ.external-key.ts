/**
 * Integration test: an EXTERNAL key whose material the handler imports from a generated secret,
 * and an EXTERNAL key without material. Snapshot-checked offline in `npm test`; to run it against a
 * real account: `npx integ-runner --directory test --language typescript --update-on-failed integ.external-key.ts`.
 */
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { ExternalKey, KeyMaterial, MaterialEncoding } from '../lib';

const app = new App();
const stack = new Stack(app, 'integ-kms-lifecycle-external-key');

// 64 alphanumeric characters are valid base64 for 48 bytes: HMAC_256 material (32 to 64 bytes).
const secret = new secretsmanager.Secret(stack, 'HmacMaterial', {
  generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false, requireEachIncludedType: false },
  removalPolicy: RemovalPolicy.DESTROY,
});
const hmacKey = new ExternalKey(stack, 'HmacKey', {
  keySpec: kms.KeySpec.HMAC_256,
  keyUsage: kms.KeyUsage.GENERATE_VERIFY_MAC,
  material: KeyMaterial.fromSecret(secret, { encoding: MaterialEncoding.BASE64 }),
  removalPolicy: RemovalPolicy.DESTROY,
});
const emptyKey = new ExternalKey(stack, 'EmptyKey', { removalPolicy: RemovalPolicy.DESTROY });

const integ = new IntegTest(app, 'ExternalKeyTest', { testCases: [stack] });
integ.assertions
  .awsApiCall('KMS', 'describeKey', { KeyId: hmacKey.keyId })
  .expect(ExpectedResult.objectLike({ KeyMetadata: { Origin: 'EXTERNAL', KeyState: 'Enabled', ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' } }));
integ.assertions
  .awsApiCall('KMS', 'describeKey', { KeyId: emptyKey.keyId })
  .expect(ExpectedResult.objectLike({ KeyMetadata: { Origin: 'EXTERNAL', KeyState: 'PendingImport' } }));

app.synth();
