/**
 * The fault campaign: many create → update → delete lifecycles through the lifecycle driver while the
 * emulator injects transient faults, each checked against the emulator's state after every step.
 * Used by bench/campaign.ts (`npm run campaign`) and, as a small fixed-seed slice, by
 * test/fault-campaign.test.ts.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { MaterialEncoding } from '../../lib';
import { Emulator, FaultKind, keyMaterialId, startEmulator } from '../kms-emulator';
import { BundleModule } from './bundles';
import { DriverTemplate, LifecycleDriver, SecretValue, StackOperation } from './driver';
import { hmacMaterial, pkcs8Pem, rsaPkcs8, symmetricMaterial } from './materials';
import { TOTAL_TIMEOUT_MINUTES } from '../../lib/private/custom-key-store-contract';
import { KMSUSER_PASSWORD_SECRET, keyMaterialTemplate, storeTemplate, XKS_CREDENTIAL_SECRET } from './stacks';

/** The key-material handler's Lambda timeout: no request may take longer. */
export const KEY_MATERIAL_TIMEOUT_MS = 5 * 60_000;

export const CAMPAIGN_FAULT_KINDS: FaultKind[] = ['ThrottlingException', 'KMSInternalException', 'DependencyTimeoutException', 'dropConnection', 'slow'];

/** The custom key store provider's waiter limit: no store request may take longer. */
export const STORE_TOTAL_TIMEOUT_MS = TOTAL_TIMEOUT_MINUTES * 60_000;

export type LifecycleKind = 'symmetric-rotate' | 'symmetric-expiry' | 'hmac-expiry' | 'rsa-expiry' | 'foreign-delete' | 'xks-store' | 'cloudhsm-store';

export const LIFECYCLE_KINDS: LifecycleKind[] = ['symmetric-rotate', 'symmetric-expiry', 'hmac-expiry', 'rsa-expiry', 'foreign-delete', 'xks-store', 'cloudhsm-store'];

const STORE_KINDS: LifecycleKind[] = ['xks-store', 'cloudhsm-store'];

export interface CampaignOptions {
  readonly runs: number;
  readonly rate: number;
  readonly seed: number;
  /** Lifecycles run at the same time, each with its own keys and its own warm copy of the bundle. */
  readonly concurrency: number;
  /** Delay of 'slow' faults. @default 200 */
  readonly slowMs?: number;
  /** Kinds to cycle through. @default all */
  readonly kinds?: LifecycleKind[];
  /** Progress callback. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface Problem {
  readonly run: number;
  readonly kind: LifecycleKind;
  readonly step: 'create' | 'update' | 'delete';
  readonly cause: string;
  readonly detail: string;
}

export interface CampaignResult {
  readonly runs: number;
  readonly kindsRun: Record<string, number>;
  readonly faultsInjected: number;
  readonly faultsByKind: Partial<Record<FaultKind, number>>;
  /** HTTP requests the emulator answered (or dropped). */
  readonly attempts: number;
  /** HTTP attempts by operation. */
  readonly attemptsByOperation: Record<string, number>;
  /** Attempts that failed with an injected error or dropped connection and were retried by the SDK. */
  readonly sdkRetries: number;
  /** Calls whose every attempt failed (the SDK gave up). */
  readonly exhaustedCalls: number;
  readonly requests: number;
  /** Lifecycles that did not end right (wrong state, or a FAILED request). */
  readonly problems: Problem[];
  readonly slowestLifecycleMs: number;
  readonly slowestRequestMs: number;
  readonly slowestKeyMaterialRequestMs: number;
  readonly wallMs: number;
}

interface KindSetup {
  readonly secretValues: Record<string, SecretValue>;
  readonly create: DriverTemplate;
  readonly update: DriverTemplate;
  /** Material bytes as KMS sees them (PKCS#8 DER for RSA), for the expected KeyMaterialIds. */
  readonly materialA: Buffer;
  readonly materialB?: Buffer;
  readonly rotates: boolean;
  readonly validTo?: string;
}

const FOREIGN_PLACEHOLDER = '00000000-0000-4000-8000-000000000000';
const STORE_PLACEHOLDER = 'campaignstoreplaceholder';
const STORE_SECRETS: Record<string, SecretValue> = {
  [XKS_CREDENTIAL_SECRET]: { secretString: JSON.stringify({ accessKeyId: 'AKIACAMPAIGNXKSACCESS', secretAccessKey: 'CampaignXksSecretAccessKey0123456789abcdefghijkl' }) },
  [KMSUSER_PASSWORD_SECRET]: { secretString: 'campaign-kmsuser-pw' },
};

function setups(): Record<LifecycleKind, KindSetup> {
  const validTo = new Date(Date.now() + 60 * 24 * 3600 * 1000);
  const rsa = rsaPkcs8(2048);
  const hmac = { keySpec: kms.KeySpec.HMAC_256, keyUsage: kms.KeyUsage.GENERATE_VERIFY_MAC };
  const rsaProps = { keySpec: kms.KeySpec.RSA_2048, keyUsage: kms.KeyUsage.SIGN_VERIFY, encoding: MaterialEncoding.PEM };
  const foreignArn = `arn:aws:kms:us-east-1:111122223333:key/${FOREIGN_PLACEHOLDER}`;
  return {
    'symmetric-rotate': {
      secretValues: { MaterialA: { secretBinary: symmetricMaterial(1) }, MaterialB: { secretBinary: symmetricMaterial(2) } },
      create: keyMaterialTemplate(), update: keyMaterialTemplate({ source: 'MaterialB' }),
      materialA: symmetricMaterial(1), materialB: symmetricMaterial(2), rotates: true,
    },
    'symmetric-expiry': {
      secretValues: { MaterialA: { secretString: symmetricMaterial(3).toString('base64') } },
      create: keyMaterialTemplate(), update: keyMaterialTemplate({ expiration: validTo }),
      materialA: symmetricMaterial(3), rotates: false, validTo: validTo.toISOString(),
    },
    'hmac-expiry': {
      secretValues: { MaterialA: { secretBinary: hmacMaterial(48, 4) } },
      create: keyMaterialTemplate(hmac), update: keyMaterialTemplate({ ...hmac, expiration: validTo }),
      materialA: hmacMaterial(48, 4), rotates: false, validTo: validTo.toISOString(),
    },
    'rsa-expiry': {
      secretValues: { MaterialA: { secretString: pkcs8Pem(rsa) } },
      create: keyMaterialTemplate(rsaProps), update: keyMaterialTemplate({ ...rsaProps, expiration: validTo }),
      materialA: rsa, rotates: false, validTo: validTo.toISOString(),
    },
    'xks-store': {
      secretValues: STORE_SECRETS,
      create: storeTemplate({ type: 'XKS', name: `${STORE_PLACEHOLDER}-a`, proxyUriPath: `/${STORE_PLACEHOLDER}/kms/xks/v1` }),
      update: storeTemplate({ type: 'XKS', name: `${STORE_PLACEHOLDER}-b`, proxyUriPath: `/${STORE_PLACEHOLDER}/kms/xks/v1` }),
      materialA: Buffer.alloc(0), rotates: false,
    },
    'cloudhsm-store': {
      secretValues: STORE_SECRETS,
      create: storeTemplate({ type: 'CLOUDHSM', name: `${STORE_PLACEHOLDER}-a` }),
      update: storeTemplate({ type: 'CLOUDHSM', name: `${STORE_PLACEHOLDER}-b` }),
      materialA: Buffer.alloc(0), rotates: false,
    },
    'foreign-delete': {
      secretValues: {},
      create: keyMaterialTemplate({ source: 'none', materialRemovalPolicy: RemovalPolicy.RETAIN, foreignKeyArn: foreignArn, keyId: 'Unused' }),
      update: keyMaterialTemplate({ source: 'none', materialRemovalPolicy: RemovalPolicy.RETAIN, foreignKeyArn: foreignArn, keyId: 'Unused', description: 'changed' }),
      materialA: symmetricMaterial(6), rotates: false,
    },
  };
}

interface KeyView {
  KeyId: string;
  KeyState: string;
  CurrentKeyMaterialId?: string;
  materials: Array<{ KeyMaterialId: string; state: string; importState: string; validTo?: string }>;
}

interface StoreView {
  CustomKeyStoreId: string;
  CustomKeyStoreName: string;
  ConnectionState: string;
}

/** Each store lifecycle gets its own name, proxy path and (CloudHSM) cluster: KMS allows one store per each. */
function withStorePlaceholder(template: DriverTemplate, run: number): DriverTemplate {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let n = run;
  let suffix = '';
  for (let i = 0; i < 11; i++, n = Math.floor(n / 32)) suffix = alphabet[n % 32] + suffix;
  const cluster = `cluster-${suffix}`;
  return JSON.parse(JSON.stringify(template).split(STORE_PLACEHOLDER).join(`campaign-${run}`).split('cluster-abcdefghijk').join(cluster));
}

function withForeignKey(template: DriverTemplate, keyId: string): DriverTemplate {
  return JSON.parse(JSON.stringify(template).split(FOREIGN_PLACEHOLDER).join(keyId));
}

/** Runs the campaign on its own emulator. */
export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const started = Date.now();
  const emulator = await startEmulator();
  try {
    return await runOn(emulator, options, started);
  } finally {
    emulator.clearFaults();
    await emulator.close();
  }
}

async function runOn(emulator: Emulator, options: CampaignOptions, started: number): Promise<CampaignResult> {
  const kinds = options.kinds ?? LIFECYCLE_KINDS;
  const setup = setups();
  const problems: Problem[] = [];
  const kindsRun: Record<string, number> = {};
  let slowestLifecycleMs = 0;
  let slowestRequestMs = 0;
  let slowestKeyMaterialRequestMs = 0;
  let requests = 0;
  let exhaustedCalls = 0;

  // Warm the emulator's wrapping key before faults start.
  emulator.injectFaults({ rate: options.rate, seed: options.seed, kinds: CAMPAIGN_FAULT_KINDS, slowMs: options.slowMs ?? 200 });

  const containers: Array<Map<string, BundleModule>> = Array.from({ length: options.concurrency }, () => new Map());
  let next = 0;
  let done = 0;
  const worker = async (slot: number) => {
    for (;;) {
      const run = next++;
      if (run >= options.runs) return;
      const kind = kinds[run % kinds.length];
      kindsRun[kind] = (kindsRun[kind] ?? 0) + 1;
      const t0 = Date.now();
      const d = new LifecycleDriver({ emulator, stackName: `Campaign${run}`, bundles: containers[slot], secretValues: setup[kind].secretValues, configureEnvironment: run === 0 });
      try {
        const outcome = STORE_KINDS.includes(kind)
          ? await storeLifecycle(emulator, d, run, kind, setup[kind])
          : await lifecycle(emulator, d, run, kind, setup[kind]);
        problems.push(...outcome.problems);
        requests += d.invocations.length;
        exhaustedCalls += d.invocations.filter((i) => /persisted through \d+ attempts/.test(i.response.Reason)).length;
        for (const i of d.invocations) {
          slowestRequestMs = Math.max(slowestRequestMs, i.elapsedMs);
          if (i.request.ResourceType === 'Custom::KmsImportedKeyMaterial') slowestKeyMaterialRequestMs = Math.max(slowestKeyMaterialRequestMs, i.elapsedMs);
        }
      } catch (e) {
        problems.push({ run, kind, step: 'create', cause: 'driver error', detail: String((e as Error).stack ?? e) });
      } finally {
        d.close();
      }
      slowestLifecycleMs = Math.max(slowestLifecycleMs, Date.now() - t0);
      done++;
      options.onProgress?.(done, options.runs);
    }
  };
  await Promise.all(containers.map((_, slot) => worker(slot)));

  const stats = emulator.stats();
  const failedAttempts = emulator.calls.filter((c) => c.outcome === 'fault' && c.fault !== 'slow').length;
  return {
    runs: options.runs,
    kindsRun,
    faultsInjected: stats.faultsInjected,
    faultsByKind: stats.byKind,
    attempts: emulator.calls.length,
    attemptsByOperation: stats.callsByOperation,
    sdkRetries: failedAttempts - exhaustedCalls,
    exhaustedCalls,
    requests,
    problems,
    slowestLifecycleMs,
    slowestRequestMs,
    slowestKeyMaterialRequestMs,
    wallMs: Date.now() - started,
  };
}

async function lifecycle(emulator: Emulator, d: LifecycleDriver, run: number, kind: LifecycleKind, s: KindSetup): Promise<{ problems: Problem[] }> {
  const problems: Problem[] = [];
  const problem = (step: Problem['step'], cause: string, detail: string) => problems.push({ run, kind, step, cause, detail });
  const keys = () => emulator.state().keys as KeyView[];
  const keyById = (id: string) => keys().find((k) => k.KeyId === id);

  let foreignKeyId: string | undefined;
  let create = s.create;
  let update = s.update;
  if (kind === 'foreign-delete') {
    const foreign = emulator.createKey({ origin: 'EXTERNAL', material: s.materialA });
    foreignKeyId = foreign.keyId;
    create = withForeignKey(create, foreign.keyId);
    update = withForeignKey(update, foreign.keyId);
  }

  const checkOp = (step: Problem['step'], op: StackOperation, expected: string): boolean => {
    for (const i of op.invocations) {
      if (i.invocations.some((x) => x.timedOut) || i.elapsedMs > KEY_MATERIAL_TIMEOUT_MS) {
        problem(step, 'exceeded the Lambda timeout', `${i.request.RequestType} ${i.request.LogicalResourceId} took ${i.elapsedMs} ms`);
      }
      if (i.missingDependencies.length > 0) problem(step, 'dependency deleted first', `${i.request.LogicalResourceId}: ${i.missingDependencies.join(', ')}`);
    }
    if (op.status !== expected) {
      const reason = op.failures[0]?.reason ?? '';
      problem(step, `stack ${op.status} (${causeOf(reason)})`, reason.split('\n')[0]);
      return false;
    }
    return true;
  };

  // ---- create
  const created = await d.deploy(create);
  if (!checkOp('create', created, 'CREATE_COMPLETE')) {
    await d.destroy();
    return { problems };
  }
  const keyId = foreignKeyId ?? d.physical(d.logicalId('AppKey', 'AWS::KMS::Key')).ref;
  const idA = keyMaterialId(keyId, s.materialA);
  const afterCreate = keyById(keyId);
  if (afterCreate?.KeyState !== 'Enabled' || afterCreate.CurrentKeyMaterialId !== idA || !afterCreate.materials.every((m) => m.importState === 'IMPORTED')) {
    problem('create', 'SUCCESS but material not imported', JSON.stringify(afterCreate));
  }

  // ---- update
  const updated = await d.deploy(update);
  if (checkOp('update', updated, 'UPDATE_COMPLETE')) {
    const k = keyById(keyId);
    if (s.rotates) {
      const idB = keyMaterialId(keyId, s.materialB!);
      const ok = k?.KeyState === 'Enabled' && k.CurrentKeyMaterialId === idB
        && k.materials.some((m) => m.KeyMaterialId === idA && m.state === 'NON_CURRENT' && m.importState === 'IMPORTED')
        && k.materials.every((m) => m.importState === 'IMPORTED' && m.state !== 'PENDING_ROTATION');
      if (!ok) problem('update', 'SUCCESS but not rotated', JSON.stringify(k));
    } else {
      const ok = k?.KeyState === 'Enabled' && k.CurrentKeyMaterialId === idA && k.materials.length === 1
        && k.materials[0].importState === 'IMPORTED' && (s.validTo === undefined || k.materials[0].validTo === s.validTo);
      if (!ok) problem('update', 'SUCCESS but material or expiration wrong', JSON.stringify(k));
    }
  } else if (updated.status === 'UPDATE_ROLLBACK_COMPLETE') {
    // A rolled-back update must leave the key usable with its original material.
    const k = keyById(keyId);
    if (k?.KeyState !== 'Enabled') problem('update', 'rolled back but key unusable', JSON.stringify(k));
  }

  // ---- delete (retried once, as an operator would after DELETE_FAILED)
  let deleted = await d.destroy();
  if (deleted.status === 'DELETE_FAILED') {
    checkOp('delete', deleted, 'DELETE_COMPLETE');
    deleted = await d.destroy();
  }
  if (checkOp('delete', deleted, 'DELETE_COMPLETE')) {
    const k = keyById(keyId);
    const imported = k?.materials.filter((m) => m.importState === 'IMPORTED') ?? [];
    if (imported.length > 0) {
      const current = imported.some((m) => m.state === 'CURRENT');
      problem('delete', current ? 'SUCCESS but CURRENT material remains' : `SUCCESS but ${imported.map((m) => m.state).join('+')} material remains imported`, JSON.stringify(k));
    }
    const expectedState = foreignKeyId ? 'PendingImport' : 'PendingDeletion';
    if (k && k.KeyState !== expectedState) problem('delete', `key ${k.KeyState}, expected ${expectedState}`, JSON.stringify(k));
  }
  return { problems };
}

async function storeLifecycle(emulator: Emulator, d: LifecycleDriver, run: number, kind: LifecycleKind, s: KindSetup): Promise<{ problems: Problem[] }> {
  const problems: Problem[] = [];
  const problem = (step: Problem['step'], cause: string, detail: string) => problems.push({ run, kind, step, cause, detail });
  const storeById = (id: string) => (emulator.state().customKeyStores as StoreView[]).find((x) => x.CustomKeyStoreId === id);
  const checkOp = (step: Problem['step'], op: StackOperation, expected: string): boolean => {
    for (const i of op.invocations) {
      if (i.invocations.some((x) => x.timedOut) || i.elapsedMs > STORE_TOTAL_TIMEOUT_MS + KEY_MATERIAL_TIMEOUT_MS || i.elapsedMs > i.serviceTimeoutMs) {
        problem(step, 'exceeded the provider\'s total timeout', `${i.request.RequestType} took ${i.elapsedMs} ms (virtual)`);
      }
      if (i.missingDependencies.length > 0) problem(step, 'dependency deleted first', i.missingDependencies.join(', '));
    }
    if (op.status !== expected) {
      const reason = op.failures[0]?.reason ?? '';
      problem(step, `stack ${op.status} (${causeOf(reason)})`, reason.split('\n')[0]);
      return false;
    }
    return true;
  };
  const names = { a: `campaign-${run}-a`, b: `campaign-${run}-b` };

  const created = await d.deploy(withStorePlaceholder(s.create, run));
  if (!checkOp('create', created, 'CREATE_COMPLETE')) {
    await d.destroy();
    const left = (emulator.state().customKeyStores as StoreView[]).filter((x) => x.CustomKeyStoreName === names.a);
    if (left.length > 0) problem('create', 'rolled back but the store remains', JSON.stringify(left));
    return { problems };
  }
  const id = d.physical(d.logicalId('Store', 'Custom::KmsCustomKeyStore')).ref;
  const afterCreate = storeById(id);
  if (afterCreate?.ConnectionState !== 'CONNECTED' || afterCreate.CustomKeyStoreName !== names.a) {
    problem('create', 'SUCCESS but store not CONNECTED', JSON.stringify(afterCreate));
  }

  const updated = await d.deploy(withStorePlaceholder(s.update, run));
  if (checkOp('update', updated, 'UPDATE_COMPLETE')) {
    const k = storeById(id);
    if (k?.ConnectionState !== 'CONNECTED' || k.CustomKeyStoreName !== names.b) problem('update', 'SUCCESS but store not renamed and CONNECTED', JSON.stringify(k));
  } else if (storeById(id)?.ConnectionState !== 'CONNECTED') {
    problem('update', 'rolled back but store not CONNECTED', JSON.stringify(storeById(id)));
  }

  let deleted = await d.destroy();
  if (deleted.status === 'DELETE_FAILED') {
    checkOp('delete', deleted, 'DELETE_COMPLETE');
    deleted = await d.destroy();
  }
  if (checkOp('delete', deleted, 'DELETE_COMPLETE') && storeById(id)) {
    problem('delete', 'SUCCESS but the store remains', JSON.stringify(storeById(id)));
  }
  return { problems };
}

function causeOf(reason: string): string {
  const m = /: (\w+Exception|\w+Error|InternalServiceError|ServiceUnavailable|Throttling|InternalFailure):/.exec(reason);
  if (m) return m[1];
  if (/ran out of time/.test(reason)) return 'deadline';
  return reason.split('\n')[0].slice(0, 80);
}

/** The summary table. */
export function formatCampaign(r: CampaignResult, options: CampaignOptions): string {
  const rows: Array<[string, string]> = [
    ['runs (lifecycles)', `${r.runs} (${Object.entries(r.kindsRun).map(([k, n]) => `${k} ${n}`).join(', ')})`],
    ['fault rate / seed / concurrency', `${options.rate} / ${options.seed} / ${options.concurrency}`],
    ['custom resource requests', String(r.requests)],
    ['HTTP attempts seen by the emulator', String(r.attempts)],
    ['HTTP attempts by operation', Object.entries(r.attemptsByOperation).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ')],
    ['faults injected', `${r.faultsInjected} (${Object.entries(r.faultsByKind).map(([k, n]) => `${k} ${n}`).join(', ')})`],
    ['SDK retries (failed attempts retried)', String(r.sdkRetries)],
    ['calls that exhausted the SDK retries', String(r.exhaustedCalls)],
    ['wrong or unconverged lifecycles', String(new Set(r.problems.map((p) => p.run)).size)],
    ['slowest lifecycle', `${r.slowestLifecycleMs} ms`],
    ['slowest single request (virtual: waiter intervals count)', `${r.slowestRequestMs} ms (limits: key material ${KEY_MATERIAL_TIMEOUT_MS} ms, stores ${STORE_TOTAL_TIMEOUT_MS} ms)`],
    ['slowest key-material request', `${r.slowestKeyMaterialRequestMs} ms`],
    ['wall time', `${(r.wallMs / 1000).toFixed(1)} s`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `| ${k.padEnd(width)} | ${v}`);
  const byCause = new Map<string, number>();
  for (const p of r.problems) byCause.set(`${p.step}: ${p.cause}`, (byCause.get(`${p.step}: ${p.cause}`) ?? 0) + 1);
  lines.push('', 'failures by cause:');
  if (byCause.size === 0) lines.push('  (none)');
  for (const [cause, n] of [...byCause].sort((a, b) => b[1] - a[1])) lines.push(`  ${String(n).padStart(4)}  ${cause}`);
  return lines.join('\n');
}
