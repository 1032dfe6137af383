import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { createApp } from '../example/app';

function acknowledgements(root: IConstruct): { path: string; id: string; reason: unknown }[] {
  const out: { path: string; id: string; reason: unknown }[] = [];
  for (const c of root.node.findAll()) {
    for (const entry of c.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, unknown>)) out.push({ path: c.node.path, id, reason });
    }
  }
  return out;
}

test('cdk-nag AwsSolutions finds nothing unacknowledged in the example app', () => {
  const report = new AwsSolutionsChecks().validateScope(createApp());
  expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(',')}`)).toEqual([]);
  expect(report.success).toBe(true);
});

test('every acknowledgement carries a reason, and KMS5 is acknowledged only on EXTERNAL keys', () => {
  const acks = acknowledgements(createApp());
  expect(acks.length).toBeGreaterThan(0);
  for (const ack of acks) expect(typeof ack.reason === 'string' && ack.reason.length > 20 ? ack.path : `${ack.path} ${ack.id} has no reason`).toBe(ack.path);
  expect(acks.filter((a) => a.id.endsWith('AwsSolutions-KMS5')).map((a) => a.path)).toEqual(['KmsLifecycleExample/AppKey/Resource', 'KmsLifecycleExamplePrimary/OrdersKey/Resource']);
});
