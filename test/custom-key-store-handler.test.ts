import 'aws-sdk-client-mock-jest';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import {
  ConnectCustomKeyStoreCommand,
  ConnectionErrorCodeType,
  CreateCustomKeyStoreCommand,
  DeleteCustomKeyStoreCommand,
  DescribeCustomKeyStoresCommand,
  DescribeKeyCommand,
  DisconnectCustomKeyStoreCommand,
  ListKeysCommand,
  ListKeysCommandInput,
  ListKeysCommandOutput,
  UpdateCustomKeyStoreCommand,
} from '@aws-sdk/client-kms';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { Emulator, startEmulator } from './kms-emulator';
import {
  CONNECTION_ERROR_ADVICE,
  CustomKeyStoreEvent,
  Deadline,
  isComplete,
  onEvent,
} from '../lambda/custom-key-store-provider/index';
import {
  ACCESS_KEY_ID,
  adoptProps,
  afterOnEvent,
  ALL_STATES,
  awsError,
  cloudHsmProps,
  cloudHsmStore,
  CLUSTER_ID,
  CREDENTIAL_SECRET_ARN,
  createEvent,
  deleteEvent,
  LOGICAL_ID,
  mocks,
  Mocks,
  NEW_ACCESS_KEY_ID,
  NEW_CREDENTIAL_SECRET_ARN,
  NEW_PASSWORD,
  NEW_PASSWORD_SECRET_ARN,
  NEW_SECRET_ACCESS_KEY,
  NEW_STORE_ID,
  OTHER_CLUSTER_ID,
  PASSWORD,
  PASSWORD_SECRET_ARN,
  REGION,
  RESPONSE_URL,
  SECRET_ACCESS_KEY,
  SECRET_VALUES,
  sent,
  stackIs,
  STACK_ID,
  sentNames,
  State,
  STORE_ID,
  STORE_NAME,
  TRUST_ANCHOR,
  updateEvent,
  VPC_SERVICE,
  XKS_ENDPOINT,
  XKS_PATH,
  xksProps,
  xksStore,
} from './custom-key-store-handler/fixtures';
import { CapturedLogs, captureLogs } from './util/logs';
import { scriptedEndpoint, withModuleAt } from './util/scripted-endpoint';

let m: Mocks;
let logs: CapturedLogs;

beforeEach(() => {
  m = mocks();
  logs = captureLogs();
});

afterEach(() => {
  logs.restore();
  m.kms.restore();
  m.secrets.restore();
  m.cfn.restore();
});

/** DescribeCustomKeyStores answers with these entries, one per call (the last one repeats). */
function describeReturns(...stores: ReturnType<typeof cloudHsmStore>[]): void {
  let stub = m.kms.on(DescribeCustomKeyStoresCommand);
  for (const s of stores) {
    stub = stub.resolvesOnce({ CustomKeyStores: [s] });
  }
  stub.resolves({ CustomKeyStores: [stores[stores.length - 1]] });
}

/**
 * ListKeys answers with `pages` in turn; returns each input as it was sent (the SDK's paginator reuses one input
 * object, so the mock's recorded inputs all show the last marker).
 */
function listKeysPages(...pages: Omit<ListKeysCommandOutput, '$metadata'>[]): ListKeysCommandInput[] {
  const inputs: ListKeysCommandInput[] = [];
  m.kms.on(ListKeysCommand).callsFake((input: ListKeysCommandInput) => {
    inputs.push({ ...input });
    return pages[Math.min(inputs.length - 1, pages.length - 1)];
  });
  return inputs;
}

function noKeys(): void {
  m.kms.on(ListKeysCommand).resolves({ Keys: [], Truncated: false });
}

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected a failure');
}

// ---------------------------------------------------------------------------------------------------------------

describe('connection error advice', () => {
  test('covers exactly the ConnectionErrorCodeType codes of the SDK', () => {
    expect(Object.keys(CONNECTION_ERROR_ADVICE).sort()).toEqual(Object.values(ConnectionErrorCodeType).sort());
    expect(Object.keys(CONNECTION_ERROR_ADVICE)).toHaveLength(18);
  });

  test.each(Object.entries(CONNECTION_ERROR_ADVICE))('%s has a meaning and a check, as sentences without a final period', (_code, advice) => {
    expect(advice.meaning.length).toBeGreaterThan(20);
    expect(advice.check.length).toBeGreaterThan(20);
    expect(advice.meaning).not.toMatch(/\.$/);
    expect(advice.check).not.toMatch(/\.$/);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('Create', () => {
  test('creates a CloudHSM key store with the password from the secret, then requests the connection', async () => {
    // GIVEN
    m.kms.on(CreateCustomKeyStoreCommand).resolves({ CustomKeyStoreId: STORE_ID });
    m.kms.on(ConnectCustomKeyStoreCommand).resolves({});
    // WHEN
    const result = await onEvent(createEvent(cloudHsmProps()));
    // THEN
    expect(result).toEqual({ PhysicalResourceId: STORE_ID, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'DISCONNECTED' } });
    expect(sent(m.secrets)).toEqual([['GetSecretValue', { SecretId: PASSWORD_SECRET_ARN }]]);
    expect(sent(m.kms)).toEqual([
      ['CreateCustomKeyStore', {
        CustomKeyStoreName: STORE_NAME,
        CustomKeyStoreType: 'AWS_CLOUDHSM',
        CloudHsmClusterId: CLUSTER_ID,
        TrustAnchorCertificate: TRUST_ANCHOR,
        KeyStorePassword: PASSWORD,
      }],
      ['ConnectCustomKeyStore', { CustomKeyStoreId: STORE_ID }],
    ]);
  });

  test('takes the password from the JSON field of the secret when JsonField is set', async () => {
    m.kms.on(CreateCustomKeyStoreCommand).resolves({ CustomKeyStoreId: STORE_ID });
    await onEvent(createEvent(cloudHsmProps({ KeyStorePassword: { SecretArn: NEW_PASSWORD_SECRET_ARN, JsonField: 'password' }, Connect: 'false' })));
    expect(m.kms).toHaveReceivedCommandWith(CreateCustomKeyStoreCommand, { KeyStorePassword: NEW_PASSWORD });
  });

  test('creates an external key store with public endpoint connectivity and the credential from the secret', async () => {
    m.kms.on(CreateCustomKeyStoreCommand).resolves({ CustomKeyStoreId: STORE_ID });
    m.kms.on(ConnectCustomKeyStoreCommand).resolves({});
    await onEvent(createEvent(xksProps()));
    expect(sent(m.secrets)).toEqual([['GetSecretValue', { SecretId: CREDENTIAL_SECRET_ARN }]]);
    expect(sent(m.kms)).toEqual([
      ['CreateCustomKeyStore', {
        CustomKeyStoreName: STORE_NAME,
        CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
        XksProxyUriEndpoint: XKS_ENDPOINT,
        XksProxyUriPath: XKS_PATH,
        XksProxyConnectivity: 'PUBLIC_ENDPOINT',
        XksProxyAuthenticationCredential: { AccessKeyId: ACCESS_KEY_ID, RawSecretAccessKey: SECRET_ACCESS_KEY },
      }],
      ['ConnectCustomKeyStore', { CustomKeyStoreId: STORE_ID }],
    ]);
  });

  test('creates an external key store with VPC endpoint service connectivity, reading the credential from a nested JSON field', async () => {
    m.kms.on(CreateCustomKeyStoreCommand).resolves({ CustomKeyStoreId: STORE_ID });
    m.kms.on(ConnectCustomKeyStoreCommand).resolves({});
    await onEvent(createEvent(xksProps({
      XksProxyConnectivity: 'VPC_ENDPOINT_SERVICE',
      XksProxyVpcEndpointServiceName: VPC_SERVICE,
      XksProxyVpcEndpointServiceOwner: '444455556666',
      XksProxyAuthenticationCredential: { SecretArn: NEW_CREDENTIAL_SECRET_ARN, JsonField: 'xks' },
    })));
    expect(sent(m.kms)[0]).toEqual(['CreateCustomKeyStore', {
      CustomKeyStoreName: STORE_NAME,
      CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
      XksProxyUriEndpoint: XKS_ENDPOINT,
      XksProxyUriPath: XKS_PATH,
      XksProxyConnectivity: 'VPC_ENDPOINT_SERVICE',
      XksProxyVpcEndpointServiceName: VPC_SERVICE,
      XksProxyVpcEndpointServiceOwner: '444455556666',
      XksProxyAuthenticationCredential: { AccessKeyId: NEW_ACCESS_KEY_ID, RawSecretAccessKey: NEW_SECRET_ACCESS_KEY },
    }]);
  });

  test('with Connect false creates the store without connecting it', async () => {
    m.kms.on(CreateCustomKeyStoreCommand).resolves({ CustomKeyStoreId: STORE_ID });
    await onEvent(createEvent(cloudHsmProps({ Connect: 'false' })));
    expect(sentNames(m.kms)).toEqual(['CreateCustomKeyStore']);
  });

  test('fails with a message naming the existing store name when the name is in use', async () => {
    m.kms.on(CreateCustomKeyStoreCommand).rejects(awsError('CustomKeyStoreNameInUseException'));
    const message = await failure(onEvent(createEvent(cloudHsmProps())));
    expect(message).toBe(`KMS CreateCustomKeyStore failed for new custom key store ${STORE_NAME} (resource ${LOGICAL_ID}): CustomKeyStoreNameInUseException: ` +
      `a custom key store named '${STORE_NAME}' already exists in this account and Region (names are unique). ` +
      'It may be a store left by an earlier attempt: delete it (if it holds no keys) or adopt it, or choose another name. Use DescribeCustomKeyStores to find the existing store.');
  });

  test('still returns the new store id when the connect request fails, so that a rollback can delete the store', async () => {
    m.kms.on(CreateCustomKeyStoreCommand).resolves({ CustomKeyStoreId: STORE_ID });
    m.kms.on(ConnectCustomKeyStoreCommand).rejects(awsError('CloudHsmClusterNotActiveException'));
    const result = await onEvent(createEvent(cloudHsmProps()));
    expect(result.PhysicalResourceId).toBe(STORE_ID);
    expect(logs.parsed()).toContainEqual(expect.objectContaining({
      level: 'WARN',
      message: 'connect request failed: isComplete retries it and reports the cause',
      error: expect.stringContaining('ConnectCustomKeyStore failed for custom key store cks-1234567890abcdef0 (ExampleKeyStore) (resource KeyStoreC0FFEE42): CloudHsmClusterNotActiveException:'),
    }));
  });

  test('isComplete reports the connect error when connecting again fails', async () => {
    describeReturns(cloudHsmStore('DISCONNECTED'));
    m.kms.on(ConnectCustomKeyStoreCommand).rejects(awsError('CloudHsmClusterNotActiveException'));
    const event = afterOnEvent(createEvent(cloudHsmProps()), { PhysicalResourceId: STORE_ID });
    const message = await failure(isComplete(event));
    expect(message).toBe(`KMS ConnectCustomKeyStore failed for custom key store ${STORE_ID} (${STORE_NAME}) (resource ${LOGICAL_ID}): CloudHsmClusterNotActiveException: ` +
      'the CloudHSM cluster is not active. Initialize and activate the cluster (CloudHSM User Guide, Getting started), then deploy again.');
  });

  test('fails before any KMS call when a required property is missing', async () => {
    const message = await failure(onEvent(createEvent(xksProps({ XksProxyUriPath: undefined, XksProxyConnectivity: 'VPC_ENDPOINT_SERVICE' }))));
    expect(message).toBe(`Resource ${LOGICAL_ID} cannot create a EXTERNAL_KEY_STORE custom key store: missing XksProxyUriPath, XksProxyVpcEndpointServiceName.`);
    expect(sent(m.kms)).toEqual([]);
    expect(sent(m.secrets)).toEqual([]);
  });

  test('removes the password from a KMS validation message that quotes it', async () => {
    m.kms.on(CreateCustomKeyStoreCommand).rejects(awsError('ValidationException', `Value '${PASSWORD}' at 'keyStorePassword' failed to satisfy constraint`));
    const message = await failure(onEvent(createEvent(cloudHsmProps())));
    expect(message).toContain("Value '***' at 'keyStorePassword'");
    expect(message).not.toContain(PASSWORD);
  });

  describe('secrets', () => {
    test('fails without quoting the secret when the password secret is not JSON but a JsonField is set', async () => {
      const message = await failure(onEvent(createEvent(cloudHsmProps({ KeyStorePassword: { SecretArn: PASSWORD_SECRET_ARN, JsonField: 'password' } }))));
      expect(message).toBe(`The key store password secret ${PASSWORD_SECRET_ARN} of new custom key store ${STORE_NAME} (resource ${LOGICAL_ID}) (JsonField 'password' requested) is not valid JSON.`);
      expect(sent(m.kms)).toEqual([]);
    });

    test('fails naming the accepted field names when the credential secret lacks the secret access key', async () => {
      m.secrets.on(GetSecretValueCommand, { SecretId: CREDENTIAL_SECRET_ARN }).resolves({ SecretString: JSON.stringify({ accessKeyId: ACCESS_KEY_ID, secret: SECRET_ACCESS_KEY }) });
      const message = await failure(onEvent(createEvent(xksProps())));
      expect(message).toBe(`The XKS proxy authentication credential secret ${CREDENTIAL_SECRET_ARN} of new custom key store ${STORE_NAME} (resource ${LOGICAL_ID}) ` +
        'lacks the secret access key (one of secretAccessKey, SecretAccessKey, rawSecretAccessKey, RawSecretAccessKey) as a string field.');
    });

    test('fails when the password is shorter than KMS accepts, without quoting it', async () => {
      m.secrets.on(GetSecretValueCommand, { SecretId: PASSWORD_SECRET_ARN }).resolves({ SecretString: 'short' });
      const message = await failure(onEvent(createEvent(cloudHsmProps())));
      expect(message).toBe(`The key store password secret ${PASSWORD_SECRET_ARN} of new custom key store ${STORE_NAME} (resource ${LOGICAL_ID}): the kmsuser password must be 7 to 32 characters long.`);
    });

    test('maps an unreadable secret to an actionable message', async () => {
      m.secrets.on(GetSecretValueCommand, { SecretId: PASSWORD_SECRET_ARN }).rejects(awsError('AccessDeniedException'));
      const message = await failure(onEvent(createEvent(cloudHsmProps())));
      expect(message).toBe(`Secrets Manager GetSecretValue of the key store password secret ${PASSWORD_SECRET_ARN} failed for new custom key store ${STORE_NAME} (resource ${LOGICAL_ID}): AccessDeniedException: ` +
        "the provider's role may not read the secret. Grant it secretsmanager:GetSecretValue on the secret (and kms:Decrypt on the secret's customer managed KMS key); check the secret's resource policy.");
    });
  });

  describe('adopt', () => {
    test('checks that the store exists and changes nothing', async () => {
      describeReturns(cloudHsmStore('CONNECTED'));
      const result = await onEvent(createEvent(adoptProps()));
      expect(result).toEqual({ PhysicalResourceId: STORE_ID, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED' } });
      expect(sent(m.kms)).toEqual([['DescribeCustomKeyStores', { CustomKeyStoreId: STORE_ID }]]);
      expect(sent(m.secrets)).toEqual([]);
    });

    test('fails with a clear message when the store does not exist', async () => {
      m.kms.on(DescribeCustomKeyStoresCommand).rejects(awsError('CustomKeyStoreNotFoundException'));
      const message = await failure(onEvent(createEvent(adoptProps())));
      expect(message).toBe(`Cannot adopt custom key store ${STORE_ID} for resource ${LOGICAL_ID}: KMS has no custom key store with this id in this account and Region. ` +
        'Check the id (DescribeCustomKeyStores), the account and the Region.');
    });

    test('isComplete is complete at once, whatever the connection state', async () => {
      describeReturns(cloudHsmStore('DISCONNECTED'));
      const result = await isComplete(afterOnEvent(createEvent(adoptProps()), { PhysicalResourceId: STORE_ID }));
      expect(result).toEqual({ IsComplete: true, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'DISCONNECTED' } });
      expect(sentNames(m.kms)).toEqual(['DescribeCustomKeyStores']);
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('isComplete after Create', () => {
  const created = (connect: 'true' | 'false') => afterOnEvent(createEvent(cloudHsmProps({ Connect: connect })), { PhysicalResourceId: STORE_ID, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'DISCONNECTED' } });

  test.each<[State, boolean, string[]]>([
    ['CONNECTED', true, ['DescribeCustomKeyStores']],
    ['CONNECTING', false, ['DescribeCustomKeyStores']],
    ['DISCONNECTED', false, ['DescribeCustomKeyStores', 'ConnectCustomKeyStore']],
    ['DISCONNECTING', false, ['DescribeCustomKeyStores']],
  ])('with Connect true, a %s store gives IsComplete %s after %j', async (state, done, calls) => {
    describeReturns(cloudHsmStore(state));
    m.kms.on(ConnectCustomKeyStoreCommand).resolves({});
    const result = await isComplete(created('true'));
    expect(result).toEqual(done ? { IsComplete: true, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: state } } : { IsComplete: false });
    expect(sentNames(m.kms)).toEqual(calls);
  });

  test('with Connect true, a FAILED store fails at once with the connection error explained', async () => {
    describeReturns(cloudHsmStore('FAILED', { ConnectionErrorCode: 'USER_LOGGED_IN' }));
    const message = await failure(isComplete(created('true')));
    expect(message).toBe(`Custom key store ${STORE_ID} (${STORE_NAME}) failed to connect: USER_LOGGED_IN — ${CONNECTION_ERROR_ADVICE.USER_LOGGED_IN.meaning}. ` +
      `${CONNECTION_ERROR_ADVICE.USER_LOGGED_IN.check}. The store is left FAILED; if the stack rolls back, the handler disconnects and deletes it (it holds no keys yet). Fix the cause and deploy again.`);
    expect(sentNames(m.kms)).toEqual(['DescribeCustomKeyStores']);
  });

  test.each<[State, boolean, string[]]>([
    ['DISCONNECTED', true, ['DescribeCustomKeyStores']],
    ['DISCONNECTING', false, ['DescribeCustomKeyStores']],
    ['CONNECTED', false, ['DescribeCustomKeyStores', 'DisconnectCustomKeyStore']],
    ['CONNECTING', false, ['DescribeCustomKeyStores', 'DisconnectCustomKeyStore']],
    ['FAILED', false, ['DescribeCustomKeyStores', 'DisconnectCustomKeyStore']],
  ])('with Connect false, a %s store gives IsComplete %s after %j', async (state, done, calls) => {
    describeReturns(cloudHsmStore(state));
    m.kms.on(DisconnectCustomKeyStoreCommand).resolves({});
    const result = await isComplete(created('false'));
    expect(result).toEqual(done ? { IsComplete: true, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: state } } : { IsComplete: false });
    expect(sentNames(m.kms)).toEqual(calls);
  });

  test('waits while CONNECTING and completes on CONNECTED', async () => {
    describeReturns(cloudHsmStore('CONNECTING'), cloudHsmStore('CONNECTING'), cloudHsmStore('CONNECTED'));
    const results = [];
    for (let i = 0; i < 3; i++) {
      results.push(await isComplete(created('true')));
    }
    expect(results).toEqual([{ IsComplete: false }, { IsComplete: false }, { IsComplete: true, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED' } }]);
    expect(sentNames(m.kms)).toEqual(['DescribeCustomKeyStores', 'DescribeCustomKeyStores', 'DescribeCustomKeyStores']);
  });

  test('a connect refused because the store just turned FAILED is not an error: the next poll reports the failure', async () => {
    describeReturns(cloudHsmStore('DISCONNECTED'), cloudHsmStore('FAILED', { ConnectionErrorCode: 'NETWORK_ERRORS' }));
    m.kms.on(ConnectCustomKeyStoreCommand).rejects(awsError('CustomKeyStoreInvalidStateException'));
    expect(await isComplete(created('true'))).toEqual({ IsComplete: false });
    expect(await failure(isComplete(created('true')))).toMatch(/failed to connect: NETWORK_ERRORS — /);
  });

  test('fails when the store disappeared', async () => {
    m.kms.on(DescribeCustomKeyStoresCommand).rejects(awsError('CustomKeyStoreNotFoundException'));
    expect(await failure(isComplete(created('true')))).toBe(
      `Custom key store ${STORE_ID} of resource ${LOGICAL_ID} does not exist in this account and Region: it was deleted outside CloudFormation. ` +
      'Remove the resource from the stack (or let the stack create a new store by changing its name and type), or restore the store and deploy again.');
  });

  test.each(Object.entries(CONNECTION_ERROR_ADVICE))('a FAILED store with %s fails with that code, its meaning and what to check', async (code, advice) => {
    const store = advice.storeTypes.includes('AWS_CLOUDHSM') ? cloudHsmStore('FAILED', { ConnectionErrorCode: code as ConnectionErrorCodeType }) : xksStore('FAILED', { ConnectionErrorCode: code as ConnectionErrorCodeType });
    describeReturns(store);
    const message = await failure(isComplete(created('true')));
    expect(message).toBe(`Custom key store ${STORE_ID} (${STORE_NAME}) failed to connect: ${code} — ${advice.meaning}. ${advice.check}. ` +
      'The store is left FAILED; if the stack rolls back, the handler disconnects and deletes it (it holds no keys yet). Fix the cause and deploy again.');
  });

  test('a FAILED store with an unknown code still fails at once, with general advice', async () => {
    describeReturns(cloudHsmStore('FAILED', { ConnectionErrorCode: 'SOMETHING_NEW' as ConnectionErrorCodeType }));
    expect(await failure(isComplete(created('true')))).toMatch(
      new RegExp(`^Custom key store ${STORE_ID} \\(${STORE_NAME}\\) failed to connect: SOMETHING_NEW — KMS reported a connection error code this handler does not know\\. See "Troubleshooting a custom key store"`));
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('Update', () => {
  const connected = (overrides = {}) => cloudHsmStore('CONNECTED', overrides);

  test('a name change is sent while connected, without disconnecting', async () => {
    describeReturns(connected());
    m.kms.on(UpdateCustomKeyStoreCommand).resolves({});
    const event = updateEvent(cloudHsmProps(), cloudHsmProps({ CustomKeyStoreName: 'Renamed' }));
    const result = await onEvent(event);
    expect(result).toEqual({ PhysicalResourceId: STORE_ID, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED' } });
    expect(sent(m.kms)).toEqual([
      ['DescribeCustomKeyStores', { CustomKeyStoreId: STORE_ID }],
      ['UpdateCustomKeyStore', { CustomKeyStoreId: STORE_ID, NewCustomKeyStoreName: 'Renamed' }],
    ]);
  });

  test('after a name change, isComplete is complete at once', async () => {
    describeReturns(connected({ CustomKeyStoreName: 'Renamed' }));
    const event = afterOnEvent(updateEvent(cloudHsmProps(), cloudHsmProps({ CustomKeyStoreName: 'Renamed' })), { PhysicalResourceId: STORE_ID, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED' } });
    expect(await isComplete(event)).toEqual({ IsComplete: true, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED' } });
    expect(sentNames(m.kms)).toEqual(['DescribeCustomKeyStores']);
  });

  test('an XKS path and credential change is sent while connected, with the credential read from the new secret', async () => {
    describeReturns(xksStore('CONNECTED'));
    m.kms.on(UpdateCustomKeyStoreCommand).resolves({});
    const event = updateEvent(xksProps(), xksProps({ XksProxyUriPath: '/v2/kms/xks/v1', XksProxyAuthenticationCredential: { SecretArn: NEW_CREDENTIAL_SECRET_ARN, JsonField: 'xks' } }));
    await onEvent(event);
    expect(sent(m.kms)).toEqual([
      ['DescribeCustomKeyStores', { CustomKeyStoreId: STORE_ID }],
      ['UpdateCustomKeyStore', {
        CustomKeyStoreId: STORE_ID,
        XksProxyUriPath: '/v2/kms/xks/v1',
        XksProxyAuthenticationCredential: { AccessKeyId: NEW_ACCESS_KEY_ID, RawSecretAccessKey: NEW_SECRET_ACCESS_KEY },
      }],
    ]);
    expect(sent(m.secrets)).toEqual([['GetSecretValue', { SecretId: NEW_CREDENTIAL_SECRET_ARN }]]);
  });

  test('a cluster change on a CONNECTED store only disconnects in onEvent', async () => {
    describeReturns(connected());
    m.kms.on(DisconnectCustomKeyStoreCommand).resolves({});
    const result = await onEvent(updateEvent(cloudHsmProps(), cloudHsmProps({ CloudHsmClusterId: OTHER_CLUSTER_ID })));
    expect(result).toEqual({ PhysicalResourceId: STORE_ID, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED' } });
    expect(sent(m.kms)).toEqual([
      ['DescribeCustomKeyStores', { CustomKeyStoreId: STORE_ID }],
      ['DisconnectCustomKeyStore', { CustomKeyStoreId: STORE_ID }],
    ]);
  });

  test('a cluster change then waits for DISCONNECTED, updates, reconnects and completes on CONNECTED', async () => {
    // GIVEN the store as isComplete sees it on successive polls
    describeReturns(
      connected({ ConnectionState: 'DISCONNECTING' }),
      connected({ ConnectionState: 'DISCONNECTED' }),
      connected({ ConnectionState: 'CONNECTING', CloudHsmClusterId: OTHER_CLUSTER_ID }),
      connected({ ConnectionState: 'CONNECTED', CloudHsmClusterId: OTHER_CLUSTER_ID }),
    );
    m.kms.on(UpdateCustomKeyStoreCommand).resolves({});
    m.kms.on(ConnectCustomKeyStoreCommand).resolves({});
    const event = afterOnEvent(updateEvent(cloudHsmProps(), cloudHsmProps({ CloudHsmClusterId: OTHER_CLUSTER_ID })),
      { PhysicalResourceId: STORE_ID, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED' } });
    // WHEN
    const results = [];
    for (let i = 0; i < 4; i++) {
      results.push(await isComplete(event));
    }
    // THEN
    expect(results).toEqual([
      { IsComplete: false },
      { IsComplete: false },
      { IsComplete: false },
      { IsComplete: true, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED' } },
    ]);
    expect(sent(m.kms).filter(([name]) => name !== 'DescribeCustomKeyStores')).toEqual([
      ['UpdateCustomKeyStore', { CustomKeyStoreId: STORE_ID, CloudHsmClusterId: OTHER_CLUSTER_ID }],
      ['ConnectCustomKeyStore', { CustomKeyStoreId: STORE_ID }],
    ]);
    expect(sentNames(m.kms)).toEqual(['DescribeCustomKeyStores', 'DescribeCustomKeyStores', 'UpdateCustomKeyStore', 'ConnectCustomKeyStore', 'DescribeCustomKeyStores', 'DescribeCustomKeyStores']);
  });

  test('a store that still shows the old cluster while CONNECTED (disconnect not visible yet) is disconnected again, not completed', async () => {
    describeReturns(connected());
    m.kms.on(DisconnectCustomKeyStoreCommand).rejects(awsError('CustomKeyStoreInvalidStateException'));
    const event = afterOnEvent(updateEvent(cloudHsmProps(), cloudHsmProps({ CloudHsmClusterId: OTHER_CLUSTER_ID })),
      { PhysicalResourceId: STORE_ID, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED' } });
    expect(await isComplete(event)).toEqual({ IsComplete: false });
    expect(sentNames(m.kms)).toEqual(['DescribeCustomKeyStores', 'DisconnectCustomKeyStore']);
  });

  test('a password change on a DISCONNECTED store with Connect false is sent at once and nothing is connected', async () => {
    describeReturns(cloudHsmStore('DISCONNECTED'));
    m.kms.on(UpdateCustomKeyStoreCommand).resolves({});
    const oldProps = cloudHsmProps({ Connect: 'false' });
    const newProps = cloudHsmProps({ Connect: 'false', KeyStorePassword: { SecretArn: NEW_PASSWORD_SECRET_ARN, JsonField: 'password' } });
    const result = await onEvent(updateEvent(oldProps, newProps));
    expect(sent(m.kms)).toEqual([
      ['DescribeCustomKeyStores', { CustomKeyStoreId: STORE_ID }],
      ['UpdateCustomKeyStore', { CustomKeyStoreId: STORE_ID, KeyStorePassword: NEW_PASSWORD }],
    ]);
    m.kms.resetHistory();
    expect(await isComplete(afterOnEvent(updateEvent(oldProps, newProps), result))).toEqual({ IsComplete: true, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'DISCONNECTED' } });
  });

  test.each<[State, string[]]>([
    ['CONNECTED', ['DescribeCustomKeyStores', 'DisconnectCustomKeyStore']],
    ['CONNECTING', ['DescribeCustomKeyStores', 'DisconnectCustomKeyStore']],
    ['FAILED', ['DescribeCustomKeyStores', 'DisconnectCustomKeyStore']],
    ['DISCONNECTING', ['DescribeCustomKeyStores']],
    ['DISCONNECTED', ['DescribeCustomKeyStores', 'UpdateCustomKeyStore', 'ConnectCustomKeyStore']],
  ])('onEvent of a cluster change on a %s store sends %j', async (state, calls) => {
    describeReturns(cloudHsmStore(state));
    m.kms.on(DisconnectCustomKeyStoreCommand).resolves({});
    m.kms.on(UpdateCustomKeyStoreCommand).resolves({});
    m.kms.on(ConnectCustomKeyStoreCommand).resolves({});
    const result = await onEvent(updateEvent(cloudHsmProps(), cloudHsmProps({ CloudHsmClusterId: OTHER_CLUSTER_ID })));
    expect(result).toEqual({ PhysicalResourceId: STORE_ID, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: state } });
    expect(sentNames(m.kms)).toEqual(calls);
  });

  test('a password change on a CONNECTED store: disconnect, update with the new password once DISCONNECTED, reconnect, complete on CONNECTED', async () => {
    // GIVEN
    const event = updateEvent(cloudHsmProps(), cloudHsmProps({ KeyStorePassword: { SecretArn: NEW_PASSWORD_SECRET_ARN, JsonField: 'password' } }));
    describeReturns(cloudHsmStore('CONNECTED'), cloudHsmStore('DISCONNECTING'), cloudHsmStore('DISCONNECTED'), cloudHsmStore('CONNECTING'), cloudHsmStore('CONNECTED'));
    m.kms.on(DisconnectCustomKeyStoreCommand).resolves({});
    m.kms.on(UpdateCustomKeyStoreCommand).resolves({});
    m.kms.on(ConnectCustomKeyStoreCommand).resolves({});
    // WHEN
    const result = await onEvent(event);
    const polls = [];
    for (let i = 0; i < 4; i++) {
      polls.push((await isComplete(afterOnEvent(event, result))).IsComplete);
    }
    // THEN
    expect(polls).toEqual([false, false, false, true]);
    expect(sent(m.kms).filter(([name]) => name !== 'DescribeCustomKeyStores')).toEqual([
      ['DisconnectCustomKeyStore', { CustomKeyStoreId: STORE_ID }],
      ['UpdateCustomKeyStore', { CustomKeyStoreId: STORE_ID, KeyStorePassword: NEW_PASSWORD }],
      ['ConnectCustomKeyStore', { CustomKeyStoreId: STORE_ID }],
    ]);
  });

  test('a cluster change on a DISCONNECTED store with Connect true updates and connects in onEvent', async () => {
    describeReturns(cloudHsmStore('DISCONNECTED'));
    m.kms.on(UpdateCustomKeyStoreCommand).resolves({});
    m.kms.on(ConnectCustomKeyStoreCommand).resolves({});
    await onEvent(updateEvent(cloudHsmProps(), cloudHsmProps({ CloudHsmClusterId: OTHER_CLUSTER_ID })));
    expect(sentNames(m.kms)).toEqual(['DescribeCustomKeyStores', 'UpdateCustomKeyStore', 'ConnectCustomKeyStore']);
  });

  test('a change of XKS connectivity to a public endpoint clears the VPC endpoint service name', async () => {
    const oldProps = xksProps({ XksProxyConnectivity: 'VPC_ENDPOINT_SERVICE', XksProxyVpcEndpointServiceName: VPC_SERVICE, XksProxyUriEndpoint: 'https://private.example.com' });
    const newProps = xksProps();
    describeReturns(xksStore('DISCONNECTED', { XksProxyConfiguration: { Connectivity: 'VPC_ENDPOINT_SERVICE', VpcEndpointServiceName: VPC_SERVICE, UriEndpoint: 'https://private.example.com', UriPath: XKS_PATH } }));
    m.kms.on(UpdateCustomKeyStoreCommand).resolves({});
    m.kms.on(ConnectCustomKeyStoreCommand).resolves({});
    await onEvent(updateEvent(oldProps, newProps));
    expect(m.kms).toHaveReceivedCommandWith(UpdateCustomKeyStoreCommand, {
      CustomKeyStoreId: STORE_ID,
      XksProxyUriEndpoint: XKS_ENDPOINT,
      XksProxyConnectivity: 'PUBLIC_ENDPOINT',
      XksProxyVpcEndpointServiceName: '',
    });
  });

  test('Connect toggled false → true connects a DISCONNECTED store and waits for CONNECTED', async () => {
    describeReturns(cloudHsmStore('DISCONNECTED'), cloudHsmStore('CONNECTING'), cloudHsmStore('CONNECTED'));
    m.kms.on(ConnectCustomKeyStoreCommand).resolves({});
    const event = updateEvent(cloudHsmProps({ Connect: 'false' }), cloudHsmProps({ Connect: 'true' }));
    const result = await onEvent(event);
    expect(sentNames(m.kms)).toEqual(['DescribeCustomKeyStores', 'ConnectCustomKeyStore']);
    expect(await isComplete(afterOnEvent(event, result))).toEqual({ IsComplete: false });
    expect(await isComplete(afterOnEvent(event, result))).toEqual({ IsComplete: true, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED' } });
  });

  test('Connect toggled true → false disconnects a CONNECTED store and waits for DISCONNECTED', async () => {
    describeReturns(cloudHsmStore('CONNECTED'), cloudHsmStore('DISCONNECTING'), cloudHsmStore('DISCONNECTED'));
    m.kms.on(DisconnectCustomKeyStoreCommand).resolves({});
    const event = updateEvent(cloudHsmProps({ Connect: 'true' }), cloudHsmProps({ Connect: 'false' }));
    const result = await onEvent(event);
    expect(sentNames(m.kms)).toEqual(['DescribeCustomKeyStores', 'DisconnectCustomKeyStore']);
    expect(await isComplete(afterOnEvent(event, result))).toEqual({ IsComplete: false });
    expect(await isComplete(afterOnEvent(event, result))).toEqual({ IsComplete: true, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'DISCONNECTED' } });
  });

  test('no property change sends nothing and is complete at once', async () => {
    describeReturns(connected());
    const event = updateEvent(cloudHsmProps(), cloudHsmProps({ ServiceToken: 'arn:aws:lambda:eu-west-1:111122223333:function:new-token' }));
    const result = await onEvent(event);
    expect(await isComplete(afterOnEvent(event, result))).toEqual({ IsComplete: true, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED' } });
    expect(sentNames(m.kms)).toEqual(['DescribeCustomKeyStores', 'DescribeCustomKeyStores']);
    expect(sent(m.secrets)).toEqual([]);
  });

  test('a change of store type replaces the store: checks the old store is still CloudHSM, creates a new one and returns its id', async () => {
    describeReturns(connected());
    m.kms.on(CreateCustomKeyStoreCommand).resolves({ CustomKeyStoreId: NEW_STORE_ID });
    m.kms.on(ConnectCustomKeyStoreCommand).resolves({});
    const result = await onEvent(updateEvent(cloudHsmProps(), xksProps({ CustomKeyStoreName: 'NewXks' })));
    expect(result).toEqual({ PhysicalResourceId: NEW_STORE_ID, Data: { CustomKeyStoreId: NEW_STORE_ID, ConnectionState: 'DISCONNECTED' } });
    expect(sentNames(m.kms)).toEqual(['DescribeCustomKeyStores', 'CreateCustomKeyStore', 'ConnectCustomKeyStore']);
    expect(m.kms).toHaveReceivedCommandWith(DescribeCustomKeyStoresCommand, { CustomKeyStoreId: STORE_ID });
    expect(m.kms).toHaveReceivedCommandWith(ConnectCustomKeyStoreCommand, { CustomKeyStoreId: NEW_STORE_ID });
  });

  test('a replacement that keeps the name fails saying the new store needs a new name, naming the new store and not the old one', async () => {
    describeReturns(connected());
    m.kms.on(CreateCustomKeyStoreCommand).rejects(awsError('CustomKeyStoreNameInUseException'));
    const message = await failure(onEvent(updateEvent(cloudHsmProps(), cloudHsmProps({ TrustAnchorCertificate: '-----BEGIN CERTIFICATE-----\nOTHER\n-----END CERTIFICATE-----' }))));
    expect(message).toMatch(new RegExp(`^KMS CreateCustomKeyStore failed for new custom key store ${STORE_NAME} \\(resource ${LOGICAL_ID}\\): CustomKeyStoreNameInUseException`));
    expect(message).toContain('This update replaces the store (a property that cannot change in place changed), and the new store is created before the old one is deleted: give the new store a new name.');
  });

  describe('a replacement whose new properties the store behind the physical id already has (rollback of a failed replacement)', () => {
    const NEW_ANCHOR = '-----BEGIN CERTIFICATE-----\nMIIB-rotated-anchor\n-----END CERTIFICATE-----';

    test('a reversed TrustAnchorCertificate change creates no store, changes nothing, and isComplete completes at once', async () => {
      // GIVEN: the forward update (TRUST_ANCHOR → NEW_ANCHOR) failed to create its store; CloudFormation rolls back
      // with the properties reversed and the old physical id, whose store still has TRUST_ANCHOR (as KMS returns it, rewrapped)
      describeReturns(connected({ TrustAnchorCertificate: `  ${TRUST_ANCHOR.replace(/\n/g, '\r\n  ')}\n` }));
      const rollback = updateEvent(cloudHsmProps({ TrustAnchorCertificate: NEW_ANCHOR, CustomKeyStoreName: 'NewName' }), cloudHsmProps());

      // WHEN
      const result = await onEvent(rollback);
      const done = await isComplete(afterOnEvent(rollback, result));

      // THEN
      expect(result).toEqual({ PhysicalResourceId: STORE_ID, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED', UpdateAction: 'IN_PLACE' } });
      expect(done).toEqual({ IsComplete: true, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED' } });
      expect(sent(m.kms)).toEqual([
        ['DescribeCustomKeyStores', { CustomKeyStoreId: STORE_ID }],
        ['DescribeCustomKeyStores', { CustomKeyStoreId: STORE_ID }],
      ]);
      expect(sent(m.secrets)).toEqual([]);
      expect(logs.parsed()).toContainEqual(expect.objectContaining({ level: 'WARN', replacementReason: 'TrustAnchorCertificate changed', customKeyStoreId: STORE_ID }));
    });

    test('a reversed type change (XKS → CloudHSM) on the CloudHSM store sends no password and does not disconnect', async () => {
      // GIVEN: the old properties describe an XKS store that was never created
      describeReturns(connected());
      const rollback = updateEvent(xksProps({ CustomKeyStoreName: 'NewXks' }), cloudHsmProps());

      // WHEN
      const result = await onEvent(rollback);
      const done = await isComplete(afterOnEvent(rollback, result));

      // THEN
      expect(result).toEqual({ PhysicalResourceId: STORE_ID, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED', UpdateAction: 'IN_PLACE' } });
      expect(done).toEqual({ IsComplete: true, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED' } });
      expect(sentNames(m.kms)).toEqual(['DescribeCustomKeyStores', 'DescribeCustomKeyStores']);
      expect(sent(m.secrets)).toEqual([]);
    });

    test('a reversed adoption (Adopt true → false) keeps the managed store', async () => {
      // GIVEN: adopting NEW_STORE_ID failed; the store behind the physical id is the managed CloudHSM store
      describeReturns(connected());
      const rollback = updateEvent(adoptProps({ CustomKeyStoreId: NEW_STORE_ID }), cloudHsmProps());

      // WHEN
      const result = await onEvent(rollback);

      // THEN
      expect(result).toEqual({ PhysicalResourceId: STORE_ID, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED', UpdateAction: 'IN_PLACE' } });
      expect(sent(m.kms)).toEqual([['DescribeCustomKeyStores', { CustomKeyStoreId: STORE_ID }]]);
    });

    test('adopting the store that is already behind the physical id is no replacement', async () => {
      describeReturns(connected());
      const result = await onEvent(updateEvent(cloudHsmProps(), adoptProps({ CustomKeyStoreId: STORE_ID })));
      expect(result).toEqual({ PhysicalResourceId: STORE_ID, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED', UpdateAction: 'IN_PLACE' } });
      expect(sentNames(m.kms)).toEqual(['DescribeCustomKeyStores']);
    });

    test('an in-place change that comes with the skipped replacement is still applied (name), and isComplete does not wait on a new store', async () => {
      // GIVEN: the store already has NEW_ANCHOR (the old properties were out of date) but not the new name
      describeReturns(connected({ TrustAnchorCertificate: NEW_ANCHOR }), connected({ TrustAnchorCertificate: NEW_ANCHOR, CustomKeyStoreName: 'Renamed' }));
      m.kms.on(UpdateCustomKeyStoreCommand).resolves({});
      const event = updateEvent(cloudHsmProps(), cloudHsmProps({ TrustAnchorCertificate: NEW_ANCHOR, CustomKeyStoreName: 'Renamed' }));

      // WHEN
      const result = await onEvent(event);
      const done = await isComplete(afterOnEvent(event, result));

      // THEN
      expect(result.PhysicalResourceId).toBe(STORE_ID);
      expect(done).toEqual({ IsComplete: true, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED' } });
      expect(sent(m.kms)).toEqual([
        ['DescribeCustomKeyStores', { CustomKeyStoreId: STORE_ID }],
        ['UpdateCustomKeyStore', { CustomKeyStoreId: STORE_ID, NewCustomKeyStoreName: 'Renamed' }],
        ['DescribeCustomKeyStores', { CustomKeyStoreId: STORE_ID }],
      ]);
    });

    test('a store with another trust anchor is replaced', async () => {
      describeReturns(connected({ TrustAnchorCertificate: '-----BEGIN CERTIFICATE-----\nMIIB-yet-another\n-----END CERTIFICATE-----' }));
      m.kms.on(CreateCustomKeyStoreCommand).resolves({ CustomKeyStoreId: NEW_STORE_ID });
      m.kms.on(ConnectCustomKeyStoreCommand).resolves({});
      const result = await onEvent(updateEvent(cloudHsmProps(), cloudHsmProps({ TrustAnchorCertificate: NEW_ANCHOR, CustomKeyStoreName: 'NewName' })));
      expect(result).toEqual({ PhysicalResourceId: NEW_STORE_ID, Data: { CustomKeyStoreId: NEW_STORE_ID, ConnectionState: 'DISCONNECTED' } });
      expect(sentNames(m.kms)).toEqual(['DescribeCustomKeyStores', 'CreateCustomKeyStore', 'ConnectCustomKeyStore']);
    });

    test('a store that no longer exists is replaced', async () => {
      m.kms.on(DescribeCustomKeyStoresCommand).rejects(awsError('CustomKeyStoreNotFoundException'));
      m.kms.on(CreateCustomKeyStoreCommand).resolves({ CustomKeyStoreId: NEW_STORE_ID });
      m.kms.on(ConnectCustomKeyStoreCommand).resolves({});
      const result = await onEvent(updateEvent(xksProps(), cloudHsmProps()));
      expect(result.PhysicalResourceId).toBe(NEW_STORE_ID);
      expect(sentNames(m.kms)).toEqual(['DescribeCustomKeyStores', 'CreateCustomKeyStore', 'ConnectCustomKeyStore']);
    });
  });

  test('isComplete of a replacement waits on the new store', async () => {
    describeReturns(cloudHsmStore('CONNECTED', { CustomKeyStoreId: NEW_STORE_ID }));
    const event = afterOnEvent(updateEvent(cloudHsmProps(), xksProps({ CustomKeyStoreName: 'NewXks' })), { PhysicalResourceId: NEW_STORE_ID });
    expect(await isComplete(event)).toEqual({ IsComplete: true, Data: { CustomKeyStoreId: NEW_STORE_ID, ConnectionState: 'CONNECTED' } });
    expect(sent(m.kms)).toEqual([['DescribeCustomKeyStores', { CustomKeyStoreId: NEW_STORE_ID }]]);
  });

  test('changing the adopted store id adopts the other store (a replacement)', async () => {
    describeReturns(cloudHsmStore('CONNECTED', { CustomKeyStoreId: NEW_STORE_ID }));
    const result = await onEvent(updateEvent(adoptProps(), adoptProps({ CustomKeyStoreId: NEW_STORE_ID })));
    expect(result.PhysicalResourceId).toBe(NEW_STORE_ID);
    expect(sent(m.kms)).toEqual([['DescribeCustomKeyStores', { CustomKeyStoreId: NEW_STORE_ID }]]);
  });

  test('an unrelated cluster is refused with an actionable message', async () => {
    describeReturns(cloudHsmStore('DISCONNECTED'), cloudHsmStore('DISCONNECTED'));
    m.kms.on(UpdateCustomKeyStoreCommand).rejects(awsError('CloudHsmClusterNotRelatedException'));
    const message = await failure(onEvent(updateEvent(cloudHsmProps(), cloudHsmProps({ CloudHsmClusterId: OTHER_CLUSTER_ID }))));
    expect(message).toBe(`KMS UpdateCustomKeyStore failed for custom key store ${STORE_ID} (${STORE_NAME}) (resource ${LOGICAL_ID}): CloudHsmClusterNotRelatedException: ` +
      'the new CloudHSM cluster has a different cluster certificate than the original cluster: a store can only move to a cluster that shares the backup history of its original cluster ' +
      '(created from a backup of it, or from the same backup). Use a related cluster, or create a new store for the unrelated cluster (change the trust anchor certificate and the name to replace the store).');
  });

  test('a reconnect after the update that ends FAILED fails at once with the connection error', async () => {
    describeReturns(cloudHsmStore('FAILED', { CloudHsmClusterId: OTHER_CLUSTER_ID, ConnectionErrorCode: 'INVALID_CREDENTIALS' }));
    const event = afterOnEvent(updateEvent(cloudHsmProps(), cloudHsmProps({ CloudHsmClusterId: OTHER_CLUSTER_ID })),
      { PhysicalResourceId: STORE_ID, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED' } });
    const message = await failure(isComplete(event));
    expect(message).toBe(`Custom key store ${STORE_ID} (${STORE_NAME}) failed to connect: INVALID_CREDENTIALS — ${CONNECTION_ERROR_ADVICE.INVALID_CREDENTIALS.meaning}. ` +
      `${CONNECTION_ERROR_ADVICE.INVALID_CREDENTIALS.check}. The store is left FAILED and its KMS keys are unusable until it connects. ` +
      'Fix the cause and deploy again (the handler disconnects a FAILED store before connecting it), or disconnect and connect it yourself (DisconnectCustomKeyStore, ConnectCustomKeyStore).');
  });

  test('a rollback (the reversed update) of a change KMS never applied sends no update', async () => {
    // The forward update (cluster A → B) failed before UpdateCustomKeyStore; the store still shows A.
    describeReturns(cloudHsmStore('CONNECTED'));
    const rollback = updateEvent(cloudHsmProps({ CloudHsmClusterId: OTHER_CLUSTER_ID }), cloudHsmProps({ CloudHsmClusterId: CLUSTER_ID }));
    const result = await onEvent(rollback);
    expect(await isComplete(afterOnEvent(rollback, result))).toEqual({ IsComplete: true, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED' } });
    expect(sentNames(m.kms)).toEqual(['DescribeCustomKeyStores', 'DescribeCustomKeyStores']);
  });

  test('a rollback of an applied change updates the store back', async () => {
    describeReturns(cloudHsmStore('DISCONNECTED', { CloudHsmClusterId: OTHER_CLUSTER_ID }));
    m.kms.on(UpdateCustomKeyStoreCommand).resolves({});
    m.kms.on(ConnectCustomKeyStoreCommand).resolves({});
    await onEvent(updateEvent(cloudHsmProps({ CloudHsmClusterId: OTHER_CLUSTER_ID }), cloudHsmProps({ CloudHsmClusterId: CLUSTER_ID })));
    expect(m.kms).toHaveReceivedCommandWith(UpdateCustomKeyStoreCommand, { CustomKeyStoreId: STORE_ID, CloudHsmClusterId: CLUSTER_ID });
  });

  test('fails with a clear message when the store was deleted outside CloudFormation', async () => {
    m.kms.on(DescribeCustomKeyStoresCommand).rejects(awsError('CustomKeyStoreNotFoundException'));
    const message = await failure(onEvent(updateEvent(cloudHsmProps(), cloudHsmProps({ CustomKeyStoreName: 'Renamed' }))));
    expect(message).toMatch(new RegExp(`^Custom key store ${STORE_ID} of resource ${LOGICAL_ID} does not exist in this account and Region`));
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('Delete', () => {
  test('of a physical id that is not a store id makes no AWS call (the framework answers the Delete after a failed Create itself)', async () => {
    const notAStore = '3f1c2b9e-7d4a-4c1e-9b2f-request-id';
    const event = deleteEvent(cloudHsmProps(), notAStore);
    expect(await onEvent(event)).toEqual({ PhysicalResourceId: notAStore });
    expect(await isComplete(afterOnEvent(event, { PhysicalResourceId: notAStore }))).toEqual({ IsComplete: true });
    expect(sent(m.kms)).toEqual([]);
    expect(sent(m.secrets)).toEqual([]);
  });

  test('of a store that no longer exists succeeds with no further call', async () => {
    m.kms.on(DescribeCustomKeyStoresCommand).rejects(awsError('CustomKeyStoreNotFoundException'));
    const event = deleteEvent(cloudHsmProps());
    const result = await onEvent(event);
    expect(result.PhysicalResourceId).toBe(STORE_ID);
    expect(await isComplete(afterOnEvent(event, result))).toEqual({ IsComplete: true });
    expect(sentNames(m.kms)).toEqual(['DescribeCustomKeyStores', 'DescribeCustomKeyStores']);
  });

  test.each<[State, string[]]>([
    ['DISCONNECTED', ['DescribeCustomKeyStores', 'ListKeys', 'DeleteCustomKeyStore']],
    ['DISCONNECTING', ['DescribeCustomKeyStores', 'ListKeys']],
    ['CONNECTED', ['DescribeCustomKeyStores', 'ListKeys', 'DisconnectCustomKeyStore']],
    ['CONNECTING', ['DescribeCustomKeyStores', 'ListKeys', 'DisconnectCustomKeyStore']],
    ['FAILED', ['DescribeCustomKeyStores', 'ListKeys', 'DisconnectCustomKeyStore']],
  ])('onEvent on a %s store without keys sends %j', async (state, calls) => {
    describeReturns(cloudHsmStore(state));
    noKeys();
    m.kms.on(DisconnectCustomKeyStoreCommand).resolves({});
    m.kms.on(DeleteCustomKeyStoreCommand).resolves({});
    const result = await onEvent(deleteEvent(cloudHsmProps()));
    expect(result).toEqual({ PhysicalResourceId: STORE_ID, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: state, DeleteAction: 'DELETE' } });
    expect(sentNames(m.kms)).toEqual(calls);
  });

  test.each<[State, boolean, string[]]>([
    ['DISCONNECTED', true, ['DescribeCustomKeyStores', 'DeleteCustomKeyStore']],
    ['DISCONNECTING', false, ['DescribeCustomKeyStores']],
    ['CONNECTED', false, ['DescribeCustomKeyStores', 'DisconnectCustomKeyStore']],
    ['CONNECTING', false, ['DescribeCustomKeyStores', 'DisconnectCustomKeyStore']],
    ['FAILED', false, ['DescribeCustomKeyStores', 'DisconnectCustomKeyStore']],
  ])('isComplete on a %s store gives IsComplete %s after %j', async (state, done, calls) => {
    describeReturns(cloudHsmStore(state));
    m.kms.on(DisconnectCustomKeyStoreCommand).resolves({});
    m.kms.on(DeleteCustomKeyStoreCommand).resolves({});
    const event = afterOnEvent(deleteEvent(cloudHsmProps()), { PhysicalResourceId: STORE_ID, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED', DeleteAction: 'DELETE' } });
    expect(await isComplete(event)).toEqual({ IsComplete: done });
    expect(sentNames(m.kms)).toEqual(calls);
  });

  test('waits while DISCONNECTING, then deletes the DISCONNECTED store and completes', async () => {
    describeReturns(cloudHsmStore('DISCONNECTING'), cloudHsmStore('DISCONNECTED'));
    m.kms.on(DeleteCustomKeyStoreCommand).resolves({});
    const event = afterOnEvent(deleteEvent(cloudHsmProps()), { PhysicalResourceId: STORE_ID, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED', DeleteAction: 'DELETE' } });
    expect(await isComplete(event)).toEqual({ IsComplete: false });
    expect(await isComplete(event)).toEqual({ IsComplete: true });
    expect(sent(m.kms)).toEqual([
      ['DescribeCustomKeyStores', { CustomKeyStoreId: STORE_ID }],
      ['DescribeCustomKeyStores', { CustomKeyStoreId: STORE_ID }],
      ['DeleteCustomKeyStore', { CustomKeyStoreId: STORE_ID }],
    ]);
  });

  test('a DeleteCustomKeyStore answered "not found" (deleted meanwhile) is success', async () => {
    describeReturns(cloudHsmStore('DISCONNECTED'));
    m.kms.on(DeleteCustomKeyStoreCommand).rejects(awsError('CustomKeyStoreNotFoundException'));
    const event = afterOnEvent(deleteEvent(cloudHsmProps()), { PhysicalResourceId: STORE_ID, Data: { DeleteAction: 'DELETE' } });
    expect(await isComplete(event)).toEqual({ IsComplete: true });
  });

  describe('with keys left in the store', () => {
    const deletion = new Date('2026-12-01T10:00:00Z');
    let listKeysInputs: ListKeysCommandInput[];
    beforeEach(() => {
      describeReturns(cloudHsmStore('CONNECTED'));
      listKeysInputs = listKeysPages(
        { Keys: [{ KeyId: 'key-a' }, { KeyId: 'key-other' }], Truncated: true, NextMarker: 'page-2' },
        { Keys: [{ KeyId: 'key-b' }, { KeyId: 'key-gone' }], Truncated: false });
      m.kms.on(DescribeKeyCommand, { KeyId: 'key-a' }).resolves({ KeyMetadata: { KeyId: 'key-a', KeyState: 'Enabled', CustomKeyStoreId: STORE_ID } });
      m.kms.on(DescribeKeyCommand, { KeyId: 'key-other' }).resolves({ KeyMetadata: { KeyId: 'key-other', KeyState: 'Enabled', CustomKeyStoreId: NEW_STORE_ID } });
      m.kms.on(DescribeKeyCommand, { KeyId: 'key-b' }).resolves({ KeyMetadata: { KeyId: 'key-b', KeyState: 'PendingDeletion', DeletionDate: deletion, CustomKeyStoreId: STORE_ID } });
      m.kms.on(DescribeKeyCommand, { KeyId: 'key-gone' }).rejects(awsError('NotFoundException'));
      m.kms.on(DisconnectCustomKeyStoreCommand).resolves({});
    });

    test('with keysRemaining FAIL fails listing the keys of this store and their states, and does not disconnect', async () => {
      const message = await failure(onEvent(deleteEvent(cloudHsmProps())));
      expect(message).toBe(`Cannot delete custom key store ${STORE_ID} (${STORE_NAME}): it still holds 2 KMS keys: key-a (Enabled), key-b (PendingDeletion until 2026-12-01). ` +
        'Schedule the remaining keys for deletion and wait until their waiting period ends (keys pending deletion still count), ' +
        'or set keysRemaining to DISCONNECT_AND_RETAIN, or retain this resource when you retry the stack delete.');
      expect(m.kms).not.toHaveReceivedCommand(DisconnectCustomKeyStoreCommand);
      expect(m.kms).not.toHaveReceivedCommand(DeleteCustomKeyStoreCommand);
      expect(listKeysInputs).toEqual([{ Limit: 1000 }, { Limit: 1000, Marker: 'page-2' }]);
    });

    test('with DISCONNECT_AND_RETAIN disconnects, logs a warning with the key count and does not delete', async () => {
      const event = deleteEvent(cloudHsmProps({ KeysRemaining: 'DISCONNECT_AND_RETAIN' }));
      const result = await onEvent(event);
      expect(result).toEqual({ PhysicalResourceId: STORE_ID, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED', DeleteAction: 'DISCONNECT_AND_RETAIN' } });
      expect(m.kms).toHaveReceivedCommandWith(DisconnectCustomKeyStoreCommand, { CustomKeyStoreId: STORE_ID });
      expect(m.kms).not.toHaveReceivedCommand(DeleteCustomKeyStoreCommand);
      expect(logs.parsed()).toContainEqual(expect.objectContaining({
        level: 'WARN',
        message: 'custom key store still holds KMS keys: disconnecting it and retaining it (not deleted), as keysRemaining is DISCONNECT_AND_RETAIN',
        customKeyStoreId: STORE_ID,
        keyCount: 2,
      }));
    });
  });

  describe('in an account with many keys', () => {
    const keyId = (i: number) => `key-${String(i).padStart(2, '0')}`;
    const inStore = (id: string) => ({ KeyMetadata: { KeyId: id, KeyState: 'Enabled' as const, CustomKeyStoreId: STORE_ID } });
    const elsewhere = (id: string) => ({ KeyMetadata: { KeyId: id, KeyState: 'Enabled' as const } });

    test('stops the scan once 25 keys of the store are found, without reading further ListKeys pages, and does not disconnect', async () => {
      // GIVEN: page 1 holds 15 keys of the store among 30, page 2 10 more, and there is a page 3
      describeReturns(cloudHsmStore('CONNECTED'));
      const listKeysInputs = listKeysPages(
        { Keys: Array.from({ length: 30 }, (_, i) => ({ KeyId: keyId(i) })), Truncated: true, NextMarker: 'page-2' },
        { Keys: Array.from({ length: 10 }, (_, i) => ({ KeyId: keyId(30 + i) })), Truncated: true, NextMarker: 'page-3' },
        { Keys: [{ KeyId: 'key-page-3' }], Truncated: false });
      m.kms.on(DescribeKeyCommand).callsFake(async ({ KeyId }: { KeyId: string }) => {
        const i = Number(KeyId.slice(4));
        return i >= 30 || i % 2 === 0 ? inStore(KeyId) : elsewhere(KeyId);
      });

      // WHEN
      const message = await failure(onEvent(deleteEvent(cloudHsmProps())));

      // THEN
      const expected = [...Array.from({ length: 15 }, (_, i) => keyId(2 * i)), ...Array.from({ length: 10 }, (_, i) => keyId(30 + i))];
      expect(message).toBe(`Cannot delete custom key store ${STORE_ID} (${STORE_NAME}): it still holds at least 25 KMS keys (listing stopped at 25): ` +
        `${expected.map((id) => `${id} (Enabled)`).join(', ')}. ` +
        'Schedule the remaining keys for deletion and wait until their waiting period ends (keys pending deletion still count), ' +
        'or set keysRemaining to DISCONNECT_AND_RETAIN, or retain this resource when you retry the stack delete.');
      expect(listKeysInputs).toEqual([{ Limit: 1000 }, { Limit: 1000, Marker: 'page-2' }]);
      expect(m.kms).toHaveReceivedCommandTimes(DescribeKeyCommand, 40);
      expect(m.kms).not.toHaveReceivedCommand(DisconnectCustomKeyStoreCommand);
      expect(m.kms).not.toHaveReceivedCommand(DeleteCustomKeyStoreCommand);
    });

    /** GIVEN for the deadline tests: 40 keys listed (and more pages); DescribeKey answers the first 10 at once and never answers the others in time. */
    function slowAccount(): { maxInFlight: () => number } {
      describeReturns(cloudHsmStore('CONNECTED'));
      m.kms.on(ListKeysCommand).resolves({ Keys: Array.from({ length: 40 }, (_, i) => ({ KeyId: keyId(i) })), Truncated: true, NextMarker: 'page-2' });
      m.kms.on(DisconnectCustomKeyStoreCommand).resolves({});
      let inFlight = 0;
      let max = 0;
      m.kms.on(DescribeKeyCommand).callsFake(async ({ KeyId }: { KeyId: string }) => {
        inFlight++;
        max = Math.max(max, inFlight);
        if (Number(KeyId.slice(4)) >= 10) {
          await new Promise((resolve) => setTimeout(resolve, 60_000).unref());
        }
        inFlight--;
        return elsewhere(KeyId);
      });
      return { maxInFlight: () => max };
    }

    test('with keysRemaining FAIL, stops 15 s before the Lambda deadline and fails saying how many keys were checked and what to do, without disconnecting', async () => {
      // GIVEN: the invocation ends 15.4 s from now, so the scan has 400 ms
      const account = slowAccount();
      const deadline = new Deadline(Date.now() + 15_400);
      const started = Date.now();

      // WHEN
      const message = await failure(onEvent(deleteEvent(cloudHsmProps()), { deadline }));

      // THEN
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(message).toBe(`Cannot delete custom key store ${STORE_ID} (${STORE_NAME}): could not check whether it still holds KMS keys, ` +
        "because the account has too many KMS keys to check within one invocation (checked 10 of the 40 keys listed before the Lambda function's deadline; " +
        'KMS can only list all keys of the account and describe them one by one). The store was left as it is (not disconnected). ' +
        'To go on, set keysRemaining to DISCONNECT_AND_RETAIN and retry (the store is then disconnected, and deleted only if KMS reports no keys in it); ' +
        "or delete the store's keys or schedule them for deletion, then disconnect and delete the store yourself once KMS no longer counts them " +
        '(DisconnectCustomKeyStore, DeleteCustomKeyStore) and retry the stack delete (a store that is gone is not checked again); ' +
        'or retain this resource when you retry the stack delete.');
      expect(sentNames(m.kms).filter((n) => n !== 'DescribeKey')).toEqual(['DescribeCustomKeyStores', 'ListKeys']);
      expect(m.kms).toHaveReceivedCommandTimes(DescribeKeyCommand, 20);
      expect(account.maxInFlight()).toBe(10);
      expect(logs.parsed()).toContainEqual(expect.objectContaining({ level: 'WARN', scanEnd: 'DEADLINE', keysFound: 0, keysChecked: 10, keysListed: 40 }));
    });

    test('with DISCONNECT_AND_RETAIN, a scan stopped at the deadline goes on to disconnect (DeleteCustomKeyStore then decides)', async () => {
      // GIVEN
      slowAccount();
      const deadline = new Deadline(Date.now() + 15_400);

      // WHEN
      const result = await onEvent(deleteEvent(cloudHsmProps({ KeysRemaining: 'DISCONNECT_AND_RETAIN' })), { deadline });

      // THEN
      expect(result).toEqual({ PhysicalResourceId: STORE_ID, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED', DeleteAction: 'DELETE' } });
      expect(sentNames(m.kms).filter((n) => n !== 'DescribeKey')).toEqual(['DescribeCustomKeyStores', 'ListKeys', 'DisconnectCustomKeyStore']);
    });
  });

  test('DISCONNECT_AND_RETAIN: isComplete waits for DISCONNECTED and completes without deleting', async () => {
    describeReturns(cloudHsmStore('DISCONNECTING'), cloudHsmStore('DISCONNECTED'));
    const event = afterOnEvent(deleteEvent(cloudHsmProps({ KeysRemaining: 'DISCONNECT_AND_RETAIN' })),
      { PhysicalResourceId: STORE_ID, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED', DeleteAction: 'DISCONNECT_AND_RETAIN' } });
    expect(await isComplete(event)).toEqual({ IsComplete: false });
    expect(await isComplete(event)).toEqual({ IsComplete: true });
    expect(sentNames(m.kms)).toEqual(['DescribeCustomKeyStores', 'DescribeCustomKeyStores']);
  });

  test('keys created while disconnecting (CustomKeyStoreHasCMKsException) fail with the key listing', async () => {
    describeReturns(cloudHsmStore('DISCONNECTED'));
    m.kms.on(DeleteCustomKeyStoreCommand).rejects(awsError('CustomKeyStoreHasCMKsException'));
    m.kms.on(ListKeysCommand).resolves({ Keys: [{ KeyId: 'key-late' }], Truncated: false });
    m.kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'key-late', KeyState: 'Enabled', CustomKeyStoreId: STORE_ID } });
    const event = afterOnEvent(deleteEvent(cloudHsmProps()), { PhysicalResourceId: STORE_ID, Data: { DeleteAction: 'DELETE' } });
    expect(await failure(isComplete(event))).toMatch(new RegExp(`^Cannot delete custom key store ${STORE_ID} \\(${STORE_NAME}\\): it still holds 1 KMS key: key-late \\(Enabled\\)\\. Schedule`));
  });

  test('an adopted store is deleted like any other', async () => {
    describeReturns(cloudHsmStore('DISCONNECTED'));
    noKeys();
    m.kms.on(DeleteCustomKeyStoreCommand).resolves({});
    await onEvent(deleteEvent(adoptProps()));
    expect(m.kms).toHaveReceivedCommandWith(DeleteCustomKeyStoreCommand, { CustomKeyStoreId: STORE_ID });
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('every connection state × request type', () => {
  const events: Record<string, () => CustomKeyStoreEvent> = {
    Create: () => afterOnEvent(createEvent(cloudHsmProps()), { PhysicalResourceId: STORE_ID, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'DISCONNECTED' } }),
    Update: () => afterOnEvent(updateEvent(cloudHsmProps(), cloudHsmProps({ CustomKeyStoreName: 'Renamed' })), { PhysicalResourceId: STORE_ID, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED' } }),
    Delete: () => afterOnEvent(deleteEvent(cloudHsmProps()), { PhysicalResourceId: STORE_ID, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED', DeleteAction: 'DELETE' } }),
  };
  const expected: Record<string, Record<State, boolean | 'throws'>> = {
    // Connect true: waits for CONNECTED.
    Create: { CONNECTED: true, CONNECTING: false, DISCONNECTED: false, DISCONNECTING: false, FAILED: 'throws' },
    // A name change leaves the connection as it is.
    Update: { CONNECTED: true, CONNECTING: true, DISCONNECTED: true, DISCONNECTING: true, FAILED: true },
    // Waits for DISCONNECTED, then deletes.
    Delete: { CONNECTED: false, CONNECTING: false, DISCONNECTED: true, DISCONNECTING: false, FAILED: false },
  };
  const cases = Object.keys(events).flatMap((type) => ALL_STATES.map((state) => [type, state, expected[type][state]] as const));

  test.each(cases)('isComplete of %s on a %s store: %s', async (type, state, outcome) => {
    describeReturns(cloudHsmStore(state, { CustomKeyStoreName: 'Renamed', ConnectionErrorCode: state === 'FAILED' ? 'NETWORK_ERRORS' : undefined }));
    m.kms.on(ConnectCustomKeyStoreCommand).resolves({});
    m.kms.on(DisconnectCustomKeyStoreCommand).resolves({});
    m.kms.on(DeleteCustomKeyStoreCommand).resolves({});
    const run = isComplete(events[type]());
    if (outcome === 'throws') {
      await expect(run).rejects.toThrow(/failed to connect: NETWORK_ERRORS/);
    } else {
      expect((await run).IsComplete).toBe(outcome);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('transient faults and time', () => {
  type Handler = typeof import('../lambda/custom-key-store-provider/index');
  const HANDLER = require.resolve('../lambda/custom-key-store-provider/index');
  const throttled = { status: 400, body: { __type: 'ThrottlingException', message: 'Rate exceeded' } };

  test('ThrottlingException twice then success: the SDK standard retry strategy retries, the handler succeeds', async () => {
    const endpoint = await scriptedEndpoint({
      DescribeCustomKeyStores: [throttled, throttled, { status: 200, body: { CustomKeyStores: [{ CustomKeyStoreId: STORE_ID, CustomKeyStoreName: STORE_NAME, ConnectionState: 'DISCONNECTED' }] } }],
      ListKeys: [{ status: 200, body: { Keys: [], Truncated: false } }],
      DeleteCustomKeyStore: [{ status: 200, body: {} }],
    });
    try {
      const result = await withModuleAt<Handler, { PhysicalResourceId: string }>(HANDLER, endpoint.url, REGION, (fresh) => fresh.onEvent(deleteEvent(cloudHsmProps())));
      expect(result.PhysicalResourceId).toBe(STORE_ID);
      expect(endpoint.targets).toEqual(['DescribeCustomKeyStores', 'DescribeCustomKeyStores', 'DescribeCustomKeyStores', 'ListKeys', 'DeleteCustomKeyStore']);
    } finally {
      await endpoint.close();
    }
  });

  test('the module clients take the region and the KMS endpoint from the environment (AWS_REGION, AWS_ENDPOINT_URL_KMS)', async () => {
    // GIVEN a local endpoint answering like KMS for a store that is gone
    const targets: string[] = [];
    const server = http.createServer((req, res) => {
      targets.push(String(req.headers['x-amz-target']));
      req.resume();
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ __type: 'CustomKeyStoreNotFoundException', message: 'gone' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_REGION: REGION,
      AWS_ENDPOINT_URL_KMS: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'not-a-secret',
    });
    try {
      // WHEN the handler module is loaded as a Lambda container loads it
      let fresh: Handler | undefined;
      jest.isolateModules(() => {
        fresh = require(HANDLER) as Handler;
      });
      const result = await fresh!.onEvent(deleteEvent(cloudHsmProps()));
      // THEN
      expect(result).toEqual({ PhysicalResourceId: STORE_ID, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'DELETED', DeleteAction: 'DELETE' } });
      expect(targets).toEqual(['TrentService.DescribeCustomKeyStores']);
    } finally {
      process.env = saved;
      server.close();
    }
  });

  test('a fault that outlasts the Lambda deadline fails with a time-out message instead of hanging', async () => {
    const endpoint = await scriptedEndpoint({ DescribeCustomKeyStores: [throttled] });
    try {
      const message = await failure(withModuleAt<Handler, unknown>(HANDLER, endpoint.url, REGION,
        (fresh) => fresh.onEvent(deleteEvent(cloudHsmProps()), { deadline: new fresh.Deadline(Date.now() + 300, 0) })));
      expect(message).toBe(`KMS DescribeCustomKeyStores for custom key store ${STORE_ID} (${STORE_NAME}) (resource ${LOGICAL_ID}) ` +
        "ran out of time before the Lambda function's deadline: " +
        "transient KMS faults (throttling, internal errors, dependency time-outs or network errors) persisted through the SDK's retries; retry the deployment.");
    } finally {
      await endpoint.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('logs and returned data', () => {
  test('no secret value, ResponseURL or raw properties in any log line, returned Data or error', async () => {
    // GIVEN a create, an update with new secrets and a failing update
    m.kms.on(CreateCustomKeyStoreCommand).resolves({ CustomKeyStoreId: STORE_ID });
    m.kms.on(ConnectCustomKeyStoreCommand).resolves({});
    m.kms.on(UpdateCustomKeyStoreCommand).resolvesOnce({}).rejects(awsError('ValidationException', `bad value ${NEW_PASSWORD}`));
    describeReturns(cloudHsmStore('DISCONNECTED'));
    const outputs: unknown[] = [];
    // WHEN
    outputs.push(await onEvent(createEvent(cloudHsmProps())));
    outputs.push(await onEvent(createEvent(xksProps())));
    const update = updateEvent(cloudHsmProps(), cloudHsmProps({ KeyStorePassword: { SecretArn: NEW_PASSWORD_SECRET_ARN, JsonField: 'password' } }));
    outputs.push(await onEvent(update));
    outputs.push(await failure(onEvent(update)));
    outputs.push(await isComplete(afterOnEvent(createEvent(cloudHsmProps({ Connect: 'false' })), { PhysicalResourceId: STORE_ID })));
    // THEN
    const everything = JSON.stringify(outputs) + logs.lines.join('\n');
    expect(logs.lines.length).toBeGreaterThan(5);
    for (const secret of [...SECRET_VALUES, RESPONSE_URL, TRUST_ANCHOR, PASSWORD_SECRET_ARN]) {
      expect(everything).not.toContain(secret);
    }
    expect(outputs[3]).toContain('bad value ***');
  });

  test('each line is JSON with the request type, logical id, physical id, store id, connection state, outcome and duration', async () => {
    describeReturns(cloudHsmStore('CONNECTING'));
    await isComplete(afterOnEvent(createEvent(cloudHsmProps()), { PhysicalResourceId: STORE_ID }));
    const last = logs.parsed().pop();
    expect(last).toEqual({
      level: 'INFO',
      message: 'still in progress',
      handler: 'isComplete',
      requestType: 'Create',
      logicalResourceId: LOGICAL_ID,
      physicalResourceId: STORE_ID,
      customKeyStoreId: STORE_ID,
      connectionState: 'CONNECTING',
      outcome: 'CONNECTING',
      isComplete: false,
      durationMs: expect.any(Number),
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('whole lifecycle against the KMS emulator (real SDK clients)', () => {
  let emu: Emulator;
  let handler: typeof import('../lambda/custom-key-store-provider/index');
  let savedEnv: NodeJS.ProcessEnv;

  beforeAll(async () => {
    emu = await startEmulator({ region: REGION, connectDelayMs: 30, disconnectDelayMs: 20 });
    // The handler as a Lambda container loads it, its module-level clients pointed at the emulator by the environment.
    savedEnv = { ...process.env };
    Object.assign(process.env, { AWS_REGION: REGION, AWS_ENDPOINT_URL: emu.endpoint, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
    jest.isolateModules(() => {
      handler = require('../lambda/custom-key-store-provider/index');
    });
  });

  afterAll(async () => {
    process.env = savedEnv;
    await emu.close();
  });

  /** What the Provider framework does: onEvent, then isComplete until complete (or it throws). */
  async function provider(event: CustomKeyStoreEvent): Promise<{ PhysicalResourceId: string; Data?: object }> {
    const result = await handler.onEvent(event);
    for (let poll = 0; poll < 100; poll++) {
      const done = await handler.isComplete(afterOnEvent(event, result));
      if (done.IsComplete) {
        return { PhysicalResourceId: result.PhysicalResourceId, Data: done.Data };
      }
      await new Promise((r) => setTimeout(r, 15));
    }
    throw new Error('never completed');
  }

  function storeState(id: string): Record<string, unknown> | undefined {
    return (emu.state().customKeyStores as Record<string, unknown>[]).find((s) => JSON.stringify(s).includes(id));
  }

  test('create and connect, move to another cluster while connected, refuse to delete with a key left, then delete', async () => {
    const passwordArn = emu.putSecret({ name: 'kmsuser', secretString: PASSWORD });
    const props = cloudHsmProps({ CustomKeyStoreName: 'LifecycleStore', KeyStorePassword: { SecretArn: passwordArn } });
    // Create
    const created = await provider(createEvent(props));
    expect(created.Data).toEqual({ CustomKeyStoreId: created.PhysicalResourceId, ConnectionState: 'CONNECTED' });
    // Update that needs a disconnected store
    const moved = cloudHsmProps({ ...props, CloudHsmClusterId: OTHER_CLUSTER_ID });
    const updated = await provider(updateEvent(props, moved, created.PhysicalResourceId));
    expect(updated.Data).toEqual({ CustomKeyStoreId: created.PhysicalResourceId, ConnectionState: 'CONNECTED' });
    expect(JSON.stringify(storeState(created.PhysicalResourceId))).toContain(OTHER_CLUSTER_ID);
    // Delete refused while a key is in the store (and the store stays connected)
    const key = emu.createKey({ origin: 'AWS_CLOUDHSM', customKeyStoreId: created.PhysicalResourceId });
    const message = await failure(provider(deleteEvent(moved, created.PhysicalResourceId)));
    expect(message).toMatch(new RegExp(`^Cannot delete custom key store ${created.PhysicalResourceId} \\(LifecycleStore\\): it still holds 1 KMS key: ${key.keyId} \\(`));
    expect(JSON.stringify(storeState(created.PhysicalResourceId))).toContain('CONNECTED');
    // DISCONNECT_AND_RETAIN keeps it, disconnected
    await provider(deleteEvent({ ...moved, KeysRemaining: 'DISCONNECT_AND_RETAIN' }, created.PhysicalResourceId));
    expect(JSON.stringify(storeState(created.PhysicalResourceId))).toContain('DISCONNECTED');
  });

  test('a store without keys is disconnected and deleted; deleting it again succeeds', async () => {
    const passwordArn = emu.putSecret({ name: 'kmsuser-2', secretString: PASSWORD });
    const props = cloudHsmProps({ CustomKeyStoreName: 'ShortLived', CloudHsmClusterId: 'cluster-777abcdefgh', KeyStorePassword: { SecretArn: passwordArn } });
    const created = await provider(createEvent(props));
    await provider(deleteEvent(props, created.PhysicalResourceId));
    expect(storeState(created.PhysicalResourceId)).toBeUndefined();
    await provider(deleteEvent(props, created.PhysicalResourceId));
  });

  test('a connection that fails is reported at once with its error code', async () => {
    const passwordArn = emu.putSecret({ name: 'kmsuser-3', secretString: PASSWORD });
    const props = cloudHsmProps({ CustomKeyStoreName: 'Failing', CloudHsmClusterId: 'cluster-666abcdefgh', KeyStorePassword: { SecretArn: passwordArn }, Connect: 'false' });
    const created = await provider(createEvent(props));
    emu.setStoreBehaviour(created.PhysicalResourceId, { failWith: 'INSUFFICIENT_CLOUDHSM_HSMS' });
    const message = await failure(provider(updateEvent(props, { ...props, Connect: 'true' }, created.PhysicalResourceId)));
    expect(message).toMatch(new RegExp(`^Custom key store ${created.PhysicalResourceId} \\(Failing\\) failed to connect: INSUFFICIENT_CLOUDHSM_HSMS — `));
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('Delete during a rollback', () => {
  test.each(['ROLLBACK_IN_PROGRESS', 'UPDATE_ROLLBACK_IN_PROGRESS', 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS'])(
    'in %s an adopted store is left as it was: no disconnect, no delete, and the log says why', async (status) => {
      stackIs(m, status);
      const event = deleteEvent(adoptProps());
      const result = await onEvent(event);
      expect(result).toEqual({ PhysicalResourceId: STORE_ID, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'UNCHANGED', DeleteAction: 'LEAVE' } });
      expect(await isComplete(afterOnEvent(event, result))).toEqual({ IsComplete: true });
      expect(sentNames(m.kms)).toEqual([]);
      expect(m.cfn).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: STACK_ID });
      expect(logs.parsed()).toContainEqual(expect.objectContaining({
        message: 'adopted store left as it was: the stack is rolling back the deployment that adopted it, and the store existed before', stackStatus: status,
      }));
    });

  test('a store the stack created is still deleted by a rollback, without reading the stack status', async () => {
    stackIs(m, 'ROLLBACK_IN_PROGRESS');
    describeReturns(cloudHsmStore('DISCONNECTED'));
    noKeys();
    m.kms.on(DeleteCustomKeyStoreCommand).resolves({});
    await onEvent(deleteEvent(cloudHsmProps()));
    expect(m.kms).toHaveReceivedCommandWith(DeleteCustomKeyStoreCommand, { CustomKeyStoreId: STORE_ID });
    expect(m.cfn).not.toHaveReceivedAnyCommand();
  });

  test('an adopted store is deleted on a real destroy (DELETE_IN_PROGRESS)', async () => {
    stackIs(m, 'DELETE_IN_PROGRESS');
    describeReturns(cloudHsmStore('DISCONNECTED'));
    noKeys();
    m.kms.on(DeleteCustomKeyStoreCommand).resolves({});
    await onEvent(deleteEvent(adoptProps()));
    expect(m.kms).toHaveReceivedCommandWith(DeleteCustomKeyStoreCommand, { CustomKeyStoreId: STORE_ID });
  });

  test('when the stack status cannot be read, the Delete of an adopted store fails with what to do and touches nothing', async () => {
    m.cfn.on(DescribeStacksCommand).rejects(awsError('AccessDenied', 'not authorized'));
    const message = await failure(onEvent(deleteEvent(adoptProps())));
    expect(message).toBe(`Cannot read the status of stack ${STACK_ID} for custom key store ${STORE_ID} (resource ${LOGICAL_ID}) (DescribeStacks failed: AccessDenied: not authorized). ` +
      'The handler needs it to tell a rollback (which leaves an adopted store as it was) from a destroy, and does not guess. ' +
      'Check that the handler role may call cloudformation:DescribeStacks on this stack, then retry the operation (a retried delete or rollback sends the Delete again).');
    expect(sentNames(m.kms)).toEqual([]);
  });
});

describe('isComplete and transient faults', () => {
  const created = () => afterOnEvent(createEvent(cloudHsmProps()), { PhysicalResourceId: STORE_ID, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'DISCONNECTED' } });

  test('a throttled DescribeCustomKeyStores (after the SDK retries) means "not complete yet"; the next poll completes', async () => {
    m.kms.on(DescribeCustomKeyStoresCommand)
      .rejectsOnce(awsError('ThrottlingException', 'Rate exceeded'))
      .resolves({ CustomKeyStores: [cloudHsmStore('CONNECTED')] });
    expect(await isComplete(created())).toEqual({ IsComplete: false });
    expect(logs.parsed()).toContainEqual(expect.objectContaining({
      level: 'WARN', message: 'transient KMS fault after the SDK retries: not complete yet, the waiter polls again', operation: 'DescribeCustomKeyStores', errorName: 'ThrottlingException',
    }));
    expect(logs.parsed()).toContainEqual(expect.objectContaining({ message: 'still in progress', outcome: 'TRANSIENT_FAULT', isComplete: false }));
    expect(await isComplete(created())).toEqual({ IsComplete: true, Data: { CustomKeyStoreId: STORE_ID, ConnectionState: 'CONNECTED' } });
  });

  test('a 5xx on a move (ConnectCustomKeyStore) means "not complete yet" too', async () => {
    describeReturns(cloudHsmStore('DISCONNECTED'));
    m.kms.on(ConnectCustomKeyStoreCommand).rejects(Object.assign(awsError('KMSInternalException', 'internal'), { $metadata: { httpStatusCode: 500 } }));
    expect(await isComplete(created())).toEqual({ IsComplete: false });
  });

  test('a call cut off at the invocation deadline means "not complete yet"', async () => {
    m.kms.on(DescribeCustomKeyStoresCommand).callsFake(() => new Promise(() => undefined));
    expect(await isComplete(created(), { deadline: new Deadline(Date.now() + 200, 0) })).toEqual({ IsComplete: false });
  });

  test('a non-transient error still fails isComplete', async () => {
    m.kms.on(DescribeCustomKeyStoresCommand).rejects(awsError('AccessDeniedException', 'denied'));
    expect(await failure(isComplete(created()))).toMatch(/^KMS DescribeCustomKeyStores failed .*AccessDeniedException/);
  });

  test('onEvent still fails on a transient fault that outlived the SDK retries (CloudFormation retries the deployment)', async () => {
    m.kms.on(DescribeCustomKeyStoresCommand).rejects(awsError('ThrottlingException', 'Rate exceeded'));
    expect(await failure(onEvent(deleteEvent(cloudHsmProps())))).toMatch(/ThrottlingException/);
  });
});
