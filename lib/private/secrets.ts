import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { DECRYPT_SECRET_ACTIONS, READ_SECRET_VALUE_ACTIONS } from './actions';

/**
 * Grants exactly secretsmanager:GetSecretValue on the secret, and kms:Decrypt through Secrets
 * Manager on its customer-managed encryption key (not DescribeSecret, as `secret.grantRead` would).
 */
export function grantGetSecretValue(secret: secretsmanager.ISecret, grantee: iam.IGrantable): void {
  // A secret imported by name has a partial ARN: match the 6-character suffix Secrets Manager adds.
  const secretArn = secret.secretFullArn ?? `${secret.secretArn}-??????`;
  iam.Grant.addToPrincipal({ grantee, actions: READ_SECRET_VALUE_ACTIONS, resourceArns: [secretArn] });
  if (secret.encryptionKey) {
    iam.Grant.addToPrincipal({
      grantee,
      actions: DECRYPT_SECRET_ACTIONS,
      resourceArns: [secret.encryptionKey.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${secret.stack.region}.${secret.stack.urlSuffix}` } },
    });
  }
}
