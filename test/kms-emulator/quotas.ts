/**
 * KMS request quotas (Developer Guide, "Request quotas"): a token bucket per operation, per account and
 * Region, shared by every caller of the emulator. Off unless turned on (`quotas` option or `setQuotas`).
 *
 * Model: each bucket refills continuously at the operation's rate and holds at most `burstSeconds` worth
 * of requests (default 1 s: KMS documents per-second quotas and no burst; one second's worth is the
 * smallest bucket that lets a caller spend a full second's quota at once). A bucket starts full. A request
 * takes one token; with less than one token left it is throttled and takes nothing (a throttled request
 * does not push the next success further away). Operations not in the table are not limited.
 *
 * The clock is real time (`performance.now`), not the emulator's `advanceTime` clock: the SDK's backoff
 * runs in real time, so the buckets must refill in real time for retries to meet the quota as they would
 * in AWS. `timeScale` > 1 speeds the buckets up (a rate of r allows r × timeScale requests per real
 * second); it distorts the ratio of backoff to refill, so the bench uses 1.
 */
import { ServiceError } from './errors';

/** KMS's default request quotas, requests per second (per account and Region; ../shared/toolchain.md). */
export const KMS_DEFAULT_REQUEST_QUOTAS: Readonly<Record<string, number>> = {
  GetParametersForImport: 1,
  ImportKeyMaterial: 15,
  DeleteImportedKeyMaterial: 15,
  RotateKeyOnDemand: 5,
  ListKeyRotations: 100,
  DescribeKey: 2000,
  ListKeys: 500,
  ScheduleKeyDeletion: 15,
  GetKeyLastUsage: 5,
  CreateCustomKeyStore: 5,
  ConnectCustomKeyStore: 5,
  DisconnectCustomKeyStore: 5,
  DescribeCustomKeyStores: 5,
  UpdateCustomKeyStore: 5,
  DeleteCustomKeyStore: 5,
  CreateKey: 5,
  ReplicateKey: 5,
  PutKeyPolicy: 15,
};

/** What KMS answers over a quota: HTTP 400, `__type` ThrottlingException. */
export const THROTTLING_MESSAGE = 'You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.';

export function throttlingError(): ServiceError {
  return new ServiceError('ThrottlingException', THROTTLING_MESSAGE, 400);
}

export interface QuotaOptions {
  /** Requests per second by operation, over the defaults. @default KMS_DEFAULT_REQUEST_QUOTAS */
  readonly rates?: Readonly<Record<string, number>>;
  /** Bucket capacity in seconds of quota. @default 1 */
  readonly burstSeconds?: number;
  /** Multiplies every refill rate (see the module comment). @default 1 */
  readonly timeScale?: number;
  /** Milliseconds clock for the buckets. @default performance.now */
  readonly clock?: () => number;
}

/** A token bucket: `capacity` tokens at most, refilled at `ratePerSecond`, starting full. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    public readonly ratePerSecond: number,
    public readonly capacity: number,
    private readonly clock: () => number,
  ) {
    if (!(ratePerSecond > 0)) throw new Error(`ratePerSecond must be > 0, got ${ratePerSecond}`);
    if (!(capacity >= 1)) throw new Error(`capacity must be >= 1, got ${capacity}`);
    this.tokens = capacity;
    this.last = clock();
  }

  /** Takes one token if there is one; false means throttled (nothing taken). */
  public tryTake(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Tokens available now (fractional). */
  public available(): number {
    this.refill();
    return this.tokens;
  }

  private refill(): void {
    const now = this.clock();
    const elapsed = Math.max(0, now - this.last) / 1000;
    this.last = now;
    this.tokens = Math.min(this.capacity, this.tokens + elapsed * this.ratePerSecond);
  }
}

export interface QuotaStats {
  /** Requests admitted, by operation (limited operations only). */
  readonly admitted: Record<string, number>;
  /** Requests throttled, by operation. */
  readonly throttled: Record<string, number>;
}

/** The per-operation buckets of one account and Region. */
export class RequestQuotas {
  private readonly buckets = new Map<string, TokenBucket>();
  private stats: QuotaStats = { admitted: {}, throttled: {} };
  public readonly rates: Readonly<Record<string, number>>;

  constructor(public readonly options: QuotaOptions = {}) {
    this.rates = { ...KMS_DEFAULT_REQUEST_QUOTAS, ...(options.rates ?? {}) };
  }

  /** True when the request may run; false when it is throttled. Unlimited operations always run. */
  public admit(operation: string): boolean {
    const rate = this.rates[operation];
    if (rate === undefined) return true;
    let bucket = this.buckets.get(operation);
    if (!bucket) {
      const scaled = rate * (this.options.timeScale ?? 1);
      const burst = this.options.burstSeconds ?? 1;
      bucket = new TokenBucket(scaled, Math.max(1, scaled * burst), this.options.clock ?? (() => performance.now()));
      this.buckets.set(operation, bucket);
    }
    const ok = bucket.tryTake();
    const counter = ok ? this.stats.admitted : this.stats.throttled;
    counter[operation] = (counter[operation] ?? 0) + 1;
    return ok;
  }

  public snapshot(): QuotaStats {
    return JSON.parse(JSON.stringify(this.stats));
  }

  public resetStats(): void {
    this.stats = { admitted: {}, throttled: {} };
  }
}
