/**
 * The KMS client's retry strategy (lambda/shared/retry.ts): the SDK's ConfiguredRetryStrategy, retrying
 * throttling until the deadline, other transient faults at most 8 attempts, with a full retry quota per invocation.
 */
import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import type { RetryErrorInfo, RetryToken } from '@smithy/types';
import { fullJitterBackoff, RenewableRetryStrategy, RETRY_BACKOFF_CAP_MS, TRANSIENT_MAX_ATTEMPTS } from '../lambda/shared/retry';
import { Emulator, startEmulator } from './kms-emulator';

const throttling: RetryErrorInfo = { errorType: 'THROTTLING' };
const transient: RetryErrorInfo = { errorType: 'TRANSIENT' };

/** Retries one call until the strategy refuses; returns how many retries it granted. */
async function retriesGranted(strategy: RenewableRetryStrategy, info: RetryErrorInfo, limit = 1_000): Promise<number> {
  let token: RetryToken = await strategy.acquireInitialRetryToken('');
  for (let i = 0; i < limit; i++) {
    try {
      token = await strategy.refreshRetryTokenForRetry(token, info);
    } catch {
      return i;
    }
  }
  return limit;
}

describe('RenewableRetryStrategy', () => {
  test('retries a throttled call past the SDK retry quota (100 throttled retries): only maxAttempts and the deadline end it', async () => {
    const strategy = new RenewableRetryStrategy(1_000, () => 0);
    expect(await retriesGranted(strategy, throttling, 300)).toBe(300);
    expect(strategy.throttledRetries).toBe(300);
    expect(await retriesGranted(new RenewableRetryStrategy(50, () => 0), throttling)).toBe(49);
  });

  test(`other transient faults keep the standard bound: ${TRANSIENT_MAX_ATTEMPTS} attempts`, async () => {
    const strategy = new RenewableRetryStrategy(1_000, () => 0);
    expect(await retriesGranted(strategy, transient)).toBe(TRANSIENT_MAX_ATTEMPTS - 1);
  });

  test('transient faults are counted apart from throttling: a blip after a long throttled wait is still retried', async () => {
    const strategy = new RenewableRetryStrategy(1_000, () => 0);
    let token: RetryToken = await strategy.acquireInitialRetryToken('');
    for (let i = 0; i < 30; i++) token = await strategy.refreshRetryTokenForRetry(token, throttling);
    for (let i = 0; i < TRANSIENT_MAX_ATTEMPTS - 1; i++) token = await strategy.refreshRetryTokenForRetry(token, transient);
    await expect(strategy.refreshRetryTokenForRetry(token, transient)).rejects.toThrow('No retry token available');
  });

  test('a retry quota spent in one invocation is full again in the next one', async () => {
    // 14 tokens per transient retry: five calls with 7 retries each leave 10 of the 500
    const strategy = new RenewableRetryStrategy(1_000, () => 0);
    for (let i = 0; i < 5; i++) expect(await retriesGranted(strategy, transient)).toBe(7);
    expect(await retriesGranted(strategy, transient)).toBe(0); // a warm sandbox without renew(): dry
    strategy.renew();
    expect(await retriesGranted(strategy, transient)).toBe(7);
  });

  test('full-jitter backoff doubles from 100 ms and is capped at 5 s', () => {
    expect([1, 2, 3, 5, 20].map((a) => fullJitterBackoff(a, () => 0.999999))).toEqual([199, 399, 799, 3_199, RETRY_BACKOFF_CAP_MS - 1]);
    expect(RETRY_BACKOFF_CAP_MS).toBe(5_000);
    expect(fullJitterBackoff(5, () => 0)).toBe(0);
  });
});

describe('a KMS client with the strategy, against the emulator with quotas on', () => {
  let emu: Emulator;
  beforeAll(async () => {
    emu = await startEmulator({ quotas: { rates: { DescribeKey: 2 } } });
  });
  afterAll(async () => {
    await emu.close();
  });

  test('6 concurrent calls over a 2-per-second quota all succeed, each admitted once', async () => {
    const strategy = new RenewableRetryStrategy();
    const kms = new KMSClient({
      endpoint: emu.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, retryStrategy: strategy,
    });
    try {
      const key = emu.createKey({ origin: 'EXTERNAL' });
      const out = await Promise.all(Array.from({ length: 6 }, () => kms.send(new DescribeKeyCommand({ KeyId: key.keyId }))));
      expect(out.map((o) => o.KeyMetadata?.KeyId)).toEqual(Array(6).fill(key.keyId));
      const stats = emu.quotaStats();
      expect(stats.admitted.DescribeKey).toBe(6);
      expect(strategy.throttledRetries).toBe(stats.throttled.DescribeKey);
      expect(stats.throttled.DescribeKey).toBeGreaterThanOrEqual(4); // the bucket starts with 2 tokens
    } finally {
      kms.destroy();
    }
  });
});
