/**
 * The KMS emulator must behave like the AWS KMS API Reference describes, as seen through the
 * real AWS SDK v3 clients: these tests are what lets the lifecycle handlers' tests trust it.
 */
import * as crypto from 'node:crypto';
import {
  CancelKeyDeletionCommand, ConnectCustomKeyStoreCommand, CreateCustomKeyStoreCommand, CreateKeyCommand,
  CustomKeyStoreHasCMKsException, CustomKeyStoreInvalidStateException, CustomKeyStoreNameInUseException,
  CustomKeyStoreNotFoundException, DecryptCommand, DeleteCustomKeyStoreCommand, DeleteImportedKeyMaterialCommand,
  DependencyTimeoutException, DescribeCustomKeyStoresCommand, DescribeKeyCommand, DisconnectCustomKeyStoreCommand,
  EncryptCommand, ExpiredImportTokenException, GetParametersForImportCommand, ImportKeyMaterialCommand,
  IncorrectKeyMaterialException, InvalidCiphertextException, InvalidImportTokenException, KMSClient,
  KMSInternalException, KMSInvalidStateException, KMSServiceException, KeySpec, KeyUsageType,
  ListKeyRotationsCommand, ListKeysCommand, NotFoundException, RotateKeyOnDemandCommand, ScheduleKeyDeletionCommand,
  UnsupportedOperationException, UpdateCustomKeyStoreCommand,
} from '@aws-sdk/client-kms';
import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { Emulator, startEmulator } from './kms-emulator';
import { ImportOptions, importMaterial as importWith, wrapOaep } from './util/kms-import';

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const DAY_S = 24 * 60 * 60;

let emu: Emulator;
let kms: KMSClient;

beforeAll(async () => {
  emu = await startEmulator({ connectDelayMs: 60, disconnectDelayMs: 40 });
  kms = kmsClient(emu, 1);
});

afterAll(async () => {
  kms.destroy();
  await emu.close();
});

function kmsClient(e: Emulator, maxAttempts: number): KMSClient {
  return new KMSClient({ endpoint: e.endpoint, region: 'us-east-1', credentials, maxAttempts });
}

async function createExternalKey(keySpec: KeySpec = 'SYMMETRIC_DEFAULT', keyUsage?: KeyUsageType, client = kms): Promise<string> {
  const out = await client.send(new CreateKeyCommand({ Origin: 'EXTERNAL', KeySpec: keySpec, KeyUsage: keyUsage }));
  return out.KeyMetadata!.KeyId!;
}

async function importMaterial(keyId: string, material: Buffer, options: ImportOptions & { client?: KMSClient } = {}) {
  return importWith(options.client ?? kms, keyId, material, options);
}

async function keyState(keyId: string, client = kms): Promise<string | undefined> {
  return (await client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState;
}

async function encrypt(keyId: string, text: string): Promise<Uint8Array> {
  return (await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(text) }))).CiphertextBlob!;
}

async function decrypt(blob: Uint8Array): Promise<string> {
  return Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString();
}

async function storeState(id: string, client = kms) {
  return (await client.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: id }))).CustomKeyStores![0];
}

async function waitForStore(id: string, state: string, client = kms) {
  for (let i = 0; i < 100; i++) {
    const entry = await storeState(id, client);
    if (entry.ConnectionState === state) return entry;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`store ${id} never reached ${state}`);
}

const sha256hex = (...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), crypto.createHash('sha256')).digest('hex');

// ==================================================================== import

describe('importing key material', () => {
  test('an EXTERNAL key starts in PendingImport without key material', async () => {
    const out = await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }));

    expect(out.KeyMetadata).toMatchObject({ Origin: 'EXTERNAL', KeyState: 'PendingImport', Enabled: false, KeySpec: 'SYMMETRIC_DEFAULT' });
    expect(out.KeyMetadata!.CurrentKeyMaterialId).toBeUndefined();
    await expect(encrypt(out.KeyMetadata!.KeyId!, 'x')).rejects.toBeInstanceOf(KMSInvalidStateException);
  });

  test('32-byte symmetric material wrapped with RSAES_OAEP_SHA_256 enables the key and really encrypts', async () => {
    const keyId = await createExternalKey();
    const material = crypto.randomBytes(32);

    const params = await kms.send(new GetParametersForImportCommand({
      KeyId: keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048',
    }));
    const validFor = params.ParametersValidTo!.getTime() - Date.now();
    expect(validFor).toBeGreaterThan(23.9 * 3600_000);
    expect(validFor).toBeLessThanOrEqual(24 * 3600_000);
    const spki = crypto.createPublicKey({ key: Buffer.from(params.PublicKey!), format: 'der', type: 'spki' });
    expect(spki.asymmetricKeyDetails?.modulusLength).toBe(2048);

    const imported = await kms.send(new ImportKeyMaterialCommand({
      KeyId: keyId,
      ImportToken: params.ImportToken,
      EncryptedKeyMaterial: wrapOaep(params.PublicKey!, material),
      ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
    }));

    expect(imported.KeyMaterialId).toBe(sha256hex(Buffer.from(keyId), material));
    const meta = (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
    expect(meta).toMatchObject({ KeyState: 'Enabled', Enabled: true, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', CurrentKeyMaterialId: imported.KeyMaterialId });

    const blob = Buffer.from(await encrypt(keyId, 'hello'));
    expect(await decrypt(blob)).toBe('hello');
    // The ciphertext really is AES-256-GCM under the imported material (format documented in crypto.ts).
    const headerLength = 4 + 1 + blob[4] + 32;
    const decipher = crypto.createDecipheriv('aes-256-gcm', material, blob.subarray(headerLength, headerLength + 12));
    decipher.setAAD(Buffer.concat([blob.subarray(0, headerLength), Buffer.from('[]')]));
    decipher.setAuthTag(blob.subarray(headerLength + 12, headerLength + 28));
    expect(Buffer.concat([decipher.update(blob.subarray(headerLength + 28)), decipher.final()]).toString()).toBe('hello');
  });

  test('an RSA_2048 PKCS#8 private key wrapped with RSA_AES_KEY_WRAP_SHA_256 enables the key', async () => {
    const keyId = await createExternalKey('RSA_2048', 'ENCRYPT_DECRYPT');
    const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });

    await importMaterial(keyId, privateKey.export({ type: 'pkcs8', format: 'der' }), { algorithm: 'RSA_AES_KEY_WRAP_SHA_256' });

    expect(await keyState(keyId)).toBe('Enabled');
    const enc = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('rsa'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
    const local = crypto.privateDecrypt({ key: privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, enc.CiphertextBlob!);
    expect(local.toString()).toBe('rsa');
    const dec = await kms.send(new DecryptCommand({ KeyId: keyId, CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
    expect(Buffer.from(dec.Plaintext!).toString()).toBe('rsa');
  });

  test('rejects symmetric material that is not 32 bytes', async () => {
    const keyId = await createExternalKey();

    await expect(importMaterial(keyId, crypto.randomBytes(16))).rejects.toBeInstanceOf(IncorrectKeyMaterialException);
    expect(await keyState(keyId)).toBe('PendingImport');
  });

  test('rejects private key material of the wrong type for the key spec', async () => {
    const keyId = await createExternalKey('RSA_2048', 'SIGN_VERIFY');
    const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'der' });

    await expect(importMaterial(keyId, ec, { algorithm: 'RSA_AES_KEY_WRAP_SHA_256' })).rejects.toBeInstanceOf(IncorrectKeyMaterialException);
  });

  test('refuses plain OAEP wrapping for RSA private key material', async () => {
    const keyId = await createExternalKey('RSA_2048', 'SIGN_VERIFY');

    await expect(kms.send(new GetParametersForImportCommand({
      KeyId: keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048',
    }))).rejects.toBeInstanceOf(UnsupportedOperationException);
  });

  test('rejects an import token issued for another key, and an unknown token', async () => {
    const keyA = await createExternalKey();
    const keyB = await createExternalKey();
    const params = await kms.send(new GetParametersForImportCommand({ KeyId: keyA, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }));
    const wrapped = wrapOaep(params.PublicKey!, crypto.randomBytes(32));
    const base = { EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' as const };

    await expect(kms.send(new ImportKeyMaterialCommand({ ...base, KeyId: keyB, ImportToken: params.ImportToken })))
      .rejects.toBeInstanceOf(InvalidImportTokenException);
    await expect(kms.send(new ImportKeyMaterialCommand({ ...base, KeyId: keyA, ImportToken: crypto.randomBytes(64) })))
      .rejects.toBeInstanceOf(InvalidImportTokenException);
  });

  test('rejects key material that the wrapping key cannot decrypt', async () => {
    const keyId = await createExternalKey();
    const params = await kms.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }));

    await expect(kms.send(new ImportKeyMaterialCommand({
      KeyId: keyId, ImportToken: params.ImportToken, EncryptedKeyMaterial: crypto.randomBytes(256), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
    }))).rejects.toBeInstanceOf(InvalidCiphertextException);
  });

  test.each([
    ['KEY_MATERIAL_EXPIRES without ValidTo', { ExpirationModel: 'KEY_MATERIAL_EXPIRES' as const }],
    ['no ExpirationModel (defaults to KEY_MATERIAL_EXPIRES) without ValidTo', {}],
    ['KEY_MATERIAL_DOES_NOT_EXPIRE with ValidTo', { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' as const, ValidTo: new Date(Date.now() + 3600_000) }],
    ['ValidTo in the past', { ExpirationModel: 'KEY_MATERIAL_EXPIRES' as const, ValidTo: new Date(Date.now() - 1000) }],
    ['ValidTo more than 365 days ahead', { ExpirationModel: 'KEY_MATERIAL_EXPIRES' as const, ValidTo: new Date(Date.now() + 366 * DAY_S * 1000) }],
  ])('rejects %s with ValidationException', async (_name, expiry) => {
    const keyId = await createExternalKey();
    const params = await kms.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }));

    const error = await kms.send(new ImportKeyMaterialCommand({
      KeyId: keyId, ImportToken: params.ImportToken, EncryptedKeyMaterial: wrapOaep(params.PublicKey!, crypto.randomBytes(32)), ...expiry,
    })).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(KMSServiceException);
    expect((error as Error).name).toBe('ValidationException');
  });

  test('GetParametersForImport needs an EXTERNAL key that is not pending deletion', async () => {
    const awsKms = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const external = await createExternalKey();
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: external, PendingWindowInDays: 7 }));
    const args = { WrappingAlgorithm: 'RSAES_OAEP_SHA_256' as const, WrappingKeySpec: 'RSA_2048' as const };

    await expect(kms.send(new GetParametersForImportCommand({ KeyId: awsKms, ...args }))).rejects.toBeInstanceOf(UnsupportedOperationException);
    await expect(kms.send(new GetParametersForImportCommand({ KeyId: external, ...args }))).rejects.toBeInstanceOf(KMSInvalidStateException);
  });

  test('asymmetric and HMAC keys accept only their original material, and only while it is not imported', async () => {
    const keyId = await createExternalKey('HMAC_256', 'GENERATE_VERIFY_MAC');
    const material = crypto.randomBytes(48);
    await importMaterial(keyId, material);

    await expect(importMaterial(keyId, material)).rejects.toBeInstanceOf(KMSInvalidStateException);
    await expect(importMaterial(keyId, crypto.randomBytes(48))).rejects.toBeInstanceOf(IncorrectKeyMaterialException);
    await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId }));
    await expect(importMaterial(keyId, crypto.randomBytes(48))).rejects.toBeInstanceOf(IncorrectKeyMaterialException);
    await importMaterial(keyId, material);
    expect(await keyState(keyId)).toBe('Enabled');
  });

  test('logs calls with binary members replaced by their length', async () => {
    const keyId = await createExternalKey();
    emu.resetCalls();
    await importMaterial(keyId, crypto.randomBytes(32));

    const call = emu.calls.find((c) => c.operation === 'ImportKeyMaterial')!;
    expect(call).toMatchObject({ service: 'kms', outcome: 'ok', input: { KeyId: keyId, EncryptedKeyMaterial: 256, ImportToken: 64 } });
  });
});

// ==================================================================== delete and rotate

describe('DeleteImportedKeyMaterial', () => {
  test('returns the key to PendingImport, Decrypt fails, and reimporting the same material restores it', async () => {
    const keyId = await createExternalKey();
    const material = crypto.randomBytes(32);
    const { KeyMaterialId } = await importMaterial(keyId, material);
    const blob = await encrypt(keyId, 'secret');

    const out = await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId }));

    expect(out).toMatchObject({ KeyId: `arn:aws:kms:us-east-1:111122223333:key/${keyId}`, KeyMaterialId });
    expect(await keyState(keyId)).toBe('PendingImport');
    await expect(decrypt(blob)).rejects.toBeInstanceOf(KMSInvalidStateException);
    await expect(importMaterial(keyId, crypto.randomBytes(32))).rejects.toBeInstanceOf(IncorrectKeyMaterialException);
    await importMaterial(keyId, material);
    expect(await decrypt(blob)).toBe('secret');
  });

  test('keeps a PendingDeletion key in PendingDeletion; cancelling the deletion then leaves it PendingImport', async () => {
    const keyId = await createExternalKey();
    await importMaterial(keyId, crypto.randomBytes(32));
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));

    await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId }));

    expect(await keyState(keyId)).toBe('PendingDeletion');
    expect(emu.state().keys.find((k) => (k as { KeyId: string }).KeyId === keyId)).toMatchObject({
      KeyState: 'PendingDeletion', materials: [{ state: 'CURRENT', importState: 'PENDING_IMPORT' }],
    });
    await kms.send(new CancelKeyDeletionCommand({ KeyId: keyId }));
    expect(await keyState(keyId)).toBe('PendingImport');
  });

  test('is a successful no-op on a PendingImport key', async () => {
    const keyId = await createExternalKey();

    const out = await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId }));

    expect(out.KeyId).toContain(keyId);
    expect(await keyState(keyId)).toBe('PendingImport');
  });

  test('fails with the documented errors', async () => {
    const awsKms = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const external = await createExternalKey();
    await importMaterial(external, crypto.randomBytes(32));

    await expect(kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: crypto.randomUUID() }))).rejects.toBeInstanceOf(NotFoundException);
    await expect(kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: awsKms }))).rejects.toBeInstanceOf(UnsupportedOperationException);
    await expect(kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: external, KeyMaterialId: 'f'.repeat(64) })))
      .rejects.toBeInstanceOf(NotFoundException);
    expect(await keyState(external)).toBe('Enabled');
  });
});

describe('NEW_KEY_MATERIAL and RotateKeyOnDemand', () => {
  test('new material waits in PENDING_ROTATION until RotateKeyOnDemand makes it current', async () => {
    const keyId = await createExternalKey();
    const first = await importMaterial(keyId, crypto.randomBytes(32));
    const oldBlob = await encrypt(keyId, 'old');
    const secondMaterial = crypto.randomBytes(32);

    await expect(kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId }))).rejects.toBeInstanceOf(KMSInvalidStateException);
    const second = await importMaterial(keyId, secondMaterial, { importType: 'NEW_KEY_MATERIAL' });
    await expect(importMaterial(keyId, secondMaterial, { importType: 'NEW_KEY_MATERIAL' })).rejects.toBeInstanceOf(IncorrectKeyMaterialException);

    let rotations = await kms.send(new ListKeyRotationsCommand({ KeyId: keyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }));
    expect(rotations.Rotations!.map((r) => [r.KeyMaterialId, r.KeyMaterialState, r.ImportState])).toEqual([
      [first.KeyMaterialId, 'CURRENT', 'IMPORTED'],
      [second.KeyMaterialId, 'PENDING_ROTATION', 'IMPORTED'],
    ]);

    await kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));

    rotations = await kms.send(new ListKeyRotationsCommand({ KeyId: keyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }));
    expect(rotations.Rotations!.map((r) => r.KeyMaterialState)).toEqual(['NON_CURRENT', 'CURRENT']);
    expect((await kms.send(new ListKeyRotationsCommand({ KeyId: keyId }))).Rotations).toMatchObject([{ KeyMaterialId: second.KeyMaterialId, RotationType: 'ON_DEMAND' }]);
    expect((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.CurrentKeyMaterialId).toBe(second.KeyMaterialId);
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: await encrypt(keyId, 'new') }));
    expect(dec.KeyMaterialId).toBe(second.KeyMaterialId);
    expect(await decrypt(oldBlob)).toBe('old');
  });

  test('EXISTING_KEY_MATERIAL with material never associated with the key is rejected', async () => {
    const keyId = await createExternalKey();
    await importMaterial(keyId, crypto.randomBytes(32));

    await expect(importMaterial(keyId, crypto.randomBytes(32), { importType: 'EXISTING_KEY_MATERIAL' }))
      .rejects.toBeInstanceOf(IncorrectKeyMaterialException);
  });
});

// ==================================================================== custom key stores

describe('custom key stores', () => {
  const cloudHsm = (name: string) => new CreateCustomKeyStoreCommand({
    CustomKeyStoreName: name,
    CloudHsmClusterId: `cluster-${crypto.randomBytes(5).toString('hex')}`,
    TrustAnchorCertificate: '-----BEGIN CERTIFICATE-----...',
    KeyStorePassword: 'kmsPswd1',
  });

  test('connects after the delay, refuses deletion while connected or holding keys (even pending deletion)', async () => {
    const { CustomKeyStoreId: id } = await kms.send(cloudHsm('hsm-lifecycle'));
    expect(id).toMatch(/^cks-[0-9a-f]{17}$/);
    await expect(kms.send(cloudHsm('hsm-lifecycle'))).rejects.toBeInstanceOf(CustomKeyStoreNameInUseException);
    const entry = await storeState(id!);
    expect(entry).toMatchObject({ ConnectionState: 'DISCONNECTED', CustomKeyStoreType: 'AWS_CLOUDHSM' });
    expect(JSON.stringify(entry)).not.toContain('kmsPswd1');

    const started = Date.now();
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    expect((await storeState(id!)).ConnectionState).toBe('CONNECTING');
    await waitForStore(id!, 'CONNECTED');
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);

    await expect(kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: id }))).rejects.toBeInstanceOf(CustomKeyStoreInvalidStateException);
    const key = await kms.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: id }));
    expect(key.KeyMetadata).toMatchObject({ KeyState: 'Enabled', CustomKeyStoreId: id, CloudHsmClusterId: entry.CloudHsmClusterId });
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyMetadata!.KeyId, PendingWindowInDays: 7 }));

    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    expect((await storeState(id!)).ConnectionState).toBe('DISCONNECTING');
    await waitForStore(id!, 'DISCONNECTED');
    await expect(kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: id }))).rejects.toBeInstanceOf(CustomKeyStoreHasCMKsException);
  });

  test('a store told to fail ends FAILED with the code and must be disconnected before reconnecting', async () => {
    const { CustomKeyStoreId: id } = await kms.send(cloudHsm('hsm-failing'));
    emu.setStoreBehaviour('hsm-failing', { failWith: 'USER_LOCKED_OUT', connectDelayMs: 10 });

    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    const failed = await waitForStore(id!, 'FAILED');

    expect(failed.ConnectionErrorCode).toBe('USER_LOCKED_OUT');
    await expect(kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }))).rejects.toBeInstanceOf(CustomKeyStoreInvalidStateException);
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    const disconnected = await waitForStore(id!, 'DISCONNECTED');
    expect(disconnected.ConnectionErrorCode).toBeUndefined();
    await kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    await expect(storeState(id!)).rejects.toBeInstanceOf(CustomKeyStoreNotFoundException);
  });

  test('an external key store hides its secret and limits updates while connected', async () => {
    const id = emu.createCustomKeyStore({ name: 'xks-1', type: 'EXTERNAL_KEY_STORE', connectionState: 'CONNECTED' });
    const secret = 'DXjSUawnel2fr6SKC7G25CNxTyWKE5PF9XX6H/u9pSo=';

    const entry = await storeState(id);
    expect(entry.XksProxyConfiguration).toMatchObject({ Connectivity: 'PUBLIC_ENDPOINT', AccessKeyId: 'ABCDE12345670EXAMPLE', UriPath: '/example/prefix/kms/xks/v1' });
    expect(JSON.stringify(entry)).not.toContain(secret);

    await kms.send(new UpdateCustomKeyStoreCommand({
      CustomKeyStoreId: id, NewCustomKeyStoreName: 'xks-renamed',
      XksProxyAuthenticationCredential: { AccessKeyId: 'NEWKEY1234567EXAMPLE', RawSecretAccessKey: secret },
    }));
    await expect(kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: id, XksProxyUriEndpoint: 'https://other.example.com' })))
      .rejects.toBeInstanceOf(CustomKeyStoreInvalidStateException);
    expect(await storeState(id)).toMatchObject({ CustomKeyStoreName: 'xks-renamed', XksProxyConfiguration: { AccessKeyId: 'NEWKEY1234567EXAMPLE' } });
    const key = await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: id, XksKeyId: 'xks-key-1' }));
    expect(key.KeyMetadata).toMatchObject({ KeyState: 'Enabled', XksKeyConfiguration: { Id: 'xks-key-1' } });
  });

  test('DescribeCustomKeyStores pages, and unknown ids are CustomKeyStoreNotFoundException', async () => {
    emu.createCustomKeyStore({ name: 'page-a' });
    emu.createCustomKeyStore({ name: 'page-b' });

    const first = await kms.send(new DescribeCustomKeyStoresCommand({ Limit: 1 }));
    const second = await kms.send(new DescribeCustomKeyStoresCommand({ Limit: 1, Marker: first.NextMarker }));

    expect(first.Truncated).toBe(true);
    expect(second.CustomKeyStores![0].CustomKeyStoreId).not.toBe(first.CustomKeyStores![0].CustomKeyStoreId);
    expect((await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreName: 'page-b' }))).CustomKeyStores).toHaveLength(1);
    await expect(kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: 'cks-0123456789abcdef0' })))
      .rejects.toBeInstanceOf(CustomKeyStoreNotFoundException);
  });
});

// ==================================================================== time travel (own emulator)

describe('XksProxyVpcEndpointServiceOwner', () => {
  const xksStore = (name: string, extra: Record<string, string>) => new CreateCustomKeyStoreCommand({
    CustomKeyStoreName: name,
    CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
    XksProxyUriEndpoint: 'https://xks.example.com',
    XksProxyUriPath: `/${name}/kms/xks/v1`,
    XksProxyAuthenticationCredential: { AccessKeyId: 'AKIAXKSOWNERTESTABCDE', RawSecretAccessKey: 'x'.repeat(43) },
    XksProxyConnectivity: 'VPC_ENDPOINT_SERVICE',
    ...extra,
  });
  const owner = async (id: string) => (await storeState(id)).XksProxyConfiguration?.VpcEndpointServiceOwner;

  test('is the given 12-digit account, or the calling account by default, and UpdateCustomKeyStore changes it', async () => {
    const { CustomKeyStoreId: other } = await kms.send(xksStore('vpc-owner-a', { XksProxyVpcEndpointServiceName: 'com.amazonaws.vpce.us-east-1.vpce-svc-a', XksProxyVpcEndpointServiceOwner: '444455556666' }));
    const { CustomKeyStoreId: self } = await kms.send(xksStore('vpc-owner-b', { XksProxyVpcEndpointServiceName: 'com.amazonaws.vpce.us-east-1.vpce-svc-b' }));

    expect(await owner(other!)).toBe('444455556666');
    expect(await owner(self!)).toBe('111122223333');
    await kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: other, XksProxyVpcEndpointServiceOwner: '777788889999' }));
    expect(await owner(other!)).toBe('777788889999');
  });

  test('is refused when it is not 12 digits, or with PUBLIC_ENDPOINT connectivity', async () => {
    const bad = await kms.send(xksStore('vpc-owner-c', { XksProxyVpcEndpointServiceName: 'com.amazonaws.vpce.us-east-1.vpce-svc-c', XksProxyVpcEndpointServiceOwner: '4444' })).catch((e) => e);
    const publicEndpoint = await kms.send(xksStore('vpc-owner-d', { XksProxyConnectivity: 'PUBLIC_ENDPOINT', XksProxyVpcEndpointServiceOwner: '444455556666' })).catch((e) => e);

    expect([bad.name, publicEndpoint.name]).toEqual(['ValidationException', 'ValidationException']);
    expect(bad.message).toContain('xksProxyVpcEndpointServiceOwner');
  });
});

describe('time-dependent rules', () => {
  let timed: Emulator;
  let client: KMSClient;
  beforeAll(async () => {
    timed = await startEmulator();
    client = kmsClient(timed, 1);
  });
  afterAll(async () => {
    client.destroy();
    await timed.close();
  });

  test('expired material is deleted on the next access and import tokens expire after 24 h', async () => {
    const keyId = await createExternalKey('SYMMETRIC_DEFAULT', undefined, client);
    await importMaterial(keyId, crypto.randomBytes(32), { client, validTo: new Date(Date.now() + 3600_000) });
    expect((await client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata).toMatchObject({ KeyState: 'Enabled', ExpirationModel: 'KEY_MATERIAL_EXPIRES' });
    const params = await client.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }));

    timed.advanceTime(24 * 3600_000 + 1000);

    expect(await keyState(keyId, client)).toBe('PendingImport');
    await expect(client.send(new ImportKeyMaterialCommand({
      KeyId: keyId, ImportToken: params.ImportToken, EncryptedKeyMaterial: wrapOaep(params.PublicKey!, crypto.randomBytes(32)),
      ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
    }))).rejects.toBeInstanceOf(ExpiredImportTokenException);
  });

  test('a store can be deleted once its keys pending deletion are gone', async () => {
    const id = timed.createCustomKeyStore({ name: 'hsm-window', connectionState: 'CONNECTED' });
    const key = await client.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: id }));
    await client.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyMetadata!.KeyId, PendingWindowInDays: 7 }));
    await client.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    await waitForStore(id, 'DISCONNECTED', client);
    await expect(client.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: id }))).rejects.toBeInstanceOf(CustomKeyStoreHasCMKsException);

    timed.advanceTime(7 * DAY_S * 1000 + 1000);

    await expect(client.send(new DescribeKeyCommand({ KeyId: key.KeyMetadata!.KeyId }))).rejects.toBeInstanceOf(NotFoundException);
    await client.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: id }));
  });
});

// ==================================================================== faults

describe('fault injection', () => {
  test('two throttles are absorbed by an SDK with maxAttempts 3', async () => {
    const { keyId } = emu.createKey();
    const retrying = kmsClient(emu, 3);
    emu.resetCalls();
    emu.failNext('DescribeKey', 2, 'ThrottlingException');

    const out = await retrying.send(new DescribeKeyCommand({ KeyId: keyId }));

    expect(out.KeyMetadata!.KeyId).toBe(keyId);
    expect(out.$metadata.attempts).toBe(3);
    expect(emu.stats()).toMatchObject({ faultsInjected: 2, byKind: { ThrottlingException: 2 }, callsByOperation: { DescribeKey: 3 } });
    expect(emu.calls.map((c) => c.outcome)).toEqual(['fault', 'fault', 'ok']);
    retrying.destroy();
  });

  test('a dropped connection is retried by the SDK', async () => {
    const { keyId } = emu.createKey();
    const retrying = kmsClient(emu, 3);
    emu.resetCalls();
    emu.failNext('DescribeKey', 1, 'dropConnection');

    const out = await retrying.send(new DescribeKeyCommand({ KeyId: keyId }));

    expect(out.$metadata.attempts).toBe(2);
    expect(emu.stats().byKind).toEqual({ dropConnection: 1 });
    retrying.destroy();
  });

  test('server faults surface as the real exception classes with their status codes, and change nothing', async () => {
    const { keyId } = emu.createKey();
    emu.failNext('ScheduleKeyDeletion', 1, 'KMSInternalException');
    emu.failNext('ScheduleKeyDeletion', 1, 'DependencyTimeoutException');

    const internal = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId })).catch((e: unknown) => e);
    const timeout = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId })).catch((e: unknown) => e);

    expect(internal).toBeInstanceOf(KMSInternalException);
    expect((internal as KMSInternalException).$metadata.httpStatusCode).toBe(500);
    expect(timeout).toBeInstanceOf(DependencyTimeoutException);
    expect((timeout as DependencyTimeoutException).$metadata.httpStatusCode).toBe(503);
    expect(await keyState(keyId)).toBe('Enabled');
  });

  test('random faults are reproducible from the seed', async () => {
    const run = async () => {
      emu.injectFaults({ rate: 0.5, seed: 42, kinds: ['ThrottlingException', 'KMSInternalException'] });
      const outcomes: string[] = [];
      for (let i = 0; i < 12; i++) {
        outcomes.push(await kms.send(new ListKeysCommand({ Limit: 1 })).then(() => 'ok', (e: Error) => e.name));
      }
      emu.injectFaults(null);
      return outcomes;
    };

    const a = await run();
    const b = await run();

    expect(a).toEqual(b);
    expect(a).toContain('ok');
    expect(a.some((o) => o !== 'ok')).toBe(true);
  });
});

// ==================================================================== other services

describe('Secrets Manager and CloudFormation', () => {
  test('GetSecretValue finds a secret by name, full ARN and partial ARN, and by version stage', async () => {
    const sm = new SecretsManagerClient({ endpoint: emu.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
    const arn = emu.putSecret({ name: 'app/material', secretBinary: Buffer.from([1, 2, 3]) });
    emu.putSecret({ name: 'app/material', secretString: 'v2' });

    for (const id of ['app/material', arn, arn.slice(0, -7)]) {
      expect((await sm.send(new GetSecretValueCommand({ SecretId: id }))).SecretString).toBe('v2');
    }
    const previous = await sm.send(new GetSecretValueCommand({ SecretId: 'app/material', VersionStage: 'AWSPREVIOUS' }));
    expect(Buffer.from(previous.SecretBinary!)).toEqual(Buffer.from([1, 2, 3]));
    await expect(sm.send(new GetSecretValueCommand({ SecretId: 'missing' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    sm.destroy();
  });

  test('DescribeStacks reports the status tests set, CREATE_COMPLETE by default', async () => {
    const cfn = new CloudFormationClient({ endpoint: emu.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
    const stackId = emu.setStackStatus('my-stack', 'DELETE_IN_PROGRESS');

    expect((await cfn.send(new DescribeStacksCommand({ StackName: 'other' }))).Stacks![0].StackStatus).toBe('CREATE_COMPLETE');
    expect((await cfn.send(new DescribeStacksCommand({ StackName: stackId }))).Stacks![0]).toMatchObject({ StackName: 'my-stack', StackStatus: 'DELETE_IN_PROGRESS' });
    emu.removeStack('my-stack');
    await expect(cfn.send(new DescribeStacksCommand({ StackName: 'my-stack' }))).rejects.toMatchObject({ name: 'ValidationError' });
    cfn.destroy();
  });

  test('ListKeys pages with Limit and Marker', async () => {
    emu.createKey();
    emu.createKey();
    const first = await kms.send(new ListKeysCommand({ Limit: 2 }));
    const second = await kms.send(new ListKeysCommand({ Limit: 2, Marker: first.NextMarker }));

    expect(first.Keys).toHaveLength(2);
    expect(first.Truncated).toBe(true);
    expect(second.Keys![0].KeyId).not.toBe(first.Keys![0].KeyId);
  });
});
