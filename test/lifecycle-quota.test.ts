/**
 * KMS's request quotas with CloudFormation's parallelism: a stack of several ExternalKeys with material,
 * deployed, updated and destroyed by the lifecycle driver with every resource of a wave sent at once (each
 * concurrent invocation in a Lambda sandbox of its own) against the emulator with its quotas on
 * (GetParametersForImport: 1 per second). Zero failures, asserted on the emulator's state and its call log.
 * The larger runs (60 and 240 keys) are in bench/ (`npm run bench`).
 */
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { ExternalKey, KeyMaterial, KeyMaterialExpiration } from '../lib';
import { Emulator, startEmulator } from './kms-emulator';
import { DriverTemplate, LifecycleDriver } from './lifecycle/driver';
import { symmetricMaterial } from './lifecycle/materials';
import { STACK_ENV, synth } from './lifecycle/stacks';
import { CapturedLogs, captureLogs } from './util/logs';

const KEYS = 6;
const DAY_MS = 24 * 3600 * 1000;

interface KeyView {
  KeyId: string;
  KeyState: string;
  materials: Array<{ KeyMaterialId: string; state: string; importState: string; validTo?: string }>;
}

let emulator: Emulator;
let logs: CapturedLogs;

beforeAll(async () => {
  emulator = await startEmulator({ quotas: true });
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  logs = captureLogs();
});

afterEach(() => {
  logs.restore();
});

/** KEYS ExternalKeys, each with its own secret, material expiring `days` days from today (a fixed UTC midnight). */
function manyKeys(days: number): DriverTemplate {
  const stack = new Stack(new App(), 'Quota', { env: STACK_ENV });
  const validTo = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS + days * DAY_MS);
  for (let i = 0; i < KEYS; i++) {
    new ExternalKey(stack, `Key${i}`, {
      removalPolicy: RemovalPolicy.DESTROY,
      material: KeyMaterial.fromSecret(new secretsmanager.Secret(stack, `Material${i}`)),
      expiration: KeyMaterialExpiration.at(validTo),
    });
  }
  return synth(stack);
}

function keys(d: LifecycleDriver): KeyView[] {
  const ids = d.logicalIdsOfType('AWS::KMS::Key').map((id) => d.physical(id).ref);
  return (emulator.state().keys as KeyView[]).filter((k) => ids.includes(k.KeyId));
}

/** Admitted KMS requests by operation since the last resetCalls(). */
function admittedKmsCalls(): Record<string, number> {
  return emulator.quotaStats().admitted;
}

test(`${KEYS} keys with material deploy, change expiration and destroy concurrently under KMS's quotas with zero failures`, async () => {
  const secretValues = Object.fromEntries(Array.from({ length: KEYS }, (_, i) => [`Material${i}`, { secretBinary: symmetricMaterial(i + 1) }]));
  const d = new LifecycleDriver({ emulator, secretValues, concurrency: true });

  // Deploy: every material resource at once; GetParametersForImport is throttled (1 per second) and retried.
  emulator.resetCalls();
  const created = await d.deploy(manyKeys(90));
  expect(created.failures).toEqual([]);
  expect(created.status).toBe('CREATE_COMPLETE');
  const deployed = keys(d);
  expect(deployed).toHaveLength(KEYS);
  for (const k of deployed) {
    expect(k.KeyState).toBe('Enabled');
    expect(k.materials).toEqual([expect.objectContaining({ state: 'CURRENT', importState: 'IMPORTED' })]);
  }
  // DescribeKey verifies each target key on Create.
  expect(admittedKmsCalls()).toEqual({ DescribeKey: KEYS, GetParametersForImport: KEYS, ImportKeyMaterial: KEYS });
  expect(emulator.quotaStats().throttled.GetParametersForImport).toBeGreaterThanOrEqual(KEYS - 1);
  const sandboxes = Object.entries(d.sandboxesStarted).find(([k]) => k.startsWith('key-material-provider|'))?.[1];
  expect(sandboxes).toBeGreaterThan(1); // concurrent invocations ran in sandboxes of their own

  // Update: every key's expiration changes (same material re-imported with the new ValidTo).
  emulator.resetCalls();
  const updated = await d.deploy(manyKeys(180));
  expect(updated.failures).toEqual([]);
  expect(updated.status).toBe('UPDATE_COMPLETE');
  const expected = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS + 180 * DAY_MS).toISOString();
  for (const k of keys(d)) {
    expect(k.KeyState).toBe('Enabled');
    expect(k.materials).toEqual([expect.objectContaining({ state: 'CURRENT', importState: 'IMPORTED', validTo: expected })]);
  }
  expect(admittedKmsCalls()).toEqual({ GetParametersForImport: KEYS, DeleteImportedKeyMaterial: KEYS, ImportKeyMaterial: KEYS });

  // Destroy: every material deleted, then every key scheduled for deletion.
  emulator.resetCalls();
  const destroyed = await d.destroy();
  expect(destroyed.failures).toEqual([]);
  expect(destroyed.status).toBe('DELETE_COMPLETE');
  const gone = (emulator.state().keys as KeyView[]).filter((k) => deployed.some((x) => x.KeyId === k.KeyId));
  expect(gone.map((k) => k.KeyState)).toEqual(Array(KEYS).fill('PendingDeletion'));
  expect(gone.flatMap((k) => k.materials.filter((m) => m.importState === 'IMPORTED'))).toEqual([]);
  expect(admittedKmsCalls()).toEqual({ ListKeyRotations: KEYS, DeleteImportedKeyMaterial: KEYS, ScheduleKeyDeletion: KEYS });
  d.close();
}, 120_000);
