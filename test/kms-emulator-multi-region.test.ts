/**
 * The emulator's multi-Region keys, through the real SDK: one endpoint serves every Region (the Region a
 * client signs for), replicas of EXTERNAL primaries, per-Region material, and the multi-Region import,
 * rotation and delete rules of the AWS KMS API Reference (ImportKeyMaterial, RotateKeyOnDemand,
 * DeleteImportedKeyMaterial, RotationsListEntry, MultiRegionConfiguration).
 */
import * as crypto from 'node:crypto';
import {
  AlreadyExistsException, CreateKeyCommand, DecryptCommand, DeleteImportedKeyMaterialCommand, DescribeKeyCommand,
  EncryptCommand, IncorrectKeyMaterialException, KMSClient, KMSInvalidStateException, KMSServiceException,
  ListKeyRotationsCommand, NotFoundException, ReplicateKeyCommand, RotateKeyOnDemandCommand, ScheduleKeyDeletionCommand,
  UnsupportedOperationException,
} from '@aws-sdk/client-kms';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Emulator, startEmulator } from './kms-emulator';
import { importMaterial } from './util/kms-import';

const PRIMARY_REGION = 'us-east-1';
const REPLICA_REGION = 'eu-west-1';
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

let emu: Emulator;
let primary: KMSClient;
let replica: KMSClient;

beforeAll(async () => {
  emu = await startEmulator({ region: PRIMARY_REGION });
  primary = new KMSClient({ endpoint: emu.endpoint, region: PRIMARY_REGION, credentials, maxAttempts: 1 });
  replica = new KMSClient({ endpoint: emu.endpoint, region: REPLICA_REGION, credentials, maxAttempts: 1 });
});

afterAll(async () => {
  primary.destroy();
  replica.destroy();
  await emu.close();
});

async function externalPrimary(): Promise<{ keyId: string; arn: string }> {
  const out = await primary.send(new CreateKeyCommand({ Origin: 'EXTERNAL', MultiRegion: true }));
  return { keyId: out.KeyMetadata!.KeyId!, arn: out.KeyMetadata!.Arn! };
}

async function replicate(keyId: string): Promise<string> {
  const out = await primary.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: REPLICA_REGION }));
  return out.ReplicaKeyMetadata!.Arn!;
}

async function metadataOf(client: KMSClient, keyId: string) {
  return (await client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
}

async function materials(client: KMSClient, keyId: string) {
  const out = await client.send(new ListKeyRotationsCommand({ KeyId: keyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }));
  return (out.Rotations ?? []).map((r) => ({
    id: r.KeyMaterialId, state: r.KeyMaterialState, importState: r.ImportState, description: r.KeyMaterialDescription,
  }));
}

/** An EXTERNAL primary with material A imported in both Regions. */
async function pairWithMaterial(material = crypto.randomBytes(32)) {
  const { keyId, arn } = await externalPrimary();
  const replicaArn = await replicate(keyId);
  const first = await importMaterial(primary, keyId, material);
  await importMaterial(replica, keyId, material);
  return { keyId, arn, replicaArn, material, materialId: first.KeyMaterialId! };
}

describe('replicas', () => {
  test('ReplicateKey of an EXTERNAL primary gives a PendingImport replica with the same key id in the replica Region', async () => {
    const { keyId, arn } = await externalPrimary();

    const out = await primary.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: REPLICA_REGION, Description: 'replica' }));

    expect(out.ReplicaKeyMetadata).toMatchObject({
      KeyId: keyId,
      Arn: arn.replace(`:${PRIMARY_REGION}:`, `:${REPLICA_REGION}:`),
      Origin: 'EXTERNAL',
      KeyState: 'PendingImport',
      MultiRegion: true,
      Description: 'replica',
      MultiRegionConfiguration: {
        MultiRegionKeyType: 'REPLICA',
        PrimaryKey: { Arn: arn, Region: PRIMARY_REGION },
        ReplicaKeys: [{ Arn: out.ReplicaKeyMetadata!.Arn, Region: REPLICA_REGION }],
      },
    });
    expect(JSON.parse(out.ReplicaPolicy!).Statement[0].Action).toBe('kms:*');
    expect((await metadataOf(primary, keyId)).MultiRegionConfiguration).toEqual({
      MultiRegionKeyType: 'PRIMARY',
      PrimaryKey: { Arn: arn, Region: PRIMARY_REGION },
      ReplicaKeys: [{ Arn: out.ReplicaKeyMetadata!.Arn, Region: REPLICA_REGION }],
    });
  });

  test('each request is served in the Region its client signs for', async () => {
    const { keyId, arn } = await externalPrimary();
    const replicaArn = await replicate(keyId);

    expect((await metadataOf(replica, keyId)).Arn).toBe(replicaArn);
    await expect(replica.send(new DescribeKeyCommand({ KeyId: arn }))).rejects.toBeInstanceOf(NotFoundException);
    await expect(primary.send(new DescribeKeyCommand({ KeyId: replicaArn }))).rejects.toBeInstanceOf(NotFoundException);
    expect(emu.calls.filter((c) => c.operation === 'DescribeKey').slice(-3).map((c) => c.region))
      .toEqual([REPLICA_REGION, REPLICA_REGION, PRIMARY_REGION]);
    expect(emu.state(REPLICA_REGION).keys).toEqual(expect.arrayContaining([
      expect.objectContaining({ KeyId: keyId, Arn: replicaArn, MultiRegionKeyType: 'REPLICA', PrimaryRegion: PRIMARY_REGION }),
    ]));
  });

  test('ReplicateKey refuses single-Region keys, replicas, the primary Region and a second replica in a Region', async () => {
    const single = (await primary.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }))).KeyMetadata!.KeyId!;
    const { keyId } = await externalPrimary();
    await replicate(keyId);

    await expect(primary.send(new ReplicateKeyCommand({ KeyId: single, ReplicaRegion: REPLICA_REGION })))
      .rejects.toBeInstanceOf(UnsupportedOperationException);
    await expect(replica.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'ap-south-1' })))
      .rejects.toBeInstanceOf(UnsupportedOperationException);
    const sameRegion = await primary.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: PRIMARY_REGION })).catch((e) => e);
    expect(sameRegion).toBeInstanceOf(KMSServiceException);
    expect(sameRegion.name).toBe('ValidationException');
    await expect(primary.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: REPLICA_REGION })))
      .rejects.toBeInstanceOf(AlreadyExistsException);
  });

  test('a replica of a primary with material lists that material PENDING_IMPORT and imports nothing by itself', async () => {
    const { keyId } = await externalPrimary();
    const { KeyMaterialId } = await importMaterial(primary, keyId, crypto.randomBytes(32));

    await replicate(keyId);

    expect((await metadataOf(primary, keyId)).KeyState).toBe('Enabled');
    expect((await metadataOf(replica, keyId)).KeyState).toBe('PendingImport');
    expect(await materials(replica, keyId)).toEqual([{ id: KeyMaterialId, state: 'CURRENT', importState: 'PENDING_IMPORT', description: undefined }]);
  });
});

describe('material is per Region', () => {
  test('the same material imported into the replica enables it, with the same key material id, and ciphertexts cross Regions', async () => {
    const { keyId, materialId } = await pairWithMaterial();

    expect((await metadataOf(replica, keyId)).KeyState).toBe('Enabled');
    expect((await metadataOf(replica, keyId)).CurrentKeyMaterialId).toBe(materialId);
    const blob = (await primary.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('hello') }))).CiphertextBlob!;
    const plain = (await replica.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!;
    expect(Buffer.from(plain).toString()).toBe('hello');
  });

  test('a replica refuses other material, and refuses NEW_KEY_MATERIAL', async () => {
    const { keyId } = await externalPrimary();
    await replicate(keyId);
    await importMaterial(primary, keyId, crypto.randomBytes(32));

    await expect(importMaterial(replica, keyId, crypto.randomBytes(32))).rejects.toBeInstanceOf(IncorrectKeyMaterialException);
    await expect(importMaterial(replica, keyId, crypto.randomBytes(32), { importType: 'NEW_KEY_MATERIAL' }))
      .rejects.toBeInstanceOf(UnsupportedOperationException);
    expect((await metadataOf(replica, keyId)).KeyState).toBe('PendingImport');
  });

  test('a replica refuses any import before its primary has material', async () => {
    const { keyId } = await externalPrimary();
    await replicate(keyId);

    const error = await importMaterial(replica, keyId, crypto.randomBytes(32)).catch((e) => e);

    expect(error).toBeInstanceOf(UnsupportedOperationException);
    expect(error.message).toContain('import the material into the primary key first');
  });

  test('expiry is per Region: the primary\'s material expiring leaves the replica enabled', async () => {
    const { keyId } = await externalPrimary();
    await replicate(keyId);
    const material = crypto.randomBytes(32);
    await importMaterial(primary, keyId, material, { validTo: new Date(Date.now() + 2 * 86_400_000) });
    await importMaterial(replica, keyId, material);

    emu.advanceTime(3 * 86_400_000);

    expect((await metadataOf(primary, keyId)).KeyState).toBe('PendingImport');
    expect((await metadataOf(replica, keyId)).KeyState).toBe('Enabled');
  });
});

describe('rotation of a multi-Region key', () => {
  test('NEW on the primary is PENDING_MULTI_REGION_IMPORT_AND_ROTATION until every replica has it, and rotation waits for that', async () => {
    const { keyId, materialId } = await pairWithMaterial();
    const next = crypto.randomBytes(32);

    const { KeyMaterialId: nextId } = await importMaterial(primary, keyId, next, { importType: 'NEW_KEY_MATERIAL' });

    expect(await materials(primary, keyId)).toEqual([
      { id: materialId, state: 'CURRENT', importState: 'IMPORTED', description: undefined },
      { id: nextId, state: 'PENDING_MULTI_REGION_IMPORT_AND_ROTATION', importState: 'IMPORTED', description: undefined },
    ]);
    expect(await materials(replica, keyId)).toEqual([
      { id: materialId, state: 'CURRENT', importState: 'IMPORTED', description: undefined },
      { id: nextId, state: 'PENDING_MULTI_REGION_IMPORT_AND_ROTATION', importState: 'PENDING_IMPORT', description: undefined },
    ]);
    expect((await metadataOf(replica, keyId)).KeyState).toBe('Enabled');
    const early = await primary.send(new RotateKeyOnDemandCommand({ KeyId: keyId })).catch((e) => e);
    expect(early).toBeInstanceOf(KMSInvalidStateException);
    expect(early.message).toContain(`not imported into the replica keys in ${REPLICA_REGION}`);

    await importMaterial(replica, keyId, next, { importType: 'EXISTING_KEY_MATERIAL' });
    expect((await materials(primary, keyId))[1].state).toBe('PENDING_ROTATION');
    expect((await materials(replica, keyId))[1]).toEqual({ id: nextId, state: 'PENDING_ROTATION', importState: 'IMPORTED', description: undefined });

    await primary.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));

    for (const client of [primary, replica]) {
      expect((await materials(client, keyId)).map((m) => [m.id, m.state])).toEqual([[materialId, 'NON_CURRENT'], [nextId, 'CURRENT']]);
      expect((await metadataOf(client, keyId)).CurrentKeyMaterialId).toBe(nextId);
    }
  });

  test('RotateKeyOnDemand on a replica is refused', async () => {
    const { keyId } = await pairWithMaterial();

    await expect(replica.send(new RotateKeyOnDemandCommand({ KeyId: keyId }))).rejects.toBeInstanceOf(UnsupportedOperationException);
  });

  test('a second NEW import while one is pending is refused', async () => {
    const { keyId } = await pairWithMaterial();
    await importMaterial(primary, keyId, crypto.randomBytes(32), { importType: 'NEW_KEY_MATERIAL' });

    await expect(importMaterial(primary, keyId, crypto.randomBytes(32), { importType: 'NEW_KEY_MATERIAL' }))
      .rejects.toBeInstanceOf(KMSInvalidStateException);
  });
});

describe('deleting material of multi-Region keys', () => {
  test.each(['PENDING_MULTI_REGION_IMPORT_AND_ROTATION', 'PENDING_ROTATION'])(
    'deleting the primary\'s %s material deletes the replicas\' copies too', async (state) => {
      const { keyId, materialId } = await pairWithMaterial();
      const next = crypto.randomBytes(32);
      const { KeyMaterialId: nextId } = await importMaterial(primary, keyId, next, { importType: 'NEW_KEY_MATERIAL' });
      if (state === 'PENDING_ROTATION') await importMaterial(replica, keyId, next, { importType: 'EXISTING_KEY_MATERIAL' });
      expect((await materials(primary, keyId))[1].state).toBe(state);

      const out = await primary.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId, KeyMaterialId: nextId }));

      expect(out.KeyMaterialId).toBe(nextId);
      for (const client of [primary, replica]) {
        expect((await materials(client, keyId)).map((m) => m.id)).toEqual([materialId]);
        expect((await metadataOf(client, keyId)).KeyState).toBe('Enabled');
      }
    });

  test('deleting a replica\'s material leaves the primary and the other replicas as they were', async () => {
    const { keyId, materialId, material } = await pairWithMaterial();
    await primary.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'ap-south-1' }));
    const third = new KMSClient({ endpoint: emu.endpoint, region: 'ap-south-1', credentials, maxAttempts: 1 });
    try {
      await importMaterial(third, keyId, material);
    } finally {
      third.destroy();
    }

    await replica.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId }));

    expect((await metadataOf(replica, keyId)).KeyState).toBe('PendingImport');
    expect(await materials(replica, keyId)).toEqual([{ id: materialId, state: 'CURRENT', importState: 'PENDING_IMPORT', description: undefined }]);
    expect((await metadataOf(primary, keyId)).KeyState).toBe('Enabled');
    expect(emu.state('ap-south-1').keys).toEqual(expect.arrayContaining([expect.objectContaining({ KeyId: keyId, KeyState: 'Enabled' })]));
  });
});

describe('KeyMaterialDescription', () => {
  test('is kept with the material per Region, returned by ListKeyRotations, and retained when a reimport omits it', async () => {
    const { keyId } = await externalPrimary();
    await replicate(keyId);
    const material = crypto.randomBytes(32);
    await importMaterial(primary, keyId, material, { description: 'hsm-export 2026-12 primary' });
    await importMaterial(replica, keyId, material, { description: 'hsm-export 2026-12 replica' });

    await primary.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId }));
    await importMaterial(primary, keyId, material);

    expect((await materials(primary, keyId))[0].description).toBe('hsm-export 2026-12 primary');
    expect((await materials(replica, keyId))[0].description).toBe('hsm-export 2026-12 replica');
  });

  test.each([
    ['more than 256 characters', 'a'.repeat(257)],
    ['a character outside [a-zA-Z0-9:/_\\s.-]', 'rotation #2'],
    ['an empty string', ''],
  ])('is refused with ValidationException when it has %s', async (_what, description) => {
    const { keyId } = await externalPrimary();

    const error = await importMaterial(primary, keyId, crypto.randomBytes(32), { description }).catch((e) => e);

    expect(error).toBeInstanceOf(KMSServiceException);
    expect(error.name).toBe('ValidationException');
    expect(error.message).toContain('keyMaterialDescription');
    expect((await metadataOf(primary, keyId)).KeyState).toBe('PendingImport');
  });

  test('accepts 256 characters of the allowed set', async () => {
    const { keyId } = await externalPrimary();
    const description = 'Aa0:/_ .-\t'.repeat(25) + 'abcdef';

    await importMaterial(primary, keyId, crypto.randomBytes(32), { description });

    expect((await materials(primary, keyId))[0].description).toBe(description);
  });
});

describe('deleting multi-Region keys', () => {
  test('a primary scheduled for deletion is PendingReplicaDeletion while a replica exists', async () => {
    const { keyId } = await pairWithMaterial();

    await primary.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    expect((await metadataOf(primary, keyId)).KeyState).toBe('PendingReplicaDeletion');
    await replica.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    emu.advanceTime(8 * 86_400_000);

    await expect(metadataOf(replica, keyId)).rejects.toBeInstanceOf(NotFoundException);
    expect((await metadataOf(primary, keyId)).KeyState).toBe('PendingDeletion');
    emu.advanceTime(8 * 86_400_000);
    await expect(metadataOf(primary, keyId)).rejects.toBeInstanceOf(NotFoundException);
  });
});

describe('Secrets Manager replication', () => {
  test('a replicated secret has the same name, suffix and versions in its replica Region', async () => {
    const arn = emu.putSecret({ name: 'material/replicated', secretBinary: Buffer.alloc(32, 1), replicaRegions: [REPLICA_REGION] });
    emu.putSecret({ name: 'material/replicated', secretBinary: Buffer.alloc(32, 2) });
    const sm = new SecretsManagerClient({ endpoint: emu.endpoint, region: REPLICA_REGION, credentials, maxAttempts: 1 });
    try {
      const out = await sm.send(new GetSecretValueCommand({ SecretId: 'material/replicated' }));

      expect(out.ARN).toBe(arn.replace(`:${PRIMARY_REGION}:`, `:${REPLICA_REGION}:`));
      expect(Buffer.from(out.SecretBinary!)).toEqual(Buffer.alloc(32, 2));
    } finally {
      sm.destroy();
    }
  });
});
