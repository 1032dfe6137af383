import { App, RemovalPolicy, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ExternalKey, ImportedKeyMaterial, KeyMaterial } from '../lib';
import { NagValidationPlugin } from './nag';

/**
 * The example app: an ExternalKey with material from a secret, and the lower-level construct on
 * an imported key ARN. Synthesizes with no AWS account (`npx cdk synth`).
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
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // A break-glass role that may crypto-shred the key by hand.
    const breakGlass = new iam.Role(this, 'BreakGlassRole', { assumedBy: new iam.AccountRootPrincipal() });
    key.grantDeleteImportedKeyMaterial(breakGlass);

    // When this stack is destroyed, delete the imported key material of a key made elsewhere.
    new ImportedKeyMaterial(this, 'LegacyKeyMaterial', {
      key: kms.Key.fromKeyArn(this, 'LegacyKey', `arn:aws:kms:${this.region}:${this.account}:key/1234abcd-12ab-34cd-56ef-1234567890ab`),
    });
  }
}

/** The example app, checked by cdk-nag (AwsSolutions) on synth. */
export function createApp(): App {
  const app = new App();
  new KmsLifecycleExampleStack(app, 'KmsLifecycleExample');
  Validations.of(app).addPlugins(new NagValidationPlugin(app));
  return app;
}

if (require.main === module) {
  createApp().synth();
}
