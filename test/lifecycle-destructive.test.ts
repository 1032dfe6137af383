/**
 * Destructive operations do exactly what the user asked (issue 9), end to end: synthesized CDK stacks played
 * by the lifecycle driver through the shipped bundles against the KMS emulator. Every transition of the
 * material resource's removal policy, the rollbacks that must leave alone what the stack did not create, the
 * false crypto-shred that target verification prevents, and clock-free expiration. Assertions are on the
 * emulator's state (and on what CloudFormation was sent), never only on what a handler returned.
 */
import * as crypto from 'node:crypto';
import { DeleteImportedKeyMaterialCommand, GetParametersForImportCommand, ImportKeyMaterialCommand, KMSClient } from '@aws-sdk/client-kms';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Emulator, keyMaterialId, startEmulator } from './kms-emulator';
import { CREATE_FAILED_MARKER } from './lifecycle/provider-framework';
import { EMULATOR_DEFAULT_ENV } from './lifecycle/bundles';
import { LifecycleDriver } from './lifecycle/driver';
import { hmacMaterial, symmetricMaterial } from './lifecycle/materials';
import { keyMaterialTemplate, XKS_CREDENTIAL_SECRET } from './lifecycle/stacks';
import { CapturedLogs, captureLogs } from './util/logs';

const MATERIAL_TYPE = 'Custom::KmsImportedKeyMaterial';

interface KeyView {
  KeyId: string;
  KeyState: string;
  materials: Array<{ KeyMaterialId: string; state: string; importState: string; validTo?: string }>;
}

interface StoreView {
  CustomKeyStoreId: string;
  CustomKeyStoreName: string;
  ConnectionState: string;
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

function driver(): LifecycleDriver {
  return new LifecycleDriver({
    emulator,
    secretValues: {
      MaterialA: { secretBinary: symmetricMaterial(1) },
      MaterialB: { secretBinary: symmetricMaterial(2) },
      [XKS_CREDENTIAL_SECRET]: { secretString: JSON.stringify({ accessKeyId: 'AKIAXKSLIFECYCLETESTAB', secretAccessKey: 'XksSecretAccessKeyForLifecycleTests0123456789abcd+/=' }) },
    },
  });
}

function key(keyId: string): KeyView {
  const found = (emulator.state().keys as KeyView[]).find((k) => k.KeyId === keyId);
  if (!found) throw new Error(`no key ${keyId} in the emulator`);
  return found;
}

function imported(keyId: string): string[] {
  return key(keyId).materials.filter((m) => m.importState === 'IMPORTED').map((m) => m.KeyMaterialId);
}

function store(id: string): StoreView | undefined {
  return (emulator.state().customKeyStores as StoreView[]).find((s) => s.CustomKeyStoreId === id);
}

function appKeyId(d: LifecycleDriver, prefix = 'AppKey'): string {
  return d.physical(d.logicalId(prefix, 'AWS::KMS::Key')).ref;
}

function deletesOf(keyId: string): number {
  return emulator.calls.filter((c) => c.operation === 'DeleteImportedKeyMaterial' && String(c.input.KeyId ?? '').endsWith(keyId)).length;
}

/** Imports `material` into a PendingImport key outside CloudFormation (what "material imported out of band" means). */
async function importOutOfBand(keyId: string, material: Buffer): Promise<void> {
  const params = await kmsClient.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_4096' }));
  const publicKey = crypto.createPublicKey({ key: Buffer.from(params.PublicKey!), format: 'der', type: 'spki' });
  const wrapped = crypto.publicEncrypt({ key: publicKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, material);
  await kmsClient.send(new ImportKeyMaterialCommand({
    KeyId: keyId, ImportToken: params.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
  }));
}

let storeNames = 0;
function takenStoreName(): string {
  const name = `taken-store-${++storeNames}`;
  emulator.createCustomKeyStore({ name, type: 'EXTERNAL_KEY_STORE', connectionState: 'CONNECTED' });
  return name;
}

describe('materialRemovalPolicy is the DeletionPolicy of the material resource (finding 1)', () => {
  test('an ExternalKey without material switched to RETAIN keeps the material imported out of band through destroy', async () => {
    const d = driver();
    await d.deploy(keyMaterialTemplate({ source: 'none' }));
    const keyId = appKeyId(d);
    await importOutOfBand(keyId, symmetricMaterial(7));

    const switched = await d.deploy(keyMaterialTemplate({ source: 'none', materialRemovalPolicy: RemovalPolicy.RETAIN }));
    expect(switched.status).toBe('UPDATE_COMPLETE');
    expect(switched.invocations).toEqual([]); // only the DeletionPolicy changed
    const destroyed = await d.destroy();

    expect(destroyed.status).toBe('DELETE_COMPLETE');
    expect(destroyed.events).toContainEqual(expect.objectContaining({ type: MATERIAL_TYPE, action: 'DELETE', status: 'RETAINED' }));
    expect(deletesOf(keyId)).toBe(0);
    expect(key(keyId)).toMatchObject({ KeyState: 'PendingDeletion' });
    expect(imported(keyId)).toEqual([keyMaterialId(keyId, symmetricMaterial(7))]);
    d.close();
  });

  test('removing material and setting RETAIN in one change keeps the imported material through destroy', async () => {
    const d = driver();
    await d.deploy(keyMaterialTemplate());
    const keyId = appKeyId(d);

    const changed = await d.deploy(keyMaterialTemplate({ source: 'none', materialRemovalPolicy: RemovalPolicy.RETAIN }));
    expect(changed.status).toBe('UPDATE_COMPLETE');
    expect(changed.invocations.map((i) => i.request.RequestType)).toEqual(['Update']);
    await d.destroy();

    expect(deletesOf(keyId)).toBe(0);
    expect(imported(keyId)).toEqual([keyMaterialId(keyId, symmetricMaterial(1))]);
    d.close();
  });

  test('material added, then removed: the material is imported on the update, stays after removal, and destroy (DESTROY) still shreds it', async () => {
    const d = driver();
    await d.deploy(keyMaterialTemplate({ source: 'none' }));
    const keyId = appKeyId(d);
    expect(key(keyId).KeyState).toBe('PendingImport');

    await d.deploy(keyMaterialTemplate());
    expect(key(keyId).KeyState).toBe('Enabled');
    expect(imported(keyId)).toEqual([keyMaterialId(keyId, symmetricMaterial(1))]);

    await d.deploy(keyMaterialTemplate({ source: 'none' }));
    expect(imported(keyId)).toEqual([keyMaterialId(keyId, symmetricMaterial(1))]);

    const destroyed = await d.destroy();
    expect(destroyed.invocations[0].response.Data).toEqual({ KeyId: keyId, DeletedKeyMaterials: keyMaterialId(keyId, symmetricMaterial(1)) });
    expect(imported(keyId)).toEqual([]);
    d.close();
  });

  test('DESTROY -> RETAIN -> DESTROY: no request on either switch, and the final destroy shreds', async () => {
    const d = driver();
    await d.deploy(keyMaterialTemplate());
    const keyId = appKeyId(d);

    expect((await d.deploy(keyMaterialTemplate({ materialRemovalPolicy: RemovalPolicy.RETAIN }))).invocations).toEqual([]);
    expect((await d.deploy(keyMaterialTemplate({ materialRemovalPolicy: RemovalPolicy.DESTROY }))).invocations).toEqual([]);
    await d.destroy();

    expect(deletesOf(keyId)).toBe(1);
    expect(imported(keyId)).toEqual([]);
    d.close();
  });

  test('RETAIN -> DESTROY: the destroy after the switch shreds', async () => {
    const d = driver();
    await d.deploy(keyMaterialTemplate({ materialRemovalPolicy: RemovalPolicy.RETAIN }));
    const keyId = appKeyId(d);
    await d.deploy(keyMaterialTemplate());
    await d.destroy();
    expect(imported(keyId)).toEqual([]);
    d.close();
  });

  test('the construct removed from the app: DESTROY shreds in the cleanup of the successful update, RETAIN keeps the material', async () => {
    const shredded = emulator.createKey({ origin: 'EXTERNAL', material: symmetricMaterial(5) });
    const kept = emulator.createKey({ origin: 'EXTERNAL', material: symmetricMaterial(6) });
    const a = driver();
    const b = driver();
    await a.deploy(keyMaterialTemplate({ foreignKeyArn: shredded.arn }));
    await b.deploy(keyMaterialTemplate({ foreignKeyArn: kept.arn, foreignMaterialRemovalPolicy: RemovalPolicy.RETAIN }));

    const removedA = await a.deploy(keyMaterialTemplate());
    const removedB = await b.deploy(keyMaterialTemplate());

    expect(removedA.invocations.map((i) => [i.request.RequestType, i.phase, i.response.Status])).toEqual([['Delete', 'cleanup', 'SUCCESS']]);
    expect(key(shredded.keyId)).toMatchObject({ KeyState: 'PendingImport' });
    expect(removedB.invocations).toEqual([]);
    expect(removedB.events).toContainEqual(expect.objectContaining({ logicalId: expect.stringMatching(/^Foreign/), action: 'DELETE', status: 'RETAINED', phase: 'cleanup' }));
    expect(key(kept.keyId)).toMatchObject({ KeyState: 'Enabled' });
    expect(imported(kept.keyId)).toHaveLength(1);
    a.close();
    b.close();
  });

  test('the key replaced with material RETAIN: the new key gets the material and the old key keeps its own (UpdateReplacePolicy Retain)', async () => {
    const d = new LifecycleDriver({
      emulator, secretValues: { MaterialA: { secretBinary: symmetricMaterial(1) }, MaterialB: { secretBinary: hmacMaterial(32, 9) } },
    });
    await d.deploy(keyMaterialTemplate({ materialRemovalPolicy: RemovalPolicy.RETAIN }));
    const oldKeyId = appKeyId(d);

    const op = await d.deploy(keyMaterialTemplate({
      keySpec: kms.KeySpec.HMAC_256, keyUsage: kms.KeyUsage.GENERATE_VERIFY_MAC, source: 'MaterialB', materialRemovalPolicy: RemovalPolicy.RETAIN,
    }));

    expect(op.status).toBe('UPDATE_COMPLETE');
    const newKeyId = appKeyId(d);
    expect(newKeyId).not.toBe(oldKeyId);
    expect(op.events).toContainEqual(expect.objectContaining({ type: MATERIAL_TYPE, physicalId: oldKeyId, action: 'DELETE', status: 'RETAINED', phase: 'cleanup' }));
    expect(deletesOf(oldKeyId)).toBe(0);
    expect(imported(oldKeyId)).toEqual([keyMaterialId(oldKeyId, symmetricMaterial(1))]);
    expect(key(newKeyId)).toMatchObject({ KeyState: 'Enabled', materials: [{ importState: 'IMPORTED' }] });
    d.close();
  });
});

describe('target verification prevents a false crypto-shred (finding 3)', () => {
  test('ImportedKeyMaterial on a key whose Origin is AWS_KMS fails its Create with what was found; nothing is reported deleted', async () => {
    const awsKey = emulator.createKey({ origin: 'AWS_KMS' });
    const d = driver();
    const op = await d.deploy(keyMaterialTemplate({ withoutAppKey: true, foreignKeyArn: awsKey.arn }));

    expect(op.status).toBe('ROLLBACK_COMPLETE');
    const [create] = op.invocations;
    expect(create.response).toMatchObject({
      Status: 'FAILED', PhysicalResourceId: CREATE_FAILED_MARKER,
      Reason: expect.stringMatching(new RegExp(`cannot manage the material of key ${awsKey.arn}: its Origin is AWS_KMS, and only keys with Origin EXTERNAL hold imported material`)),
    });
    expect(key(awsKey.keyId).KeyState).toBe('Enabled');
    d.close();
  });

  test('a mistyped key ARN fails the Create instead of deploying a resource whose destroy deletes nothing', async () => {
    const missing = `arn:aws:kms:${EMULATOR_DEFAULT_ENV.region}:${EMULATOR_DEFAULT_ENV.account}:key/00000000-1111-2222-3333-444444444444`;
    const d = driver();
    const op = await d.deploy(keyMaterialTemplate({ withoutAppKey: true, foreignKeyArn: missing }));
    expect(op.status).toBe('ROLLBACK_COMPLETE');
    expect(op.invocations[0].response.Reason).toMatch(/KMS has no such key in account \d{12}, Region us-east-1 \(DescribeKey: NotFoundException\)\. Check the key ARN for a typo/);
    d.close();
  });

  test('destroy of a resource whose key lost its material outside CloudFormation reports "nothing to delete, because …", not "deleted"', async () => {
    const foreign = emulator.createKey({ origin: 'EXTERNAL', material: symmetricMaterial(8) });
    const d = driver();
    await d.deploy(keyMaterialTemplate({ withoutAppKey: true, foreignKeyArn: foreign.arn }));
    await kmsClient.send(new DeleteImportedKeyMaterialCommand({ KeyId: foreign.keyId }));

    const op = await d.destroy();

    expect(op.invocations[0].response).toMatchObject({ Status: 'SUCCESS', Data: { DeletedKeyMaterials: '', NothingDeletedBecause: expect.stringMatching(/^key .* has no imported material/) } });
    d.close();
  });
});

describe('rollbacks leave alone what the stack did not create (finding 4)', () => {
  test('a first deployment that fails on a store name in use leaves the material of a key made elsewhere as it was', async () => {
    const foreign = emulator.createKey({ origin: 'EXTERNAL', material: symmetricMaterial(11) });
    const d = driver();

    const op = await d.deploy(keyMaterialTemplate({ withoutAppKey: true, foreignKeyArn: foreign.arn, lastStoreName: takenStoreName() }));

    expect(op.status).toBe('ROLLBACK_COMPLETE');
    expect(op.failures[0]).toMatchObject({ logicalId: expect.stringMatching(/^LastStore/), reason: expect.stringMatching(/CustomKeyStoreNameInUseException/) });
    const del = op.invocations.find((i) => i.request.ResourceType === MATERIAL_TYPE && i.request.RequestType === 'Delete')!;
    expect(del.phase).toBe('rollback');
    expect(del.response).toMatchObject({
      Status: 'SUCCESS',
      Data: { DeletedKeyMaterials: '', NothingDeletedBecause: expect.stringMatching(/^the stack is rolling back \(ROLLBACK_IN_PROGRESS\) the deployment that added this resource, which imported no material itself/) },
    });
    expect(deletesOf(foreign.keyId)).toBe(0);
    expect(key(foreign.keyId)).toMatchObject({ KeyState: 'Enabled' });
    expect(imported(foreign.keyId)).toEqual([keyMaterialId(foreign.keyId, symmetricMaterial(11))]);
    // The framework's own lines are not JSON; the handler's are.
    const handlerLines = logs.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(handlerLines).toContainEqual(expect.objectContaining({
      message: expect.stringMatching(/^nothing to delete, because the stack is rolling back \(ROLLBACK_IN_PROGRESS\)/), requestType: 'Delete',
    }));
    d.close();
  });

  test('a failed update that added an ImportedKeyMaterial leaves the key made elsewhere as it was', async () => {
    const foreign = emulator.createKey({ origin: 'EXTERNAL', material: symmetricMaterial(12) });
    const d = driver();
    await d.deploy(keyMaterialTemplate());

    const op = await d.deploy(keyMaterialTemplate({ foreignKeyArn: foreign.arn, lastStoreName: takenStoreName() }));

    expect(op.status).toBe('UPDATE_ROLLBACK_COMPLETE');
    expect(deletesOf(foreign.keyId)).toBe(0);
    expect(key(foreign.keyId)).toMatchObject({ KeyState: 'Enabled' });
    d.close();
  });

  test('material the resource imported itself is deleted by the rollback: the key returns to PendingImport, as before the deployment', async () => {
    const d = driver();
    const op = await d.deploy(keyMaterialTemplate({ removalPolicy: RemovalPolicy.RETAIN, lastStoreName: takenStoreName() }));

    expect(op.status).toBe('ROLLBACK_COMPLETE');
    const keyId = op.events.find((e) => e.type === 'AWS::KMS::Key')!.physicalId!;
    expect(op.events).toContainEqual(expect.objectContaining({ type: 'AWS::KMS::Key', action: 'DELETE', status: 'RETAINED', phase: 'rollback' }));
    expect(key(keyId)).toMatchObject({ KeyState: 'PendingImport' });
    expect(imported(keyId)).toEqual([]);
    d.close();
  });

  test('a first deployment that fails leaves a store adopted by it as it was (connected, not deleted)', async () => {
    const adopted = emulator.createCustomKeyStore({ name: `adopted-${++storeNames}`, type: 'EXTERNAL_KEY_STORE', connectionState: 'CONNECTED' });
    const d = driver();

    const op = await d.deploy(keyMaterialTemplate({ withoutAppKey: true, adoptedStoreId: adopted, lastStoreName: takenStoreName() }));

    expect(op.status).toBe('ROLLBACK_COMPLETE');
    expect(op.events).toContainEqual(expect.objectContaining({ logicalId: expect.stringMatching(/^Adopted/), action: 'DELETE', status: 'COMPLETE', phase: 'rollback' }));
    expect(store(adopted)).toMatchObject({ ConnectionState: 'CONNECTED' });
    expect(emulator.calls.filter((c) => c.operation === 'DisconnectCustomKeyStore' || c.operation === 'DeleteCustomKeyStore')
      .filter((c) => c.input.CustomKeyStoreId === adopted)).toEqual([]);
    d.close();
  });

  test('a real destroy still deletes the adopted store and shreds the material of a key made elsewhere', async () => {
    const adopted = emulator.createCustomKeyStore({ name: `adopted-${++storeNames}`, type: 'EXTERNAL_KEY_STORE', connectionState: 'CONNECTED' });
    const foreign = emulator.createKey({ origin: 'EXTERNAL', material: symmetricMaterial(13) });
    const d = driver();
    await d.deploy(keyMaterialTemplate({ withoutAppKey: true, adoptedStoreId: adopted, foreignKeyArn: foreign.arn }));

    const destroyed = await d.destroy();

    expect(destroyed.status).toBe('DELETE_COMPLETE');
    expect(store(adopted)).toBeUndefined();
    expect(key(foreign.keyId)).toMatchObject({ KeyState: 'PendingImport' });
    d.close();
  });
});

describe('expiration that does not depend on the clock (finding 2)', () => {
  test('after(90 days): ValidTo is set at import time, and the same app synthesized on another day deploys with zero KMS calls', async () => {
    const d = driver();
    const before = Date.now();
    await d.deploy(keyMaterialTemplate({ validFor: Duration.days(90) }));
    const keyId = appKeyId(d);
    const validTo = Date.parse(key(keyId).materials[0].validTo!);
    expect(validTo).toBeGreaterThanOrEqual(before + 90 * 86_400_000 - 1_000);
    expect(validTo).toBeLessThanOrEqual(Date.now() + 90 * 86_400_000 + 1_000);

    const later = jest.spyOn(Date, 'now').mockReturnValue(Date.now() + 40 * 86_400_000);
    let template;
    try {
      template = keyMaterialTemplate({ validFor: Duration.days(90) });
    } finally {
      later.mockRestore();
    }
    const kmsCallsBefore = emulator.calls.filter((c) => c.service === 'kms').length;
    const op = await d.deploy(template);

    expect(op.status).toBe('UPDATE_COMPLETE');
    expect(op.invocations).toEqual([]);
    expect(emulator.calls.filter((c) => c.service === 'kms').length).toBe(kmsCallsBefore);
    expect(Date.parse(key(keyId).materials[0].validTo!)).toBe(validTo);
    d.close();
  });

  test('a fixed date that has passed does not break synth or destroy; a deploy that would import fails with what to do', async () => {
    const d = driver();
    await d.deploy(keyMaterialTemplate());
    const keyId = appKeyId(d);

    const op = await d.deploy(keyMaterialTemplate({ expiration: new Date('2020-01-01T00:00:00Z') }));
    expect(op.status).toBe('UPDATE_ROLLBACK_COMPLETE');
    expect(op.invocations[0].response.Reason).toMatch(/^The expiration 2020-01-01T00:00:00.000Z of key .* is in the past .* Use KeyMaterialExpiration.after\(Duration.days\(n\)\)/);
    expect(key(keyId)).toMatchObject({ KeyState: 'Enabled' });

    expect((await d.destroy()).status).toBe('DELETE_COMPLETE');
    d.close();
  });
});
