import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** `npx cdk synth` on the example app in cdk.json works with no AWS account, and cdk-nag passes. */
test('npx cdk synth synthesizes the example app', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-out-'));
  try {
    execFileSync('npx', ['cdk', 'synth', '--quiet', '--output', out], { cwd: path.join(__dirname, '..'), stdio: 'pipe', env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1' } });
    const template = JSON.parse(fs.readFileSync(path.join(out, 'KmsLifecycleExample.template.json'), 'utf8'));
    const types = Object.values<any>(template.Resources).map((r) => r.Type);
    expect(types.filter((t) => t === 'Custom::KmsImportedKeyMaterial')).toHaveLength(2);
    const materials = Object.values<any>(template.Resources).filter((r) => r.Type === 'Custom::KmsImportedKeyMaterial');
    expect(materials.map((r) => r.DeletionPolicy)).toEqual(['Delete', 'Delete']);
    expect(materials.find((r) => r.Properties.ValidFor)?.Properties).toMatchObject({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidFor: String(365 * 86_400) });
    const keys = Object.values<any>(template.Resources).filter((r) => r.Type === 'AWS::KMS::Key');
    expect(keys.map((k) => k.Properties.Origin)).toEqual(['EXTERNAL']);
    const report = JSON.parse(fs.readFileSync(path.join(out, 'policy-validation-report.json'), 'utf8'));
    expect(report.pluginReports.flatMap((p: any) => p.violations ?? [])).toEqual([]);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
