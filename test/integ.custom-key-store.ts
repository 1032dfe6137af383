/**
 * Integration test: an external key store created DISCONNECTED (no proxy is needed to create one)
 * and deleted on destroy. Snapshot-checked offline in `npm test`; to run it against a real account:
 * `npx integ-runner --directory test --language typescript --update-on-failed integ.custom-key-store.ts`.
 */
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { CustomKeyStore, KeyStoreBackend } from '../lib';

const app = new App();
const stack = new Stack(app, 'integ-kms-lifecycle-custom-key-store');

const credential = new secretsmanager.Secret(stack, 'XksCredential', {
  generateSecretString: {
    secretStringTemplate: JSON.stringify({ accessKeyId: 'INTEGTESTACCESSKEYID00' }),
    generateStringKey: 'secretAccessKey',
    passwordLength: 64,
    excludePunctuation: true,
  },
  removalPolicy: RemovalPolicy.DESTROY,
});
const store = new CustomKeyStore(stack, 'Store', {
  customKeyStoreName: `integ-kms-lifecycle-${stack.stackName}`,
  backend: KeyStoreBackend.externalKeyStore({
    proxyUriEndpoint: 'https://xks-integ.example.com',
    proxyUriPath: '/integ/kms/xks/v1',
    proxyAuthenticationCredential: credential,
  }),
  connect: false,
  removalPolicy: RemovalPolicy.DESTROY,
});

const integ = new IntegTest(app, 'CustomKeyStoreTest', { testCases: [stack] });
integ.assertions
  .awsApiCall('KMS', 'describeCustomKeyStores', { CustomKeyStoreId: store.customKeyStoreId })
  .expect(ExpectedResult.objectLike({ CustomKeyStores: [{ CustomKeyStoreType: 'EXTERNAL_KEY_STORE', ConnectionState: 'DISCONNECTED' }] }));

app.synth();
