/**
 * End-to-end lifecycles of the custom key store resource: synthesized CDK stacks played by the lifecycle
 * driver (CloudFormation + the installed Provider framework runtime, with the isComplete waiter) through the shipped
 * bundle (assets/custom-key-store-provider/index.js) against the KMS emulator. The waiter advances the
 * emulator clock by its query interval instead of sleeping. Assertions are on the emulator's state.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { KeysRemainingBehaviour } from '../lib';
import { QUERY_INTERVAL_SECONDS, TOTAL_TIMEOUT_MINUTES } from '../lib/private/custom-key-store-contract';
import { Emulator, startEmulator } from './kms-emulator';
import { LifecycleDriver } from './lifecycle/driver';
import { CREATE_FAILED_MARKER } from './lifecycle/provider-framework';
import { KMSUSER_PASSWORD_SECRET, StoreStackOptions, storeTemplate, XKS_CREDENTIAL_SECRET } from './lifecycle/stacks';
import { CapturedLogs, captureLogs } from './util/logs';

const STORE_TYPE = 'Custom::KmsCustomKeyStore';
const CONNECT_DELAY_MS = 60_000;
const DISCONNECT_DELAY_MS = 30_000;
const XKS_CREDENTIAL = { accessKeyId: 'AKIAXKSLIFECYCLETESTAB', secretAccessKey: 'XksSecretAccessKeyForLifecycleTests0123456789abcd+/=' };
const KMSUSER_PASSWORD = 'kmsuser-Pa55word';

interface StoreView {
  CustomKeyStoreId: string;
  CustomKeyStoreName: string;
  ConnectionState: string;
  ConnectionErrorCode?: string;
  config: Record<string, unknown>;
}

let emulator: Emulator;
let logs: CapturedLogs;

beforeAll(async () => {
  emulator = await startEmulator({ connectDelayMs: CONNECT_DELAY_MS, disconnectDelayMs: DISCONNECT_DELAY_MS });
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.clearFaults();
  logs = captureLogs(); // the handlers' and the framework's log lines
});

afterEach(() => {
  logs.restore();
});

let storeCount = 0;
function uniqueName(): string {
  return `lifecycle-store-${++storeCount}`;
}

/** KMS allows one XKS store per proxy URI: each test's store gets its own path. */
function xks(name = uniqueName(), extra: Partial<StoreStackOptions> = {}): StoreStackOptions {
  return { type: 'XKS', name, proxyUriPath: `/${name}/kms/xks/v1`, ...extra };
}

function driver(extra: Partial<ConstructorParameters<typeof LifecycleDriver>[0]> = {}): LifecycleDriver {
  return new LifecycleDriver({
    emulator,
    secretValues: {
      [XKS_CREDENTIAL_SECRET]: { secretString: JSON.stringify(XKS_CREDENTIAL) },
      [KMSUSER_PASSWORD_SECRET]: { secretString: KMSUSER_PASSWORD },
    },
    ...extra,
  });
}

function stores(): StoreView[] {
  return emulator.state().customKeyStores as StoreView[];
}

function store(id: string): StoreView | undefined {
  return stores().find((s) => s.CustomKeyStoreId === id);
}

function storeId(d: LifecycleDriver): string {
  return d.physical(d.logicalId('Store', STORE_TYPE)).ref;
}

/** Makes the next connection of the store named `name` end FAILED: the connect request is held for 300 ms while the behaviour is set. */
function failNextConnection(name: string, code: 'XKS_PROXY_NOT_REACHABLE' | 'INVALID_CREDENTIALS'): () => void {
  emulator.injectFaults({ rate: 0, slowMs: 300 });
  emulator.failNext('ConnectCustomKeyStore', 1, 'slow');
  const timer = setInterval(() => {
    if (stores().some((s) => s.CustomKeyStoreName === name)) {
      emulator.setStoreBehaviour(name, { failWith: code });
      clearInterval(timer);
    }
  }, 5);
  return () => clearInterval(timer);
}

describe('create', () => {
  test('creates an XKS store and polls isComplete, advancing the clock by the query interval, until it is CONNECTED', async () => {
    const d = driver();
    const op = await d.deploy(storeTemplate(xks()));

    expect(op.status).toBe('CREATE_COMPLETE');
    const [create] = op.invocations;
    expect(create.polls).toBe(CONNECT_DELAY_MS / (QUERY_INTERVAL_SECONDS * 1000) + 1);
    expect(create.elapsedMs).toBeGreaterThanOrEqual(CONNECT_DELAY_MS);
    expect(create.realMs).toBeLessThan(10_000);
    expect(create.response.Data).toEqual({ CustomKeyStoreId: storeId(d), ConnectionState: 'CONNECTED' });
    expect(store(storeId(d))).toMatchObject({
      ConnectionState: 'CONNECTED',
      config: { XksProxyAuthenticationCredential: { AccessKeyId: XKS_CREDENTIAL.accessKeyId, RawSecretAccessKey: XKS_CREDENTIAL.secretAccessKey } },
    });
    d.close();
  });

  test('creates a CloudHSM store CONNECTED with the kmsuser password read from its secret', async () => {
    const d = driver();
    const op = await d.deploy(storeTemplate({ type: 'CLOUDHSM', name: uniqueName() }));

    expect(op.status).toBe('CREATE_COMPLETE');
    expect(store(storeId(d))).toMatchObject({ ConnectionState: 'CONNECTED', config: { CloudHsmClusterId: 'cluster-abcdefghijk', KeyStorePassword: KMSUSER_PASSWORD } });
    await d.destroy(); // frees the cluster: KMS associates a CloudHSM cluster with one store only
    d.close();
  });

  test('with connect false the store is created and left DISCONNECTED', async () => {
    const d = driver();
    await d.deploy(storeTemplate(xks(uniqueName(), { connect: false })));

    expect(store(storeId(d))?.ConnectionState).toBe('DISCONNECTED');
    d.close();
  });

  test('a connection that ends FAILED fails the create with the error code, and the rollback Delete (with the store id, not the marker) deletes the store', async () => {
    const name = uniqueName();
    const stop = failNextConnection(name, 'XKS_PROXY_NOT_REACHABLE');
    const d = driver();
    const op = await d.deploy(storeTemplate(xks(name)));
    stop();

    expect(op.status).toBe('ROLLBACK_COMPLETE');
    const [create, rollback] = op.invocations;
    expect(create.response).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(/XKS_PROXY_NOT_REACHABLE/) });
    expect(create.response.PhysicalResourceId).toMatch(/^cks-[0-9a-f]{17}$/);
    expect(rollback.request).toMatchObject({ RequestType: 'Delete', PhysicalResourceId: create.response.PhysicalResourceId });
    expect(rollback.request.PhysicalResourceId).not.toBe(CREATE_FAILED_MARKER);
    expect(rollback.response.Status).toBe('SUCCESS');
    expect(stores().filter((s) => s.CustomKeyStoreName === name)).toEqual([]);
    d.close();
  });

  test('a connect that outlasts the waiter fails with "Operation timed out", and the rollback deletes the CONNECTING store', async () => {
    const name = uniqueName();
    const d = driver({ waiter: { queryIntervalMs: 20_000, totalTimeoutMs: 40_000 } }); // shorter than the 60 s connect
    const op = await d.deploy(storeTemplate(xks(name)));

    expect(op.status).toBe('ROLLBACK_COMPLETE');
    const [create, rollback] = op.invocations;
    expect(create.polls).toBe(3);
    expect(create.response).toMatchObject({ Status: 'FAILED', Reason: 'Operation timed out', PhysicalResourceId: expect.stringMatching(/^cks-/) });
    expect(rollback.response.Status).toBe('SUCCESS');
    expect(stores().filter((s) => s.CustomKeyStoreName === name)).toEqual([]);
    d.close();
  });

  test('the provider waits at most the contract\'s total timeout, within CloudFormation\'s one-hour service timeout', async () => {
    const d = driver();
    await d.deploy(storeTemplate(xks()));

    const [create] = d.invocations;
    expect(create.serviceTimeoutMs).toBe(3_600_000);
    expect(TOTAL_TIMEOUT_MINUTES * 60_000 + 5 * 60_000).toBeLessThanOrEqual(create.serviceTimeoutMs);
    d.close();
  });
});

describe('update', () => {
  test('renaming a connected store updates it in place: same store id, new name, still CONNECTED', async () => {
    const d = driver();
    await d.deploy(storeTemplate(xks()));
    const id = storeId(d);
    const newName = uniqueName();

    const op = await d.deploy(storeTemplate(xks(newName, { proxyUriPath: d.resource(d.logicalId('Store', STORE_TYPE)).props.XksProxyUriPath as string })));

    expect(op.status).toBe('UPDATE_COMPLETE');
    expect(storeId(d)).toBe(id);
    expect(store(id)).toMatchObject({ CustomKeyStoreName: newName, ConnectionState: 'CONNECTED' });
    d.close();
  });

  test('a stack update that leaves the store properties unchanged sends no request and the store stays CONNECTED', async () => {
    const d = driver();
    const name = uniqueName();
    await d.deploy(storeTemplate(xks(name)));

    const op = await d.deploy(storeTemplate(xks(name)));

    expect(op.invocations).toEqual([]);
    expect(store(storeId(d))?.ConnectionState).toBe('CONNECTED');
    d.close();
  });

  test('an Update request with unchanged properties keeps the store CONNECTED with the same id', async () => {
    const d = driver();
    await d.deploy(storeTemplate(xks()));
    const id = storeId(d);

    const update = await d.request(d.logicalId('Store', STORE_TYPE), 'Update');

    expect(update.response).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: id });
    expect(store(id)?.ConnectionState).toBe('CONNECTED');
    d.close();
  });

  test('replacing the store (new construct id) creates and connects the new store before deleting the old one', async () => {
    const d = driver();
    await d.deploy(storeTemplate(xks()));
    const oldId = storeId(d);

    const op = await d.deploy(storeTemplate(xks(uniqueName(), { storeId: 'NewStore' })));

    expect(op.status).toBe('UPDATE_COMPLETE');
    const newId = d.physical(d.logicalId('NewStore', STORE_TYPE)).ref;
    expect(op.invocations.map((i) => [i.request.RequestType, i.request.PhysicalResourceId ?? i.response.PhysicalResourceId, i.response.Status])).toEqual([
      ['Create', newId, 'SUCCESS'],
      ['Delete', oldId, 'SUCCESS'],
    ]);
    expect(store(newId)?.ConnectionState).toBe('CONNECTED');
    expect(store(oldId)).toBeUndefined();
    d.close();
  });
});

describe('update: replacement limits', () => {
  test('a new store that keeps the old XKS proxy URI cannot be created while the old one exists: the update rolls back and the old store stays CONNECTED', async () => {
    const d = driver();
    const name = uniqueName();
    await d.deploy(storeTemplate(xks(name)));
    const oldId = storeId(d);

    const op = await d.deploy(storeTemplate(xks(uniqueName(), { storeId: 'NewStore', proxyUriPath: `/${name}/kms/xks/v1` })));

    expect(op.status).toBe('UPDATE_ROLLBACK_COMPLETE');
    expect(op.invocations[0].response).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(/XksProxyUriInUseException/) });
    expect(store(oldId)?.ConnectionState).toBe('CONNECTED');
    expect(stores().filter((s) => s.config.XksProxyUriPath === `/${name}/kms/xks/v1`)).toHaveLength(1);
    d.close();
  });

  test('a refused replacement (new TrustAnchorCertificate) rolls back cleanly to the old store: the reverse Update finds the store already matching and creates nothing', async () => {
    const d = driver();
    const name = uniqueName();
    await d.deploy(storeTemplate({ type: 'CLOUDHSM', name }));
    const oldId = storeId(d);
    const rotatedAnchor = JSON.parse(JSON.stringify(storeTemplate({ type: 'CLOUDHSM', name })).replace('MIIBlifecycletest', 'MIIBrotatedanchor'));

    const op = await d.deploy(rotatedAnchor);

    expect(op.invocations[0].response.Status).toBe('FAILED'); // the new store cannot take the old one's name or cluster
    expect(op.status).toBe('UPDATE_ROLLBACK_COMPLETE');
    const rollback = op.invocations[1];
    expect(rollback.phase).toBe('rollback');
    expect(rollback.response).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: oldId });
    expect(store(oldId)?.ConnectionState).toBe('CONNECTED');
    expect(stores().filter((s) => s.CustomKeyStoreName === name)).toHaveLength(1);
    await d.destroy(); // frees the cluster
    d.close();
  });
});

describe('delete', () => {
  test('destroy disconnects the store, waits until DISCONNECTED and deletes it, while its role, policies and secret still exist', async () => {
    const d = driver();
    await d.deploy(storeTemplate(xks()));
    const id = storeId(d);

    const op = await d.destroy();

    expect(op.status).toBe('DELETE_COMPLETE');
    const [del] = op.invocations;
    expect(del.missingDependencies).toEqual([]);
    expect(del.polls).toBeGreaterThan(1);
    expect(del.elapsedMs).toBeGreaterThanOrEqual(DISCONNECT_DELAY_MS);
    expect(store(id)).toBeUndefined();
    d.close();
  });

  test('with removalPolicy RETAIN destroy leaves the store CONNECTED', async () => {
    const d = driver();
    await d.deploy(storeTemplate(xks(uniqueName(), { removalPolicy: RemovalPolicy.RETAIN })));
    const id = storeId(d);

    const op = await d.destroy();

    expect(op.status).toBe('DELETE_COMPLETE');
    expect(op.invocations).toEqual([]);
    expect(store(id)?.ConnectionState).toBe('CONNECTED');
    d.close();
  });

  test('a store that still holds a key is not deleted: the Delete fails naming the key and the store stays', async () => {
    const d = driver();
    await d.deploy(storeTemplate(xks()));
    const id = storeId(d);
    const key = emulator.createKey({ origin: 'EXTERNAL_KEY_STORE', customKeyStoreId: id, xksKeyId: 'xks-key-1' });

    const op = await d.destroy();

    expect(op.status).toBe('DELETE_FAILED');
    expect(op.invocations[0].response).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining(key.keyId) });
    expect(store(id)).toBeDefined();
    d.close();
  });

  test('with keysRemaining DISCONNECT_AND_RETAIN a store that holds a key is left DISCONNECTED and the delete succeeds', async () => {
    const d = driver();
    await d.deploy(storeTemplate(xks(uniqueName(), { keysRemaining: KeysRemainingBehaviour.DISCONNECT_AND_RETAIN })));
    const id = storeId(d);
    emulator.createKey({ origin: 'EXTERNAL_KEY_STORE', customKeyStoreId: id, xksKeyId: 'xks-key-2' });

    const op = await d.destroy();

    expect(op.status).toBe('DELETE_COMPLETE');
    expect(store(id)?.ConnectionState).toBe('DISCONNECTED');
    d.close();
  });

  test('a failed create rolls back with the marker when no store was created (name already in use), and no store is deleted', async () => {
    const name = uniqueName();
    const existing = emulator.createCustomKeyStore({ name, type: 'EXTERNAL_KEY_STORE', connectionState: 'CONNECTED' });
    const d = driver();

    const op = await d.deploy(storeTemplate(xks(name)));

    expect(op.status).toBe('ROLLBACK_COMPLETE');
    expect(op.invocations[0].response).toMatchObject({ Status: 'FAILED', PhysicalResourceId: CREATE_FAILED_MARKER });
    expect(op.invocations[1].invocations).toEqual([]);
    expect(store(existing)?.ConnectionState).toBe('CONNECTED');
    d.close();
  });
});
