/**
 * The emulator's request quotas: token buckets per operation (test/kms-emulator/quotas.ts), seen through
 * the real SDK client as KMS answers over a quota.
 */
import { GetParametersForImportCommand, DescribeKeyCommand, KMSClient, KMSServiceException } from '@aws-sdk/client-kms';
import { isThrottlingError } from '@smithy/core/retry';
import { Emulator, KMS_DEFAULT_REQUEST_QUOTAS, startEmulator, THROTTLING_MESSAGE, TokenBucket } from './kms-emulator';

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

describe('TokenBucket', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => {
    now = 0;
  });

  test('starts full: one second of quota passes at once, the next request is throttled', () => {
    const bucket = new TokenBucket(15, 15, clock);
    const admitted = Array.from({ length: 16 }, () => bucket.tryTake());
    expect(admitted.filter(Boolean)).toHaveLength(15);
    expect(admitted[15]).toBe(false);
  });

  test('refills at its rate: 1 per second means one request per second', () => {
    const bucket = new TokenBucket(1, 1, clock);
    expect(bucket.tryTake()).toBe(true);
    now = 999;
    expect(bucket.tryTake()).toBe(false);
    now = 1000;
    expect(bucket.tryTake()).toBe(true);
    expect(bucket.tryTake()).toBe(false);
  });

  test('never holds more than its capacity, however long it idles', () => {
    const bucket = new TokenBucket(5, 5, clock);
    now = 60_000;
    expect(bucket.available()).toBe(5);
  });

  test('a throttled request takes no token', () => {
    const bucket = new TokenBucket(2, 2, clock);
    bucket.tryTake();
    bucket.tryTake();
    now = 250; // half a token
    expect(bucket.tryTake()).toBe(false);
    expect(bucket.available()).toBeCloseTo(0.5, 5);
    now = 500;
    expect(bucket.tryTake()).toBe(true);
  });

  test('refuses a rate that is not positive', () => {
    expect(() => new TokenBucket(0, 1, clock)).toThrow('ratePerSecond must be > 0, got 0');
  });
});

describe('emulator request quotas', () => {
  let emu: Emulator;
  let kms: KMSClient;
  let now = 0;

  beforeAll(async () => {
    emu = await startEmulator({ quotas: { clock: () => now } });
    kms = new KMSClient({ endpoint: emu.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
  });
  afterAll(async () => {
    kms.destroy();
    await emu.close();
  });

  test('the default table is the documented one', () => {
    expect(KMS_DEFAULT_REQUEST_QUOTAS).toMatchObject({
      GetParametersForImport: 1, ImportKeyMaterial: 15, DeleteImportedKeyMaterial: 15, ListKeyRotations: 100,
      DescribeKey: 2000, DescribeCustomKeyStores: 5, ConnectCustomKeyStore: 5, DisconnectCustomKeyStore: 5,
    });
  });

  test('over the quota KMS answers ThrottlingException, HTTP 400, with its own message, and nothing runs', async () => {
    now = 10_000;
    emu.setQuotas({ clock: () => now });
    emu.resetCalls();
    const key = emu.createKey({ origin: 'EXTERNAL' });
    const params = { KeyId: key.keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256' as const, WrappingKeySpec: 'RSA_2048' as const };
    await kms.send(new GetParametersForImportCommand(params));
    const error = await kms.send(new GetParametersForImportCommand(params)).catch((e: unknown) => e);
    // KMS models no ThrottlingException class: the SDK raises its service exception, classified as throttling.
    expect(error).toBeInstanceOf(KMSServiceException);
    expect(isThrottlingError(error as Parameters<typeof isThrottlingError>[0])).toBe(true);
    expect(error).toMatchObject({ name: 'ThrottlingException', message: THROTTLING_MESSAGE, $metadata: { httpStatusCode: 400 } });
    expect(emu.state().outstandingImportTokens).toBe(1);
    expect(emu.calls.map((c) => [c.operation, c.outcome, c.throttled ?? false])).toEqual([
      ['GetParametersForImport', 'ok', false],
      ['GetParametersForImport', 'error', true],
    ]);
    expect(emu.quotaStats()).toEqual({ admitted: { GetParametersForImport: 1 }, throttled: { GetParametersForImport: 1 } });
    now += 1000;
    await expect(kms.send(new GetParametersForImportCommand(params))).resolves.toMatchObject({ KeyId: key.arn });
  });

  test('every operation has its own bucket', async () => {
    emu.setQuotas({ clock: () => now, rates: { GetParametersForImport: 1, DescribeKey: 2 } });
    const key = emu.createKey({ origin: 'EXTERNAL' });
    await kms.send(new GetParametersForImportCommand({ KeyId: key.keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }));
    await kms.send(new DescribeKeyCommand({ KeyId: key.keyId }));
    await kms.send(new DescribeKeyCommand({ KeyId: key.keyId }));
    await expect(kms.send(new DescribeKeyCommand({ KeyId: key.keyId }))).rejects.toMatchObject({ name: 'ThrottlingException' });
  });

  test('the SDK retries a throttled call and it succeeds once the bucket has refilled', async () => {
    // The SDK's backoff runs in real time; the bucket's clock is moved 10 s on, 100 ms into the test.
    let clock = 0;
    emu.setQuotas({ clock: () => clock, rates: { DescribeKey: 2 } });
    emu.resetCalls();
    const key = emu.createKey({ origin: 'EXTERNAL' });
    const retrying = new KMSClient({ endpoint: emu.endpoint, region: 'us-east-1', credentials, maxAttempts: 10 });
    const refill = setTimeout(() => { clock += 10_000; }, 100);
    try {
      const results = await Promise.all([1, 2, 3].map(() => retrying.send(new DescribeKeyCommand({ KeyId: key.keyId }))));
      expect(results.map((r) => r.KeyMetadata?.KeyId)).toEqual([key.keyId, key.keyId, key.keyId]);
      const stats = emu.quotaStats();
      expect(stats.admitted.DescribeKey).toBe(3);
      expect(stats.throttled.DescribeKey).toBeGreaterThanOrEqual(1);
    } finally {
      clearTimeout(refill);
      retrying.destroy();
    }
  });

  test('switched off, nothing is throttled', async () => {
    emu.setQuotas(false);
    const key = emu.createKey({ origin: 'EXTERNAL' });
    const params = { KeyId: key.keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256' as const, WrappingKeySpec: 'RSA_2048' as const };
    await Promise.all([1, 2, 3].map(() => kms.send(new GetParametersForImportCommand(params))));
    expect(emu.quotaStats()).toEqual({ admitted: {}, throttled: {} });
  });
});
