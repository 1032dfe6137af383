/**
 * Delete latency end to end, cold: each Lambda of the path runs in a fresh Node.js process
 * (bench/cold-start.js) against the emulator, and its wall time (process start to exit, so Node's own
 * start-up stands in for the sandbox's runtime init) is what a cold invocation costs.
 *
 * - ours: the Provider framework's onEvent Lambda (aws-cdk-lib's framework.js, which loads the Lambda and
 *   Step Functions clients and invokes our Lambda) + our key-material Lambda (the shipped bundle).
 *   The framework's Lambda.Invoke goes to a stub endpoint that answers at once: our Lambda is timed on
 *   its own, in its own process, and the two are added.
 * - workaround: aws-cdk-lib's AwsCustomResource handler (CloudFormation invokes it directly), which
 *   loads @aws-sdk/client-kms unbundled, as from the Lambda runtime.
 * Not included: Lambda's invoke network hop and the sandbox's own init beyond Node's start-up.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Emulator } from '../test/kms-emulator';
import { bundlePath, KEY_MATERIAL_BUNDLE, REPO_ROOT } from '../test/lifecycle/bundles';
import { stringifyScalars } from '../test/lifecycle/driver';
import { referencesIn, resolve, Template } from '../test/util/template';
import { shapeStack, synthTemplate } from './templates';

const COLD_START = path.join(__dirname, 'cold-start.js');
const CDK_LIB = path.dirname(require.resolve('aws-cdk-lib/package.json'));
export const AWS_CUSTOM_RESOURCE_HANDLER = path.join(CDK_LIB, 'custom-resource-handlers/dist/custom-resources/aws-custom-resource-handler/index.js');
export const FRAMEWORK_ON_EVENT = path.join(CDK_LIB, 'custom-resources/lib/provider-framework/runtime/framework.js');

export interface ColdRun {
  readonly wallMs: number;
  readonly loadMs: number;
  readonly runMs: number;
  readonly output: { result?: unknown; sent?: { Status?: string; Reason?: string } | null; error?: string };
}

/**
 * Where the Lambda runtime's @aws-sdk/client-lambda and client-sfn are (the framework's outbound.js loads
 * them): this repository's node_modules, BENCH_FRAMEWORK_NODE_PATH, or a cache under the OS temp directory
 * that is filled once with `npm install` (same SDK version as client-kms). Undefined when none works (offline).
 */
export function frameworkSdkPath(): string | undefined {
  const cache = path.join(os.tmpdir(), 'cdk-kms-lifecycle-bench-sdk');
  const has = (p: string) => fs.existsSync(path.join(p, '@aws-sdk', 'client-lambda')) && fs.existsSync(path.join(p, '@aws-sdk', 'client-sfn'));
  const candidates = [path.join(REPO_ROOT, 'node_modules'), process.env.BENCH_FRAMEWORK_NODE_PATH, path.join(cache, 'node_modules')].filter((p): p is string => !!p);
  const found = candidates.find(has);
  if (found || process.env.BENCH_NO_INSTALL) return found;
  const version = JSON.parse(fs.readFileSync(require.resolve('@aws-sdk/client-kms/package.json'), 'utf8')).version;
  try {
    fs.mkdirSync(cache, { recursive: true });
    execFileSync('npm', ['install', '--prefix', cache, '--no-save', '--no-audit', '--no-fund', `@aws-sdk/client-lambda@${version}`, `@aws-sdk/client-sfn@${version}`], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  return has(path.join(cache, 'node_modules')) ? path.join(cache, 'node_modules') : undefined;
}

export async function coldRun(file: string, exportName: string, event: unknown, env: Record<string, string>): Promise<ColdRun> {
  const eventFile = path.join(os.tmpdir(), `bench-event-${crypto.randomUUID()}.json`);
  fs.writeFileSync(eventFile, JSON.stringify(event));
  const started = performance.now();
  try {
    const stdout = await new Promise<string>((res, rej) => {
      const child = spawn(process.execPath, [COLD_START, file, exportName, eventFile], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (c) => { out += c; });
      child.stderr.on('data', (c) => { err += c; });
      child.on('error', rej);
      child.on('exit', (code) => (code === 0 ? res(out) : rej(new Error(`${path.basename(file)} exited ${code}: ${out}${err}`.slice(0, 2000)))));
    });
    const wallMs = performance.now() - started;
    const output = JSON.parse(stdout.trim().split('\n').pop()!);
    return { wallMs, loadMs: output.loadMs, runMs: output.runMs, output };
  } finally {
    fs.rmSync(eventFile, { force: true });
  }
}

/** A Lambda Invoke endpoint that answers every invocation with `payload` at once. */
async function lambdaStub(payload: () => unknown): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = Buffer.from(JSON.stringify(payload()));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, 'x-amz-executed-version': '$LATEST' });
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }),
  };
}

export interface LatencyResult {
  readonly runs: number;
  readonly ours: { handler: ColdRun[]; framework?: ColdRun[] };
  readonly workaround: ColdRun[];
  readonly frameworkNote?: string;
  /** Our function answers CloudFormation itself (the bundled aws-cdk-lib entrypoint): no framework Lambda. */
  readonly direct?: boolean;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function emulatorEnv(emulator: Emulator): Record<string, string> {
  return {
    AWS_REGION: 'us-east-1', AWS_DEFAULT_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'AKIDBENCH', AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_ENDPOINT_URL_KMS: emulator.endpoint, AWS_ENDPOINT_URL_SECRETS_MANAGER: emulator.endpoint, AWS_ENDPOINT_URL_CLOUDFORMATION: emulator.endpoint,
  };
}

function cfnEvent(template: Template, logicalId: string, physicalIds: Record<string, { ref: string; arn?: string }>, physicalResourceId: string): Record<string, unknown> {
  const env = { account: '111122223333', region: 'us-east-1', stackName: 'Bench', physicalIds };
  return {
    RequestType: 'Delete', ServiceToken: 'arn:aws:lambda:us-east-1:111122223333:function:token', ResponseURL: 'https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/bench',
    StackId: 'arn:aws:cloudformation:us-east-1:111122223333:stack/Bench/0b8b5a30-0000-0000-0000-000000000000', RequestId: crypto.randomUUID(),
    LogicalResourceId: logicalId, ResourceType: template.Resources[logicalId].Type, PhysicalResourceId: physicalResourceId,
    ResourceProperties: stringifyScalars(resolve(template, template.Resources[logicalId].Properties ?? {}, env)),
  };
}

/** Cold Deletes, `runs` of each path, each on a fresh key that holds material. */
export async function measureDeleteLatency(emulator: Emulator, runs: number): Promise<LatencyResult> {
  const env = emulatorEnv(emulator);
  const ours = synthTemplate(shapeStack('externalKeyWithMaterial', 1));
  const workaround = synthTemplate(shapeStack('workaround', 1));
  const keyId = (t: Template) => Object.keys(t.Resources).find((id) => t.Resources[id].Type === 'AWS::KMS::Key')!;
  const oursResource = Object.keys(ours.Resources).find((id) => ours.Resources[id].Type === 'Custom::KmsImportedKeyMaterial')!;
  const workaroundResource = Object.keys(workaround.Resources).find((id) => workaround.Resources[id].Type === 'Custom::AWS')!;
  const result: LatencyResult = { runs, ours: { handler: [] }, workaround: [] };
  // Our ServiceToken: one function whose Handler is the bundled aws-cdk-lib entrypoint (index.main), or a
  // Provider framework in front of the handler (index.handler).
  const [serviceFunction] = [...referencesIn(ours.Resources[oursResource].Properties?.ServiceToken ?? {})];
  const direct = String(ours.Resources[serviceFunction]?.Properties?.Handler) === 'index.main';
  const exportName = direct ? 'main' : 'handler';
  (result as { direct?: boolean }).direct = direct;
  const sdk = direct ? undefined : frameworkSdkPath();
  const stub = sdk ? await lambdaStub(() => ({ PhysicalResourceId: 'bench' })) : undefined;
  if (sdk) result.ours.framework = [];
  else if (!direct) (result as { frameworkNote?: string }).frameworkNote = 'framework Lambda not measured: @aws-sdk/client-lambda and client-sfn (provided by the Lambda runtime) are not installed; set BENCH_FRAMEWORK_NODE_PATH to a node_modules that has them';
  try {
    for (let i = 0; i < runs; i++) {
      const material = crypto.randomBytes(32);
      const k1 = emulator.createKey({ origin: 'EXTERNAL', material });
      result.ours.handler.push(await coldRun(bundlePath(KEY_MATERIAL_BUNDLE), exportName,
        cfnEvent(ours, oursResource, { [keyId(ours)]: { ref: k1.keyId, arn: k1.arn } }, k1.keyId), env));
      const k2 = emulator.createKey({ origin: 'EXTERNAL', material });
      result.workaround.push(await coldRun(AWS_CUSTOM_RESOURCE_HANDLER, 'handler',
        cfnEvent(workaround, workaroundResource, { [keyId(workaround)]: { ref: k2.keyId, arn: k2.arn } }, k2.keyId), env));
      if (sdk && stub) {
        const k3 = emulator.createKey({ origin: 'EXTERNAL', material });
        result.ours.framework!.push(await coldRun(FRAMEWORK_ON_EVENT, 'onEvent',
          cfnEvent(ours, oursResource, { [keyId(ours)]: { ref: k3.keyId, arn: k3.arn } }, 'bench'),
          { ...env, NODE_PATH: sdk, AWS_ENDPOINT_URL_LAMBDA: stub.url, USER_ON_EVENT_FUNCTION_ARN: 'arn:aws:lambda:us-east-1:111122223333:function:onEvent' }));
      }
    }
  } finally {
    await stub?.close();
  }
  return result;
}
