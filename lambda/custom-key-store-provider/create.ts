/**
 * Create: adopt an existing store, or create one (reading its secret) and request the connection; isComplete
 * then waits for the connection state that Connect asks for.
 */
import { CreateCustomKeyStoreCommand, CreateCustomKeyStoreCommandInput } from '@aws-sdk/client-kms';
import { kms } from '../shared/clients';
import { errorMessage } from '../shared/errors';
import { connect, converge } from './connection';
import { IsCompleteResponse, OnEventResponse, StoreContext } from './context';
import { CustomKeyStoreError, kmsFailure } from './errors';
import { isAdopted, missingCreateProperties, storeTypeOf, wantsConnection } from './plan';
import { readKeyStorePassword, readXksCredential } from './secrets';
import { complete, describeStore, requireStore } from './store';

const CREATE_FAILURE_TAIL = 'The store is left FAILED; if the stack rolls back, the handler disconnects and deletes it (it holds no keys yet). ' +
  'Fix the cause and deploy again.';

/** The construct sets every property a store type needs; a store is never created from a partial set. */
function requireCreateProperties(ctx: StoreContext): void {
  const missing = missingCreateProperties(ctx.props);
  if (missing.length > 0) {
    throw new CustomKeyStoreError(`Resource ${ctx.event.LogicalResourceId} cannot create a ${storeTypeOf(ctx.props)} custom key store: ` +
      `missing ${missing.join(', ')}.`);
  }
}

async function adopt(ctx: StoreContext): Promise<OnEventResponse> {
  const id = ctx.props.CustomKeyStoreId ?? '';
  const store = await describeStore(ctx, id);
  if (!store) {
    throw new CustomKeyStoreError(`Cannot adopt custom key store ${id} for resource ${ctx.event.LogicalResourceId}: ` +
      'KMS has no custom key store with this id in this account and Region. Check the id (DescribeCustomKeyStores), the account and the Region.');
  }
  ctx.outcome = 'ADOPTED';
  ctx.log.info('adopted an existing custom key store (no change made)', ctx.fields());
  return { PhysicalResourceId: id, Data: { CustomKeyStoreId: id, ConnectionState: store.ConnectionState ?? 'UNKNOWN' } };
}

/** The CreateCustomKeyStore input, with the secret values read for it (to remove them from any quoted message). */
async function createInput(ctx: StoreContext): Promise<{ input: CreateCustomKeyStoreCommandInput; secrets: string[] }> {
  const p = ctx.props;
  if (storeTypeOf(p) === 'AWS_CLOUDHSM') {
    const password = await readKeyStorePassword(ctx, p.KeyStorePassword!);
    return {
      secrets: [password],
      input: {
        CustomKeyStoreName: p.CustomKeyStoreName,
        CustomKeyStoreType: 'AWS_CLOUDHSM',
        CloudHsmClusterId: p.CloudHsmClusterId,
        TrustAnchorCertificate: p.TrustAnchorCertificate,
        KeyStorePassword: password,
      },
    };
  }
  const credential = await readXksCredential(ctx, p.XksProxyAuthenticationCredential!);
  const vpc = p.XksProxyConnectivity === 'VPC_ENDPOINT_SERVICE';
  return {
    secrets: [credential.RawSecretAccessKey],
    input: {
      CustomKeyStoreName: p.CustomKeyStoreName,
      CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
      XksProxyUriEndpoint: p.XksProxyUriEndpoint,
      XksProxyUriPath: p.XksProxyUriPath,
      XksProxyConnectivity: p.XksProxyConnectivity,
      ...(vpc ? { XksProxyVpcEndpointServiceName: p.XksProxyVpcEndpointServiceName } : {}),
      ...(vpc && p.XksProxyVpcEndpointServiceOwner ? { XksProxyVpcEndpointServiceOwner: p.XksProxyVpcEndpointServiceOwner } : {}),
      XksProxyAuthenticationCredential: credential,
    },
  };
}

/** Creates the store (and requests the connection); `replacement` says why an update replaces the old store. */
export async function onCreate(ctx: StoreContext, replacement?: string): Promise<OnEventResponse> {
  if (isAdopted(ctx.props)) {
    return adopt(ctx);
  }
  requireCreateProperties(ctx);
  const { input, secrets } = await createInput(ctx);
  let storeId: string | undefined;
  try {
    const created = await ctx.kms('CreateCustomKeyStore', (abortSignal) => kms.send(new CreateCustomKeyStoreCommand(input), { abortSignal }));
    storeId = created.CustomKeyStoreId;
  } catch (err) {
    throw kmsFailure('CreateCustomKeyStore', err, ctx.subject(), { secrets, replacement: replacement !== undefined });
  }
  if (!storeId) {
    throw new CustomKeyStoreError(`KMS CreateCustomKeyStore returned no store id for ${ctx.subjectText()}; ` +
      `check DescribeCustomKeyStores for a store named '${ctx.props.CustomKeyStoreName}' and retry.`);
  }
  ctx.storeId = storeId;
  ctx.connectionState = 'DISCONNECTED';
  ctx.log.info('custom key store created', ctx.fields({ storeType: storeTypeOf(ctx.props), replacementReason: replacement }));
  if (wantsConnection(ctx.props)) {
    // The store exists now: never fail onEvent from here on (the physical id must reach CloudFormation so a
    // rollback deletes the store). isComplete connects a DISCONNECTED store and reports any failure.
    try {
      await connect(ctx);
    } catch (err) {
      ctx.log.warn('connect request failed: isComplete retries it and reports the cause', ctx.fields({ error: errorMessage(err) }));
    }
  }
  ctx.outcome = replacement ? 'REPLACED' : 'CREATED';
  return { PhysicalResourceId: storeId, Data: { CustomKeyStoreId: storeId, ConnectionState: 'DISCONNECTED' } };
}

export async function createComplete(ctx: StoreContext): Promise<IsCompleteResponse> {
  const store = await requireStore(ctx, ctx.physicalId);
  if (isAdopted(ctx.props)) {
    ctx.outcome = 'ADOPTED';
    return complete(ctx, store);
  }
  return converge(ctx, wantsConnection(ctx.props) ? 'CONNECTED' : 'DISCONNECTED', store, CREATE_FAILURE_TAIL);
}
