/**
 * Deploy, update and destroy of N ExternalKeys with material against the KMS emulator with its request
 * quotas on, with CloudFormation's parallelism: every custom resource of one dependency wave is sent at
 * once, each concurrent request in its own Lambda sandbox (a fresh copy of the shipped bundle, so its own
 * SDK clients and retry capacity, as in Lambda), warm sandboxes reused across operations.
 *
 * Real time throughout: the SDK's backoff and the quota buckets both run on the wall clock.
 * Not modelled: CloudFormation's rollback after the first failure (every request of the wave runs and the
 * failures are counted, as the issue counted them), the network between Lambda and KMS, CreateKey and
 * ScheduleKeyDeletion of the keys themselves (native resources, made directly in the emulator).
 */
import * as crypto from 'node:crypto';
import type { Emulator } from '../test/kms-emulator';
import { BundleModule, KEY_MATERIAL_BUNDLE, loadBundle, useEmulatorEnvironment } from '../test/lifecycle/bundles';
import { stringifyScalars } from '../test/lifecycle/driver';
import { PhysicalIds, referencesIn, resolve, Template } from '../test/util/template';

/** Lambda sandboxes of one function: an idle one is reused, otherwise a new one is started. */
export class Fleet {
  private readonly idle: BundleModule[] = [];
  public started = 0;

  constructor(private readonly bundle: string) {}

  public async invoke(exportName: string, event: Record<string, unknown>, timeoutMs: number): Promise<Invocation> {
    const module = this.idle.pop() ?? this.start();
    const begun = Date.now();
    const context = { getRemainingTimeInMillis: () => Math.max(0, begun + timeoutMs - Date.now()) };
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), timeoutMs); });
    try {
      const outcome = await Promise.race([
        Promise.resolve().then(() => (module[exportName] as (e: unknown, c: unknown) => Promise<unknown>)(JSON.parse(JSON.stringify(event)), context))
          .then((value) => ({ value }), (error: Error) => ({ error })),
        killed,
      ]);
      const ms = Date.now() - begun;
      if (outcome === 'timeout') return { ok: false, ms, reason: `Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds` };
      this.idle.push(module);
      if ('error' in outcome) return { ok: false, ms, reason: String(outcome.error?.message ?? outcome.error) };
      return { ok: true, ms, value: outcome.value as Record<string, unknown> };
    } finally {
      clearTimeout(timer);
    }
  }

  private start(): BundleModule {
    this.started++;
    return loadBundle(this.bundle);
  }
}

export interface Invocation {
  readonly ok: boolean;
  readonly ms: number;
  readonly reason?: string;
  readonly value?: Record<string, unknown>;
}

export interface WaveResult {
  readonly operation: 'deploy' | 'update' | 'destroy';
  readonly n: number;
  readonly wallMs: number;
  /** The time the quotas alone impose on the wave's KMS calls. */
  readonly floorMs: number;
  readonly failures: string[];
  readonly slowestMs: number;
  /** KMS requests by operation: admitted and throttled. */
  readonly kms: Record<string, { ok: number; throttled: number }>;
  readonly sandboxes: number;
}

/** The user onEvent function of a custom resource (ServiceToken → framework → USER_ON_EVENT_FUNCTION_ARN) and its timeout. */
function userFunction(template: Template, logicalId: string): { handler: string; timeoutMs: number } {
  const [framework] = [...referencesIn(template.Resources[logicalId].Properties?.ServiceToken ?? {})];
  const vars = template.Resources[framework]?.Properties?.Environment?.Variables ?? {};
  const [user] = [...referencesIn(vars.USER_ON_EVENT_FUNCTION_ARN ?? { Ref: framework })];
  const p = template.Resources[user].Properties ?? {};
  return { handler: String(p.Handler).replace(/^index\./, ''), timeoutMs: Number(p.Timeout ?? 3) * 1000 };
}

/** One stack of key-material resources, deployed, updated and destroyed as CloudFormation would, in waves. */
export class QuotaStack {
  public readonly fleet = new Fleet(KEY_MATERIAL_BUNDLE);
  private readonly stackId = `arn:aws:cloudformation:us-east-1:111122223333:stack/Bench/${crypto.randomUUID()}`;
  private readonly physical: Record<string, PhysicalIds> = {};
  private props: Record<string, Record<string, unknown>> = {};
  private template?: Template;

  constructor(private readonly emulator: Emulator) {
    useEmulatorEnvironment(emulator);
  }

  private customResources(template: Template): string[] {
    return Object.keys(template.Resources).filter((id) => template.Resources[id].Type === 'Custom::KmsImportedKeyMaterial');
  }

  private resolved(template: Template, id: string): Record<string, unknown> {
    const env = { account: '111122223333', region: 'us-east-1', stackName: 'Bench', stackId: this.stackId, physicalIds: this.physical };
    return stringifyScalars(resolve(template, template.Resources[id].Properties ?? {}, env)) as Record<string, unknown>;
  }

  private async wave(operation: WaveResult['operation'], template: Template, requests: Array<{ id: string; event: Record<string, unknown> }>, floorMs: number): Promise<WaveResult> {
    this.emulator.resetCalls();
    const started = Date.now();
    const results = await Promise.all(requests.map(async ({ id, event }) => {
      const fn = userFunction(template, id);
      const full = {
        ServiceToken: 'arn:aws:lambda:us-east-1:111122223333:function:framework', ResponseURL: 'https://example.invalid/response',
        StackId: this.stackId, RequestId: crypto.randomUUID(), LogicalResourceId: id, ResourceType: 'Custom::KmsImportedKeyMaterial', ...event,
      };
      return { id, result: await this.fleet.invoke(fn.handler, full, fn.timeoutMs) };
    }));
    const wallMs = Date.now() - started;
    for (const { id, result } of results) {
      if (result.ok && operation !== 'destroy') this.physical[id] = { ref: String(result.value?.PhysicalResourceId), attributes: result.value?.Data as Record<string, string> };
    }
    const kms: WaveResult['kms'] = {};
    for (const c of this.emulator.calls.filter((x) => x.service === 'kms')) {
      const row = (kms[c.operation] ??= { ok: 0, throttled: 0 });
      if (c.throttled) row.throttled++;
      else row.ok++;
    }
    return {
      operation, n: requests.length, wallMs, floorMs,
      failures: results.filter((r) => !r.result.ok).map((r) => `${r.id}: ${r.result.reason}`),
      slowestMs: Math.max(0, ...results.map((r) => r.result.ms)),
      kms, sandboxes: this.fleet.started,
    };
  }

  /** Creates the keys (directly in the emulator), then the wave of material resources. */
  public async deploy(template: Template): Promise<WaveResult> {
    for (const [id, r] of Object.entries(template.Resources)) {
      if (r.Type !== 'AWS::KMS::Key') continue;
      const key = this.emulator.createKey({ origin: 'EXTERNAL' });
      this.physical[id] = { ref: key.keyId, arn: key.arn, attributes: { KeyId: key.keyId } };
    }
    this.template = template;
    const ids = this.customResources(template);
    this.props = Object.fromEntries(ids.map((id) => [id, this.resolved(template, id)]));
    return this.wave('deploy', template, ids.map((id) => ({ id, event: { RequestType: 'Create', ResourceProperties: this.props[id] } })), quotaFloorMs(ids.length, 'GetParametersForImport'));
  }

  /** Updates every material resource whose properties changed (one wave). */
  public async update(template: Template): Promise<WaveResult> {
    const ids = this.customResources(template);
    const next = Object.fromEntries(ids.map((id) => [id, this.resolved(template, id)]));
    // A resource whose Create failed has nothing to update (CloudFormation would have rolled it back).
    const changed = ids.filter((id) => this.physical[id] && JSON.stringify(next[id]) !== JSON.stringify(this.props[id]));
    const result = await this.wave('update', template, changed.map((id) => ({
      id, event: { RequestType: 'Update', ResourceProperties: next[id], OldResourceProperties: this.props[id], PhysicalResourceId: this.physical[id].ref },
    })), quotaFloorMs(changed.length, 'GetParametersForImport'));
    this.props = next;
    this.template = template;
    return result;
  }

  /** Deletes every material resource (one wave). */
  public async destroy(): Promise<WaveResult> {
    const template = this.template!;
    const ids = this.customResources(template);
    return this.wave('destroy', template, ids.map((id) => ({
      id, event: { RequestType: 'Delete', ResourceProperties: this.props[id], PhysicalResourceId: this.physical[id]?.ref ?? 'AWSCDK::CustomResourceProviderFramework::CREATE_FAILED' },
    })), quotaFloorMs(ids.filter((id) => this.physical[id]).length, 'DeleteImportedKeyMaterial'));
  }
}

/** Time for n requests of an operation at its default quota, with a full one-second bucket at the start. */
export function quotaFloorMs(n: number, operation: 'GetParametersForImport' | 'DeleteImportedKeyMaterial'): number {
  const rate = operation === 'GetParametersForImport' ? 1 : 15;
  return Math.max(0, (n - rate) / rate) * 1000;
}
