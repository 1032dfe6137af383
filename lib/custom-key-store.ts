import { IResource, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import {
  CLOUDHSM_CLUSTER_ID_PATTERN, CustomKeyStoreResourceProperties,
  XKS_PROXY_URI_PATH_PATTERN,
} from './private/custom-key-store-contract';
import { CustomKeyStoreBase, validateStoreId } from './private/custom-key-store-base';
import { createStoreResource, CustomKeyStoreProvider } from './private/custom-key-store-provider';
import { claimStoreName, isLiteral, validatePattern } from './private/validation';
import { grantGetSecretValue, requireSecret, warnIfSecretInOtherAccount } from './private/secrets';

/**
 * A KMS custom key store.
 */
export interface ICustomKeyStore extends IResource {
  /**
   * The store id (`cks-` followed by 17 hexadecimal digits).
   * @attribute
   */
  readonly customKeyStoreId: string;

  /**
   * Grants kms:DeleteCustomKeyStore (IAM allows only `Resource: "*"`, limited to this account).
   *
   * @param grantee the principal to grant the permission to (a role, user, group or any `iam.IGrantable`)
   */
  grantDelete(grantee: iam.IGrantable): iam.Grant;
  /**
   * Grants kms:ConnectCustomKeyStore (IAM allows only `Resource: "*"`, limited to this account).
   *
   * @param grantee the principal to grant the permission to (a role, user, group or any `iam.IGrantable`)
   */
  grantConnect(grantee: iam.IGrantable): iam.Grant;
  /**
   * Grants kms:DisconnectCustomKeyStore (IAM allows only `Resource: "*"`, limited to this account).
   *
   * @param grantee the principal to grant the permission to (a role, user, group or any `iam.IGrantable`)
   */
  grantDisconnect(grantee: iam.IGrantable): iam.Grant;
  /**
   * Grants kms:DescribeCustomKeyStores (IAM allows only `Resource: "*"`, limited to this account).
   *
   * @param grantee the principal to grant the permission to (a role, user, group or any `iam.IGrantable`)
   */
  grantDescribe(grantee: iam.IGrantable): iam.Grant;
}

/** How KMS reaches an external key store proxy. */
export enum XksProxyConnectivity {
  /** Over the internet, to a public HTTPS endpoint. */
  PUBLIC_ENDPOINT = 'PUBLIC_ENDPOINT',
  /** Through an Amazon VPC endpoint service (`vpcEndpointServiceName` is then required). */
  VPC_ENDPOINT_SERVICE = 'VPC_ENDPOINT_SERVICE',
}

/** What deleting a custom key store does when KMS keys still live in it. */
export enum KeysRemainingBehaviour {
  /**
   * Fail the delete, without disconnecting the store, with a message that lists the keys and their
   * states. Keys pending deletion still count until their waiting period ends.
   */
  FAIL = 'FAIL',
  /**
   * Disconnect the store and leave it (with its keys) in place; the delete succeeds and the handler
   * logs the store id. Delete it later by hand, once its keys are gone.
   */
  DISCONNECT_AND_RETAIN = 'DISCONNECT_AND_RETAIN',
}

/** A CloudHSM key store. */
export interface CloudHsmKeyStoreOptions {
  /** The CloudHSM cluster id (`cluster-` followed by 11 base32 characters). */
  readonly clusterId: string;
  /**
   * The content of the trust anchor certificate (customerCA.crt, PEM). Changing it replaces the
   * store: the replacement needs a new name and its own cluster (KMS allows one store per cluster).
   */
  readonly trustAnchorCertificate: string;
  /** The secret that holds the password of the `kmsuser` crypto user (7 to 32 characters). */
  readonly kmsUserPassword: secretsmanager.ISecret;
  /**
   * Read the password from this field of a JSON secret.
   * @default - the whole SecretString is the password
   */
  readonly kmsUserPasswordJsonField?: string;
}

/** An external key store (XKS). */
export interface ExternalKeyStoreOptions {
  /** The proxy URI endpoint: `https://` and a host name, no path. */
  readonly proxyUriEndpoint: string;
  /** The proxy URI path: starts with `/` and ends with `/kms/xks/v1`. */
  readonly proxyUriPath: string;
  /**
   * How KMS reaches the proxy.
   * @default XksProxyConnectivity.PUBLIC_ENDPOINT
   */
  readonly connectivity?: XksProxyConnectivity;
  /**
   * The VPC endpoint service name (only with VPC_ENDPOINT_SERVICE).
   * @default - none
   */
  readonly vpcEndpointServiceName?: string;
  /**
   * The account that owns the VPC endpoint service (only with VPC_ENDPOINT_SERVICE).
   * @default - this account
   */
  readonly vpcEndpointServiceOwner?: string;
  /**
   * The secret that holds the proxy authentication credential, as JSON:
   * `{"accessKeyId": "...", "secretAccessKey": "..."}`.
   */
  readonly proxyAuthenticationCredential: secretsmanager.ISecret;
  /**
   * Read the credential object from this field of the JSON secret.
   * @default - the secret is the credential object
   */
  readonly credentialJsonField?: string;
}

/** What the backend of a store tells the handler. Never holds a password or credential. */
export interface KeyStoreBackendConfig {
  /** AWS_CLOUDHSM or EXTERNAL_KEY_STORE. */
  readonly customKeyStoreType: string;
  /** Resource properties for the handler. */
  readonly properties: { [key: string]: any };
}

/**
 * The kind of custom key store: a CloudHSM cluster or an external key store proxy.
 */
export abstract class KeyStoreBackend {
  /**
   * A key store backed by an AWS CloudHSM cluster.
   *
   * @param options the cluster, its trust anchor certificate and the secret of the `kmsuser` password
   */
  public static cloudHsm(options: CloudHsmKeyStoreOptions): KeyStoreBackend {
    return new CloudHsmBackend(options);
  }

  /**
   * An external key store, reached through an external key store proxy.
   *
   * @param options the proxy's URI, connectivity and the secret of its authentication credential
   */
  public static externalKeyStore(options: ExternalKeyStoreOptions): KeyStoreBackend {
    return new ExternalKeyStoreBackend(options);
  }

  /**
   * Grants the handler what this backend needs and returns its configuration.
   *
   * @param scope the store construct that uses this backend
   * @param grantee the role of the store handler, which reads the backend's secret
   */
  public abstract bind(scope: Construct, grantee: iam.IGrantable): KeyStoreBackendConfig;
}

class CloudHsmBackend extends KeyStoreBackend {
  constructor(private readonly options: CloudHsmKeyStoreOptions) {
    super();
    validatePattern('clusterId', options.clusterId, CLOUDHSM_CLUSTER_ID_PATTERN, "match 'cluster-' followed by 11 base32 characters (a-z, 2-7)");
    if (isLiteral(options.trustAnchorCertificate) && !options.trustAnchorCertificate.includes('-----BEGIN CERTIFICATE-----')) {
      throw new Error('trustAnchorCertificate must be the PEM content of the trust anchor certificate (customerCA.crt), starting with -----BEGIN CERTIFICATE-----');
    }
    requireSecret('KeyStoreBackend.cloudHsm', 'kmsUserPassword', options.kmsUserPassword);
    const password = literalSecretString(options.kmsUserPassword, options.kmsUserPasswordJsonField);
    if (password !== undefined && (password.length < 7 || password.length > 32)) {
      throw new Error(`kmsUserPassword must be 7 to 32 characters long, got ${password.length}`);
    }
  }

  public bind(scope: Construct, grantee: iam.IGrantable): KeyStoreBackendConfig {
    warnIfSecretInOtherAccount(scope, this.options.kmsUserPassword, 'the kmsuser password secret', grantee);
    CustomKeyStoreProvider.getOrCreate(scope).grantCloudHsm();
    grantGetSecretValue(this.options.kmsUserPassword, grantee);
    return {
      customKeyStoreType: 'AWS_CLOUDHSM',
      properties: {
        CloudHsmClusterId: this.options.clusterId,
        TrustAnchorCertificate: this.options.trustAnchorCertificate,
        KeyStorePassword: { SecretArn: this.options.kmsUserPassword.secretArn, JsonField: this.options.kmsUserPasswordJsonField },
      },
    };
  }
}

class ExternalKeyStoreBackend extends KeyStoreBackend {
  constructor(private readonly options: ExternalKeyStoreOptions) {
    super();
    const endpoint = options.proxyUriEndpoint;
    if (isLiteral(endpoint) && !/^https:\/\/[A-Za-z0-9.-]+(:\d+)?$/.test(endpoint)) {
      throw new Error(`proxyUriEndpoint must be https:// followed by a host name (and optional port), with no path, got '${endpoint}'`);
    }
    validatePattern('proxyUriPath', options.proxyUriPath, XKS_PROXY_URI_PATH_PATTERN, "start with '/' and end with '/kms/xks/v1'");
    const connectivity = options.connectivity ?? XksProxyConnectivity.PUBLIC_ENDPOINT;
    if (connectivity === XksProxyConnectivity.VPC_ENDPOINT_SERVICE && !options.vpcEndpointServiceName) {
      throw new Error('connectivity VPC_ENDPOINT_SERVICE needs vpcEndpointServiceName');
    }
    if (connectivity === XksProxyConnectivity.PUBLIC_ENDPOINT && (options.vpcEndpointServiceName || options.vpcEndpointServiceOwner)) {
      throw new Error('connectivity PUBLIC_ENDPOINT takes no vpcEndpointServiceName or vpcEndpointServiceOwner; use VPC_ENDPOINT_SERVICE');
    }
    validatePattern('vpcEndpointServiceOwner', options.vpcEndpointServiceOwner, /^\d{12}$/, 'be a 12-digit account id');
    requireSecret('KeyStoreBackend.externalKeyStore', 'proxyAuthenticationCredential', options.proxyAuthenticationCredential);
  }

  public bind(scope: Construct, grantee: iam.IGrantable): KeyStoreBackendConfig {
    warnIfSecretInOtherAccount(scope, this.options.proxyAuthenticationCredential, 'the XKS proxy credential secret', grantee);
    grantGetSecretValue(this.options.proxyAuthenticationCredential, grantee);
    return {
      customKeyStoreType: 'EXTERNAL_KEY_STORE',
      properties: {
        XksProxyUriEndpoint: this.options.proxyUriEndpoint,
        XksProxyUriPath: this.options.proxyUriPath,
        XksProxyConnectivity: this.options.connectivity ?? XksProxyConnectivity.PUBLIC_ENDPOINT,
        XksProxyVpcEndpointServiceName: this.options.vpcEndpointServiceName,
        XksProxyVpcEndpointServiceOwner: this.options.vpcEndpointServiceOwner,
        XksProxyAuthenticationCredential: { SecretArn: this.options.proxyAuthenticationCredential.secretArn, JsonField: this.options.credentialJsonField },
      },
    };
  }
}

/** Properties of `CustomKeyStore`. */
export interface CustomKeyStoreProps {
  /** The friendly name of the store: 1 to 256 characters, unique in the account and Region. */
  readonly customKeyStoreName: string;

  /** What backs the store: `KeyStoreBackend.cloudHsm(...)` or `KeyStoreBackend.externalKeyStore(...)`. */
  readonly backend: KeyStoreBackend;

  /**
   * Connect the store on create (and keep it connected across updates), waiting until it is
   * CONNECTED. A FAILED connection fails the deployment at once, naming the ConnectionErrorCode.
   *
   * @default true
   */
  readonly connect?: boolean;

  /**
   * What happens to the store when it is removed from the stack. RETAIN keeps it (connected).
   * DESTROY disconnects it, waits until DISCONNECTED and deletes it — which KMS refuses while keys
   * live in it (see `keysRemaining`).
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * What a delete does when KMS keys still live in the store (keys pending deletion count).
   *
   * @default KeysRemainingBehaviour.FAIL
   */
  readonly keysRemaining?: KeysRemainingBehaviour;
}

/**
 * A KMS custom key store (CloudHSM or external key store), created, connected, updated and — with
 * `removalPolicy: DESTROY` — disconnected and deleted by CloudFormation, without ever hanging a stack.
 */
export class CustomKeyStore extends CustomKeyStoreBase {
  /**
   * References an existing store, for grants. Nothing is created or deleted.
   *
   * @param scope the construct scope in which to define the reference
   * @param id the construct id, unique within `scope`
   * @param customKeyStoreId the id of the existing store (`cks-` followed by 17 hexadecimal digits)
   */
  public static fromCustomKeyStoreId(scope: Construct, id: string, customKeyStoreId: string): ICustomKeyStore {
    validateStoreId('customKeyStoreId', customKeyStoreId);
    class Import extends CustomKeyStoreBase {
      public readonly customKeyStoreId = customKeyStoreId;
    }
    return new Import(scope, id);
  }

  public readonly customKeyStoreId: string;

  /**
   * The connection state after the last deployment (CONNECTED or DISCONNECTED).
   * @attribute
   */
  public readonly customKeyStoreConnectionState: string;

  /**
   * @param scope the construct scope (usually the stack) in which to define the store
   * @param id the construct id, unique within `scope`
   * @param props the store's name, backend, connection, removal policy and delete behaviour
   */
  constructor(scope: Construct, id: string, props: CustomKeyStoreProps) {
    super(scope, id);
    const name = props.customKeyStoreName;
    if (isLiteral(name) && (name.length < 1 || name.length > 256)) {
      throw new Error(`${this.node.path}: customKeyStoreName must be 1 to 256 characters long, got ${name.length}`);
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    if (removalPolicy !== RemovalPolicy.RETAIN && removalPolicy !== RemovalPolicy.DESTROY) {
      throw new Error(`${this.node.path}: removalPolicy must be DESTROY or RETAIN, got ${removalPolicy}`);
    }
    claimStoreName(this, name);

    const provider = CustomKeyStoreProvider.getOrCreate(this);
    const backend = props.backend.bind(this, provider.role);
    const properties: Omit<CustomKeyStoreResourceProperties, 'ServiceToken'> = {
      Adopt: 'false',
      CustomKeyStoreName: name,
      CustomKeyStoreType: backend.customKeyStoreType as CustomKeyStoreResourceProperties['CustomKeyStoreType'],
      ...backend.properties,
      Connect: String(props.connect ?? true),
      KeysRemaining: props.keysRemaining ?? KeysRemainingBehaviour.FAIL,
    };
    const resource = createStoreResource(this, provider, properties, removalPolicy);
    this.storeResource = resource;
    this.customKeyStoreId = resource.ref;
    this.customKeyStoreConnectionState = resource.getAttString('ConnectionState');
  }
}

/** The literal SecretString of a secret defined in this app (tests), or undefined. */
function literalSecretString(secret: secretsmanager.ISecret, jsonField?: string): string | undefined {
  const cfn = secret.node.defaultChild as secretsmanager.CfnSecret | undefined;
  const value = cfn instanceof secretsmanager.CfnSecret ? cfn.secretString : undefined;
  if (!isLiteral(value) || Token.isUnresolved(value)) return undefined;
  if (jsonField === undefined) return value;
  try {
    const field = JSON.parse(value)[jsonField];
    return typeof field === 'string' ? field : undefined;
  } catch {
    return undefined;
  }
}
