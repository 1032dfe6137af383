/**
 * The contract between the CustomKeyStore construct (lib/) and the custom key store handler (lambda/).
 *
 * Types and constants only: imported by both sides, so no aws-cdk-lib or AWS SDK imports.
 * CloudFormation delivers every scalar as a string ('true' / 'false' for booleans).
 * No password or credential is ever part of these properties: they are referenced by secret ARN.
 */

/** The custom resource type of the custom key store resource. */
export const CUSTOM_KEY_STORE_RESOURCE_TYPE = 'Custom::KmsCustomKeyStore';

export type CustomKeyStoreTypeName = 'AWS_CLOUDHSM' | 'EXTERNAL_KEY_STORE';

/** What Delete does when the store still holds KMS keys (including keys pending deletion). */
export type KeysRemainingBehaviourName = 'FAIL' | 'DISCONNECT_AND_RETAIN';

export interface SecretReferenceProperties {
  /** ARN (full or partial) of the Secrets Manager secret. */
  readonly SecretArn: string;
  /** When set, the SecretString is a JSON object and the value is in this field. */
  readonly JsonField?: string;
}

export interface CustomKeyStoreResourceProperties {
  readonly ServiceToken?: string;
  /**
   * 'true': the store was created elsewhere; Create/Update only check that it exists (no change),
   * and Delete disconnects and deletes it. `CustomKeyStoreId` then names the store.
   */
  readonly Adopt: string;
  /** The adopted store's id (only with Adopt 'true'). */
  readonly CustomKeyStoreId?: string;

  /** Friendly name (unique in the account and Region). Absent for adopted stores. */
  readonly CustomKeyStoreName?: string;
  readonly CustomKeyStoreType?: CustomKeyStoreTypeName;

  // AWS_CLOUDHSM
  readonly CloudHsmClusterId?: string;
  readonly TrustAnchorCertificate?: string;
  /** The kmsuser password: the SecretString (or its JSON field) is the password. */
  readonly KeyStorePassword?: SecretReferenceProperties;

  // EXTERNAL_KEY_STORE
  readonly XksProxyUriEndpoint?: string;
  readonly XksProxyUriPath?: string;
  readonly XksProxyConnectivity?: 'PUBLIC_ENDPOINT' | 'VPC_ENDPOINT_SERVICE';
  readonly XksProxyVpcEndpointServiceName?: string;
  readonly XksProxyVpcEndpointServiceOwner?: string;
  /**
   * The proxy authentication credential: a JSON SecretString with the fields
   * `accessKeyId` and `secretAccessKey` (see XKS_CREDENTIAL_FIELDS).
   */
  readonly XksProxyAuthenticationCredential?: SecretReferenceProperties;

  /** 'true' (default): connect on create and keep connected; 'false': leave DISCONNECTED. */
  readonly Connect: string;
  /** What Delete does when the store still holds keys. */
  readonly KeysRemaining: KeysRemainingBehaviourName;
}

/** Field names accepted in the XKS credential secret (first match wins). */
export const XKS_CREDENTIAL_FIELDS = {
  accessKeyId: ['accessKeyId', 'AccessKeyId'],
  secretAccessKey: ['secretAccessKey', 'SecretAccessKey', 'rawSecretAccessKey', 'RawSecretAccessKey'],
};

/** Attributes returned to CloudFormation (`Fn::GetAtt`). */
export interface CustomKeyStoreResourceAttributes {
  readonly CustomKeyStoreId: string;
  readonly ConnectionState: string;
}

/** Store ids: `cks-` + 17 hex digits. */
export const CUSTOM_KEY_STORE_ID_PATTERN = /^cks-[0-9a-f]{17}$/;

/** CloudHSM cluster ids: `cluster-` + 11 base32 characters. */
export const CLOUDHSM_CLUSTER_ID_PATTERN = /^cluster-[2-7a-zA-Z]{11}$/;

/** XKS proxy URI paths start with / and end with /kms/xks/v1, with an optional prefix between. */
export const XKS_PROXY_URI_PATH_PATTERN = /^\/([a-zA-Z0-9/_-]*\/)?kms\/xks\/v1$/;

/**
 * Waiter settings. A CloudHSM store can take about 20 minutes to connect; CloudFormation gives a
 * custom resource at most one hour (ServiceTimeout 3600 s).
 */
export const QUERY_INTERVAL_SECONDS = 20;
export const TOTAL_TIMEOUT_MINUTES = 55;
