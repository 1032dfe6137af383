/**
 * Deploy, update and destroy of N ExternalKeys with material against the KMS emulator with its request quotas
 * on, played by the lifecycle driver with `concurrency` (CloudFormation's parallelism: every resource of a
 * dependency wave at once, each concurrent invocation in a Lambda sandbox of its own, warm sandboxes reused
 * across operations) through the installed aws-cdk-lib Provider framework runtime and the shipped bundles.
 *
 * Real time throughout: the SDK's backoff and the quota buckets both run on the wall clock. The keys themselves
 * are made directly in the emulator (CloudFormation's CreateKey is not rate-limited here); their
 * ScheduleKeyDeletion on destroy goes through the quota (15 per second), retried as CloudFormation would.
 */
import type { Emulator } from '../test/kms-emulator';
import { DriverTemplate, LifecycleDriver, StackOperation } from '../test/lifecycle/driver';

export interface WaveResult {
  readonly operation: 'deploy' | 'update' | 'destroy';
  readonly status: string;
  /** Material resources the operation sent a request to. */
  readonly n: number;
  readonly wallMs: number;
  /** The time the quotas alone impose on the operation's KMS calls. */
  readonly floorMs: number;
  readonly failures: string[];
  readonly slowestMs: number;
  /** KMS requests by operation: admitted and throttled. */
  readonly kms: Record<string, { ok: number; throttled: number }>;
  readonly sandboxes: number;
}

const MATERIAL_TYPE = 'Custom::KmsImportedKeyMaterial';

/** Time for n requests of an operation at its default quota, with a full one-second bucket at the start. */
export function quotaFloorMs(n: number, ratePerSecond: number): number {
  return Math.max(0, (n - ratePerSecond) / ratePerSecond) * 1000;
}

/** One stack of key-material resources, deployed, updated and destroyed as CloudFormation would. */
export class QuotaStack {
  public readonly driver: LifecycleDriver;

  constructor(private readonly emulator: Emulator) {
    this.driver = new LifecycleDriver({ emulator, concurrency: true });
  }

  private async measure(operation: WaveResult['operation'], run: () => Promise<StackOperation>, floor: (n: number) => number): Promise<WaveResult> {
    this.emulator.resetCalls();
    const started = Date.now();
    const op = await run();
    const wallMs = Date.now() - started;
    const materials = op.invocations.filter((i) => i.request.ResourceType === MATERIAL_TYPE && i.phase === 'forward');
    const stats = this.emulator.quotaStats();
    const kms: WaveResult['kms'] = {};
    for (const name of new Set([...Object.keys(stats.admitted), ...Object.keys(stats.throttled)])) {
      kms[name] = { ok: stats.admitted[name] ?? 0, throttled: stats.throttled[name] ?? 0 };
    }
    const sandboxes = Object.entries(this.driver.sandboxesStarted).filter(([k]) => k.startsWith('key-material-provider|')).reduce((a, [, v]) => a + v, 0);
    return {
      operation, status: op.status, n: materials.length, wallMs, floorMs: floor(materials.length),
      failures: op.failures.map((f) => `${f.logicalId} ${f.action} ${f.phase}: ${f.reason ?? ''}`),
      slowestMs: Math.max(0, ...materials.map((i) => i.realMs)),
      kms, sandboxes,
    };
  }

  public deploy(template: DriverTemplate): Promise<WaveResult> {
    return this.measure('deploy', () => this.driver.deploy(template), (n) => quotaFloorMs(n, 1));
  }

  public update(template: DriverTemplate): Promise<WaveResult> {
    return this.measure('update', () => this.driver.deploy(template), (n) => quotaFloorMs(n, 1));
  }

  /** Destroy's floor: the material deletes and then the key deletions, each at 15 per second. */
  public destroy(): Promise<WaveResult> {
    return this.measure('destroy', () => this.driver.destroy(), (n) => 2 * quotaFloorMs(n, 15));
  }

  public close(): void {
    this.driver.close();
  }
}
