/**
 * Fault injection, decided before an operation runs (a faulted request never changes state).
 *   ThrottlingException        400 {"__type":"ThrottlingException"}   (retryable: throttling)
 *   KMSInternalException       500                                    (retryable: server fault)
 *   DependencyTimeoutException 503                                    (retryable: server fault)
 *   dropConnection             socket destroyed without a response    (retryable: ECONNRESET)
 *   slow                       answer delayed by slowMs, then the operation runs normally
 */
export type FaultKind = 'ThrottlingException' | 'KMSInternalException' | 'DependencyTimeoutException' | 'dropConnection' | 'slow';

export const ALL_FAULT_KINDS: readonly FaultKind[] = [
  'ThrottlingException', 'KMSInternalException', 'DependencyTimeoutException', 'dropConnection', 'slow',
];

export interface FaultOptions {
  /** Probability (0-1) that a request gets a fault. */
  rate: number;
  /** PRNG seed: the same seed and request sequence give the same faults. Default 1. */
  seed?: number;
  /** Kinds to draw from (uniformly). Default: all kinds. */
  kinds?: readonly FaultKind[];
  /** Delay for 'slow'. Default 200 ms. */
  slowMs?: number;
  /** Only these operations (e.g. ['DescribeKey']) get random faults. Default: all. */
  operations?: readonly string[];
}

export interface FaultStats {
  faultsInjected: number;
  byKind: Partial<Record<FaultKind, number>>;
  callsByOperation: Record<string, number>;
}

/** mulberry32: tiny, fast, good enough for reproducible test noise. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Fault {
  kind: FaultKind;
  slowMs: number;
}

export class FaultInjector {
  private random?: { options: FaultOptions; next: () => number };
  private readonly queued = new Map<string, FaultKind[]>();
  private stats: FaultStats = { faultsInjected: 0, byKind: {}, callsByOperation: {} };
  private defaultSlowMs = 200;

  public inject(options: FaultOptions | null): void {
    if (!options) {
      this.random = undefined;
      return;
    }
    if (options.rate < 0 || options.rate > 1) throw new Error(`rate must be within 0..1, got ${options.rate}`);
    this.random = { options, next: mulberry32(options.seed ?? 1) };
    if (options.slowMs !== undefined) this.defaultSlowMs = options.slowMs;
  }

  public failNext(operation: string, count: number, kind: FaultKind): void {
    const list = this.queued.get(operation) ?? [];
    for (let i = 0; i < count; i++) list.push(kind);
    this.queued.set(operation, list);
  }

  public clear(): void {
    this.random = undefined;
    this.queued.clear();
  }

  /** Called once per request, before the operation runs. */
  public decide(operation: string): Fault | undefined {
    this.stats.callsByOperation[operation] = (this.stats.callsByOperation[operation] ?? 0) + 1;
    let kind = this.queued.get(operation)?.shift();
    if (!kind && this.random) {
      const { options, next } = this.random;
      if (!options.operations || options.operations.includes(operation)) {
        if (next() < options.rate) {
          const kinds = options.kinds && options.kinds.length > 0 ? options.kinds : ALL_FAULT_KINDS;
          kind = kinds[Math.floor(next() * kinds.length)];
        }
      }
    }
    if (!kind) return undefined;
    this.stats.faultsInjected++;
    this.stats.byKind[kind] = (this.stats.byKind[kind] ?? 0) + 1;
    return { kind, slowMs: this.random?.options.slowMs ?? this.defaultSlowMs };
  }

  public snapshot(): FaultStats {
    return JSON.parse(JSON.stringify(this.stats));
  }

  public resetStats(): void {
    this.stats = { faultsInjected: 0, byKind: {}, callsByOperation: {} };
  }
}
