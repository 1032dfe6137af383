// Checks the API reference against the jsii assembly (.jsii, written by `npm run compile`):
// - the assembly is newer than every lib/**/*.ts (otherwise the checks would read a stale API);
// - every public parameter has a @param text;
// - API.md is what jsii-docgen generates now (regenerate with `npm run docgen`).
// Used by test/api-docs.test.ts and by `prepack`; `node scripts/api-docs.js` exits 1 on a finding.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.join(__dirname, '..');

function sourcesNewerThanAssembly() {
  const assembly = path.join(root, '.jsii');
  if (!fs.existsSync(assembly)) return ['.jsii is missing'];
  const built = fs.statSync(assembly).mtimeMs;
  const newer = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith('.ts') && fs.statSync(file).mtimeMs > built) newer.push(path.relative(root, file));
    }
  };
  walk(path.join(root, 'lib'));
  return newer;
}

/** `Type.method(parameter)` for every parameter of a public initializer or method without a @param text. */
function undocumentedParameters(assembly) {
  const missing = [];
  for (const [fqn, type] of Object.entries(assembly.types ?? {})) {
    const callables = [...(type.initializer ? [['constructor', type.initializer]] : []), ...(type.methods ?? []).map((m) => [m.name, m])];
    for (const [name, callable] of callables) {
      for (const parameter of callable.parameters ?? []) {
        if (!parameter.docs?.summary) missing.push(`${fqn.replace(/^[^.]+\./, '')}.${name}(${parameter.name})`);
      }
    }
  }
  return missing;
}

/** API.md as jsii-docgen writes it from the current assembly. */
function generateApiMd() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'api-md-'));
  try {
    const out = path.join(dir, 'API.md');
    execFileSync(process.execPath, [path.join(root, 'node_modules', 'jsii-docgen', 'bin', 'jsii-docgen'), '-o', out], { cwd: root, stdio: 'pipe' });
    return fs.readFileSync(out, 'utf8');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function check() {
  const problems = [];
  const newer = sourcesNewerThanAssembly();
  if (newer.length > 0) {
    return [`the jsii assembly is older than ${newer.join(', ')}: run \`npm run build\` first`];
  }
  const assembly = JSON.parse(fs.readFileSync(path.join(root, '.jsii'), 'utf8'));
  const missing = undocumentedParameters(assembly);
  if (missing.length > 0) problems.push(`${missing.length} public parameters have no @param text: ${missing.join(', ')}`);
  const current = fs.existsSync(path.join(root, 'API.md')) ? fs.readFileSync(path.join(root, 'API.md'), 'utf8') : '';
  if (current !== generateApiMd()) problems.push('API.md is stale: regenerate it with `npm run docgen` and commit it');
  return problems;
}

module.exports = { check, undocumentedParameters, generateApiMd, sourcesNewerThanAssembly };

if (require.main === module) {
  const problems = check();
  for (const problem of problems) console.error(problem);
  process.exit(problems.length > 0 ? 1 : 0);
}
