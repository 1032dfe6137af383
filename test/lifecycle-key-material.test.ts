/**
 * End-to-end lifecycles of the key-material resource: synthesized CDK stacks played by the lifecycle
 * driver (CloudFormation + the installed Provider framework runtime) through the shipped bundle
 * (assets/key-material-provider/index.js) against the KMS emulator. Every assertion is on the
 * emulator's state, not on what the handler returned.
 */
import * as crypto from 'node:crypto';
import { DecryptCommand, EncryptCommand, GetParametersForImportCommand, ImportKeyMaterialCommand, KMSClient } from '@aws-sdk/client-kms';
import { RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { MaterialEncoding } from '../lib';
import { Emulator, keyMaterialId, startEmulator } from './kms-emulator';
import { CREATE_FAILED_MARKER } from './lifecycle/provider-framework';
import { LifecycleDriver } from './lifecycle/driver';
import { hmacMaterial, pkcs8Pem, rsaPkcs8, symmetricMaterial } from './lifecycle/materials';
import { keyMaterialTemplate } from './lifecycle/stacks';
import { CapturedLogs, captureLogs } from './util/logs';

const MATERIAL_TYPE = 'Custom::KmsImportedKeyMaterial';

interface KeyView {
  KeyId: string;
  KeyState: string;
  CurrentKeyMaterialId?: string;
  materials: Array<{ KeyMaterialId: string; state: string; importState: string; validTo?: string }>;
}

let emulator: Emulator;
let kmsClient: KMSClient;
let logs: CapturedLogs;

beforeAll(async () => {
  emulator = await startEmulator();
  kmsClient = new KMSClient({
    endpoint: emulator.endpoint, region: 'us-east-1', maxAttempts: 1,
    credentials: { accessKeyId: 'AKIDLIFECYCLETEST', secretAccessKey: 'lifecycle-test-secret' },
  });
});

afterAll(async () => {
  kmsClient.destroy();
  await emulator.close();
});

beforeEach(() => {
  emulator.clearFaults();
  logs = captureLogs(); // the handlers' and the framework's log lines
});

afterEach(() => {
  logs.restore();
});

function driver(extra: Partial<ConstructorParameters<typeof LifecycleDriver>[0]> = {}): LifecycleDriver {
  return new LifecycleDriver({
    emulator,
    secretValues: {
      MaterialA: { secretBinary: symmetricMaterial(1) },
      MaterialB: { secretBinary: symmetricMaterial(2) },
    },
    ...extra,
  });
}

function key(keyId: string): KeyView {
  const found = (emulator.state().keys as KeyView[]).find((k) => k.KeyId === keyId);
  if (!found) throw new Error(`no key ${keyId} in the emulator`);
  return found;
}

function appKeyId(d: LifecycleDriver, prefix = 'AppKey'): string {
  return d.physical(d.logicalId(prefix, 'AWS::KMS::Key')).ref;
}

function materialLogicalId(d: LifecycleDriver, prefix = 'AppKeyMaterial'): string {
  return d.logicalId(prefix, MATERIAL_TYPE);
}

async function encrypt(keyId: string, text = 'lifecycle plaintext'): Promise<Uint8Array> {
  const out = await kmsClient.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(text) }));
  return out.CiphertextBlob!;
}

async function decrypt(ciphertext: Uint8Array): Promise<string> {
  const out = await kmsClient.send(new DecryptCommand({ CiphertextBlob: ciphertext }));
  return Buffer.from(out.Plaintext!).toString();
}

function callsOf(operation: string, keyId: string): number {
  return emulator.calls.filter((c) => c.operation === operation && String(c.input.KeyId ?? '').endsWith(keyId)).length;
}

/** Imports `material` as NEW_KEY_MATERIAL without rotating: what an attempt killed before RotateKeyOnDemand leaves behind. */
async function importPendingMaterial(keyId: string, material: Buffer): Promise<void> {
  const params = await kmsClient.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_4096' }));
  const publicKey = crypto.createPublicKey({ key: Buffer.from(params.PublicKey!), format: 'der', type: 'spki' });
  const wrapped = crypto.publicEncrypt({ key: publicKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, material);
  await kmsClient.send(new ImportKeyMaterialCommand({
    KeyId: keyId, ImportToken: params.ImportToken, EncryptedKeyMaterial: wrapped,
    ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ImportType: 'NEW_KEY_MATERIAL',
  }));
}

describe('create', () => {
  test('imports the material of the secret: the key is Enabled with one CURRENT imported material of exactly those bytes', async () => {
    const d = driver();
    const op = await d.deploy(keyMaterialTemplate());

    expect(op.status).toBe('CREATE_COMPLETE');
    const keyId = appKeyId(d);
    const k = key(keyId);
    expect(k.KeyState).toBe('Enabled');
    expect(k.materials).toEqual([expect.objectContaining({
      KeyMaterialId: keyMaterialId(keyId, symmetricMaterial(1)), state: 'CURRENT', importState: 'IMPORTED',
    })]);
    d.close();
  });

  test('the imported material encrypts before destroy, and the ciphertext no longer decrypts after destroy', async () => {
    const d = driver();
    await d.deploy(keyMaterialTemplate());
    const keyId = appKeyId(d);
    const ciphertext = await encrypt(keyId);
    expect(await decrypt(ciphertext)).toBe('lifecycle plaintext');

    const op = await d.destroy();

    expect(op.status).toBe('DELETE_COMPLETE');
    await expect(decrypt(ciphertext)).rejects.toThrow(/PendingDeletion|not available/);
    expect(key(keyId).materials).toEqual([expect.objectContaining({ state: 'CURRENT', importState: 'PENDING_IMPORT' })]);
    d.close();
  });

  test('imports an RSA_2048 private key given as PEM text, wrapped as KMS requires for RSA material', async () => {
    const der = rsaPkcs8(2048);
    const d = driver({ secretValues: { MaterialA: { secretString: pkcs8Pem(der) } } });
    const op = await d.deploy(keyMaterialTemplate({ keySpec: kms.KeySpec.RSA_2048, keyUsage: kms.KeyUsage.SIGN_VERIFY, encoding: MaterialEncoding.PEM }));

    expect(op.status).toBe('CREATE_COMPLETE');
    const keyId = appKeyId(d);
    expect(key(keyId)).toMatchObject({ KeyState: 'Enabled', materials: [{ KeyMaterialId: keyMaterialId(keyId, der), importState: 'IMPORTED' }] });
    d.close();
  });

  test('imports HMAC_256 material read as base64 text', async () => {
    const material = hmacMaterial(48, 3);
    const d = driver({ secretValues: { MaterialA: { secretString: material.toString('base64') } } });
    await d.deploy(keyMaterialTemplate({ keySpec: kms.KeySpec.HMAC_256, keyUsage: kms.KeyUsage.GENERATE_VERIFY_MAC }));

    const keyId = appKeyId(d);
    expect(key(keyId)).toMatchObject({ KeyState: 'Enabled', materials: [{ KeyMaterialId: keyMaterialId(keyId, material), importState: 'IMPORTED' }] });
    d.close();
  });

  test('a failed create rolls back: the aws-cdk-lib entrypoint answers the Delete for the CREATE_FAILED marker, the handler and KMS are not called and the key is scheduled for deletion', async () => {
    const d = driver({ secretValues: { MaterialA: { secretBinary: Buffer.alloc(16, 7) } } }); // 16 bytes: not SYMMETRIC_DEFAULT material
    const op = await d.deploy(keyMaterialTemplate());

    expect(op.status).toBe('ROLLBACK_COMPLETE');
    const [create, del] = op.invocations;
    expect(create.response).toMatchObject({ Status: 'FAILED', PhysicalResourceId: CREATE_FAILED_MARKER, Reason: expect.stringMatching(/32 bytes/) });
    expect(del.request).toMatchObject({ RequestType: 'Delete', PhysicalResourceId: CREATE_FAILED_MARKER });
    expect(del.response.Status).toBe('SUCCESS');
    // The function ran (its entrypoint answered CloudFormation), the handler did not: it logged nothing for the Delete.
    expect(del.invocations.map((i) => [i.functionName, i.result, i.error])).toEqual([[expect.stringMatching(/frameworkonEvent/), null, undefined]]);
    expect(logs.lines.filter((l) => l.includes('"requestType":"Delete"'))).toEqual([]);
    const keyId = op.events.find((e) => e.type === 'AWS::KMS::Key')!.physicalId!;
    expect(callsOf('DeleteImportedKeyMaterial', keyId)).toBe(0);
    expect(key(keyId)).toMatchObject({ KeyState: 'PendingDeletion', materials: [] });
    d.close();
  });
});

describe('update', () => {
  test('a stack update that leaves the resource properties unchanged sends no request and the key stays Enabled', async () => {
    const d = driver();
    await d.deploy(keyMaterialTemplate());
    const keyId = appKeyId(d);
    const before = key(keyId);

    const op = await d.deploy(keyMaterialTemplate({ description: 'only the key description changes' }));

    expect(op.status).toBe('UPDATE_COMPLETE');
    expect(op.invocations).toEqual([]);
    expect(key(keyId)).toEqual(before);
    expect(key(keyId).KeyState).toBe('Enabled');
    d.close();
  });

  test('an Update request with unchanged properties keeps the key Enabled with the same single material', async () => {
    const d = driver();
    await d.deploy(keyMaterialTemplate());
    const keyId = appKeyId(d);
    const before = key(keyId);

    const update = await d.request(materialLogicalId(d), 'Update');

    expect(update.response).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: keyId });
    expect(key(keyId)).toEqual(before);
    expect(key(keyId).KeyState).toBe('Enabled');
    d.close();
  });

  test('a new material secret rotates: the new material is CURRENT, the old one NON_CURRENT and still decrypts', async () => {
    const d = driver();
    await d.deploy(keyMaterialTemplate());
    const keyId = appKeyId(d);
    const oldCiphertext = await encrypt(keyId, 'before rotation');

    const op = await d.deploy(keyMaterialTemplate({ source: 'MaterialB' }));

    expect(op.status).toBe('UPDATE_COMPLETE');
    const k = key(keyId);
    expect(k.KeyState).toBe('Enabled');
    expect(k.CurrentKeyMaterialId).toBe(keyMaterialId(keyId, symmetricMaterial(2)));
    expect(k.materials).toEqual(expect.arrayContaining([
      expect.objectContaining({ KeyMaterialId: keyMaterialId(keyId, symmetricMaterial(1)), state: 'NON_CURRENT', importState: 'IMPORTED' }),
      expect.objectContaining({ KeyMaterialId: keyMaterialId(keyId, symmetricMaterial(2)), state: 'CURRENT', importState: 'IMPORTED' }),
    ]));
    expect(await decrypt(oldCiphertext)).toBe('before rotation');
    d.close();
  });

  test('a rotation that keeps failing rolls back without leaving the new material pending, and the retried deployment makes it CURRENT', async () => {
    const d = driver();
    await d.deploy(keyMaterialTemplate());
    const keyId = appKeyId(d);
    emulator.failNext('RotateKeyOnDemand', 8, 'KMSInternalException'); // every attempt of the SDK's standard retries

    const failed = await d.deploy(keyMaterialTemplate({ source: 'MaterialB' }));

    expect(failed.status).toBe('UPDATE_ROLLBACK_COMPLETE');
    expect(failed.invocations[0].response.Reason).toMatch(/RotateKeyOnDemand failed .*persisted through 8 attempts/);
    expect(key(keyId).materials).toEqual([expect.objectContaining({ KeyMaterialId: keyMaterialId(keyId, symmetricMaterial(1)), state: 'CURRENT' })]);

    const retried = await d.deploy(keyMaterialTemplate({ source: 'MaterialB' }));

    expect(retried.status).toBe('UPDATE_COMPLETE');
    expect(key(keyId).CurrentKeyMaterialId).toBe(keyMaterialId(keyId, symmetricMaterial(2)));
    d.close();
  });

  test('new material left PENDING_ROTATION by an attempt killed before RotateKeyOnDemand is made CURRENT by the next deployment', async () => {
    const d = driver();
    await d.deploy(keyMaterialTemplate());
    const keyId = appKeyId(d);
    await importPendingMaterial(keyId, symmetricMaterial(2));
    expect(key(keyId).materials).toEqual(expect.arrayContaining([
      expect.objectContaining({ KeyMaterialId: keyMaterialId(keyId, symmetricMaterial(2)), state: 'PENDING_ROTATION' }),
    ]));

    const op = await d.deploy(keyMaterialTemplate({ source: 'MaterialB' }));

    expect(op.status).toBe('UPDATE_COMPLETE');
    expect(op.invocations[0].response).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: keyId, Data: { KeyMaterialId: keyMaterialId(keyId, symmetricMaterial(2)) } });
    const k = key(keyId);
    expect(k.KeyState).toBe('Enabled');
    expect(k.CurrentKeyMaterialId).toBe(keyMaterialId(keyId, symmetricMaterial(2)));
    expect(k.materials).toEqual(expect.arrayContaining([
      expect.objectContaining({ KeyMaterialId: keyMaterialId(keyId, symmetricMaterial(1)), state: 'NON_CURRENT', importState: 'IMPORTED' }),
      expect.objectContaining({ KeyMaterialId: keyMaterialId(keyId, symmetricMaterial(2)), state: 'CURRENT', importState: 'IMPORTED' }),
    ]));
    expect(k.materials).toHaveLength(2);
    d.close();
  });

  test('changing back to the previous material re-imports it and leaves the newer material CURRENT (KMS cannot make NON_CURRENT material current again)', async () => {
    const d = driver();
    await d.deploy(keyMaterialTemplate());
    await d.deploy(keyMaterialTemplate({ source: 'MaterialB' }));
    const keyId = appKeyId(d);

    const op = await d.deploy(keyMaterialTemplate());

    expect(op.status).toBe('UPDATE_COMPLETE');
    expect(callsOf('RotateKeyOnDemand', keyId)).toBe(1);
    expect(key(keyId)).toMatchObject({ KeyState: 'Enabled', CurrentKeyMaterialId: keyMaterialId(keyId, symmetricMaterial(2)) });
    d.close();
  });

  test('a new expiration re-imports the same material with the new ValidTo', async () => {
    const d = driver();
    await d.deploy(keyMaterialTemplate());
    const keyId = appKeyId(d);
    const validTo = new Date(Date.now() + 30 * 24 * 3600 * 1000);

    const op = await d.deploy(keyMaterialTemplate({ expiration: validTo }));

    expect(op.status).toBe('UPDATE_COMPLETE');
    expect(key(keyId)).toMatchObject({
      KeyState: 'Enabled',
      materials: [{ KeyMaterialId: keyMaterialId(keyId, symmetricMaterial(1)), state: 'CURRENT', importState: 'IMPORTED', validTo: validTo.toISOString() }],
    });
    d.close();
  });

  test('replacing the key (new key spec) imports into the new key first, then deletes the old key material with the OLD properties and physical id', async () => {
    const d = driver({ secretValues: { MaterialA: { secretBinary: symmetricMaterial(1) }, MaterialB: { secretBinary: hmacMaterial(32, 9) } } });
    await d.deploy(keyMaterialTemplate());
    const oldKeyId = appKeyId(d);
    const oldProps = d.resource(materialLogicalId(d)).props;

    const op = await d.deploy(keyMaterialTemplate({ keySpec: kms.KeySpec.HMAC_256, keyUsage: kms.KeyUsage.GENERATE_VERIFY_MAC, source: 'MaterialB' }));

    expect(op.status).toBe('UPDATE_COMPLETE');
    const newKeyId = appKeyId(d);
    expect(newKeyId).not.toBe(oldKeyId);
    const [update, cleanup] = op.invocations;
    expect(update.request).toMatchObject({ RequestType: 'Update', PhysicalResourceId: oldKeyId });
    expect(update.response).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: newKeyId });
    expect(cleanup.request).toMatchObject({ RequestType: 'Delete', PhysicalResourceId: oldKeyId, ResourceProperties: oldProps });
    expect(cleanup.response.Status).toBe('SUCCESS');
    expect(cleanup.phase).toBe('cleanup');
    expect(cleanup.missingDependencies).toEqual([]);
    expect(key(newKeyId)).toMatchObject({ KeyState: 'Enabled', materials: [{ importState: 'IMPORTED' }] });
    expect(key(oldKeyId)).toMatchObject({ KeyState: 'PendingDeletion', materials: [{ importState: 'PENDING_IMPORT' }] });
    d.close();
  });

  test('renaming the key construct creates the new resource, then deletes the removed one with its old physical id', async () => {
    const d = driver();
    await d.deploy(keyMaterialTemplate());
    const oldKeyId = appKeyId(d);

    const op = await d.deploy(keyMaterialTemplate({ keyId: 'RenamedKey' }));

    expect(op.status).toBe('UPDATE_COMPLETE');
    const newKeyId = appKeyId(d, 'RenamedKey');
    expect(op.invocations.map((i) => [i.request.RequestType, i.request.PhysicalResourceId, i.response.Status])).toEqual([
      ['Create', undefined, 'SUCCESS'],
      ['Delete', oldKeyId, 'SUCCESS'],
    ]);
    expect(key(newKeyId)).toMatchObject({ KeyState: 'Enabled', materials: [{ importState: 'IMPORTED' }] });
    expect(key(oldKeyId)).toMatchObject({ KeyState: 'PendingDeletion', materials: [{ importState: 'PENDING_IMPORT' }] });
    d.close();
  });

  test('a refused material change on an HMAC key fails, the reverse Update during rollback is accepted and the key keeps its material', async () => {
    const d = driver({ secretValues: { MaterialA: { secretBinary: hmacMaterial(32, 1) }, MaterialB: { secretBinary: hmacMaterial(32, 2) } } });
    const hmac = { keySpec: kms.KeySpec.HMAC_256, keyUsage: kms.KeyUsage.GENERATE_VERIFY_MAC };
    await d.deploy(keyMaterialTemplate(hmac));
    const keyId = appKeyId(d);
    const before = key(keyId);

    const op = await d.deploy(keyMaterialTemplate({ ...hmac, source: 'MaterialB' }));

    expect(op.status).toBe('UPDATE_ROLLBACK_COMPLETE');
    const [forward, rollback] = op.invocations;
    expect(forward.response).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(/Cannot change the key material/) });
    expect(rollback.phase).toBe('rollback');
    expect(rollback.response).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: keyId });
    expect(key(keyId)).toEqual(before);
    d.close();
  });
});

describe('delete', () => {
  test('stack delete runs in dependency order: the material is deleted while its key, secret, role and policies exist, then the key is scheduled for deletion', async () => {
    const d = driver();
    await d.deploy(keyMaterialTemplate());
    const keyId = appKeyId(d);
    const materialId = materialLogicalId(d);
    const keyLogicalId = d.logicalId('AppKey', 'AWS::KMS::Key');

    const op = await d.destroy();

    expect(op.status).toBe('DELETE_COMPLETE');
    expect(op.invocations).toHaveLength(1);
    expect(op.invocations[0].request).toMatchObject({ RequestType: 'Delete', PhysicalResourceId: keyId });
    expect(op.invocations[0].missingDependencies).toEqual([]);
    const order = op.events.map((e) => e.logicalId);
    expect(order.indexOf(materialId)).toBeLessThan(order.indexOf(keyLogicalId));
    expect(key(keyId)).toMatchObject({ KeyState: 'PendingDeletion', materials: [{ importState: 'PENDING_IMPORT' }] });
    d.close();
  });

  test('the destroy-order check catches an order that deletes the key and the handler role first', async () => {
    const d = driver();
    const template = keyMaterialTemplate();
    await d.deploy(template);
    const materialId = materialLogicalId(d);
    const keyLogicalId = d.logicalId('AppKey', 'AWS::KMS::Key');
    const wrongOrder = [keyLogicalId, ...Object.keys(template.Resources).filter((id) => id !== keyLogicalId && id !== materialId), materialId];

    const op = await d.destroy({ order: wrongOrder });

    expect(op.status).toBe('DELETE_FAILED');
    expect(op.invocations[0].missingDependencies).toEqual(expect.arrayContaining([keyLogicalId]));
    expect(op.invocations[0].response).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(/does not exist/) });
    d.close();
  });

  test('a Delete that runs out of its time budget fails with the time-out message, and the retried stack delete removes the material', async () => {
    let budgetMs = 5_400; // 400 ms after the handler's 5 s safety margin
    const d = driver({ lambdaBudgetMs: () => budgetMs });
    budgetMs = 300_000;
    await d.deploy(keyMaterialTemplate());
    const keyId = appKeyId(d);
    budgetMs = 5_400;
    emulator.injectFaults({ rate: 0, slowMs: 1_500 });
    emulator.failNext('DeleteImportedKeyMaterial', 1, 'slow');

    const first = await d.destroy();

    expect(first.status).toBe('DELETE_FAILED');
    expect(first.invocations[0].response).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(/ran out of time before the Lambda function's deadline/) });
    expect(first.invocations[0].invocations[0].timedOut).toBe(false);
    expect(first.invocations[0].realMs).toBeLessThan(5_400);
    expect(key(keyId).KeyState).not.toBe('PendingDeletion');

    budgetMs = 300_000;
    const retry = await d.destroy();

    expect(retry.status).toBe('DELETE_COMPLETE');
    expect(retry.invocations[0].response.Status).toBe('SUCCESS');
    expect(key(keyId)).toMatchObject({ KeyState: 'PendingDeletion', materials: [{ importState: 'PENDING_IMPORT' }] });
    d.close();
  });

  test('with materialRemovalPolicy RETAIN the material stays and the key is only scheduled for deletion (recoverable)', async () => {
    const d = driver();
    await d.deploy(keyMaterialTemplate({ materialRemovalPolicy: RemovalPolicy.RETAIN }));
    const keyId = appKeyId(d);

    await d.destroy();

    expect(callsOf('DeleteImportedKeyMaterial', keyId)).toBe(0);
    expect(key(keyId)).toMatchObject({ KeyState: 'PendingDeletion', materials: [{ importState: 'IMPORTED' }] });
    d.close();
  });

  test('ImportedKeyMaterial deletes the material of a key made outside the stack, which stays PendingImport (not scheduled for deletion)', async () => {
    const foreign = emulator.createKey({ origin: 'EXTERNAL', material: symmetricMaterial(5) });
    const d = driver();
    await d.deploy(keyMaterialTemplate({ foreignKeyArn: foreign.arn }));
    expect(key(foreign.keyId).KeyState).toBe('Enabled');

    const op = await d.destroy();

    expect(op.status).toBe('DELETE_COMPLETE');
    expect(key(foreign.keyId)).toMatchObject({ KeyState: 'PendingImport', materials: [{ importState: 'PENDING_IMPORT' }] });
    d.close();
  });

  test('destroy deletes every imported material of a rotated key, not only the CURRENT one', async () => {
    const d = driver();
    await d.deploy(keyMaterialTemplate({ removalPolicy: RemovalPolicy.RETAIN }));
    await d.deploy(keyMaterialTemplate({ source: 'MaterialB', removalPolicy: RemovalPolicy.RETAIN }));
    const keyId = appKeyId(d);

    await d.destroy();

    expect(key(keyId).materials.filter((m) => m.importState === 'IMPORTED')).toEqual([]);
    d.close();
  });
});

