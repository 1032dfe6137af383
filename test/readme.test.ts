import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

/** Every ```ts sample in the README compiles against the library (as `cdk-kms-lifecycle`). */

const root = path.join(__dirname, '..');
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
const samples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);

test('the README has TypeScript samples', () => {
  expect(samples.length).toBeGreaterThanOrEqual(5);
});

test('every README sample type-checks', () => {
  const dir = fs.mkdtempSync(path.join(root, 'test', '.readme-'));
  try {
    const files = samples.map((code, i) => {
      const file = path.join(dir, `sample${i}.ts`);
      fs.writeFileSync(file, `${code}\nexport {};\n`);
      return file;
    });
    const program = ts.createProgram(files, {
      strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS,
      moduleResolution: ts.ModuleResolutionKind.Node10, skipLibCheck: true, esModuleInterop: true, types: ['node'],
      baseUrl: root, paths: { 'cdk-kms-lifecycle': ['lib/index.ts'] },
    });
    const diagnostics = ts.getPreEmitDiagnostics(program)
      .filter((d) => d.file && files.includes(path.resolve(d.file.fileName)))
      .map((d) => `${path.basename(d.file!.fileName)}:${d.file!.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    expect(diagnostics).toEqual([]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
