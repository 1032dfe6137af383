/**
 * A fixed-seed slice of the fault campaign (the full one is `npm run campaign`): 20 create → update → delete
 * lifecycles through the shipped bundle while the emulator injects 20% transient faults.
 */
import { CampaignResult, runCampaign } from './lifecycle/campaign';
import { CapturedLogs, captureLogs } from './util/logs';

let result: CampaignResult;
let logs: CapturedLogs;

beforeAll(async () => {
  logs = captureLogs(); // the handlers' and the framework's log lines
  result = await runCampaign({ runs: 20, rate: 0.2, seed: 42, concurrency: 4 });
}, 120_000);

afterAll(() => {
  logs.restore();
});

test('every lifecycle converges to the right end state under 20% transient faults', () => {
  expect(result.problems).toEqual([]);
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
