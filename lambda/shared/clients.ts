/**
 * The SDK clients of the handlers, created once per Lambda container.
 *
 * Region and endpoints come from the standard environment (AWS_REGION, AWS_ENDPOINT_URL_KMS,
 * AWS_ENDPOINT_URL_SECRETS_MANAGER): never set `endpoint` here. Transient faults (throttling, 5xx, network
 * errors) are retried by the SDK's retry strategies; the handlers contain no retry loops. KMS calls are retried
 * until the Lambda deadline (retry.ts): its request quotas are low and shared, and CloudFormation sends every
 * resource of a wave at once.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { RenewableRetryStrategy } from './retry';

/** Attempts per call (first try included) made by the SDK before giving up on a transient fault. */
export const DEFAULT_MAX_ATTEMPTS = 8;

/** The retry part of every handler client's configuration. */
export const CLIENT_CONFIG = { maxAttempts: DEFAULT_MAX_ATTEMPTS, retryMode: 'standard' } as const;

/** The KMS client's retry strategy (the request runner renews it for every invocation). */
export const kmsRetry = new RenewableRetryStrategy();

export const kms = new KMSClient({ retryStrategy: kmsRetry });
export const secretsManager = new SecretsManagerClient(CLIENT_CONFIG);
