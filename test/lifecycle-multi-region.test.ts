/**
 * A multi-Region ExternalKey and its ExternalReplicaKey, in two stacks of two Regions, played by two lifecycle
 * drivers (one per stack and Region, as CloudFormation deploys them) through the shipped handler bundle against
 * one KMS emulator that serves both Regions. The replica stack names the primary's ARN through aws-cdk-lib's
 * cross-Region reference, so it deploys after the primary's and is destroyed before it. Every assertion is on
 * the emulator's state in each Region.
 */
import { KMSClient, ScheduleKeyDeletionCommand, CancelKeyDeletionCommand, EnableKeyCommand } from '@aws-sdk/client-kms';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { ExternalKey, ExternalReplicaKey, KeyMaterial } from '../lib';
import { Emulator, keyMaterialId, startEmulator } from './kms-emulator';
import { EMULATOR_DEFAULT_ENV } from './lifecycle/bundles';
import { DriverTemplate, LifecycleDriver } from './lifecycle/driver';
import { symmetricMaterial } from './lifecycle/materials';
import { synth } from './lifecycle/stacks';
import { importMaterial } from './util/kms-import';
import { CapturedLogs, captureLogs } from './util/logs';

const ACCOUNT = EMULATOR_DEFAULT_ENV.account;
const PRIMARY = { account: ACCOUNT, region: 'us-east-1' };
const REPLICA = { account: ACCOUNT, region: 'eu-west-1' };
const MATERIAL_TYPE = 'Custom::KmsImportedKeyMaterial';
const SECRET_NAMES = { MaterialA: 'multi-region/material-a', MaterialB: 'multi-region/material-b' } as const;

interface KeyView {
  KeyId: string;
  KeyState: string;
  MultiRegionKeyType?: string;
  CurrentKeyMaterialId?: string;
  materials: Array<{ KeyMaterialId: string; state: string; importState: string; description?: string }>;
}

interface Apps { primary: DriverTemplate; replica: DriverTemplate }

/** The two stacks: both material secrets live in the primary's stack, replicated to the replica's Region. */
function apps(source: keyof typeof SECRET_NAMES = 'MaterialA'): Apps {
  const app = new App();
  const primaryStack = new Stack(app, 'MrkPrimary', { env: PRIMARY });
  const replicaStack = new Stack(app, 'MrkReplica', { env: REPLICA });
  const secrets = Object.fromEntries(Object.entries(SECRET_NAMES).map(([id, secretName]) =>
    [id, new secretsmanager.Secret(primaryStack, id, { secretName, replicaRegions: [{ region: REPLICA.region }] })]));
  const primary = new ExternalKey(primaryStack, 'AppKey', {
    multiRegion: true,
    material: KeyMaterial.fromSecret(secrets[source]),
    keyMaterialDescription: `${source} imported in us-east-1`,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  new ExternalReplicaKey(replicaStack, 'AppKeyReplica', {
    primaryKey: primary,
    material: KeyMaterial.fromSecret(secretsmanager.Secret.fromSecretNameV2(replicaStack, 'Material', SECRET_NAMES[source])),
    keyMaterialDescription: `${source} imported in eu-west-1`,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  return { primary: synth(primaryStack), replica: synth(replicaStack) };
}

let emulator: Emulator;
let logs: CapturedLogs;
const clients: Record<string, KMSClient> = {};

beforeAll(async () => {
  emulator = await startEmulator({ region: PRIMARY.region });
  for (const region of [PRIMARY.region, REPLICA.region]) {
    clients[region] = new KMSClient({
      endpoint: emulator.endpoint, region, maxAttempts: 1, credentials: { accessKeyId: 'AKIDOUTOFBAND', secretAccessKey: 'out-of-band' },
    });
  }
});

afterAll(async () => {
  Object.values(clients).forEach((c) => c.destroy());
  await emulator.close();
});

beforeEach(() => {
  emulator.clearFaults();
  logs = captureLogs();
});

/** Every text form of the materials: hex, and base64 of each alignment (as in leak-canary.test.ts). */
const NEEDLES = [symmetricMaterial(1), symmetricMaterial(2)].flatMap((m) => [
  m.toString('hex'), ...[0, 1, 2].map((o) => m.subarray(o, o + 24).toString('base64')),
]);
/** The ResponseURL lists of this test's drivers. */
const watched: string[][] = [];

afterEach(() => {
  logs.restore();
  // Nothing the handlers or the framework logged in either Region holds the material or a ResponseURL.
  const responseUrls = watched.flat();
  watched.length = 0;
  expect(logs.lines.length).toBeGreaterThan(0);
  expect(responseUrls.length).toBeGreaterThan(0);
  const leaks = logs.lines.filter((line) => NEEDLES.some((n) => line.includes(n)) || responseUrls.some((u) => line.includes(u)));
  expect(leaks).toEqual([]);
});

function drivers(): { primary: LifecycleDriver; replica: LifecycleDriver } {
  const secretValues = { MaterialA: { secretBinary: symmetricMaterial(1) }, MaterialB: { secretBinary: symmetricMaterial(2) } };
  const d = {
    primary: new LifecycleDriver({ emulator, env: PRIMARY, secretValues }),
    replica: new LifecycleDriver({ emulator, env: REPLICA, secretValues }),
  };
  watched.push(d.primary.responseUrls, d.replica.responseUrls); // filled as they run
  return d;
}

function key(region: string, keyId: string): KeyView {
  const found = (emulator.state(region).keys as KeyView[]).find((k) => k.KeyId === keyId);
  if (!found) throw new Error(`no key ${keyId} in ${region}`);
  return found;
}

function keyIdOf(d: LifecycleDriver): string {
  return d.physical(d.logicalIdsOfType(MATERIAL_TYPE)[0]).ref;
}

describe('create', () => {
  test('the primary stack imports the material into the primary, then the replica stack replicates the key and imports the same material in its Region', async () => {
    const d = drivers();
    const templates = apps();

    expect((await d.primary.deploy(templates.primary)).status).toBe('CREATE_COMPLETE');
    const keyId = keyIdOf(d.primary);
    expect(key(PRIMARY.region, keyId)).toMatchObject({ KeyState: 'Enabled', MultiRegionKeyType: 'PRIMARY' });
    expect((await d.replica.deploy(templates.replica)).status).toBe('CREATE_COMPLETE');

    const materialId = keyMaterialId(keyId, symmetricMaterial(1));
    for (const region of [PRIMARY.region, REPLICA.region]) {
      expect(key(region, keyId)).toMatchObject({
        KeyState: 'Enabled',
        CurrentKeyMaterialId: materialId,
        materials: [expect.objectContaining({ KeyMaterialId: materialId, state: 'CURRENT', importState: 'IMPORTED' })],
      });
    }
    expect(key(REPLICA.region, keyId).MultiRegionKeyType).toBe('REPLICA');
    // KeyMaterialDescription is sent with each import, and kept per Region.
    expect(key(PRIMARY.region, keyId).materials[0].description).toBe('MaterialA imported in us-east-1');
    expect(key(REPLICA.region, keyId).materials[0].description).toBe('MaterialA imported in eu-west-1');
    const imports = emulator.calls.filter((c) => c.operation === 'ImportKeyMaterial' && c.outcome === 'ok');
    expect(imports.map((c) => [c.region, c.input.ImportType])).toEqual([[PRIMARY.region, undefined], [REPLICA.region, undefined]]);
    expect(emulator.calls.filter((c) => c.service === 'secretsmanager').map((c) => c.region)).toEqual([PRIMARY.region, REPLICA.region]);

    await d.replica.destroy();
    await d.primary.destroy();
  });
});

describe('create: order', () => {
  test('a replica whose primary has no material yet fails its create, saying to import into the primary first, and rolls back', async () => {
    const d = drivers();
    const app = new App();
    const primaryStack = new Stack(app, 'MrkPrimary', { env: PRIMARY });
    const replicaStack = new Stack(app, 'MrkReplica', { env: REPLICA });
    const primary = new ExternalKey(primaryStack, 'AppKey', { multiRegion: true, removalPolicy: RemovalPolicy.DESTROY });
    new ExternalReplicaKey(replicaStack, 'AppKeyReplica', {
      primaryKey: primary,
      material: KeyMaterial.fromSecret(secretsmanager.Secret.fromSecretNameV2(replicaStack, 'Material', SECRET_NAMES.MaterialA)),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    emulator.putSecret({ name: SECRET_NAMES.MaterialA, secretBinary: symmetricMaterial(1), region: REPLICA.region });
    await d.primary.deploy(synth(primaryStack));
    const keyId = keyIdOf(d.primary);

    const op = await d.replica.deploy(synth(replicaStack));

    expect(op.status).toBe('ROLLBACK_COMPLETE');
    expect(op.failures[0].reason).toMatch(/KMS refused the import .* For a multi-Region replica, the same material must first be imported into its primary key/);
    expect(key(PRIMARY.region, keyId).materials).toEqual([]);
    await d.primary.destroy();
  });
});

describe('destroy', () => {
  test('destroying the replica stack, then the primary stack, leaves no material in either Region', async () => {
    const d = drivers();
    const templates = apps();
    await d.primary.deploy(templates.primary);
    await d.replica.deploy(templates.replica);
    const keyId = keyIdOf(d.primary);

    expect((await d.replica.destroy()).status).toBe('DELETE_COMPLETE');
    expect(key(REPLICA.region, keyId)).toMatchObject({ KeyState: 'PendingDeletion', materials: [expect.objectContaining({ importState: 'PENDING_IMPORT' })] });
    expect(key(PRIMARY.region, keyId)).toMatchObject({ KeyState: 'Enabled', materials: [expect.objectContaining({ importState: 'IMPORTED' })] });
    expect((await d.primary.destroy()).status).toBe('DELETE_COMPLETE');

    for (const region of [PRIMARY.region, REPLICA.region]) {
      expect(key(region, keyId).materials.filter((m) => m.importState === 'IMPORTED')).toEqual([]);
    }
    expect(key(PRIMARY.region, keyId).KeyState).toBe('PendingReplicaDeletion');
    expect(d.primary.invocations.concat(d.replica.invocations).flatMap((i) => i.missingDependencies)).toEqual([]);
  });
});

/** Both stacks deployed with MaterialA; returns the drivers and the key id. */
async function deployedPair(): Promise<{ d: ReturnType<typeof drivers>; keyId: string }> {
  const d = drivers();
  const templates = apps('MaterialA');
  await d.primary.deploy(templates.primary);
  await d.replica.deploy(templates.replica);
  return { d, keyId: keyIdOf(d.primary) };
}

/** Material id and KeyMaterialState of every imported material of the key in a Region. */
function materialStates(region: string, keyId: string): Array<[string, string, string]> {
  return key(region, keyId).materials.map((m) => [m.KeyMaterialId, m.state, m.importState]);
}

/** The KMS calls that change material, with their Region, from `from` on. */
function materialCalls(from: number): Array<[string, string, unknown]> {
  return emulator.calls.slice(from)
    .filter((c) => ['ImportKeyMaterial', 'RotateKeyOnDemand', 'DeleteImportedKeyMaterial'].includes(c.operation) && c.outcome === 'ok')
    .map((c) => [c.operation, c.region, c.input.ImportType]);
}

describe('rotation', () => {
  test('a new material on the primary stack rotates in KMS\'s order: NEW on the primary, EXISTING on the replica, then RotateKeyOnDemand', async () => {
    const { d, keyId } = await deployedPair();
    const a = keyMaterialId(keyId, symmetricMaterial(1));
    const b = keyMaterialId(keyId, symmetricMaterial(2));
    const from = emulator.calls.length;

    const op = await d.primary.deploy(apps('MaterialB').primary);

    expect(op.status).toBe('UPDATE_COMPLETE');
    expect(materialCalls(from)).toEqual([
      ['ImportKeyMaterial', PRIMARY.region, 'NEW_KEY_MATERIAL'],
      ['ImportKeyMaterial', REPLICA.region, 'EXISTING_KEY_MATERIAL'],
      ['RotateKeyOnDemand', PRIMARY.region, undefined],
    ]);
    for (const region of [PRIMARY.region, REPLICA.region]) {
      expect(key(region, keyId)).toMatchObject({ KeyState: 'Enabled', CurrentKeyMaterialId: b });
      expect(materialStates(region, keyId)).toEqual([[a, 'NON_CURRENT', 'IMPORTED'], [b, 'CURRENT', 'IMPORTED']]);
    }

    // The replica stack's own deploy then re-imports the (now current) material in its Region: nothing changes.
    const replicaFrom = emulator.calls.length;
    expect((await d.replica.deploy(apps('MaterialB').replica)).status).toBe('UPDATE_COMPLETE');
    expect(materialCalls(replicaFrom)).toEqual([['ImportKeyMaterial', REPLICA.region, 'EXISTING_KEY_MATERIAL']]);
    expect(materialStates(REPLICA.region, keyId)).toEqual([[a, 'NON_CURRENT', 'IMPORTED'], [b, 'CURRENT', 'IMPORTED']]);

    // Destroy leaves no material imported in either Region, the previous one included.
    await d.replica.destroy();
    await d.primary.destroy();
    for (const region of [PRIMARY.region, REPLICA.region]) {
      expect(materialStates(region, keyId).filter(([, , imported]) => imported === 'IMPORTED')).toEqual([]);
    }
  });

  test('the replica stack deployed with the new material before the primary\'s fails and rolls back, naming the primary stack to deploy first', async () => {
    const { d, keyId } = await deployedPair();
    const a = keyMaterialId(keyId, symmetricMaterial(1));

    const op = await d.replica.deploy(apps('MaterialB').replica);

    expect(op.status).toBe('UPDATE_ROLLBACK_COMPLETE');
    expect(op.failures[0].reason).toMatch(/this material is not associated with the multi-Region key yet, and KMS takes new material only on the primary key .* Deploy the primary's stack \(in us-east-1\)/);
    for (const region of [PRIMARY.region, REPLICA.region]) {
      expect(materialStates(region, keyId)).toEqual([[a, 'CURRENT', 'IMPORTED']]);
    }
    await d.replica.destroy();
    await d.primary.destroy();
  });

  test('a replica that cannot take the material fails the primary\'s update, and the rollback leaves the previous material current everywhere', async () => {
    const { d, keyId } = await deployedPair();
    const a = keyMaterialId(keyId, symmetricMaterial(1));
    await clients[REPLICA.region].send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));

    const op = await d.primary.deploy(apps('MaterialB').primary);

    expect(op.status).toBe('UPDATE_ROLLBACK_COMPLETE');
    expect(op.failures[0].reason).toMatch(new RegExp(`KMS GetParametersForImport failed for key arn:aws:kms:${REPLICA.region}:.*The new material was removed from the primary and every replica again`));
    expect(materialStates(PRIMARY.region, keyId)).toEqual([[a, 'CURRENT', 'IMPORTED']]);
    expect(materialStates(REPLICA.region, keyId)).toEqual([[a, 'CURRENT', 'IMPORTED']]);
    await clients[REPLICA.region].send(new CancelKeyDeletionCommand({ KeyId: keyId }));
    await clients[REPLICA.region].send(new EnableKeyCommand({ KeyId: keyId }));
    await d.replica.destroy();
    await d.primary.destroy();
  });
});

describe('a rotation left half-done converges', () => {
  /** What a cut-off earlier attempt leaves: MaterialB imported NEW into the primary only. */
  async function leaveHalfDone(keyId: string): Promise<void> {
    await importMaterial(clients[PRIMARY.region], keyId, symmetricMaterial(2), { importType: 'NEW_KEY_MATERIAL' });
    expect(materialStates(PRIMARY.region, keyId)[1][1]).toBe('PENDING_MULTI_REGION_IMPORT_AND_ROTATION');
    expect(materialStates(REPLICA.region, keyId)[1][2]).toBe('PENDING_IMPORT');
  }

  test('on the primary stack\'s next deploy: the pending material is imported into the replica and rotated to, not imported as new again', async () => {
    const { d, keyId } = await deployedPair();
    await leaveHalfDone(keyId);
    const from = emulator.calls.length;

    expect((await d.primary.deploy(apps('MaterialB').primary)).status).toBe('UPDATE_COMPLETE');

    expect(materialCalls(from)).toEqual([
      ['ImportKeyMaterial', PRIMARY.region, 'EXISTING_KEY_MATERIAL'],
      ['ImportKeyMaterial', REPLICA.region, 'EXISTING_KEY_MATERIAL'],
      ['RotateKeyOnDemand', PRIMARY.region, undefined],
    ]);
    const b = keyMaterialId(keyId, symmetricMaterial(2));
    for (const region of [PRIMARY.region, REPLICA.region]) expect(key(region, keyId).CurrentKeyMaterialId).toBe(b);
    await d.replica.destroy();
    await d.primary.destroy();
  });

  test('on the replica stack\'s deploy first: the replica takes the pending material, and the primary stack\'s deploy then rotates', async () => {
    const { d, keyId } = await deployedPair();
    await leaveHalfDone(keyId);
    const b = keyMaterialId(keyId, symmetricMaterial(2));

    expect((await d.replica.deploy(apps('MaterialB').replica)).status).toBe('UPDATE_COMPLETE');
    expect(materialStates(PRIMARY.region, keyId)[1]).toEqual([b, 'PENDING_ROTATION', 'IMPORTED']);
    expect(materialStates(REPLICA.region, keyId)[1]).toEqual([b, 'PENDING_ROTATION', 'IMPORTED']);

    expect((await d.primary.deploy(apps('MaterialB').primary)).status).toBe('UPDATE_COMPLETE');
    for (const region of [PRIMARY.region, REPLICA.region]) {
      expect(key(region, keyId)).toMatchObject({ KeyState: 'Enabled', CurrentKeyMaterialId: b });
    }
    await d.replica.destroy();
    await d.primary.destroy();
  });
});
