/**
 * What each ConnectionErrorCode of a FAILED custom key store means and what to check.
 *
 * Meanings follow the ConnectionErrorCode documentation of DescribeCustomKeyStores (AWS KMS API Reference,
 * CustomKeyStoresListEntry). Exported so the construct documentation can list them.
 */

/** Every ConnectionErrorCode KMS reports (the SDK's ConnectionErrorCodeType), as a plain union (no SDK import). */
export type ConnectionErrorCodeName =
  | 'CLUSTER_NOT_FOUND'
  | 'INSUFFICIENT_CLOUDHSM_HSMS'
  | 'INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET'
  | 'INTERNAL_ERROR'
  | 'INVALID_CREDENTIALS'
  | 'NETWORK_ERRORS'
  | 'SUBNET_NOT_FOUND'
  | 'USER_LOCKED_OUT'
  | 'USER_LOGGED_IN'
  | 'USER_NOT_FOUND'
  | 'XKS_PROXY_ACCESS_DENIED'
  | 'XKS_PROXY_INVALID_CONFIGURATION'
  | 'XKS_PROXY_INVALID_RESPONSE'
  | 'XKS_PROXY_INVALID_TLS_CONFIGURATION'
  | 'XKS_PROXY_NOT_REACHABLE'
  | 'XKS_PROXY_TIMED_OUT'
  | 'XKS_VPC_ENDPOINT_SERVICE_INVALID_CONFIGURATION'
  | 'XKS_VPC_ENDPOINT_SERVICE_NOT_FOUND';

export interface ConnectionErrorAdvice {
  /** Which store types report the code. */
  readonly storeTypes: readonly ('AWS_CLOUDHSM' | 'EXTERNAL_KEY_STORE')[];
  /** What the code means (no trailing period). */
  readonly meaning: string;
  /** What to check or do (no trailing period). */
  readonly check: string;
}

const CLOUDHSM = ['AWS_CLOUDHSM'] as const;
const XKS = ['EXTERNAL_KEY_STORE'] as const;
const BOTH = ['AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE'] as const;

/** Meaning and advice for each ConnectionErrorCode. */
export const CONNECTION_ERROR_ADVICE: Readonly<Record<ConnectionErrorCodeName, ConnectionErrorAdvice>> = {
  CLUSTER_NOT_FOUND: {
    storeTypes: CLOUDHSM,
    meaning: 'KMS cannot find the CloudHSM cluster with the cluster ID of the key store',
    check: 'Check that the cluster exists in this account and Region and was not deleted; if you restored it from a backup, set the cluster ID to ' +
      'the new cluster (it must share the backup history of the original one)',
  },
  INSUFFICIENT_CLOUDHSM_HSMS: {
    storeTypes: CLOUDHSM,
    meaning: 'the associated CloudHSM cluster does not contain any active HSMs; a CloudHSM key store needs at least one',
    check: 'Add an HSM to the cluster (CloudHSM CreateHsm; two HSMs in different Availability Zones are recommended) and wait until it is ACTIVE',
  },
  INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET: {
    storeTypes: CLOUDHSM,
    meaning: 'at least one private subnet associated with the CloudHSM cluster has no available IP address; the connection needs one free address ' +
      'in each subnet (two are preferable)',
    check: "Free IP addresses in the cluster's subnets (for example delete unused network interfaces) or associate the cluster with subnets that " +
      "have free addresses",
  },
  INTERNAL_ERROR: {
    storeTypes: BOTH,
    meaning: 'KMS could not complete the connection because of an internal error',
    check: 'Retry: deploy again (the handler disconnects a FAILED store before it connects it again); if the error persists, contact AWS Support',
  },
  INVALID_CREDENTIALS: {
    storeTypes: BOTH,
    meaning: 'the credential KMS holds for the store is rejected: for a CloudHSM key store, the key store password does not match the current ' +
      'password of the kmsuser crypto user in the cluster; for an external key store, the proxy authentication credential (access key ID or secret ' +
      'access key) is not valid on the external key store proxy',
    check: 'For a CloudHSM key store, set the kmsuser password in the cluster and store the same value in the key store password secret; for an ' +
      'external key store, make the credential secret match the credential configured on the proxy; then update the store with the new secret',
  },
  NETWORK_ERRORS: {
    storeTypes: BOTH,
    meaning: 'network errors prevent KMS from connecting the custom key store to its backing key store',
    check: 'For a CloudHSM key store, check the cluster security group (cloudhsm-cluster-<cluster-id>-sg) allows TCP 2223-2225, and the subnets, ' +
      'route tables and network ACLs of the cluster; for an external key store, check that KMS can reach the proxy endpoint (DNS, firewalls, load ' +
      'balancer listeners)',
  },
  SUBNET_NOT_FOUND: {
    storeTypes: CLOUDHSM,
    meaning: 'a subnet in the CloudHSM cluster configuration was deleted, so KMS cannot find all the subnets of the cluster',
    check: 'Create a cluster from a recent backup of this cluster (this creates a new VPC and private subnets) and set the cluster ID of the key ' +
      'store to the new cluster',
  },
  USER_LOCKED_OUT: {
    storeTypes: CLOUDHSM,
    meaning: 'the kmsuser crypto user is locked out of the CloudHSM cluster after too many failed password attempts',
    check: 'Change the kmsuser password in the cluster and store the new password in the key store password secret, then update the store with it',
  },
  USER_LOGGED_IN: {
    storeTypes: CLOUDHSM,
    meaning: 'the kmsuser crypto user is logged in to the CloudHSM cluster, which prevents KMS from rotating its password and logging in',
    check: 'Log kmsuser out of the cluster in every CloudHSM client; if you changed its password to log in, store the new password in the key ' +
      'store password secret and update the store with it',
  },
  USER_NOT_FOUND: {
    storeTypes: CLOUDHSM,
    meaning: 'KMS cannot find a kmsuser crypto user in the CloudHSM cluster',
    check: 'Create a crypto user named kmsuser in the cluster and store its password in the key store password secret, then update the store with it',
  },
  XKS_PROXY_ACCESS_DENIED: {
    storeTypes: XKS,
    meaning: 'the external key store proxy denies access to the requests KMS sends on your behalf',
    check: 'If the proxy has authorization rules, verify that they permit KMS to communicate with the proxy for this key store',
  },
  XKS_PROXY_INVALID_CONFIGURATION: {
    storeTypes: XKS,
    meaning: 'a configuration error prevents the external key store from connecting to its proxy',
    check: 'Verify the proxy URI path: it must be the path of the proxy APIs, /kms/xks/v1 with the prefix your proxy uses',
  },
  XKS_PROXY_INVALID_RESPONSE: {
    storeTypes: XKS,
    meaning: 'KMS cannot interpret the response from the external key store proxy',
    check: 'Check the proxy logs; if the error repeats, notify your external key store proxy vendor',
  },
  XKS_PROXY_INVALID_TLS_CONFIGURATION: {
    storeTypes: XKS,
    meaning: 'KMS cannot connect to the external key store proxy because its TLS configuration is invalid',
    check: 'Verify that the proxy supports TLS 1.2 or 1.3, that its TLS certificate is not expired, matches the host name of the proxy URI ' +
      'endpoint, and is signed by a certificate authority in the XKS Trusted Certificate Authorities list',
  },
  XKS_PROXY_NOT_REACHABLE: {
    storeTypes: XKS,
    meaning: 'KMS cannot communicate with the external key store proxy (this code is also reported when the proxy says all external key manager ' +
      'instances are unavailable)',
    check: 'Verify the proxy URI endpoint and path, that the proxy is active and reachable on its network, and that the external key manager ' +
      'instances are operating',
  },
  XKS_PROXY_TIMED_OUT: {
    storeTypes: XKS,
    meaning: 'KMS can connect to the external key store proxy, but the proxy does not respond in the time allotted',
    check: 'Check the load and latency of the proxy and the external key manager; if the error repeats, notify your external key store proxy vendor',
  },
  XKS_VPC_ENDPOINT_SERVICE_INVALID_CONFIGURATION: {
    storeTypes: XKS,
    meaning: 'the Amazon VPC endpoint service configuration does not conform to the requirements for a KMS external key store',
    check: 'Verify that the endpoint service is for interface endpoints in this account, has a network load balancer in at least two subnets in ' +
      'different Availability Zones, allows the principal cks.kms.<region>.amazonaws.com, does not require acceptance of connection requests, and ' +
      'has a private DNS name that is unique in the Region, whose domain is verified and matches the TLS certificate',
  },
  XKS_VPC_ENDPOINT_SERVICE_NOT_FOUND: {
    storeTypes: XKS,
    meaning: 'KMS cannot find the VPC endpoint service it uses to communicate with the external key store proxy',
    check: 'Verify the VPC endpoint service name (and owner), and that the KMS service principal cks.kms.<region>.amazonaws.com has service ' +
      'consumer permissions (Allow principals) on the endpoint service',
  },
};

/** The advice for a code; unknown (newer) codes get a generic advice. */
export function connectionErrorAdvice(code: string | undefined): { code: string; meaning: string; check: string } {
  const known = code ? (CONNECTION_ERROR_ADVICE as Record<string, ConnectionErrorAdvice | undefined>)[code] : undefined;
  if (known) {
    return { code: code!, meaning: known.meaning, check: known.check };
  }
  return {
    code: code ?? 'NO_ERROR_CODE',
    meaning: code ? 'KMS reported a connection error code this handler does not know' : 'KMS reported no connection error code',
    check: 'See "Troubleshooting a custom key store" in the AWS KMS Developer Guide (fix-keystore.html, xks-troubleshooting.html) and the ' +
      'ConnectionErrorCode of DescribeCustomKeyStores',
  };
}

/**
 * The message for a store that reached FAILED:
 * `Custom key store <id> (<name>) failed to connect: <CODE> — <meaning>. <what to check>. The store is left FAILED ...`
 */
export function connectionFailureMessage(storeId: string, storeName: string | undefined, code: string | undefined, tail: string): string {
  const advice = connectionErrorAdvice(code);
  return `Custom key store ${storeId} (${storeName ?? 'unnamed'}) failed to connect: ${advice.code} — ${advice.meaning}. ${advice.check}. ${tail}`;
}
