/**
 * Pure decisions of the custom key store handler: replacement or in-place update, which UpdateCustomKeyStore
 * fields to send, whether the store must be disconnected, and which connection state to reach.
 *
 * isComplete keeps no state between polls (the Provider framework passes it the same event every time), so
 * onEvent and isComplete both derive the plan from the event (OldResourceProperties → ResourceProperties) and
 * the store as DescribeCustomKeyStores shows it now. A field is sent only while the store still differs from
 * the new value, which makes every step safe to repeat.
 */
import type { CustomKeyStoresListEntry, UpdateCustomKeyStoreCommandInput } from '@aws-sdk/client-kms';
import { CustomKeyStoreResourceProperties, CustomKeyStoreTypeName, SecretReferenceProperties } from '../../lib/private/custom-key-store-contract';

export type ConnectionStateName = 'CONNECTED' | 'CONNECTING' | 'DISCONNECTED' | 'DISCONNECTING' | 'FAILED';

/** The connection state a request drives the store to; undefined: leave it as it is. */
export type DesiredConnection = 'CONNECTED' | 'DISCONNECTED' | undefined;

export function storeTypeOf(p: Partial<CustomKeyStoreResourceProperties> | undefined): CustomKeyStoreTypeName {
  return p?.CustomKeyStoreType ?? 'AWS_CLOUDHSM';
}

export function isAdopted(p: Partial<CustomKeyStoreResourceProperties> | undefined): boolean {
  return p?.Adopt === 'true';
}

/** Connect defaults to 'true'. */
export function wantsConnection(p: Partial<CustomKeyStoreResourceProperties> | undefined): boolean {
  return p?.Connect !== 'false';
}

function normalizedCertificate(pem: string | undefined): string {
  return (pem ?? '').replace(/\r\n/g, '\n').trim();
}

export function sameSecretReference(a: SecretReferenceProperties | undefined, b: SecretReferenceProperties | undefined): boolean {
  return (a?.SecretArn ?? '') === (b?.SecretArn ?? '') && (a?.JsonField ?? '') === (b?.JsonField ?? '');
}

/** Why an update must create a new store (and CloudFormation then deletes the old one), or undefined. */
export function replacementReason(
  old: Partial<CustomKeyStoreResourceProperties> | undefined, next: CustomKeyStoreResourceProperties,
): string | undefined {
  if (isAdopted(old) !== isAdopted(next)) {
    return `Adopt changed from '${old?.Adopt ?? 'false'}' to '${next.Adopt}'`;
  }
  if (isAdopted(next)) {
    return (old?.CustomKeyStoreId ?? '') !== (next.CustomKeyStoreId ?? '') ? 'the adopted CustomKeyStoreId changed' : undefined;
  }
  if (storeTypeOf(old) !== storeTypeOf(next)) {
    return `CustomKeyStoreType changed from ${storeTypeOf(old)} to ${storeTypeOf(next)}`;
  }
  const certificateChanged = normalizedCertificate(old?.TrustAnchorCertificate) !== normalizedCertificate(next.TrustAnchorCertificate);
  if (storeTypeOf(next) === 'AWS_CLOUDHSM' && certificateChanged) {
    return 'TrustAnchorCertificate changed';
  }
  return undefined;
}

/** A PEM certificate without any whitespace: DescribeCustomKeyStores may wrap or space it differently from the template. */
function certificateWithoutWhitespace(pem: string | undefined): string {
  return (pem ?? '').replace(/\s+/g, '');
}

/**
 * True when the store behind the physical id `storeId` (as DescribeCustomKeyStores shows it) already has every
 * property of `next` that cannot change in place: then an update whose properties call for a replacement must
 * not create a new store. This is the rollback of a failed replacement: CloudFormation sends the properties
 * reversed with the OLD physical id, whose store never stopped matching them (and still holds the name).
 * - adopted: the store is the adopted id;
 * - otherwise: the same CustomKeyStoreType and, for AWS_CLOUDHSM, the same TrustAnchorCertificate (ignoring whitespace).
 */
export function storeMatchesReplacementFields(next: CustomKeyStoreResourceProperties, storeId: string, observed: CustomKeyStoresListEntry): boolean {
  if (isAdopted(next)) {
    return (next.CustomKeyStoreId ?? '') === storeId;
  }
  const observedType = observed.CustomKeyStoreType ?? (observed.XksProxyConfiguration ? 'EXTERNAL_KEY_STORE' : 'AWS_CLOUDHSM');
  if (observedType !== storeTypeOf(next)) {
    return false;
  }
  if (storeTypeOf(next) === 'AWS_CLOUDHSM') {
    const certificate = certificateWithoutWhitespace(next.TrustAnchorCertificate);
    return certificate !== '' && certificate === certificateWithoutWhitespace(observed.TrustAnchorCertificate);
  }
  return true;
}

/**
 * What an in-place update diffs from when a replacement was skipped (storeMatchesReplacementFields): the old
 * properties when they describe the same kind of store (same Adopt and type), otherwise the new properties
 * themselves — old properties of another kind (say an XKS store that was never created, or an adopted id) say
 * nothing about this store, so only what the store shows is compared, and no secret or connection change follows.
 */
export function inPlaceBaseline(
  old: Partial<CustomKeyStoreResourceProperties> | undefined, next: CustomKeyStoreResourceProperties,
): Partial<CustomKeyStoreResourceProperties> {
  return old && isAdopted(old) === isAdopted(next) && storeTypeOf(old) === storeTypeOf(next) ? old : next;
}

/** The properties a new store of the given type lacks (empty when complete). */
export function missingCreateProperties(p: CustomKeyStoreResourceProperties): string[] {
  const missing: string[] = [];
  const need = (name: keyof CustomKeyStoreResourceProperties, present: boolean) => {
    if (!present) {
      missing.push(name);
    }
  };
  need('CustomKeyStoreName', !!p.CustomKeyStoreName);
  if (storeTypeOf(p) === 'AWS_CLOUDHSM') {
    need('CloudHsmClusterId', !!p.CloudHsmClusterId);
    need('TrustAnchorCertificate', !!p.TrustAnchorCertificate);
    need('KeyStorePassword', !!p.KeyStorePassword?.SecretArn);
  } else {
    need('XksProxyUriEndpoint', !!p.XksProxyUriEndpoint);
    need('XksProxyUriPath', !!p.XksProxyUriPath);
    need('XksProxyConnectivity', !!p.XksProxyConnectivity);
    need('XksProxyAuthenticationCredential', !!p.XksProxyAuthenticationCredential?.SecretArn);
    if (p.XksProxyConnectivity === 'VPC_ENDPOINT_SERVICE') {
      need('XksProxyVpcEndpointServiceName', !!p.XksProxyVpcEndpointServiceName);
    }
  }
  return missing;
}

/** UpdateCustomKeyStore fields a store accepts while CONNECTED. */
export interface ConnectedFields {
  NewCustomKeyStoreName?: string;
  XksProxyUriPath?: string;
}

/** UpdateCustomKeyStore fields that need a DISCONNECTED store (secrets excluded). */
export interface DisconnectedFields {
  CloudHsmClusterId?: string;
  XksProxyUriEndpoint?: string;
  XksProxyConnectivity?: 'PUBLIC_ENDPOINT' | 'VPC_ENDPOINT_SERVICE';
  XksProxyVpcEndpointServiceName?: string;
  XksProxyVpcEndpointServiceOwner?: string;
}

export interface UpdatePlan {
  /** Observable fields allowed while connected that the store does not have yet. */
  readonly connected: ConnectedFields;
  /** Observable fields needing DISCONNECTED that the store does not have yet. */
  readonly disconnected: DisconnectedFields;
  /** The kmsuser password secret reference changed (needs DISCONNECTED; KMS never shows the password). */
  readonly passwordChanged: boolean;
  /** The XKS credential secret reference changed (allowed while connected; KMS never shows the secret key). */
  readonly credentialChanged: boolean;
  /** The change (old → new properties, whatever the store shows) includes a field that needs DISCONNECTED. */
  readonly disconnectNeededByDiff: boolean;
}

/** Observable fields needing DISCONNECTED still to send. */
export function hasDisconnectedFields(plan: UpdatePlan): boolean {
  return Object.keys(plan.disconnected).length > 0;
}

export function hasConnectedFields(plan: UpdatePlan): boolean {
  return Object.keys(plan.connected).length > 0;
}

/** True when nothing needs to be sent to KMS. */
export function isEmptyPlan(plan: UpdatePlan): boolean {
  return !hasConnectedFields(plan) && !hasDisconnectedFields(plan) && !plan.passwordChanged && !plan.credentialChanged;
}

function vpcServiceNameOf(p: Partial<CustomKeyStoreResourceProperties> | undefined): string {
  return p?.XksProxyConnectivity === 'VPC_ENDPOINT_SERVICE' ? (p.XksProxyVpcEndpointServiceName ?? '') : '';
}

/**
 * The in-place update from `old` to `next` for a store that currently looks like `observed`
 * (both properties describe a store of the same type: replacements are decided before). `callerAccount` is the
 * stack's account: the VPC endpoint service owner KMS uses when none is given.
 */
export function planUpdate(
  old: Partial<CustomKeyStoreResourceProperties> | undefined, next: CustomKeyStoreResourceProperties, observed: CustomKeyStoresListEntry,
  callerAccount?: string,
): UpdatePlan {
  const connected: ConnectedFields = {};
  const disconnected: DisconnectedFields = {};
  let disconnectNeededByDiff = false;
  /** Adds a field when the properties changed it and the store does not show the new value yet. */
  const consider = <T extends object>(target: T, field: keyof T, before: string, after: string, current: string, needsDisconnect: boolean) => {
    if (before === after) {
      return;
    }
    disconnectNeededByDiff ||= needsDisconnect;
    if (after !== current) {
      (target as Record<string, string>)[field as string] = after;
    }
  };
  if (next.CustomKeyStoreName) {
    consider(connected, 'NewCustomKeyStoreName', old?.CustomKeyStoreName ?? '', next.CustomKeyStoreName, observed.CustomKeyStoreName ?? '', false);
  }
  let passwordChanged = false;
  let credentialChanged = false;
  const xks = observed.XksProxyConfiguration ?? {};
  if (storeTypeOf(next) === 'AWS_CLOUDHSM') {
    if (next.CloudHsmClusterId) {
      consider(disconnected, 'CloudHsmClusterId', old?.CloudHsmClusterId ?? '', next.CloudHsmClusterId, observed.CloudHsmClusterId ?? '', true);
    }
    passwordChanged = !!next.KeyStorePassword?.SecretArn && !sameSecretReference(old?.KeyStorePassword, next.KeyStorePassword);
    disconnectNeededByDiff ||= passwordChanged;
  } else {
    if (next.XksProxyUriPath) {
      consider(connected, 'XksProxyUriPath', old?.XksProxyUriPath ?? '', next.XksProxyUriPath, xks.UriPath ?? '', false);
    }
    if (next.XksProxyUriEndpoint) {
      // Host names are case-insensitive: compare what KMS shows without case or a trailing slash.
      const endpoint = (e: string | undefined) => (e ?? '').replace(/\/+$/, '').toLowerCase();
      if (endpoint(old?.XksProxyUriEndpoint) !== endpoint(next.XksProxyUriEndpoint)) {
        disconnectNeededByDiff = true;
        if (endpoint(next.XksProxyUriEndpoint) !== endpoint(xks.UriEndpoint)) {
          disconnected.XksProxyUriEndpoint = next.XksProxyUriEndpoint;
        }
      }
    }
    if (next.XksProxyConnectivity) {
      consider(disconnected, 'XksProxyConnectivity', old?.XksProxyConnectivity ?? '', next.XksProxyConnectivity, xks.Connectivity ?? '', true);
    }
    // PUBLIC_ENDPOINT takes an empty service name (UpdateCustomKeyStore: "specify a null or empty string").
    consider(disconnected, 'XksProxyVpcEndpointServiceName', vpcServiceNameOf(old), vpcServiceNameOf(next), xks.VpcEndpointServiceName ?? '', true);
    // CreateCustomKeyStore uses the caller's account when no owner is given, and UpdateCustomKeyStore leaves the owner
    // as it is without one: so an owner removed from the properties is sent as the stack's own account.
    const ownerOf = (p: Partial<CustomKeyStoreResourceProperties> | undefined) =>
      p?.XksProxyConnectivity === 'VPC_ENDPOINT_SERVICE' ? (p.XksProxyVpcEndpointServiceOwner ?? callerAccount ?? '') : '';
    if (ownerOf(next)) {
      consider(disconnected, 'XksProxyVpcEndpointServiceOwner', ownerOf(old), ownerOf(next), xks.VpcEndpointServiceOwner ?? '', true);
    }
    credentialChanged = !!next.XksProxyAuthenticationCredential?.SecretArn
      && !sameSecretReference(old?.XksProxyAuthenticationCredential, next.XksProxyAuthenticationCredential);
  }
  return { connected, disconnected, passwordChanged, credentialChanged, disconnectNeededByDiff };
}

/**
 * The connection state an in-place update drives the store to:
 * - Connect toggled false → true: CONNECTED; true → false: DISCONNECTED.
 * - A change that needs the store disconnected: reconnect when Connect is 'true', or when the store was
 *   connected (CONNECTED/CONNECTING) before the update (`stateBeforeUpdate`, as onEvent saw it).
 * - Otherwise undefined: the connection is left as it is.
 */
export function desiredConnectionForUpdate(
  old: Partial<CustomKeyStoreResourceProperties> | undefined,
  next: CustomKeyStoreResourceProperties,
  plan: UpdatePlan,
  stateBeforeUpdate: string | undefined,
): DesiredConnection {
  const before = wantsConnection(old);
  const now = wantsConnection(next);
  if (now && !before) {
    return 'CONNECTED';
  }
  if (!now && before) {
    return 'DISCONNECTED';
  }
  if (!plan.disconnectNeededByDiff) {
    return undefined;
  }
  if (now) {
    return 'CONNECTED';
  }
  return stateBeforeUpdate === 'CONNECTED' || stateBeforeUpdate === 'CONNECTING' ? 'CONNECTED' : 'DISCONNECTED';
}

/** The UpdateCustomKeyStore input for the plan plus the secret values read for it. */
export function updateInput(
  storeId: string,
  plan: UpdatePlan,
  options: { includeDisconnected: boolean; password?: string; credential?: { AccessKeyId: string; RawSecretAccessKey: string } },
): UpdateCustomKeyStoreCommandInput {
  return {
    CustomKeyStoreId: storeId,
    ...plan.connected,
    ...(options.includeDisconnected ? plan.disconnected : {}),
    ...(options.password !== undefined ? { KeyStorePassword: options.password } : {}),
    ...(options.credential !== undefined ? { XksProxyAuthenticationCredential: options.credential } : {}),
  };
}
