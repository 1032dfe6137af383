import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ts from 'typescript';

/**
 * What users get: the packed tarball, installed into a fresh CDK app next to its peer
 * dependencies, synthesizes every public construct, with the floor and the newest aws-cdk-lib.
 *
 * Nothing is downloaded: the app's node_modules holds the extracted tarball (the package has no
 * dependencies, so that is all `npm install` would do) and symlinks to this repository's installed
 * copies of aws-cdk-lib (or its `aws-cdk-lib-latest` alias), constructs and cdk-nag. Node runs with
 * --preserve-symlinks, so every require resolves from the app's node_modules, as in a real install.
 */

const root = path.join(__dirname, '..');
const { sourcesNewerThanAssembly } = require('../scripts/api-docs.js');
const semver = require('semver');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

const CDK_LIBS = [
  { label: 'floor', dir: 'aws-cdk-lib', report: 'policy-validation-report.json', typeCheck: false },
  // The shipped declarations are type-checked once, against the newest (about 10 s a program).
  { label: 'newest', dir: 'aws-cdk-lib-latest', report: 'validation-report.json', typeCheck: true },
];

let work: string;
let tarball: string;
let files: string[];

beforeAll(() => {
  const stale = sourcesNewerThanAssembly();
  if (stale.length > 0) throw new Error(`the build is older than ${stale.join(', ')}: run \`npm run build\` first (npm test does)`);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'consumer-'));
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
  tarball = path.join(work, packed.filename);
  files = packed.files.map((f: { path: string }) => f.path).sort();
});

afterAll(() => {
  if (work && !process.env.KEEP_CONSUMER_APP) fs.rmSync(work, { recursive: true, force: true });
});

describe('the tarball', () => {
  test('ships the compiled library, the assembly, the handler bundles and the docs', () => {
    const compiled = (dir: string): string[] => fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? compiled(path.join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path.join(dir, e.name)] : []);
    const expected = compiled('lib').flatMap((f) => [f.replace(/^lib/, 'build').replace(/\.ts$/, '.js'), f.replace(/^lib/, 'build').replace(/\.ts$/, '.d.ts')]);
    const bundles = fs.readdirSync(path.join(root, 'lambda'), { withFileTypes: true })
      .filter((d) => d.isDirectory() && fs.existsSync(path.join(root, 'lambda', d.name, 'index.ts')))
      .map((d) => `assets/${d.name}/index.js`);
    expect(bundles.length).toBeGreaterThanOrEqual(2);
    // Exactly these compiled files and bundles: a stale one (of a removed source) would fail here.
    expect(files.filter((f) => /^(build|assets)\//.test(f))).toEqual([...expected, ...bundles].sort());
    expect(files).toEqual(expect.arrayContaining(['.jsii', 'package.json', 'README.md', 'LICENSE', 'API.md', 'CHANGELOG.md']));
  });

  test('ships no sources, tests, source maps, build configuration or cdk.out', () => {
    const forbidden = files.filter((f) => /\.ts$/.test(f) && !/\.d\.ts$/.test(f)
      || /\.map$|tsbuildinfo|tsconfig|\.tabl\.json$/.test(f)
      || /^(lib|lambda|test|example|bench|scripts|rosetta|cdk\.out|node_modules|dist|\.ci)\//.test(f));
    expect(forbidden).toEqual([]);
    const inlineMaps = files.filter((f) => f.endsWith('.js') && fs.readFileSync(path.join(root, f), 'utf8').includes('sourceMappingURL'));
    expect(inlineMaps).toEqual([]);
  });

  test("the README links only to files the package ships, or to the repository", () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const targets = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]);
    expect(targets.length).toBeGreaterThan(0);
    const broken = targets.filter((t) => !t.startsWith('#') && !t.startsWith(`${pkg.homepage.replace(/#.*$/, '')}/`) && !files.includes(t.replace(/#.*$/, '')));
    expect(broken).toEqual([]);
  });

  test('the compiled library requires only its own files, Node built-ins and its peer dependencies', () => {
    const shipped = new Set(files);
    const outside: string[] = [];
    for (const file of files.filter((f) => f.startsWith('build/') && f.endsWith('.js'))) {
      for (const [, spec] of fs.readFileSync(path.join(root, file), 'utf8').matchAll(/require\("([^"]+)"\)/g)) {
        if (spec.startsWith('.')) {
          const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
          if (![target, `${target}.js`, `${target}/index.js`].some((t) => shipped.has(t))) outside.push(`${file} -> ${spec}`);
        } else if (!require('module').builtinModules.includes(spec.replace(/^node:/, '')) && !Object.keys(pkg.peerDependencies).includes(spec.split('/')[0])) {
          outside.push(`${file} -> ${spec}`);
        }
      }
    }
    expect(outside).toEqual([]);
    for (const bundle of files.filter((f) => f.startsWith('assets/') && f.endsWith('.js'))) {
      const requires = [...fs.readFileSync(path.join(root, bundle), 'utf8').matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
      // The SDK's optional CRT signer (SigV4a only) is required inside a try/catch and never bundled.
      const optional = ['@aws-sdk/signature-v4-crt'];
      expect(requires.filter((r) => !require('module').builtinModules.includes(r.replace(/^node:/, '')) && !optional.includes(r))).toEqual([]);
    }
  });
});

describe.each(CDK_LIBS)('a fresh app with aws-cdk-lib $label', ({ dir, report, typeCheck }) => {
  const cdkLibVersion: string = JSON.parse(fs.readFileSync(path.join(root, 'node_modules', dir, 'package.json'), 'utf8')).version;
  let app: string;
  let out: string;
  let template: any;

  beforeAll(() => {
    app = path.join(work, `app-${dir}`);
    const modules = path.join(app, 'node_modules');
    fs.mkdirSync(modules, { recursive: true });
    execFileSync('tar', ['-xzf', tarball, '-C', modules]);
    fs.renameSync(path.join(modules, 'package'), path.join(modules, 'cdk-kms-lifecycle'));
    link(path.join(root, 'node_modules', dir), path.join(modules, 'aws-cdk-lib'));
    for (const name of ['constructs', 'cdk-nag']) link(path.join(root, 'node_modules', name), path.join(modules, name));
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    const source = fs.readFileSync(path.join(__dirname, 'package', 'consumer-app.ts'), 'utf8');
    fs.writeFileSync(path.join(app, 'app.ts'), source);
    fs.writeFileSync(path.join(app, 'app.js'), ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText);
    out = path.join(app, 'cdk.out');
    execFileSync(process.execPath, ['--preserve-symlinks', 'app.js'], { cwd: app, stdio: 'pipe', env: { ...process.env, CONSUMER_OUTDIR: out } });
    template = JSON.parse(fs.readFileSync(path.join(out, 'Consumer.template.json'), 'utf8'));
  });

  test(`aws-cdk-lib ${cdkLibVersion} and the repository's constructs satisfy the peer ranges`, () => {
    expect(semver.satisfies(cdkLibVersion, pkg.peerDependencies['aws-cdk-lib'])).toBe(true);
    const constructsVersion = JSON.parse(fs.readFileSync(path.join(root, 'node_modules', 'constructs', 'package.json'), 'utf8')).version;
    expect(semver.satisfies(constructsVersion, pkg.peerDependencies.constructs)).toBe(true);
    const installed = JSON.parse(fs.readFileSync(path.join(app, 'node_modules', 'aws-cdk-lib', 'package.json'), 'utf8'));
    expect(installed.version).toBe(cdkLibVersion);
  });

  if (typeCheck) test('the app type-checks against the shipped declarations', () => {
    const program = ts.createProgram([path.join(app, 'app.ts')], {
      strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10,
      skipLibCheck: true, esModuleInterop: true, preserveSymlinks: true, types: ['node'], typeRoots: [path.join(root, 'node_modules', '@types')],
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
  });

  test('the app uses every public construct of the package (add a line to test/package/consumer-app.ts for a new one)', () => {
    const assembly = JSON.parse(fs.readFileSync(path.join(root, '.jsii'), 'utf8'));
    const constructs = Object.values<any>(assembly.types)
      .filter((t) => t.kind === 'class' && !t.abstract && isConstruct(assembly, t.fqn))
      .map((t) => t.name).sort();
    expect(constructs.length).toBeGreaterThanOrEqual(4);
    const used: string[] = JSON.parse(fs.readFileSync(path.join(out, 'constructs-used.json'), 'utf8'));
    expect(constructs.filter((c) => !used.includes(c))).toEqual([]);
  });

  test('synthesizes EXTERNAL keys, their material resources and the custom key stores', () => {
    const resources = Object.values<any>(template.Resources);
    const ofType = (type: string) => resources.filter((r) => r.Type === type);
    // Two ExternalKeys and a multi-Region primary, each with its material resource, and the one on a key ARN.
    expect(ofType('AWS::KMS::Key').map((r) => r.Properties.Origin)).toEqual(['EXTERNAL', 'EXTERNAL', 'EXTERNAL']);
    expect(ofType('Custom::KmsImportedKeyMaterial')).toHaveLength(4);
    const stores = ofType('Custom::KmsCustomKeyStore').map((r) => r.Properties);
    expect(stores.map((p) => p.CustomKeyStoreName ?? p.CustomKeyStoreId).sort()).toEqual(['cks-1234567890abcdef0', 'consumer-hsm', 'consumer-xks']);
    expect(ofType('AWS::KMS::Key').every((r) => r.DeletionPolicy)).toBe(true);
  });

  test('synthesizes the replica in its own Region, with its material resource', () => {
    const replica = JSON.parse(fs.readFileSync(path.join(out, 'ConsumerReplica.template.json'), 'utf8'));
    const types = Object.values<any>(replica.Resources).map((r) => r.Type);
    expect(types.filter((t) => t === 'AWS::KMS::ReplicaKey')).toHaveLength(1);
    expect(types.filter((t) => t === 'Custom::KmsImportedKeyMaterial')).toHaveLength(1);
  });

  test('the grants reach the operator: key policy for a key in the stack, IAM for the others', () => {
    const operator = Object.keys(template.Resources).find((id) => id.startsWith('Operator') && template.Resources[id].Type === 'AWS::IAM::Role');
    const actionsIn = (statements: any[]) => statements
      .filter((s) => JSON.stringify(s.Principal ?? {}).includes(operator!) || s.Principal === undefined)
      .flatMap((s) => [s.Action].flat());
    const keyPolicies = Object.values<any>(template.Resources).filter((r) => r.Type === 'AWS::KMS::Key').flatMap((r) => actionsIn(r.Properties.KeyPolicy.Statement));
    expect(keyPolicies).toEqual(expect.arrayContaining(['kms:DeleteImportedKeyMaterial', 'kms:GetParametersForImport', 'kms:ImportKeyMaterial']));
    const operatorPolicies = Object.values<any>(template.Resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles).includes(operator!))
      .flatMap((r) => actionsIn(r.Properties.PolicyDocument.Statement));
    expect(operatorPolicies).toEqual(expect.arrayContaining([
      'kms:DeleteImportedKeyMaterial', 'kms:ConnectCustomKeyStore', 'kms:DisconnectCustomKeyStore', 'kms:DeleteCustomKeyStore', 'kms:DescribeCustomKeyStores',
    ]));
  });

  test("the handler bundles are the app's Lambda assets, byte for byte", () => {
    const assetFiles = fs.readdirSync(out).filter((d) => d.startsWith('asset.'))
      .flatMap((d) => fs.existsSync(path.join(out, d, 'index.js')) ? [fs.readFileSync(path.join(out, d, 'index.js'))] : []);
    for (const bundle of files.filter((f) => f.startsWith('assets/') && f.endsWith('index.js'))) {
      expect(assetFiles.some((a) => a.equals(fs.readFileSync(path.join(root, bundle))))).toBe(true);
    }
  });

  test(`cdk-nag AwsSolutions finds nothing unacknowledged, and ${report} shows no failure`, () => {
    const nagReports = JSON.parse(fs.readFileSync(path.join(out, 'nag-report.json'), 'utf8'));
    expect(nagReports.map((r: any) => [r.success, r.violations])).toEqual([[true, []]]);
    const validation = JSON.parse(fs.readFileSync(path.join(out, report), 'utf8'));
    expect(validation.pluginReports.filter((p: any) => p.conclusion !== 'success' || p.violations.length > 0)).toEqual([]);
  });
});

/**
 * Links a package installed in this repository into the app's node_modules, with the dependencies
 * that npm hoisted out of it (as npm would have laid them out in the app).
 */
function link(installed: string, target: string): void {
  if (fs.existsSync(target)) return;
  fs.symlinkSync(installed, target, 'dir');
  const { dependencies = {} } = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8'));
  for (const dep of Object.keys(dependencies)) {
    if (fs.existsSync(path.join(installed, 'node_modules', dep))) continue;
    const resolved = path.dirname(require.resolve(`${dep}/package.json`, { paths: [installed] }));
    const hoisted = path.join(path.dirname(target), dep);
    fs.mkdirSync(path.dirname(hoisted), { recursive: true });
    link(resolved, hoisted);
  }
}

function isConstruct(assembly: any, fqn: string | undefined): boolean {
  for (let t = fqn; t; t = assembly.types[t]?.base) {
    if (t === 'constructs.Construct') return true;
    if (!assembly.types[t]) return t.startsWith('aws-cdk-lib.');
  }
  return false;
}
