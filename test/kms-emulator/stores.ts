/**
 * Custom key stores (AWS_CLOUDHSM and EXTERNAL_KEY_STORE) and their connection state machine.
 *
 * DISCONNECTED --Connect--> CONNECTING --(connectDelayMs)--> CONNECTED | FAILED(ConnectionErrorCode)
 * CONNECTED | CONNECTING | FAILED --Disconnect--> DISCONNECTING --(disconnectDelayMs)--> DISCONNECTED
 *
 * Transitions are evaluated lazily from timestamps whenever a store is read: no timers.
 */
import { err } from './errors';
import { randomHex } from './crypto';
import {
  Input, Output, compact, optEnum, optObject, optString, page, reqString, ts,
} from './wire';

export type ConnectionState = 'CONNECTED' | 'CONNECTING' | 'FAILED' | 'DISCONNECTED' | 'DISCONNECTING';
export type CustomKeyStoreType = 'AWS_CLOUDHSM' | 'EXTERNAL_KEY_STORE';
export type XksProxyConnectivity = 'PUBLIC_ENDPOINT' | 'VPC_ENDPOINT_SERVICE';
export type ConnectionErrorCode =
  | 'INVALID_CREDENTIALS' | 'CLUSTER_NOT_FOUND' | 'NETWORK_ERRORS' | 'INTERNAL_ERROR'
  | 'INSUFFICIENT_CLOUDHSM_HSMS' | 'USER_LOCKED_OUT' | 'USER_NOT_FOUND' | 'USER_LOGGED_IN'
  | 'SUBNET_NOT_FOUND' | 'INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET' | 'XKS_PROXY_ACCESS_DENIED'
  | 'XKS_PROXY_NOT_REACHABLE' | 'XKS_VPC_ENDPOINT_SERVICE_NOT_FOUND' | 'XKS_PROXY_INVALID_RESPONSE'
  | 'XKS_PROXY_INVALID_CONFIGURATION' | 'XKS_VPC_ENDPOINT_SERVICE_INVALID_CONFIGURATION'
  | 'XKS_PROXY_TIMED_OUT' | 'XKS_PROXY_INVALID_TLS_CONFIGURATION';

export interface StoreBehaviour {
  /** How long CONNECTING lasts. */
  connectDelayMs?: number;
  /** How long DISCONNECTING lasts. */
  disconnectDelayMs?: number;
  /** When set, connection attempts end in FAILED with this code instead of CONNECTED. `null` clears it. */
  failWith?: ConnectionErrorCode | null;
}

export interface CloudHsmConfig {
  CloudHsmClusterId: string;
  TrustAnchorCertificate: string;
  KeyStorePassword: string;
}

export interface XksConfig {
  XksProxyUriEndpoint: string;
  XksProxyUriPath: string;
  XksProxyConnectivity: XksProxyConnectivity;
  XksProxyVpcEndpointServiceName?: string;
  XksProxyVpcEndpointServiceOwner?: string;
  XksProxyAuthenticationCredential: { AccessKeyId: string; RawSecretAccessKey: string };
}

interface Store {
  id: string;
  name: string;
  type: CustomKeyStoreType;
  creationDate: number;
  state: ConnectionState;
  errorCode?: ConnectionErrorCode;
  /** Pending lazy transition. */
  transition?: { at: number; to: ConnectionState; errorCode?: ConnectionErrorCode };
  cloudHsm?: CloudHsmConfig;
  xks?: XksConfig;
  behaviour: StoreBehaviour;
}

/** Seed input for `emulator.createCustomKeyStore(...)`. */
export interface SeedCustomKeyStore {
  name: string;
  type?: CustomKeyStoreType;
  /** Start in this state without going through Connect. Default DISCONNECTED. */
  connectionState?: 'DISCONNECTED' | 'CONNECTED';
  cloudHsm?: Partial<CloudHsmConfig>;
  xks?: Partial<XksConfig>;
  behaviour?: StoreBehaviour;
}

export interface StoreDefaults {
  connectDelayMs: number;
  disconnectDelayMs: number;
  /** The caller's account: the default XksProxyVpcEndpointServiceOwner. */
  accountId?: string;
}

const ID_PATTERN = /^cks-[0-9a-f]{17}$/;

export class CustomKeyStores {
  private readonly stores = new Map<string, Store>();

  constructor(private readonly now: () => number, private readonly defaults: StoreDefaults) {}

  // ---------------------------------------------------------------- state machine

  /** Read a store by id, applying any transition whose time has come. */
  public find(id: string): Store | undefined {
    const store = this.stores.get(id);
    if (store) this.settle(store);
    return store;
  }

  public get(id: string): Store {
    const store = this.find(id);
    if (!store) throw err('CustomKeyStoreNotFoundException', `Custom key store ${id} does not exist`);
    return store;
  }

  public connectionState(id: string): ConnectionState | undefined {
    return this.find(id)?.state;
  }

  public typeOf(id: string): CustomKeyStoreType | undefined {
    return this.find(id)?.type;
  }

  public cloudHsmClusterId(id: string): string | undefined {
    return this.find(id)?.cloudHsm?.CloudHsmClusterId;
  }

  private settle(store: Store): void {
    const t = store.transition;
    if (t && this.now() >= t.at) {
      store.state = t.to;
      store.errorCode = t.errorCode;
      store.transition = undefined;
    }
  }

  private delay(store: Store, kind: 'connectDelayMs' | 'disconnectDelayMs'): number {
    return store.behaviour[kind] ?? this.defaults[kind];
  }

  // ---------------------------------------------------------------- API operations

  public create(input: Input): Output {
    const name = reqString(input, 'CustomKeyStoreName');
    const type = optEnum(input, 'CustomKeyStoreType', ['AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE'] as const) ?? 'AWS_CLOUDHSM';
    this.assertNameFree(name);
    const store: Store = {
      id: `cks-${randomHex(9).slice(0, 17)}`,
      name,
      type,
      creationDate: this.now(),
      state: 'DISCONNECTED',
      behaviour: {},
    };
    if (type === 'AWS_CLOUDHSM') {
      this.rejectFields(input, XKS_FIELDS, type);
      store.cloudHsm = {
        CloudHsmClusterId: reqString(input, 'CloudHsmClusterId'),
        TrustAnchorCertificate: reqString(input, 'TrustAnchorCertificate'),
        KeyStorePassword: reqString(input, 'KeyStorePassword'),
      };
      validatePassword(store.cloudHsm.KeyStorePassword);
      this.assertClusterFree(store.cloudHsm.CloudHsmClusterId, store.id);
    } else {
      this.rejectFields(input, CLOUDHSM_FIELDS, type);
      const credential = readCredential(input, true)!;
      store.xks = {
        XksProxyUriEndpoint: reqString(input, 'XksProxyUriEndpoint'),
        XksProxyUriPath: reqString(input, 'XksProxyUriPath'),
        XksProxyConnectivity: optEnum(input, 'XksProxyConnectivity', CONNECTIVITY)
          ?? reqString(input, 'XksProxyConnectivity') as XksProxyConnectivity,
        XksProxyVpcEndpointServiceName: optString(input, 'XksProxyVpcEndpointServiceName'),
        XksProxyVpcEndpointServiceOwner: optString(input, 'XksProxyVpcEndpointServiceOwner'),
        XksProxyAuthenticationCredential: credential,
      };
      this.validateXks(store.xks, store.id);
      // "If not provided, the AWS account ID calling the action will be used."
      if (store.xks.XksProxyConnectivity === 'VPC_ENDPOINT_SERVICE') store.xks.XksProxyVpcEndpointServiceOwner ??= this.defaults.accountId;
    }
    this.stores.set(store.id, store);
    return { CustomKeyStoreId: store.id };
  }

  public describe(input: Input): Output {
    const id = optString(input, 'CustomKeyStoreId');
    const name = optString(input, 'CustomKeyStoreName');
    if (id !== undefined && name !== undefined) {
      throw err('ValidationException', 'Specify either CustomKeyStoreId or CustomKeyStoreName, not both');
    }
    let list: Store[];
    if (id !== undefined) {
      list = [this.get(id)];
    } else if (name !== undefined) {
      const found = [...this.stores.values()].find((s) => s.name === name);
      if (!found) throw err('CustomKeyStoreNotFoundException', `Custom key store named ${name} does not exist`);
      list = [found];
    } else {
      list = [...this.stores.values()];
    }
    list.forEach((s) => this.settle(s));
    const p = page(list, input, 1000);
    return compact({
      CustomKeyStores: p.items.map((s) => this.entry(s)),
      NextMarker: p.nextMarker,
      Truncated: p.truncated,
    });
  }

  public connect(input: Input): Output {
    const store = this.get(reqString(input, 'CustomKeyStoreId'));
    switch (store.state) {
      case 'CONNECTED':
      case 'CONNECTING':
        return {};
      case 'DISCONNECTING':
      case 'FAILED':
        throw err(
          'CustomKeyStoreInvalidStateException',
          `Custom key store ${store.id} is ${store.state}; ${store.state === 'FAILED' ? 'disconnect it before connecting again' : 'wait until it is DISCONNECTED'}`,
        );
      case 'DISCONNECTED': {
        const failWith = store.behaviour.failWith ?? undefined;
        store.state = 'CONNECTING';
        store.errorCode = undefined;
        store.transition = {
          at: this.now() + this.delay(store, 'connectDelayMs'),
          to: failWith ? 'FAILED' : 'CONNECTED',
          errorCode: failWith,
        };
        return {};
      }
    }
  }

  public disconnect(input: Input): Output {
    const store = this.get(reqString(input, 'CustomKeyStoreId'));
    if (store.state === 'DISCONNECTED' || store.state === 'DISCONNECTING') {
      throw err('CustomKeyStoreInvalidStateException', `Custom key store ${store.id} is already ${store.state}`);
    }
    store.state = 'DISCONNECTING';
    store.errorCode = undefined;
    store.transition = { at: this.now() + this.delay(store, 'disconnectDelayMs'), to: 'DISCONNECTED' };
    return {};
  }

  /**
   * Follows the UpdateCustomKeyStore description: for CloudHSM stores the name may change while
   * CONNECTED or DISCONNECTED, everything else needs DISCONNECTED; for external key stores the
   * name, XksProxyAuthenticationCredential and XksProxyUriPath may change while CONNECTED or
   * DISCONNECTED, everything else needs DISCONNECTED.
   */
  public update(input: Input): Output {
    const store = this.get(reqString(input, 'CustomKeyStoreId'));
    const newName = optString(input, 'NewCustomKeyStoreName');
    const relaxed: string[] = store.type === 'AWS_CLOUDHSM'
      ? ['NewCustomKeyStoreName']
      : ['NewCustomKeyStoreName', 'XksProxyAuthenticationCredential', 'XksProxyUriPath'];
    const given = UPDATE_FIELDS.filter((f) => input[f] !== undefined && input[f] !== null);
    this.rejectFields(input, store.type === 'AWS_CLOUDHSM' ? XKS_FIELDS : CLOUDHSM_FIELDS, store.type);
    const strict = given.filter((f) => !relaxed.includes(f));
    if (strict.length > 0 && store.state !== 'DISCONNECTED') {
      throw err(
        'CustomKeyStoreInvalidStateException',
        `Updating ${strict.join(', ')} requires custom key store ${store.id} to be DISCONNECTED; it is ${store.state}`,
      );
    }
    if (given.length > 0 && store.state !== 'DISCONNECTED' && store.state !== 'CONNECTED') {
      throw err(
        'CustomKeyStoreInvalidStateException',
        `Custom key store ${store.id} is ${store.state}; it must be CONNECTED or DISCONNECTED to update ${given.join(', ')}`,
      );
    }
    if (newName !== undefined && newName !== store.name) this.assertNameFree(newName);

    if (store.cloudHsm) {
      const next: CloudHsmConfig = { ...store.cloudHsm };
      const cluster = optString(input, 'CloudHsmClusterId');
      const password = optString(input, 'KeyStorePassword');
      if (cluster !== undefined) {
        this.assertClusterFree(cluster, store.id);
        next.CloudHsmClusterId = cluster;
      }
      if (password !== undefined) {
        validatePassword(password);
        next.KeyStorePassword = password;
      }
      store.cloudHsm = next;
    } else if (store.xks) {
      const next: XksConfig = { ...store.xks };
      const set = <K extends keyof XksConfig>(k: K, v: XksConfig[K] | undefined) => {
        if (v !== undefined) next[k] = v;
      };
      set('XksProxyUriEndpoint', optString(input, 'XksProxyUriEndpoint'));
      set('XksProxyUriPath', optString(input, 'XksProxyUriPath'));
      set('XksProxyConnectivity', optEnum(input, 'XksProxyConnectivity', CONNECTIVITY));
      set('XksProxyVpcEndpointServiceName', optString(input, 'XksProxyVpcEndpointServiceName'));
      set('XksProxyVpcEndpointServiceOwner', optString(input, 'XksProxyVpcEndpointServiceOwner'));
      set('XksProxyAuthenticationCredential', readCredential(input, false));
      if (next.XksProxyConnectivity === 'PUBLIC_ENDPOINT') {
        next.XksProxyVpcEndpointServiceName = undefined;
        next.XksProxyVpcEndpointServiceOwner = undefined;
      }
      this.validateXks(next, store.id);
      if (next.XksProxyConnectivity === 'VPC_ENDPOINT_SERVICE') next.XksProxyVpcEndpointServiceOwner ??= this.defaults.accountId;
      store.xks = next;
    }
    if (newName !== undefined) store.name = newName;
    return {};
  }

  public delete(input: Input, keysInStore: (storeId: string) => number): Output {
    const store = this.get(reqString(input, 'CustomKeyStoreId'));
    if (store.state !== 'DISCONNECTED') {
      throw err('CustomKeyStoreInvalidStateException', `Custom key store ${store.id} is ${store.state}; disconnect it before deleting it`);
    }
    const count = keysInStore(store.id);
    if (count > 0) {
      throw err(
        'CustomKeyStoreHasCMKsException',
        `Custom key store ${store.id} still holds ${count} KMS key(s), including keys pending deletion; delete them and wait for their waiting period to end`,
      );
    }
    this.stores.delete(store.id);
    return {};
  }

  // ---------------------------------------------------------------- test helpers

  public seed(seed: SeedCustomKeyStore): string {
    const type = seed.type ?? (seed.xks ? 'EXTERNAL_KEY_STORE' : 'AWS_CLOUDHSM');
    const input: Input = { CustomKeyStoreName: seed.name, CustomKeyStoreType: type };
    if (type === 'AWS_CLOUDHSM') {
      Object.assign(input, {
        CloudHsmClusterId: `cluster-${randomHex(6).slice(0, 11)}`,
        TrustAnchorCertificate: '-----BEGIN CERTIFICATE-----\nMIIEMU...\n-----END CERTIFICATE-----',
        KeyStorePassword: 'kmsPswd1',
        ...seed.cloudHsm,
      });
    } else {
      Object.assign(input, {
        XksProxyUriEndpoint: `https://xks-${randomHex(4)}.example.com`,
        XksProxyUriPath: '/example/prefix/kms/xks/v1',
        XksProxyConnectivity: 'PUBLIC_ENDPOINT',
        XksProxyAuthenticationCredential: {
          AccessKeyId: 'ABCDE12345670EXAMPLE',
          RawSecretAccessKey: 'DXjSUawnel2fr6SKC7G25CNxTyWKE5PF9XX6H/u9pSo=',
        },
        ...seed.xks,
      });
    }
    const id = this.create(input).CustomKeyStoreId as string;
    const store = this.stores.get(id)!;
    store.behaviour = { ...seed.behaviour };
    if (seed.connectionState === 'CONNECTED') store.state = 'CONNECTED';
    return id;
  }

  public setBehaviour(idOrName: string, behaviour: StoreBehaviour): void {
    const store = this.stores.get(idOrName) ?? [...this.stores.values()].find((s) => s.name === idOrName);
    if (!store) throw new Error(`No custom key store with id or name ${idOrName}`);
    store.behaviour = { ...store.behaviour, ...behaviour };
  }

  public ids(): string[] {
    return [...this.stores.keys()];
  }

  public dump(): unknown[] {
    return [...this.stores.values()].map((s) => {
      this.settle(s);
      return JSON.parse(JSON.stringify({
        CustomKeyStoreId: s.id,
        CustomKeyStoreName: s.name,
        type: s.type,
        ConnectionState: s.state,
        ConnectionErrorCode: s.errorCode,
        pendingTransition: s.transition ? { to: s.transition.to, at: new Date(s.transition.at).toISOString() } : undefined,
        CreationDate: new Date(s.creationDate).toISOString(),
        config: s.cloudHsm ?? s.xks,
        behaviour: s.behaviour,
      }));
    });
  }

  // ---------------------------------------------------------------- validation

  private entry(s: Store): Output {
    return compact({
      CustomKeyStoreId: s.id,
      CustomKeyStoreName: s.name,
      CustomKeyStoreType: s.type,
      ConnectionState: s.state,
      ConnectionErrorCode: s.state === 'FAILED' ? s.errorCode : undefined,
      CreationDate: ts(s.creationDate),
      CloudHsmClusterId: s.cloudHsm?.CloudHsmClusterId,
      TrustAnchorCertificate: s.cloudHsm?.TrustAnchorCertificate,
      // Never the password nor the secret access key.
      XksProxyConfiguration: s.xks
        ? compact({
          Connectivity: s.xks.XksProxyConnectivity,
          AccessKeyId: s.xks.XksProxyAuthenticationCredential.AccessKeyId,
          UriEndpoint: s.xks.XksProxyUriEndpoint,
          UriPath: s.xks.XksProxyUriPath,
          VpcEndpointServiceName: s.xks.XksProxyVpcEndpointServiceName,
          VpcEndpointServiceOwner: s.xks.XksProxyVpcEndpointServiceOwner,
        })
        : undefined,
    });
  }

  private assertNameFree(name: string): void {
    if ([...this.stores.values()].some((s) => s.name === name)) {
      throw err('CustomKeyStoreNameInUseException', `A custom key store named ${name} already exists`);
    }
  }

  private assertClusterFree(clusterId: string, selfId: string): void {
    if ([...this.stores.values()].some((s) => s.id !== selfId && s.cloudHsm?.CloudHsmClusterId === clusterId)) {
      throw err('CloudHsmClusterInUseException', `CloudHSM cluster ${clusterId} is already associated with another custom key store`);
    }
  }

  private rejectFields(input: Input, fields: readonly string[], type: CustomKeyStoreType): void {
    const bad = fields.filter((f) => input[f] !== undefined && input[f] !== null);
    if (bad.length > 0) throw err('ValidationException', `${bad.join(', ')} cannot be used with a ${type} custom key store`);
  }

  private validateXks(x: XksConfig, selfId: string): void {
    if (!/^https:\/\/[^/\s]+$/.test(x.XksProxyUriEndpoint)) {
      throw err('ValidationException', `XksProxyUriEndpoint must be https://<host>[:port] with no path, got '${x.XksProxyUriEndpoint}'`);
    }
    if (!/^(\/[a-zA-Z0-9_.~-]+)*\/kms\/xks\/v1$/.test(x.XksProxyUriPath) || x.XksProxyUriPath.length > 128) {
      throw err('ValidationException', `XksProxyUriPath must end with /kms/xks/v1, got '${x.XksProxyUriPath}'`);
    }
    if (x.XksProxyConnectivity === 'VPC_ENDPOINT_SERVICE' && !x.XksProxyVpcEndpointServiceName) {
      throw err('ValidationException', 'XksProxyVpcEndpointServiceName is required when XksProxyConnectivity is VPC_ENDPOINT_SERVICE');
    }
    if (x.XksProxyConnectivity === 'PUBLIC_ENDPOINT' && (x.XksProxyVpcEndpointServiceName || x.XksProxyVpcEndpointServiceOwner)) {
      throw err('ValidationException', 'XksProxyVpcEndpointServiceName and XksProxyVpcEndpointServiceOwner are only valid when XksProxyConnectivity is VPC_ENDPOINT_SERVICE');
    }
    if (x.XksProxyVpcEndpointServiceOwner !== undefined && !/^[0-9]{12}$/.test(x.XksProxyVpcEndpointServiceOwner)) {
      throw err('ValidationException', `1 validation error detected: Value '${x.XksProxyVpcEndpointServiceOwner}' at 'xksProxyVpcEndpointServiceOwner' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[0-9]{12}$`);
    }
    for (const other of this.stores.values()) {
      if (other.id === selfId || !other.xks) continue;
      if (other.xks.XksProxyUriEndpoint === x.XksProxyUriEndpoint && other.xks.XksProxyUriPath === x.XksProxyUriPath) {
        throw err('XksProxyUriInUseException', `${x.XksProxyUriEndpoint}${x.XksProxyUriPath} is already used by ${other.id}`);
      }
      if (x.XksProxyVpcEndpointServiceName && other.xks.XksProxyVpcEndpointServiceName === x.XksProxyVpcEndpointServiceName) {
        throw err('XksProxyVpcEndpointServiceInUseException', `${x.XksProxyVpcEndpointServiceName} is already used by ${other.id}`);
      }
    }
  }

  public static isValidId(id: string): boolean {
    return ID_PATTERN.test(id);
  }
}

const CONNECTIVITY = ['PUBLIC_ENDPOINT', 'VPC_ENDPOINT_SERVICE'] as const;
const CLOUDHSM_FIELDS = ['CloudHsmClusterId', 'TrustAnchorCertificate', 'KeyStorePassword'] as const;
const XKS_FIELDS = [
  'XksProxyUriEndpoint', 'XksProxyUriPath', 'XksProxyConnectivity', 'XksProxyVpcEndpointServiceName',
  'XksProxyVpcEndpointServiceOwner', 'XksProxyAuthenticationCredential',
] as const;
const UPDATE_FIELDS: readonly string[] = ['NewCustomKeyStoreName', 'CloudHsmClusterId', 'KeyStorePassword', ...XKS_FIELDS];

function validatePassword(password: string): void {
  if (password.length < 7 || password.length > 32) {
    throw err('ValidationException', 'KeyStorePassword must be 7-32 characters');
  }
}

function readCredential(input: Input, required: boolean): XksConfig['XksProxyAuthenticationCredential'] | undefined {
  const c = optObject(input, 'XksProxyAuthenticationCredential');
  if (!c) {
    if (required) throw err('ValidationException', 'XksProxyAuthenticationCredential is required for an EXTERNAL_KEY_STORE');
    return undefined;
  }
  const AccessKeyId = reqString(c, 'AccessKeyId');
  const RawSecretAccessKey = reqString(c, 'RawSecretAccessKey');
  if (AccessKeyId.length < 20 || AccessKeyId.length > 30) {
    throw err('ValidationException', 'XksProxyAuthenticationCredential.AccessKeyId must be 20-30 characters');
  }
  if (RawSecretAccessKey.length < 43 || RawSecretAccessKey.length > 64) {
    throw err('ValidationException', 'XksProxyAuthenticationCredential.RawSecretAccessKey must be 43-64 characters');
  }
  return { AccessKeyId, RawSecretAccessKey };
}
