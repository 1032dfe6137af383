import { App, Duration, RemovalPolicy, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import {
  AdoptedCustomKeyStore, CustomKeyStore, ExternalKey, ImportedKeyMaterial, KeyMaterial, KeyMaterialExpiration, KeyStoreBackend, XksProxyConnectivity,
} from '../lib';
import { KmsLifecyclePrimaryStack, KmsLifecycleReplicaStack } from './multi-region';
import { NagValidationPlugin } from './nag';

/**
 * The example app: an ExternalKey with material from a secret, the lower-level construct on an
 * imported key ARN, an external key store and an adopted store id. Synthesizes with no AWS account (`npx cdk synth`).
 */
export class KmsLifecycleExampleStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    // The plaintext key material is stored in Secrets Manager out of band (never in the template).
    const materialSecret = secretsmanager.Secret.fromSecretNameV2(this, 'MaterialSecret', 'kms-lifecycle/example-key-material');

    const key = new ExternalKey(this, 'AppKey', {
      alias: 'alias/kms-lifecycle-example',
      description: 'EXTERNAL key whose material is imported on deploy and deleted on destroy',
      material: KeyMaterial.fromSecret(materialSecret),
      // Expires a year after each import; the template holds the duration, so it is the same on any day.
      expiration: KeyMaterialExpiration.after(Duration.days(365)),
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // A break-glass role that may crypto-shred the key by hand.
    const breakGlass = new iam.Role(this, 'BreakGlassRole', { assumedBy: new iam.AccountRootPrincipal() });
    key.grantDeleteImportedKeyMaterial(breakGlass);

    // When this stack is destroyed, delete the imported key material of a key made elsewhere.
    new ImportedKeyMaterial(this, 'LegacyKeyMaterial', {
      key: kms.Key.fromKeyArn(this, 'LegacyKey', `arn:aws:kms:${this.region}:${this.account}:key/1234abcd-12ab-34cd-56ef-1234567890ab`),
    });

    // An external key store, connected on deploy; deleted on destroy (DESTROY), after a disconnect.
    new CustomKeyStore(this, 'XksStore', {
      customKeyStoreName: 'kms-lifecycle-example-xks',
      backend: KeyStoreBackend.externalKeyStore({
        proxyUriEndpoint: 'https://xks.example.com',
        proxyUriPath: '/example/kms/xks/v1',
        connectivity: XksProxyConnectivity.PUBLIC_ENDPOINT,
        proxyAuthenticationCredential: secretsmanager.Secret.fromSecretNameV2(this, 'XksCredential', 'kms-lifecycle/xks-proxy-credential'),
      }),
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // When this stack is destroyed, delete a custom key store created elsewhere.
    new AdoptedCustomKeyStore(this, 'OldStore', { customKeyStoreId: 'cks-1234567890abcdef0' });
  }
}

/** The example app, checked by cdk-nag (AwsSolutions) on synth. */
export function createApp(): App {
  const app = new App();
  new KmsLifecycleExampleStack(app, 'KmsLifecycleExample');
  // A multi-Region key: the primary in us-east-1, a replica in eu-west-1 (its stack deploys after the primary's).
  const primary = new KmsLifecyclePrimaryStack(app, 'KmsLifecycleExamplePrimary', { env: { region: 'us-east-1' } });
  new KmsLifecycleReplicaStack(app, 'KmsLifecycleExampleReplica', { env: { region: 'eu-west-1' }, primaryKey: primary.key });
  Validations.of(app).addPlugins(new NagValidationPlugin(app));
  return app;
}

if (require.main === module) {
  createApp().synth();
}
