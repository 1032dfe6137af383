import { Annotations, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { IConstruct } from 'constructs';
import { DECRYPT_SECRET_ACTIONS, READ_SECRET_VALUE_ACTIONS } from './actions';
import { PolicyBuckets } from './policy-buckets';
import { describeValue } from './validation';

/**
 * Grants exactly secretsmanager:GetSecretValue on the secret, and kms:Decrypt through Secrets
 * Manager on its customer-managed encryption key (not DescribeSecret, as `secret.grantRead` would).
 */
export function grantGetSecretValue(secret: secretsmanager.ISecret, grantee: iam.IGrantable): void {
  // A secret imported by name has a partial ARN: match the 6-character suffix Secrets Manager adds.
  const secretArn = secret.secretFullArn ?? `${secret.secretArn}-??????`;
  const decrypt = secret.encryptionKey && {
    keyArn: secret.encryptionKey.keyArn,
    conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${secret.stack.region}.${secret.stack.urlSuffix}` } },
  };
  // A provider role shares one statement among many secrets (policy-buckets.ts), so that it does not grow by a
  // statement per key.
  const buckets = PolicyBuckets.of(grantee.grantPrincipal);
  if (buckets) {
    buckets.grant(READ_SECRET_VALUE_ACTIONS, secretArn);
    if (decrypt) buckets.grant(DECRYPT_SECRET_ACTIONS, decrypt.keyArn, decrypt.conditions);
    return;
  }
  iam.Grant.addToPrincipal({ grantee, actions: READ_SECRET_VALUE_ACTIONS, resourceArns: [secretArn] });
  if (decrypt) iam.Grant.addToPrincipal({ grantee, actions: DECRYPT_SECRET_ACTIONS, resourceArns: [decrypt.keyArn], conditions: decrypt.conditions });
}

/**
 * Throws a TypeError that names the option, the value received and what to pass, when a JavaScript caller
 * (no type checker) passes something else than an ISecret, such as an ARN string.
 */
export function requireSecret(where: string, option: string, value: unknown): asserts value is secretsmanager.ISecret {
  const arn = (value as { secretArn?: unknown } | null | undefined)?.secretArn;
  if (typeof arn !== 'string') {
    throw new TypeError(`${where}: ${option} must be a secretsmanager.ISecret, got ${describeValue(value)}. ` +
      'For a secret made elsewhere, pass secretsmanager.Secret.fromSecretCompleteArn(this, id, arn) (or fromSecretNameV2), not the ARN or name itself.');
  }
}

/**
 * Warns (at synth) when the secret is in another account than the stack: the handler can read it only through
 * the secret's resource policy, and only if it is encrypted with a customer-managed KMS key that lets the role
 * decrypt (the aws/secretsmanager key cannot be used across accounts).
 */
export function warnIfSecretInOtherAccount(scope: IConstruct, secret: secretsmanager.ISecret, what: string, grantee: iam.IGrantable): void {
  const stackAccount = Stack.of(scope).account;
  const secretAccount = secretAccountOf(secret);
  if (secretAccount === undefined || Token.isUnresolved(stackAccount) || secretAccount === stackAccount) return;
  const role = (grantee.grantPrincipal as Partial<iam.IRole>).roleArn;
  Annotations.of(scope).addWarningV2('cdk-kms-lifecycle:secretInOtherAccount',
    `${what} ${secret.secretArn} is in account ${secretAccount}, not in this stack's account ${stackAccount}. The handler can read it only if ` +
    `(1) the secret's resource policy allows the handler role${role && !Token.isUnresolved(role) ? ` ${role}` : ' (CdkKmsLifecycle...HandlerRole of this stack)'} secretsmanager:GetSecretValue, and ` +
    '(2) the secret is encrypted with a customer-managed KMS key (not aws/secretsmanager, which cannot be used from another account) whose key policy lets that role call kms:Decrypt; ' +
    'pass that key as encryptionKey when importing the secret (Secret.fromSecretAttributes) so that the role is granted kms:Decrypt too.');
}

/** The literal account of a secret (from its ARN), or undefined when it is not known at synth time. */
function secretAccountOf(secret: secretsmanager.ISecret): string | undefined {
  const arn = secret.secretArn;
  if (!Token.isUnresolved(arn)) {
    const m = /^arn:aws[a-z-]*:secretsmanager:[^:]*:(\d{12}):secret:/.exec(arn);
    if (m) return m[1];
  }
  const account = secret.env.account;
  return Token.isUnresolved(account) ? undefined : account;
}
