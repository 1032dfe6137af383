/**
 * XksProxyVpcEndpointServiceOwner end to end: an external key store whose VPC endpoint service is owned by
 * another account, from `vpcEndpointServiceOwner` through the template, the shipped handler bundle and the
 * KMS emulator (which validates it as the API Reference does), across create, an update that changes the
 * owner (which KMS allows only while the store is disconnected) and destroy.
 */
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { RemovalPolicy } from 'aws-cdk-lib';
import { CustomKeyStore, KeyStoreBackend, XksProxyConnectivity } from '../lib';
import { Emulator, startEmulator } from './kms-emulator';
import { LifecycleDriver } from './lifecycle/driver';
import { newStack, synth } from './lifecycle/stacks';

const CREDENTIAL = { accessKeyId: 'AKIAXKSVPCOWNERTESTAB', secretAccessKey: 'XksVpcOwnerSecretAccessKeyForTests0123456789abcd+/=' };
const SERVICE = 'com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0';

function template(owner: string | undefined) {
  const stack = newStack();
  new CustomKeyStore(stack, 'Store', {
    customKeyStoreName: 'xks-shared-vpc',
    backend: KeyStoreBackend.externalKeyStore({
      proxyUriEndpoint: 'https://xks.example.com',
      proxyUriPath: '/shared/kms/xks/v1',
      connectivity: XksProxyConnectivity.VPC_ENDPOINT_SERVICE,
      vpcEndpointServiceName: SERVICE,
      vpcEndpointServiceOwner: owner,
      proxyAuthenticationCredential: new secretsmanager.Secret(stack, 'Credential'),
    }),
    removalPolicy: RemovalPolicy.DESTROY,
  });
  return synth(stack);
}

interface StoreView { CustomKeyStoreName: string; ConnectionState: string; config: Record<string, unknown> }

let emulator: Emulator;
let logSpy: jest.SpyInstance;

beforeAll(async () => {
  emulator = await startEmulator({ connectDelayMs: 30_000, disconnectDelayMs: 30_000 });
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  logSpy = jest.spyOn(console, 'log').mockImplementation(() => undefined);
});

afterEach(() => {
  logSpy.mockRestore();
});

function stores(): StoreView[] {
  return emulator.state().customKeyStores as StoreView[];
}

test('creates the store with the other account as VPC endpoint service owner, moves it to a new owner in place, back to its own account, and deletes it on destroy', async () => {
  const d = new LifecycleDriver({ emulator, secretValues: { Credential: { secretString: JSON.stringify(CREDENTIAL) } } });

  const created = await d.deploy(template('222233334444'));
  expect(created.status).toBe('CREATE_COMPLETE');
  expect(stores()).toEqual([expect.objectContaining({
    CustomKeyStoreName: 'xks-shared-vpc',
    ConnectionState: 'CONNECTED',
    config: expect.objectContaining({
      XksProxyConnectivity: 'VPC_ENDPOINT_SERVICE',
      XksProxyVpcEndpointServiceName: SERVICE,
      XksProxyVpcEndpointServiceOwner: '222233334444',
    }),
  })]);
  const storeId = (emulator.state().customKeyStores[0] as { CustomKeyStoreId: string }).CustomKeyStoreId;

  const update = await d.deploy(template('555566667777'));

  expect(update.status).toBe('UPDATE_COMPLETE');
  expect(stores()).toEqual([expect.objectContaining({
    ConnectionState: 'CONNECTED',
    config: expect.objectContaining({ XksProxyVpcEndpointServiceOwner: '555566667777' }),
  })]);
  expect((emulator.state().customKeyStores[0] as { CustomKeyStoreId: string }).CustomKeyStoreId).toBe(storeId);
  const kmsCalls = emulator.calls.filter((c) => c.service === 'kms').map((c) => c.operation);
  const updateAt = kmsCalls.lastIndexOf('UpdateCustomKeyStore');
  expect(kmsCalls.slice(0, updateAt)).toContain('DisconnectCustomKeyStore');
  expect(emulator.calls.filter((c) => c.operation === 'UpdateCustomKeyStore').at(-1)!.input).toMatchObject({ XksProxyVpcEndpointServiceOwner: '555566667777' });

  // Removing the owner means the stack's own account (KMS's default on create), which UpdateCustomKeyStore needs
  // to be told: without an owner it keeps the old one.
  expect((await d.deploy(template(undefined))).status).toBe('UPDATE_COMPLETE');
  expect(stores()).toEqual([expect.objectContaining({ ConnectionState: 'CONNECTED', config: expect.objectContaining({ XksProxyVpcEndpointServiceOwner: '111122223333' }) })]);

  expect((await d.destroy()).status).toBe('DELETE_COMPLETE');
  expect(stores()).toEqual([]);
  d.close();
});

test('without vpcEndpointServiceOwner the store\'s owner is the calling account, as KMS defaults it', async () => {
  const d = new LifecycleDriver({ emulator, secretValues: { Credential: { secretString: JSON.stringify(CREDENTIAL) } } });

  await d.deploy(template(undefined));

  expect(stores()).toEqual([expect.objectContaining({ config: expect.objectContaining({ XksProxyVpcEndpointServiceOwner: '111122223333' }) })]);
  await d.destroy();
  d.close();
});
