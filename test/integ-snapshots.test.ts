import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/**
 * The integ tests (test/integ.*.ts) match their committed snapshots: integ-runner in snapshot
 * mode, offline. After an intended change, refresh them with
 * `npx integ-runner --directory test --language typescript --update-on-failed --dry-run`.
 */
test('integ-runner finds every integ test unchanged against its snapshot', () => {
  const root = path.join(__dirname, '..');
  const integTests = fs.readdirSync(__dirname).filter((f) => /^integ\..*\.ts$/.test(f));
  expect(integTests.sort()).toEqual(['integ.custom-key-store.ts', 'integ.external-key.ts', 'integ.external-replica-key.ts']);
  const run = spawnSync('npx', [
    'integ-runner', '--directory', 'test', '--language', 'typescript',
    '--app', 'node -r ts-node/register/transpile-only {filePath}',
  ], { cwd: root, encoding: 'utf8', env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1' } });
  const output = `${run.stdout}\n${run.stderr}`;
  expect({ status: run.status, output }).toEqual({ status: 0, output: expect.stringContaining(`Tests:    ${integTests.length} passed, ${integTests.length} total`) });
  for (const t of integTests) expect(output).toMatch(new RegExp(`UNCHANGED\\s+${t.replace(/\.ts$/, '').replace(/\./g, '\\.')}\\s`));
}, 120_000);
