/**
 * Leak check: canary secret values (key material, a kmsuser password, an XKS secret access key) go through
 * full lifecycles — create, update, delete, a failing create, a refused update — and must never appear, in
 * any encoding, in the synthesized template, the cloud assembly, the handlers' logs, the log lines of the installed
 * Provider framework runtime (which logs every event it passes on) or anything it sent back to CloudFormation.
 * The logs must not contain the ResponseURL either.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Emulator, startEmulator } from './kms-emulator';
import { LifecycleDriver } from './lifecycle/driver';
import { pkcs8Pem, rsaPkcs8 } from './lifecycle/materials';
import { keyMaterialStack, KMSUSER_PASSWORD_SECRET, storeStack, synth, XKS_CREDENTIAL_SECRET } from './lifecycle/stacks';

/** 32 bytes whose utf8, base64, base64url and hex forms are all distinctive. */
const MATERIAL_A = Buffer.from('CANARY-MATERIAL-A-0123456789abcd');
const MATERIAL_B = Buffer.from('CANARY-MATERIAL-B-~?>~?>~?>~?>xy'); // '~?>' gives '+' and '/' in base64
/** 31 bytes: refused as SYMMETRIC_DEFAULT material (a failing create). */
const BAD_MATERIAL = Buffer.from('CANARY-BAD-MATERIAL-31-BYTES-!!');
const HMAC_A = Buffer.from('CANARY-HMAC-MATERIAL-A-0123456789abcdefghijklmno');
const HMAC_B = Buffer.from('CANARY-HMAC-MATERIAL-B-0123456789abcdefghijklmno');
const RSA_DER = rsaPkcs8(2048, 7);
const KMSUSER_PASSWORD = 'CANARY-PASSWORD-7q';
const XKS_SECRET_ACCESS_KEY = 'CANARYXKSSECRETACCESSKEYabcdefghijklmnop0123456789';
const XKS_CREDENTIAL = { accessKeyId: 'AKIACANARYXKSACCESSID', secretAccessKey: XKS_SECRET_ACCESS_KEY };

interface Canary {
  readonly name: string;
  readonly needles: string[];
}

/** Every form a secret byte string could take in text: raw, utf8, base64 (any alignment), base64url, hex. */
function byteCanary(name: string, bytes: Buffer): Canary {
  const needles = new Set<string>();
  const utf8 = bytes.toString('utf8');
  if (!utf8.includes('\ufffd')) needles.add(utf8);
  needles.add(bytes.toString('latin1'));
  needles.add(bytes.toString('hex'));
  needles.add(bytes.toString('hex').toUpperCase());
  // A base64 encoding of any blob that contains `bytes` contains the encoding of one of these aligned slices.
  for (let offset = 0; offset < 3; offset++) {
    const slice = bytes.subarray(offset, offset + Math.min(24, bytes.length - offset - ((bytes.length - offset) % 3)));
    needles.add(slice.toString('base64'));
    needles.add(slice.toString('base64url'));
  }
  return { name, needles: [...needles].filter((n) => n.length >= 16) };
}

function textCanary(name: string, text: string): Canary {
  return byteCanary(name, Buffer.from(text, 'utf8'));
}

const CANARIES: Canary[] = [
  byteCanary('material A', MATERIAL_A),
  byteCanary('material B', MATERIAL_B),
  byteCanary('bad material', BAD_MATERIAL),
  byteCanary('HMAC material A', HMAC_A),
  byteCanary('HMAC material B', HMAC_B),
  byteCanary('RSA private key (DER)', RSA_DER.subarray(RSA_DER.length - 120)),
  textCanary('RSA private key (PEM)', pkcs8Pem(RSA_DER).split('\n').slice(5, 7).join('\n')),
  textCanary('kmsuser password', KMSUSER_PASSWORD),
  textCanary('XKS secret access key', XKS_SECRET_ACCESS_KEY),
];

function leaksIn(where: string, text: string): string[] {
  const found: string[] = [];
  for (const c of CANARIES) {
    for (const n of c.needles) if (text.includes(n)) found.push(`${c.name} in ${where} (as '${n.slice(0, 12)}...')`);
  }
  return found;
}

let emulator: Emulator;
const logs: string[] = [];
const drivers: LifecycleDriver[] = [];
let outdir: string;

beforeAll(async () => {
  emulator = await startEmulator();
  const capture = (...args: unknown[]) => {
    logs.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
  };
  const spies = [
    jest.spyOn(console, 'log').mockImplementation(capture),
    jest.spyOn(console, 'info').mockImplementation(capture),
    jest.spyOn(console, 'warn').mockImplementation(capture),
    jest.spyOn(console, 'error').mockImplementation(capture),
    jest.spyOn(console, 'debug').mockImplementation(capture),
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      logs.push(String(chunk));
      return true;
    }),
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      logs.push(String(chunk));
      return true;
    }),
  ];
  try {
    // Symmetric: create, no-op Update, rotation, delete.
    const sym = new LifecycleDriver({ emulator, secretValues: { MaterialA: { secretBinary: MATERIAL_A }, MaterialB: { secretString: MATERIAL_B.toString('base64') } } });
    drivers.push(sym);
    await sym.deploy(synth(keyMaterialStack()));
    await sym.request(sym.logicalId('AppKeyMaterial', 'Custom::KmsImportedKeyMaterial'), 'Update');
    await sym.deploy(synth(keyMaterialStack({ source: 'MaterialB' })));
    await sym.destroy();

    // A failing create (31-byte material) and its rollback.
    const bad = new LifecycleDriver({ emulator, secretValues: { MaterialA: { secretBinary: BAD_MATERIAL } } });
    drivers.push(bad);
    await bad.deploy(synth(keyMaterialStack()));

    // HMAC: create, refused material change (and its rollback), delete.
    const hmacProps = { keySpec: kms.KeySpec.HMAC_384, keyUsage: kms.KeyUsage.GENERATE_VERIFY_MAC };
    const hmac = new LifecycleDriver({ emulator, secretValues: { MaterialA: { secretString: HMAC_A.toString('hex') }, MaterialB: { secretBinary: HMAC_B } } });
    drivers.push(hmac);
    await hmac.deploy(synth(keyMaterialStack({ ...hmacProps })));
    await hmac.deploy(synth(keyMaterialStack({ ...hmacProps, source: 'MaterialB' })));
    await hmac.destroy();

    // RSA from PEM, with an expiration change (delete + re-import).
    const rsa = new LifecycleDriver({ emulator, secretValues: { MaterialA: { secretString: pkcs8Pem(RSA_DER) } } });
    drivers.push(rsa);
    const rsaProps = { keySpec: kms.KeySpec.RSA_2048, keyUsage: kms.KeyUsage.SIGN_VERIFY };
    await rsa.deploy(synth(keyMaterialStack(rsaProps)));
    await rsa.deploy(synth(keyMaterialStack({ ...rsaProps, expiration: new Date(Date.now() + 10 * 24 * 3600 * 1000) })));
    await rsa.destroy();

    // Custom key stores: create, rename, delete; and a failing create (name in use) for each type.
    const storeSecrets = {
      [XKS_CREDENTIAL_SECRET]: { secretString: JSON.stringify(XKS_CREDENTIAL) },
      [KMSUSER_PASSWORD_SECRET]: { secretString: KMSUSER_PASSWORD },
    };
    for (const type of ['XKS', 'CLOUDHSM'] as const) {
      const opts = { type, proxyUriPath: `/leak-${type}/kms/xks/v1` };
      const store = new LifecycleDriver({ emulator, secretValues: storeSecrets });
      drivers.push(store);
      await store.deploy(synth(storeStack({ ...opts, name: `leak-${type}` })));
      await store.deploy(synth(storeStack({ ...opts, name: `leak-${type}-renamed` })));
      const clash = new LifecycleDriver({ emulator, secretValues: storeSecrets });
      drivers.push(clash);
      await clash.deploy(synth(storeStack({ ...opts, name: `leak-${type}-renamed`, storeId: 'Clash' })));
      await store.destroy();
    }

    // The cloud assembly as `cdk synth` writes it, for every app the lifecycles used.
    outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'leak-canary-'));
    (keyMaterialStack({ outdir: path.join(outdir, 'keys'), foreignKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab' }).node.root as App).synth();
    (keyMaterialStack({ outdir: path.join(outdir, 'hmac'), ...hmacProps, source: 'MaterialB' }).node.root as App).synth();
    for (const type of ['XKS', 'CLOUDHSM'] as const) (storeStack({ type, outdir: path.join(outdir, `store-${type}`) }).node.root as App).synth();
  } finally {
    for (const s of spies) s.mockRestore();
    for (const d of drivers) d.close();
  }
}, 120_000);

afterAll(async () => {
  await emulator.close();
  if (outdir) fs.rmSync(outdir, { recursive: true, force: true });
});

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : [p];
  });
}

test('the lifecycles ran every kind of request, failing ones included', () => {
  const all = drivers.flatMap((d) => d.invocations);
  const kinds = new Set(all.map((i) => `${i.request.ResourceType} ${i.request.RequestType} ${i.response.Status}`));
  expect([...kinds].sort()).toEqual([
    'Custom::KmsCustomKeyStore Create FAILED',
    'Custom::KmsCustomKeyStore Create SUCCESS',
    'Custom::KmsCustomKeyStore Delete SUCCESS',
    'Custom::KmsCustomKeyStore Update SUCCESS',
    'Custom::KmsImportedKeyMaterial Create FAILED',
    'Custom::KmsImportedKeyMaterial Create SUCCESS',
    'Custom::KmsImportedKeyMaterial Delete SUCCESS',
    'Custom::KmsImportedKeyMaterial Update FAILED',
    'Custom::KmsImportedKeyMaterial Update SUCCESS',
  ]);
  expect(all.some((i) => i.polls > 0)).toBe(true);
  expect(logs.length).toBeGreaterThan(50);
});

test('the canary check finds a canary planted in a log line (it can fail)', () => {
  expect(leaksIn('a planted line', `{"x":"${MATERIAL_B.toString('base64')}"}`)).not.toEqual([]);
  expect(leaksIn('a planted line', `prefix-${Buffer.concat([Buffer.from('xy'), HMAC_A]).toString('base64')}`)).not.toEqual([]);
  expect(leaksIn('a planted line', `pw=${KMSUSER_PASSWORD}`)).not.toEqual([]);
});

test('no canary in the synthesized templates', () => {
  const templates = drivers.map((d, i) => [`driver ${i}`, JSON.stringify(d.events.length ? d.template ?? {} : {})] as const);
  const found = templates.flatMap(([where, text]) => leaksIn(where, text));
  found.push(...leaksIn('key material template', JSON.stringify(synth(keyMaterialStack()))));
  found.push(...leaksIn('XKS store template', JSON.stringify(synth(storeStack({ type: 'XKS' })))));
  found.push(...leaksIn('CloudHSM store template', JSON.stringify(synth(storeStack({ type: 'CLOUDHSM' })))));
  expect(found).toEqual([]);
});

test('no canary in any file of the cloud assembly (cdk.out)', () => {
  const files = filesUnder(outdir);
  expect(files.some((f) => f.endsWith('.template.json'))).toBe(true);
  expect(files.some((f) => f.endsWith('index.js'))).toBe(true); // the handler bundles, copied as assets
  const found = files.flatMap((f) => leaksIn(path.relative(outdir, f), fs.readFileSync(f).toString('latin1')));
  expect(found).toEqual([]);
});

test('the scanned log lines include the Provider framework runtime\'s own, for every step it takes', () => {
  const framework = logs.filter((line) => line.startsWith('[provider-framework]'));
  for (const step of ['onEventHandler', 'executing user function', 'user function response:', 'isComplete', 'submit response to cloudformation',
    'ignoring DELETE event caused by a failed CREATE event']) {
    expect(framework.some((line) => line.startsWith(`[provider-framework] ${step}`))).toBe(true);
  }
});

test('no canary in any log line the handlers or the Provider framework wrote', () => {
  expect(logs.flatMap((line, i) => leaksIn(`log line ${i}`, line))).toEqual([]);
});

test('no canary in any response sent to CloudFormation, handler result or error', () => {
  const found: string[] = [];
  for (const d of drivers) {
    for (const r of d.responses) found.push(...leaksIn(`response ${r.RequestId}`, JSON.stringify(r)));
    for (const i of d.invocations) {
      for (const x of i.invocations) {
        found.push(...leaksIn(`${x.kind} result`, JSON.stringify(x.result ?? null)));
        found.push(...leaksIn(`${x.kind} error`, JSON.stringify(x.error ?? null)));
      }
    }
  }
  expect(found).toEqual([]);
});

test('the logs never contain a ResponseURL', () => {
  const urls = drivers.flatMap((d) => d.responseUrls);
  expect(urls.length).toBeGreaterThan(10);
  const found = logs.filter((line) => urls.some((u) => line.includes(u) || line.includes(new URL(u).searchParams.get('X-Amz-Signature')!)));
  expect(found).toEqual([]);
});
