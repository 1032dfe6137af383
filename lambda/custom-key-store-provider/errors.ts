/**
 * Turns AWS errors into messages that say what failed, on which store and resource, why, and what to do.
 *
 * Messages quote error names and (for a few errors) the service's short message with every secret value
 * of the request removed: never passwords, credentials or response bodies.
 */
import {
  ActionableError, deadlineText, errorMessage, errorName, isRetriedFault, quoteServiceMessage, settledFailure, transientText,
} from '../shared/errors';

/** An error whose message is already actionable; passed through unchanged by the mappers. */
export class CustomKeyStoreError extends ActionableError {
  public constructor(message: string) {
    super(message, 'CustomKeyStoreError');
  }
}

/** Which store and resource a failure is about. */
export interface StoreSubject {
  readonly logicalResourceId: string;
  /** The store id, once known. */
  readonly storeId?: string;
  readonly storeName?: string;
}

export function subjectText(s: StoreSubject): string {
  const store = s.storeId ? `custom key store ${s.storeId}${s.storeName ? ` (${s.storeName})` : ''}` : `new custom key ` +
    `store${s.storeName ? ` ${s.storeName}` : ''}`;
  return `${store} (resource ${s.logicalResourceId})`;
}

/** The message for a call cut off at the Lambda deadline. */
export function timeoutMessage(service: 'KMS' | 'Secrets Manager', operation: string, subject: StoreSubject): string {
  return deadlineText(service, operation, subjectText(subject));
}

/** Removes every occurrence of the given secret values from a text (longest first). */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  const values = secrets.filter((s): s is string => typeof s === 'string' && s.length > 0).sort((a, b) => b.length - a.length);
  for (const v of values) {
    out = out.split(v).join('***');
  }
  return out;
}

/** Extra context for mapping a KMS failure. */
export interface KmsFailureContext {
  /** Secret values sent in the request: removed from any quoted service message. */
  readonly secrets?: readonly (string | undefined)[];
  /** True when the create is a replacement of an existing store (Update that changes an immutable property). */
  readonly replacement?: boolean;
}

/** Maps a failed KMS custom key store call to an actionable error. */
export function kmsFailure(operation: string, err: unknown, subject: StoreSubject, context: KmsFailureContext = {}): Error {
  const settled = settledFailure(err, () => new CustomKeyStoreError(timeoutMessage('KMS', operation, subject)));
  if (settled) {
    return settled;
  }
  const name = errorName(err) ?? 'Error';
  const head = `KMS ${operation} failed for ${subjectText(subject)}: ${name}:`;
  const quoted = quoteServiceMessage(redact(errorMessage(err), context.secrets ?? []));
  const says = quoted ? ` (KMS says: "${quoted}")` : '';
  const fail = (text: string) => new CustomKeyStoreError(`${head} ${text}`);
  switch (name) {
    case 'CustomKeyStoreNotFoundException':
      return fail('the store does not exist in this account and Region. It may have been deleted outside CloudFormation; ' +
        'restore it, or remove the resource from the stack (retain it) and create a new store.');
    case 'CustomKeyStoreNameInUseException':
      return fail(`a custom key store named '${subject.storeName ?? ''}' already exists in this account and Region (names are unique). ` +
        (context.replacement
          ? 'This update replaces the store (a property that cannot change in place changed), and the new store is created before the old one is ' +
            'deleted: give the new store a new name. '
          : 'It may be a store left by an earlier attempt: delete it (if it holds no keys) or adopt it, or choose another name. ') +
        'Use DescribeCustomKeyStores to find the existing store.');
    case 'CustomKeyStoreInvalidStateException':
      return fail(`the connection state of the store does not allow this operation${says}. ` +
        'Wait until the store is CONNECTED or DISCONNECTED (no connect or disconnect in progress, not FAILED), then deploy again.');
    case 'CloudHsmClusterInUseException':
      return fail('the CloudHSM cluster (or a cluster sharing its backup history) is already associated with another CloudHSM key store in this ' +
        'account; each store needs its own cluster. Use another cluster.');
    case 'CloudHsmClusterInvalidConfigurationException':
      return fail(`the CloudHSM cluster does not meet the requirements of a key store${says}: it needs private subnets in at least two ` +
        `Availability Zones, ` +
        'its security group (cloudhsm-cluster-<cluster-id>-sg) must keep the default inbound and outbound rules for TCP 2223-2225 with the group ' +
        'itself as source and destination, and (to connect) it needs at least one active HSM.');
    case 'CloudHsmClusterNotActiveException':
      return fail('the CloudHSM cluster is not active. Initialize and activate the cluster (CloudHSM User Guide, Getting started), then deploy ' +
        'again.');
    case 'CloudHsmClusterNotFoundException':
      return fail('KMS cannot find a CloudHSM cluster with that cluster ID in this account and Region. Check the cluster ID.');
    case 'CloudHsmClusterNotRelatedException':
      return fail('the new CloudHSM cluster has a different cluster certificate than the original cluster: a store can only move to a cluster that ' +
        'shares the backup history of its original cluster ' +
        '(created from a backup of it, or from the same backup). Use a related cluster, or create a new store for the unrelated cluster (change ' +
        'the trust anchor certificate and the name to replace the store).');
    case 'IncorrectTrustAnchorException':
      return fail('the trust anchor certificate is not the one of the CloudHSM cluster. Use the content of the customerCA.crt file created when ' +
        'the cluster was initialized.');
    case 'XksProxyIncorrectAuthenticationCredentialException':
      return fail('the external key store proxy rejected the proxy authentication credential. Make the credential secret match the credential ' +
        'configured on the proxy, and check that the URI endpoint and path identify the right proxy.');
    case 'XksProxyInvalidConfigurationException':
      return fail(`the external key store proxy is not configured correctly${says}. Check the proxy configuration and the URI path.`);
    case 'XksProxyInvalidResponseException':
      return fail('KMS cannot interpret the response of the external key store proxy (a malformed response or a transient network issue). Retry; ' +
        'if it repeats, notify your proxy vendor.');
    case 'XksProxyUriEndpointInUseException':
      return fail(`the proxy URI endpoint is already associated with another external key store in this Region${says}. Each store needs its own ` +
        `endpoint (or endpoint and path).`);
    case 'XksProxyUriInUseException':
      return fail('the proxy URI endpoint and path are already used by another external key store in this Region; each store needs a unique proxy ' +
        'API address. Change the endpoint or the path.');
    case 'XksProxyUriUnreachableException':
      return fail('KMS cannot reach the external key store proxy at the URI endpoint and path (or the proxy reports that all external key manager ' +
        'instances are unavailable); it must be reachable before you create or update the store. Check the endpoint, path, network access and the ' +
        'key manager.');
    case 'XksProxyVpcEndpointServiceInUseException':
      return fail('the VPC endpoint service is already associated with another external key store in this Region; each store needs its own ' +
        'endpoint service.');
    case 'XksProxyVpcEndpointServiceInvalidConfigurationException':
      return fail(`the VPC endpoint service does not meet the requirements of an external key store${says}. It must be an interface endpoint ` +
        `service with a network load balancer in two Availability Zones, ` +
        'allow the principal cks.kms.<region>.amazonaws.com, not require acceptance, and have a verified private DNS name matching the proxy URI ' +
        'endpoint.');
    case 'XksProxyVpcEndpointServiceNotFoundException':
      return fail('KMS cannot find the VPC endpoint service. Check the service name (and owner) and that its Allow principals list includes ' +
        'cks.kms.<region>.amazonaws.com.');
    case 'LimitExceededException':
      return fail(`a KMS quota or length constraint was exceeded${says}. Delete unused custom key stores or request a quota increase, then deploy ` +
        `again.`);
    case 'AccessDeniedException':
      return fail(`the provider's role may not call kms:${operation}. Custom key store actions are allowed only by IAM policies with Resource "*"; ` +
        (operation === 'CreateCustomKeyStore' ? 'a CloudHSM key store also needs cloudhsm:DescribeClusters and iam:CreateServiceLinkedRole (for ' +
          'AWSServiceRoleForKeyManagementServiceCustomKeyStores). ' : '') +
        'Check the role policy, and that no SCP or permissions boundary denies it.');
    case 'ValidationException':
    case 'InvalidParameterException':
      return fail(`KMS rejected the request${says}. Check the store properties.`);
    default:
      if (isRetriedFault(err)) {
        return fail(transientText(err, 'KMS'));
      }
      return fail(`${quoted || 'no message'}.`);
  }
}

/** Maps a failed Secrets Manager GetSecretValue. */
export function secretFailure(err: unknown, subject: StoreSubject, secretArn: string, purpose: string): Error {
  const settled = settledFailure(err, () => new CustomKeyStoreError(timeoutMessage('Secrets Manager', 'GetSecretValue', subject)));
  if (settled) {
    return settled;
  }
  const name = errorName(err) ?? 'Error';
  const head = `Secrets Manager GetSecretValue of the ${purpose} secret ${secretArn} failed for ${subjectText(subject)}: ${name}:`;
  const fail = (text: string) => new CustomKeyStoreError(`${head} ${text}`);
  switch (name) {
    case 'ResourceNotFoundException':
      return fail('the secret (or its AWSCURRENT version) does not exist in this account and Region. Check the secret ARN.');
    case 'DecryptionFailure':
      return fail("Secrets Manager could not decrypt the secret with its KMS key. Grant the provider role kms:Decrypt on the secret's KMS key (via " +
        "Secrets Manager), and check that key is enabled.");
    case 'AccessDeniedException':
      return fail("the provider's role may not read the secret. Grant it secretsmanager:GetSecretValue on the secret (and kms:Decrypt on the " +
        "secret's customer managed KMS key); check the secret's resource policy.");
    case 'InvalidRequestException':
      return fail('the secret cannot be read now (it may be scheduled for deletion). Restore the secret, or point the resource at another one.');
    case 'InvalidParameterException':
      return fail(`Secrets Manager rejected the request (Secrets Manager says: "${quoteServiceMessage(errorMessage(err))}"). Check the secret ARN.`);
    default:
      if (isRetriedFault(err)) {
        return fail(transientText(err, 'Secrets Manager'));
      }
      return fail(`${quoteServiceMessage(errorMessage(err)) || 'no message'}.`);
  }
}
