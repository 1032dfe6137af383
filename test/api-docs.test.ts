import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** The API reference is complete and current; every @example and README sample compiles for jsii. */

const root = path.join(__dirname, '..');
const { check, undocumentedParameters, sourcesNewerThanAssembly } = require('../scripts/api-docs.js');

beforeAll(() => {
  const stale = sourcesNewerThanAssembly();
  if (stale.length > 0) throw new Error(`the jsii assembly is older than ${stale.join(', ')}: run \`npm run build\` first (npm test does)`);
});

test('finds a parameter without a @param text', () => {
  const assembly = {
    types: {
      'cdk-kms-lifecycle.Thing': {
        kind: 'class',
        initializer: { parameters: [{ name: 'scope', docs: { summary: 'the scope' } }, { name: 'id' }] },
        methods: [{ name: 'grantX', parameters: [{ name: 'grantee', docs: {} }] }],
      },
    },
  };
  expect(undocumentedParameters(assembly)).toEqual(['Thing.constructor(id)', 'Thing.grantX(grantee)']);
});

test('every public parameter has a @param text, and API.md is current (`npm run docgen` regenerates it)', () => {
  expect(check()).toEqual([]);
});

test('every @example and README sample compiles under jsii-rosetta extract --strict', () => {
  const tablet = path.join(root, '.jsii.tabl.json');
  fs.rmSync(tablet, { force: true });
  let output = '';
  try {
    execFileSync(process.execPath, [path.join(root, 'node_modules', 'jsii-rosetta', 'bin', 'jsii-rosetta'), 'extract', '--strict'], { cwd: root, stdio: 'pipe', encoding: 'utf8' });
  } catch (e: any) {
    output = `${e.stdout}${e.stderr}`.split('\n').filter((l) => / - error |error TS|\[ERROR\]/.test(l)).join('\n') || String(e);
  }
  expect(output).toBe('');
  expect(fs.existsSync(tablet)).toBe(true);
});
