/**
 * Turns AWS errors into messages that say what failed, on which key and resource, why, and what to do.
 * Messages quote only error names and (for a few KMS errors) the service's short message, which names a key
 * state or a parameter: never secret values or response bodies.
 */
import { isThrottlingError } from '@smithy/core/retry';
import { kmsRetry } from '../shared/clients';
import {
  ActionableError, deadlineText, errorMessage, errorName, isRetriedFault, quoteServiceMessage, settledFailure, throttledText, transientText,
} from '../shared/errors';

/** Where a failure happened. */
export interface FailureSubject {
  readonly keyArn: string;
  readonly logicalResourceId: string;
  /** The secret, for Secrets Manager failures. */
  readonly secretArn?: string;
  /** The time the invocation had for its calls (for the quota advice when KMS still throttles). @default unknown */
  readonly budgetMs?: number;
}

/** An error whose message is already actionable; passed through unchanged by the mappers. */
export class HandlerError extends ActionableError {
  public constructor(message: string) {
    super(message, 'HandlerError');
  }
}

export function subjectText(s: FailureSubject): string {
  return `key ${s.keyArn} (resource ${s.logicalResourceId})`;
}

/** The message for a call cut off at the Lambda deadline. */
export function timeoutMessage(service: 'KMS' | 'Secrets Manager' | 'CloudFormation', operation: string, subject: FailureSubject): string {
  return deadlineText(service, operation, subjectText(subject));
}

/** Maps a failed KMS call (GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial, RotateKeyOnDemand). */
export function kmsFailure(operation: string, err: unknown, subject: FailureSubject): Error {
  const attempts = (err as { $metadata?: { attempts?: unknown } } | undefined)?.$metadata?.attempts;
  const retries = Math.max(kmsRetry.throttledRetries, typeof attempts === 'number' ? attempts : 0);
  const throttled = () => new HandlerError(throttledText(operation, subjectText(subject), retries, subject.budgetMs ?? Infinity));
  const settled = settledFailure(err, () => (kmsRetry.throttledRetries > 0 ? throttled() : new HandlerError(timeoutMessage('KMS', operation, subject))));
  if (settled) {
    return settled;
  }
  if (err && typeof err === 'object' && isThrottlingError(err as Parameters<typeof isThrottlingError>[0])) {
    return throttled();
  }
  const name = errorName(err) ?? 'Error';
  const head = `KMS ${operation} failed for ${subjectText(subject)}: ${name}:`;
  const quoted = quoteServiceMessage(errorMessage(err));
  switch (name) {
    case 'UnsupportedOperationException':
      if (operation === 'DeleteImportedKeyMaterial') {
        return new HandlerError(`${head} the key's Origin is not EXTERNAL (or it is in a custom key store), so it holds no imported material to ` +
          `delete. ` +
          'Set materialRemovalPolicy to RETAIN, or retain this resource when retrying the stack delete.');
      }
      if (operation === 'RotateKeyOnDemand') {
        return new HandlerError(`${head} KMS does not rotate this key on demand (KMS says: "${quoted}"). Only SYMMETRIC_DEFAULT keys ` +
          `with imported material can take new material; restore the previous material source.`);
      }
      if (/:key\/mrk-/.test(subject.keyArn)) {
        // Multi-Region keys (ids mrk-...): a replica takes material only once its primary has it, and never as new material.
        return new HandlerError(`${head} KMS refused the import (KMS says: "${quoted}"). For a multi-Region replica, the same material must ` +
          'first be imported into its primary key: deploy the primary\'s stack with its material first, then retry this deployment.');
      }
      return new HandlerError(`${head} the key's Origin is not EXTERNAL (or it is in a custom key store); only EXTERNAL keys accept imported ` +
        `material. ` +
        'Use a key created with Origin EXTERNAL.');
    case 'NotFoundException':
      return new HandlerError(`${head} the key does not exist in this account and Region. Check KeyArn, the stack's account and Region, and that ` +
        `the key was not deleted.`);
    case 'KMSInvalidStateException':
      return new HandlerError(`${head} the key's state does not allow this operation (KMS says: "${quoted}"). ` +
        'If it is pending deletion, cancel the deletion and enable the key; if it is disabled, enable it; then retry the deployment.');
    case 'IncorrectKeyMaterialException':
      return new HandlerError(`${head} the material differs from the material already imported into this key. ` +
        'A key only accepts the material it was first given (SYMMETRIC_DEFAULT keys can also take new material by rotation): point ' +
        'the resource at the original material, or create a new key.');
    case 'ExpiredImportTokenException':
    case 'InvalidImportTokenException':
      return new HandlerError(`${head} the import token from GetParametersForImport expired or does not belong to this key (tokens are valid 24 ` +
        `hours, for one key). ` +
        'The handler requests fresh parameters on each attempt: retry the deployment.');
    case 'InvalidCiphertextException':
      return new HandlerError(`${head} KMS could not unwrap the encrypted material with its wrapping key (wrong wrapping algorithm for the key ` +
        `spec, or material in the wrong format). ` +
        'Check the material matches the key spec: asymmetric keys take a PKCS#8 private key.');
    case 'AccessDeniedException':
      return new HandlerError(`${head} the provider's role may not call kms:${operation} on this key. ` +
        `Check the key policy grants the provider role kms:${operation} (imported-material actions must be allowed by the key policy), and that no ` +
        `SCP, permissions boundary or condition denies it.`);
    case 'InvalidArnException':
    case 'ValidationException':
    case 'InvalidParameterException':
      return new HandlerError(`${head} KMS rejected the request (KMS says: "${quoted}"). Check KeyArn is the key's ARN or id, and that ValidTo is ` +
        `a future ISO-8601 time.`);
    case 'LimitExceededException':
      return new HandlerError(`${head} a KMS limit was reached (KMS says: "${quoted}"). Wait or raise the quota, then retry the deployment.`);
    case 'ConflictException':
      return new HandlerError(`${head} another operation on the key is in progress (KMS says: "${quoted}"). Retry the deployment when it has ` +
        `finished.`);
    case 'DisabledException':
      return new HandlerError(`${head} the key is disabled. Enable it and retry the deployment.`);
    default:
      if (isRetriedFault(err)) {
        return new HandlerError(`${head} ${transientText(err, 'KMS')}`);
      }
      return new HandlerError(`${head} ${quoted || 'no message'}.`);
  }
}

/** Maps a failed Secrets Manager GetSecretValue. */
export function secretFailure(err: unknown, subject: FailureSubject): Error {
  const settled = settledFailure(err, () => new HandlerError(timeoutMessage('Secrets Manager', 'GetSecretValue', subject)));
  if (settled) {
    return settled;
  }
  const name = errorName(err) ?? 'Error';
  const head = `Secrets Manager GetSecretValue of secret ${subject.secretArn} failed for ${subjectText(subject)}: ${name}:`;
  switch (name) {
    case 'ResourceNotFoundException':
      return new HandlerError(`${head} the secret, or the requested VersionId/VersionStage, does not exist in this account and Region. Check the ` +
        `secret ARN and the version.`);
    case 'DecryptionFailure':
      return new HandlerError(`${head} Secrets Manager could not decrypt the secret with its KMS key. ` +
        "Grant the provider role kms:Decrypt on the secret's KMS key (via Secrets Manager), and check that key is enabled.");
    case 'AccessDeniedException':
      return new HandlerError(`${head} the provider's role may not read the secret. ` +
        "Grant it secretsmanager:GetSecretValue on the secret (and kms:Decrypt on the secret's KMS key when it is a customer managed key); check " +
          "the secret's resource policy.");
    case 'InvalidRequestException':
      return new HandlerError(`${head} the secret cannot be read now (it may be scheduled for deletion). Restore the secret, or point the resource ` +
        `at another one.`);
    case 'InvalidParameterException':
      return new HandlerError(`${head} Secrets Manager rejected the request (Secrets Manager says: "${quoteServiceMessage(errorMessage(err))}"). ` +
        `Check the secret ARN, VersionId and VersionStage.`);
    default:
      if (isRetriedFault(err)) {
        return new HandlerError(`${head} ${transientText(err, 'Secrets Manager')}`);
      }
      return new HandlerError(`${head} ${quoteServiceMessage(errorMessage(err)) || 'no message'}.`);
  }
}
