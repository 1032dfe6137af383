/**
 * Fault campaign: `npm run campaign -- [--runs 500] [--rate 0.2] [--seed 1] [--concurrency 8] [--slow-ms 200] [--kinds a,b]`.
 *
 * Runs create → update → delete lifecycles through the shipped handler bundles against the KMS emulator
 * while it injects transient faults, checks the emulator's state after every step, prints a summary
 * and exits non-zero when any lifecycle ended wrong or did not converge. Not a timed test: a script.
 */
import { CampaignOptions, formatCampaign, LIFECYCLE_KINDS, LifecycleKind, runCampaign } from '../test/lifecycle/campaign';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

async function main(): Promise<number> {
  const options: CampaignOptions = {
    runs: Number(arg('runs', '500')),
    rate: Number(arg('rate', '0.2')),
    seed: Number(arg('seed', '1')),
    concurrency: Number(arg('concurrency', '8')),
    slowMs: Number(arg('slow-ms', '200')),
    kinds: arg('kinds', LIFECYCLE_KINDS.join(',')).split(',') as LifecycleKind[],
    onProgress: (done, total) => {
      if (done % 50 === 0 || done === total) process.stderr.write(`  ${done}/${total} lifecycles\n`);
    },
  };
  // The handlers' and the Provider framework's logs (every level) and the SDK's Node.js version notice would drown the summary.
  const methods = ['log', 'debug', 'info', 'warn', 'error'] as const;
  const saved = methods.map((m) => console[m]);
  for (const m of methods) console[m] = () => undefined;
  process.removeAllListeners('warning');
  const result = await runCampaign(options);
  methods.forEach((m, i) => (console[m] = saved[i]));
  console.log(formatCampaign(result, options));
  if (result.problems.length > 0) {
    console.log('\nfirst problems:');
    for (const p of result.problems.slice(0, 10)) console.log(`  run ${p.run} ${p.kind} ${p.step}: ${p.cause} — ${p.detail.slice(0, 300)}`);
  }
  return result.problems.length > 0 ? 1 : 0;
}

main().then((code) => process.exit(code), (e) => {
  console.error(e);
  process.exit(2);
});
