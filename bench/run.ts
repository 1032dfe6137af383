/**
 * `npm run bench [-- --n 10,60,240] [--sections templates,deploy,latency] [--runs 5] [--out bench/RESULTS.md]`
 *
 * Writes bench/RESULTS.md: template cost per key and limits, deploy/update/destroy under KMS's request
 * quotas with CloudFormation's parallelism, KMS calls per operation, and cold Delete latency, each side by
 * side with the floor and the usual workaround. A script, not a timed test: the figures depend on the
 * machine, the SDK's jittered backoff and the wall clock.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KeyMaterialExpiration } from '../lib';
import { startEmulator } from '../test/kms-emulator';
import { DriverTemplate } from '../test/lifecycle/driver';
import { QuotaStack, WaveResult } from './deploy';
import { ColdRun, measureDeleteLatency, median, LatencyResult } from './latency';
import { firstBreak, LIMITS, LimitName, measureShape, Shape, ShapeRow, SHAPES, shapeStack, synthTemplate, templateBytes } from './templates';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

const TEMPLATE_NS = [1, 10, 100, 240];
const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '–');
const s = (ms: number) => fmt(ms / 1000, 1);

function templateSection(): string[] {
  const shapes = Object.keys(SHAPES) as Shape[];
  const rows = new Map<Shape, ShapeRow[]>();
  for (const shape of shapes) {
    const base = templateBytes(synthTemplate(shapeStack(shape, 0)));
    rows.set(shape, TEMPLATE_NS.map((n) => measureShape(shape, n, base)));
  }
  const perKey = (shape: Shape, n: number) => rows.get(shape)!.find((r) => r.n === n)!.bytesPerKey;
  const out: string[] = [];
  out.push('## (a) Template bytes per key (minified JSON; (bytes(N) − bytes(same stack without keys)) / N)', '');
  out.push(`| shape | ${TEMPLATE_NS.map((n) => `N = ${n}`).join(' | ')} | above the floor (N = 100) | above the floor, × the workaround's (N = 100) |`);
  out.push(`|---|${TEMPLATE_NS.map(() => '---:').join('|')}|---:|---:|`);
  for (const shape of shapes) {
    const cells = rows.get(shape)!.map((r) => (r.synthError ? 'synth fails' : fmt(r.bytesPerKey)));
    const above = perKey(shape, 100) - perKey('floor', 100);
    const ratio = (perKey(shape, 100) - perKey('floor', 100)) / (perKey('workaround', 100) - perKey('floor', 100));
    out.push(`| ${SHAPES[shape]} | ${cells.join(' | ')} | ${shape === 'floor' ? '–' : fmt(above)} | ${shape === 'floor' ? '–' : fmt(ratio, 2)} |`);
  }
  out.push('', '### Limits (largest value in the stack; ✗ = over the limit)', '');
  const names = Object.keys(LIMITS) as LimitName[];
  out.push(`| shape, N | ${names.map((n) => `${n} (${fmt(LIMITS[n])})`).join(' | ')} |`);
  out.push(`|---|${names.map(() => '---:').join('|')}|`);
  for (const shape of shapes) {
    for (const r of rows.get(shape)!.filter((x) => x.n >= 100)) {
      if (r.synthError) {
        out.push(`| ${shape}, ${r.n} | synth fails: ${r.synthError} ${names.slice(1).map(() => '|').join(' ')}`);
        continue;
      }
      out.push(`| ${shape}, ${r.n} | ${names.map((n) => `${fmt(r.limits.max[n])}${r.limits.max[n] > LIMITS[n] ? ' ✗' : ''}`).join(' | ')} |`);
    }
  }
  out.push('', '### First N (≤ 240) at which a shape breaks a limit', '');
  for (const shape of shapes) {
    const b = firstBreak(shape, 1, 240);
    out.push(`- ${shape}: ${b ? `N = ${b.n}: ${b.broken.join('; ')}` : 'none up to 240'}`);
  }
  return out;
}

async function deploySection(ns: number[]): Promise<{ lines: string[]; calls?: WaveResult[] }> {
  const out: string[] = [];
  out.push('## (b) Deploy, update (every key\'s expiration) and destroy of N `ExternalKey`s with material, quotas on', '');
  out.push('Played by the lifecycle driver with `concurrency` (CloudFormation\'s parallelism: every resource of a dependency wave at');
  out.push('once, each concurrent Lambda invocation in a sandbox of its own, warm sandboxes reused across operations) through the');
  out.push('shipped bundles (the key-material function answers CloudFormation through its bundled aws-cdk-lib entrypoint), against the emulator with KMS\'s default');
  out.push('request quotas. Real time: the SDK\'s backoff and the quota buckets run on the wall clock. The secrets are made outside');
  out.push('the stack (`Secret.fromSecretCompleteArn`: 240 in-stack secrets would break the 500-resource limit). The floor is what');
  out.push('the quotas alone impose: N GetParametersForImport at 1/s (deploy, update); N DeleteImportedKeyMaterial and then N');
  out.push('ScheduleKeyDeletion at 15/s (destroy); each bucket starts with one second\'s worth. A failure makes the driver roll back');
  out.push('as CloudFormation does.', '');
  out.push('| N | operation | status | time (s) | floor (s) | × floor | failures | slowest request (s) | throttled KMS requests | sandboxes | keys right after |');
  out.push('|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|');
  const firstFailures: string[] = [];
  let callsRun: WaveResult[] | undefined;
  const day = 24 * 3600 * 1000;
  for (const n of ns) {
    const emulator = await startEmulator({ quotas: true });
    const stack = new QuotaStack(emulator);
    try {
      const arns = Array.from({ length: n }, (_, i) => emulator.putSecret({ name: `bench/key-material-${i}`, secretBinary: crypto.randomBytes(32) }));
      const at = (days: number) => KeyMaterialExpiration.at(new Date(Math.floor((Date.now() + days * day) / day) * day));
      const first = synthTemplate(shapeStack('externalKeyWithMaterial', n, { secretArns: arns, expiration: at(90) })) as DriverTemplate;
      const second = synthTemplate(shapeStack('externalKeyWithMaterial', n, { secretArns: arns, expiration: at(180) })) as DriverTemplate;
      const keyIds = new Set<string>();
      const keyStates = () => {
        const byState: Record<string, number> = {};
        for (const k of emulator.state().keys as Array<{ KeyId: string; KeyState: string; materials: Array<{ importState: string }> }>) {
          if (!keyIds.has(k.KeyId)) continue;
          const imported = k.materials.filter((m) => m.importState === 'IMPORTED').length;
          const label = `${k.KeyState}${imported ? ' with material' : ''}`;
          byState[label] = (byState[label] ?? 0) + 1;
        }
        return Object.entries(byState).map(([k, v]) => `${v} ${k}`).join(', ') || 'none';
      };
      const waves: WaveResult[] = [];
      const states: string[] = [];
      waves.push(await stack.deploy(first));
      for (const id of stack.driver.logicalIdsOfType('AWS::KMS::Key', first)) if (stack.driver.isLive(id)) keyIds.add(stack.driver.physical(id).ref);
      states.push(keyStates());
      if (waves[0].status === 'CREATE_COMPLETE') {
        waves.push(await stack.update(second));
        states.push(keyStates());
        waves.push(await stack.destroy());
        states.push(keyStates());
      }
      waves.forEach((w, i) => {
        const throttled = Object.values(w.kms).reduce((a, b) => a + b.throttled, 0);
        out.push(`| ${n} | ${w.operation} | ${w.status} | ${s(w.wallMs)} | ${s(w.floorMs)} | ${w.floorMs > 0 ? fmt(w.wallMs / w.floorMs, 2) : '–'} | ` +
          `${w.failures.length} | ${s(w.slowestMs)} | ${fmt(throttled)} | ${w.sandboxes} | ${states[i]} |`);
        if (w.failures.length > 0 && firstFailures.length < 3) firstFailures.push(`N = ${n}, ${w.operation}: ${w.failures[0].replace(/\s+/g, ' ').slice(0, 500)}`);
      });
      if (!callsRun) callsRun = waves;
      process.stderr.write(`  deploy section: N = ${n} done\n`);
    } finally {
      stack.close();
      await emulator.close();
    }
  }
  if (firstFailures.length) out.push('', 'First failures:', '', ...firstFailures.map((f) => `- ${f}`));
  return { lines: out, calls: callsRun };
}

const MINIMUM: Record<WaveResult['operation'], Record<string, number>> = {
  deploy: { GetParametersForImport: 1, ImportKeyMaterial: 1 },
  update: { GetParametersForImport: 1, ImportKeyMaterial: 1 },
  destroy: { DeleteImportedKeyMaterial: 1, ScheduleKeyDeletion: 1 },
};

function callsSection(waves: WaveResult[]): string[] {
  const out = ['## (c) KMS calls per resource and operation (admitted requests / N, first N of (b)), against the minimum', ''];
  out.push('| operation | calls per resource | minimum |', '|---|---|---|');
  for (const w of waves) {
    const calls = Object.entries(w.kms).map(([op, c]) => `${op} ${fmt(c.ok / Math.max(1, w.n), 2)}`).join(', ');
    const min = Object.entries(MINIMUM[w.operation]).map(([op, c]) => `${op} ${c}`).join(', ');
    out.push(`| ${w.operation} | ${calls} | ${min} |`);
  }
  out.push('', 'Minimum: one GetParametersForImport and one ImportKeyMaterial per import (the API Reference allows re-importing the');
  out.push('same material to change its expiration, so no DeleteImportedKeyMaterial is needed for that); one DeleteImportedKeyMaterial');
  out.push('per material on destroy (a key that holds one material needs no ListKeyRotations); ScheduleKeyDeletion is CloudFormation\'s.');
  return out;
}

function latencySection(r: LatencyResult): string[] {
  const m = (runs: { wallMs: number }[]) => median(runs.map((x) => x.wallMs));
  const mLoad = (runs: { loadMs: number }[]) => median(runs.map((x) => x.loadMs));
  const mRun = (runs: { runMs: number }[]) => median(runs.map((x) => x.runMs));
  const out = [`## (d) Cold Delete latency, end to end (median of ${r.runs}; each Lambda in a fresh Node.js process)`, ''];
  out.push('| path | Lambda | process wall (ms) | module load (ms) | handler run (ms) |', '|---|---|---:|---:|---:|');
  const ourLambda = r.direct ? 'key-material function (shipped bundle: aws-cdk-lib entrypoint + handler, response PUT stubbed)' : 'key-material handler (shipped bundle)';
  out.push(`| ours | ${ourLambda} | ${fmt(m(r.ours.handler))} | ${fmt(mLoad(r.ours.handler))} | ${fmt(mRun(r.ours.handler))} |`);
  if (r.ours.framework) out.push(`| ours | Provider framework onEvent (aws-cdk-lib framework.js, Lambda.Invoke stubbed) | ${fmt(m(r.ours.framework))} | ${fmt(mLoad(r.ours.framework))} | ${fmt(mRun(r.ours.framework))} |`);
  out.push(`| workaround | AwsCustomResource handler (aws-cdk-lib) | ${fmt(m(r.workaround))} | ${fmt(mLoad(r.workaround))} | ${fmt(mRun(r.workaround))} |`);
  const oursTotal = m(r.ours.handler) + (r.ours.framework ? m(r.ours.framework) : 0);
  out.push('');
  out.push(`- Handler alone: ${fmt(m(r.ours.handler) / m(r.workaround), 2)}× the workaround.`);
  out.push(`- End to end (every Lambda of the path${r.direct ? ': one, no Provider framework' : ''}): ${fmt(oursTotal)} ms = ${fmt(oursTotal / m(r.workaround), 2)}× the workaround (${fmt(m(r.workaround))} ms).`);
  const statuses = (runs: ColdRun[]) => [...new Set(runs.map((x) => x.output.sent?.Status ?? (x.output.result ? 'returned' : 'none')))].join(', ');
  out.push(`- What CloudFormation received: ours ${statuses(r.ours.handler)}${r.ours.framework ? ` (framework: ${statuses(r.ours.framework)})` : ''}, workaround ${statuses(r.workaround)}.`);
  if (r.frameworkNote) out.push(`- ${r.frameworkNote}`);
  return out;
}

async function main(): Promise<void> {
  const sections = arg('sections', 'templates,deploy,latency').split(',');
  const ns = arg('n', '10,60,240').split(',').map(Number);
  const runs = Number(arg('runs', '5'));
  const outFile = path.resolve(arg('out', path.join(__dirname, 'RESULTS.md')));
  // The handlers' JSON log lines and the SDK's Node.js version notice would drown the output.
  const log = console.log;
  console.log = () => undefined;
  console.info = console.log;
  console.warn = console.log;
  console.debug = console.log;
  console.error = console.log;
  process.removeAllListeners('warning');
  const started = Date.now();
  const lines: string[] = ['# Bench results', ''];
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  lines.push(`- Machine: ${os.cpus().length} × ${cpu}, ${fmt(os.totalmem() / 2 ** 30, 1)} GiB, Node.js ${process.version}, ${os.platform()} ${os.release()}`);
  lines.push(`- Date: ${new Date().toISOString()}`);
  lines.push(`- Command: \`npm run bench -- ${process.argv.slice(2).join(' ')}\`${process.argv.length <= 2 ? ' (defaults: --n 10,60,240 --sections templates,deploy,latency --runs 5)' : ''}`);
  lines.push(`- Commit: ${gitHead()}`);
  lines.push('');
  if (sections.includes('templates')) {
    lines.push(...templateSection(), '');
    process.stderr.write('  templates done\n');
  }
  if (sections.includes('deploy')) {
    const deploy = await deploySection(ns);
    lines.push(...deploy.lines, '');
    if (deploy.calls) lines.push(...callsSection(deploy.calls), '');
  }
  if (sections.includes('latency')) {
    const emulator = await startEmulator();
    try {
      lines.push(...latencySection(await measureDeleteLatency(emulator, runs)), '');
    } finally {
      await emulator.close();
    }
  }
  lines.push(`Bench time: ${s(Date.now() - started)} s.`);
  fs.writeFileSync(outFile, lines.join('\n') + '\n');
  console.log = log;
  log(`wrote ${path.relative(process.cwd(), outFile)}`);
}

function gitHead(): string {
  try {
    return require('node:child_process').execSync('git rev-parse --short HEAD', { cwd: __dirname }).toString().trim();
  } catch {
    return 'unknown';
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(e);
  process.exit(1);
});
