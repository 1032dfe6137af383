/** The API reference is complete and current (the @examples are compiled by test/readme.test.ts). */

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
