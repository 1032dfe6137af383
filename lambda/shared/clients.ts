/**
 * The SDK clients of the handlers, created once per Lambda container.
 *
 * Region and endpoints come from the standard environment (AWS_REGION, AWS_ENDPOINT_URL_KMS,
 * AWS_ENDPOINT_URL_SECRETS_MANAGER): never set `endpoint` here. Transient faults (throttling, 5xx, network
 * errors) are retried by the SDK's standard retry strategy; the handlers contain no retry loops.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** Attempts per call (first try included) made by the SDK before giving up on a transient fault. */
export const DEFAULT_MAX_ATTEMPTS = 8;

/** The retry part of every handler client's configuration. */
export const CLIENT_CONFIG = { maxAttempts: DEFAULT_MAX_ATTEMPTS, retryMode: 'standard' } as const;

export const kms = new KMSClient(CLIENT_CONFIG);
export const secretsManager = new SecretsManagerClient(CLIENT_CONFIG);
