/**
 * A multi-Region ExternalKey and its ExternalReplicaKey, in two stacks of two Regions, played by two lifecycle
 * drivers (one per stack and Region, as CloudFormation deploys them) through the shipped handler bundle against
 * one KMS emulator that serves both Regions. The replica stack names the primary's ARN through aws-cdk-lib's
 * cross-Region reference, so it deploys after the primary's and is destroyed before it. Every assertion is on
 * the emulator's state in each Region.
 */
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { ExternalKey, ExternalReplicaKey, KeyMaterial } from '../lib';
import { Emulator, keyMaterialId, startEmulator } from './kms-emulator';
import { EMULATOR_DEFAULT_ENV } from './lifecycle/bundles';
import { DriverTemplate, LifecycleDriver } from './lifecycle/driver';
import { symmetricMaterial } from './lifecycle/materials';
import { synth } from './lifecycle/stacks';
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
  materials: Array<{ KeyMaterialId: string; state: string; importState: string }>;
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
    removalPolicy: RemovalPolicy.DESTROY,
  });
  new ExternalReplicaKey(replicaStack, 'AppKeyReplica', {
    primaryKey: primary,
    material: KeyMaterial.fromSecret(secretsmanager.Secret.fromSecretNameV2(replicaStack, 'Material', SECRET_NAMES[source])),
    removalPolicy: RemovalPolicy.DESTROY,
  });
  return { primary: synth(primaryStack), replica: synth(replicaStack) };
}

let emulator: Emulator;
let logs: CapturedLogs;

beforeAll(async () => {
  emulator = await startEmulator({ region: PRIMARY.region });
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.clearFaults();
  logs = captureLogs();
});

afterEach(() => {
  logs.restore();
});

function drivers(): { primary: LifecycleDriver; replica: LifecycleDriver } {
  const secretValues = { MaterialA: { secretBinary: symmetricMaterial(1) }, MaterialB: { secretBinary: symmetricMaterial(2) } };
  return {
    primary: new LifecycleDriver({ emulator, env: PRIMARY, secretValues }),
    replica: new LifecycleDriver({ emulator, env: REPLICA, secretValues }),
  };
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
    const imports = emulator.calls.filter((c) => c.operation === 'ImportKeyMaterial' && c.outcome === 'ok');
    expect(imports.map((c) => [c.region, c.input.ImportType])).toEqual([[PRIMARY.region, undefined], [REPLICA.region, undefined]]);
    expect(emulator.calls.filter((c) => c.service === 'secretsmanager').map((c) => c.region)).toEqual([PRIMARY.region, REPLICA.region]);

    await d.replica.destroy();
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
