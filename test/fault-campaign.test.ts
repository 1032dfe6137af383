/**
 * A fixed-seed slice of the fault campaign (the full one is `npm run campaign`): 20 create → update → delete
 * lifecycles through the shipped bundle while the emulator injects 20% transient faults.
 */
import { CampaignResult, runCampaign } from './lifecycle/campaign';

/**
 * Wrong end states that are known defects, each with a failing lifecycle test that documents it
 * (test/lifecycle-key-material.test.ts, test.failing). Remove an entry when its defect is fixed.
 */
const KNOWN_DEFECTS: RegExp[] = [
  // Delete removes only the CURRENT material; after a rotation the NON_CURRENT one stays imported.
  /^delete: SUCCESS but NON_CURRENT material remains imported$/,
];

let result: CampaignResult;
let logSpy: jest.SpyInstance;

beforeAll(async () => {
  logSpy = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  result = await runCampaign({ runs: 20, rate: 0.2, seed: 42, concurrency: 4 });
}, 120_000);

afterAll(() => {
  logSpy.mockRestore();
});

test('every lifecycle converges to the right end state under 20% transient faults', () => {
  const unexpected = result.problems.filter((p) => !KNOWN_DEFECTS.some((k) => k.test(`${p.step}: ${p.cause}`)));
  expect(unexpected).toEqual([]);
});

test('faults of every kind were injected and the SDK retried them', () => {
  expect(result.faultsInjected).toBeGreaterThan(0);
  expect(Object.keys(result.faultsByKind).sort()).toEqual(['DependencyTimeoutException', 'KMSInternalException', 'ThrottlingException', 'dropConnection', 'slow']);
  expect(result.sdkRetries).toBeGreaterThan(0);
  expect(result.attempts).toBeGreaterThan(result.sdkRetries);
});

test('no key-material request came near the handler\'s 5-minute Lambda timeout', () => {
  expect(result.slowestKeyMaterialRequestMs).toBeLessThan(60_000);
});
