import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template as CdkTemplate } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { ExternalKey, ImportedKeyMaterial, KeyMaterial } from '../lib';
import { destroyOrderViolations } from './util/destroy-order';
import { deletionOrder, Template } from './util/template';

function keyMaterialStack(): Template {
  const stack = new Stack(new App(), 'TestStack', { env: { account: '111111111111', region: 'us-east-1' } });
  const secret = new secretsmanager.Secret(stack, 'MaterialSecret', { encryptionKey: new kms.Key(stack, 'SecretKey') });
  new ExternalKey(stack, 'AppKey', { material: KeyMaterial.fromSecret(secret), removalPolicy: RemovalPolicy.DESTROY });
  new ImportedKeyMaterial(stack, 'Foreign', { key: kms.Key.fromKeyArn(stack, 'F', 'arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab') });
  return CdkTemplate.fromStack(stack).toJSON() as Template;
}

function idOf(template: Template, prefix: string, type: string): string {
  return Object.entries(template.Resources).find(([id, r]) => id.startsWith(prefix) && r.Type === type)![0];
}

test('every key-material resource is deleted while its role, policies, key-policy statements and secret exist', () => {
  expect(destroyOrderViolations(keyMaterialStack())).toEqual([]);
});

test('on destroy the material resource goes first, then the key is scheduled for deletion, then the role', () => {
  const template = keyMaterialStack();
  const order = deletionOrder(template);
  const material = order.indexOf(idOf(template, 'AppKeyMaterial', 'Custom::KmsImportedKeyMaterial'));
  const key = order.indexOf(idOf(template, 'AppKey', 'AWS::KMS::Key'));
  const role = order.indexOf(idOf(template, 'CdkKmsLifecycleKeyMaterialProviderHandlerRole', 'AWS::IAM::Role'));
  const policy = order.indexOf(idOf(template, 'CdkKmsLifecycleKeyMaterialProviderHandlerRoleDefaultPolicy', 'AWS::IAM::Policy'));
  const secret = order.indexOf(idOf(template, 'MaterialSecret', 'AWS::SecretsManager::Secret'));
  expect(material).toBeLessThan(key);
  expect(key).toBeLessThan(role);
  expect(material).toBeLessThan(policy);
  expect(material).toBeLessThan(secret);
});

test('the check catches a handler permission that the custom resource does not wait for', () => {
  const stack = new Stack(new App(), 'TestStack', { env: { account: '111111111111', region: 'us-east-1' } });
  new ExternalKey(stack, 'AppKey');
  // A policy attached to the handler role after the fact, which nothing makes the resource depend on.
  const role = stack.node.findAll().find((c): c is iam.Role => c instanceof iam.Role && c.node.id === 'HandlerRole')!;
  new iam.Policy(stack, 'LatePolicy', { roles: [role], statements: [new iam.PolicyStatement({ actions: ['kms:DescribeKey'], resources: ['*'] })] });

  const violations = destroyOrderViolations(CdkTemplate.fromStack(stack).toJSON() as Template);
  expect(violations).toEqual([expect.stringMatching(/^AppKeyMaterial[0-9A-F]{8} is not deleted before LatePolicy[0-9A-F]{8} \(a policy of handler role CdkKmsLifecycleKeyMaterialProviderHandlerRole[0-9A-F]{8}\)$/)]);
});
