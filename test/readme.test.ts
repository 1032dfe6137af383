import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

/**
 * Every ```ts sample in the README compiles against the library (as `cdk-kms-lifecycle`), and so
 * does every @example of the jsii assembly, inside the jsii-rosetta fixture (rosetta/default.ts-fixture)
 * as `jsii-rosetta extract --strict` compiles it (`npm run rosetta` runs rosetta itself; `npm pack` too).
 */

const root = path.join(__dirname, '..');
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
const samples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);

/** Each @example of the assembly, placed in the rosetta fixture with its imports hoisted above it. */
function assemblyExamples(): Record<string, string> {
  const assembly = JSON.parse(fs.readFileSync(path.join(root, '.jsii'), 'utf8'));
  const fixture = fs.readFileSync(path.join(root, 'rosetta', 'default.ts-fixture'), 'utf8');
  const examples: Record<string, string> = {};
  for (const [fqn, type] of Object.entries<any>(assembly.types)) {
    const members = [['', type], ...[type.initializer, ...(type.methods ?? []), ...(type.properties ?? [])].filter(Boolean).map((m: any) => [`.${m.name ?? 'constructor'}`, m])];
    for (const [suffix, member] of members) {
      const example: string | undefined = member.docs?.example;
      if (!example) continue;
      const lines = example.split('\n');
      const imports = lines.filter((l) => /^import /.test(l));
      const body = lines.filter((l) => !/^import /.test(l));
      examples[`${fqn}${suffix}`] = `${imports.join('\n')}\n${fixture.replace('/// here', body.join('\n'))}`;
    }
  }
  return examples;
}

test('the README has TypeScript samples', () => {
  expect(samples.length).toBeGreaterThanOrEqual(5);
});

test('the assembly has @examples (npm run build writes .jsii)', () => {
  expect(Object.keys(assemblyExamples()).length).toBeGreaterThanOrEqual(2);
});

test('every README sample and every @example type-checks', () => {
  const dir = fs.mkdtempSync(path.join(root, 'test', '.readme-'));
  try {
    const sources: Record<string, string> = { ...Object.fromEntries(samples.map((code, i) => [`README sample ${i + 1}`, `${code}\nexport {};\n`])) };
    for (const [name, code] of Object.entries(assemblyExamples())) sources[`@example of ${name}`] = `${code}\nexport {};\n`;
    const names = new Map<string, string>();
    const files = Object.entries(sources).map(([name, code], i) => {
      const file = path.join(dir, `sample${i}.ts`);
      fs.writeFileSync(file, code);
      names.set(file, name);
      return file;
    });
    const program = ts.createProgram(files, {
      strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS,
      moduleResolution: ts.ModuleResolutionKind.Node10, skipLibCheck: true, esModuleInterop: true, types: ['node'],
      baseUrl: root, paths: { 'cdk-kms-lifecycle': ['lib/index.ts'] },
    });
    const diagnostics = ts.getPreEmitDiagnostics(program)
      .filter((d) => d.file && files.includes(path.resolve(d.file.fileName)))
      .map((d) => `${names.get(path.resolve(d.file!.fileName))}:${d.file!.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    expect(diagnostics).toEqual([]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
