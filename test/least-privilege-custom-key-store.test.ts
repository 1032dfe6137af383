import { App, Stack } from 'aws-cdk-lib';
import { Template as CdkTemplate } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AdoptedCustomKeyStore, CustomKeyStore, ExternalKey, KeyMaterial, KeyStoreBackend } from '../lib';
import {
  accountRootKeyPolicy, identityPoliciesOf, kmsKeyActions, kmsWildcardOnlyActions, simulate, templateKey,
} from './util/simulate';
import { physicalArn, resolve, Template, TEST_ENV } from './util/template';

/**
 * Least privilege of the custom key store role, proven with iam-simulate: it can do exactly the
 * store work (on "*", as the API requires, for this caller account), and nothing of the
 * key-material role's work — and the reverse.
 */

const CALLER = { 'kms:CallerAccount': TEST_ENV.account };
const OUTSIDE_KEY = `arn:aws:kms:us-east-1:${TEST_ENV.account}:key/11111111-2222-3333-4444-555555555555`;
let template: Template;
let wildcardOnly: string[];
let keyActions: string[];

function roleId(prefix: string): string {
  return Object.entries(template.Resources).find(([id, r]) => id.startsWith(prefix) && r.Type === 'AWS::IAM::Role')![0];
}

beforeAll(async () => {
  const stack = new Stack(new App(), TEST_ENV.stackName, { env: { account: TEST_ENV.account, region: TEST_ENV.region } });
  const store = new CustomKeyStore(stack, 'Store', {
    customKeyStoreName: 'hsm',
    backend: KeyStoreBackend.cloudHsm({ clusterId: 'cluster-abcdefghijk', trustAnchorCertificate: '-----BEGIN CERTIFICATE-----\n', kmsUserPassword: new secretsmanager.Secret(stack, 'Password') }),
  });
  new ExternalKey(stack, 'ThisKey', { material: KeyMaterial.fromSecret(new secretsmanager.Secret(stack, 'Material')) });
  store.grantDelete(new iam.Role(stack, 'Deleter', { assumedBy: new iam.AccountRootPrincipal() }));
  const ops = new iam.Role(stack, 'Ops', { assumedBy: new iam.AccountRootPrincipal() });
  store.grantConnect(ops);
  store.grantDisconnect(ops);
  store.grantDescribe(ops);
  template = CdkTemplate.fromStack(stack).toJSON() as Template;
  wildcardOnly = await kmsWildcardOnlyActions();
  keyActions = await kmsKeyActions();
});

async function allowedWildcardActions(role: string): Promise<string[]> {
  const identityPolicies = identityPoliciesOf(template, role);
  const out: string[] = [];
  for (const action of wildcardOnly) {
    if (await simulate({ principalArn: physicalArn(template, role), identityPolicies, action, resourceArn: '*', context: CALLER }) === 'Allowed') out.push(action);
  }
  return out;
}

async function allowedKeyActions(role: string, key: { arn: string; keyPolicy: any }): Promise<string[]> {
  const identityPolicies = identityPoliciesOf(template, role);
  const out: string[] = [];
  for (const action of keyActions) {
    const decision = await simulate({ principalArn: physicalArn(template, role), identityPolicies, action, resourceArn: key.arn, resourcePolicy: key.keyPolicy, context: CALLER });
    if (decision === 'Allowed') out.push(action);
  }
  return out;
}

test('the store role can call exactly the custom key store actions and ListKeys', async () => {
  expect(await allowedWildcardActions(roleId('CdkKmsLifecycleCustomKeyStoreProviderHandlerRole'))).toEqual([
    'kms:ConnectCustomKeyStore', 'kms:CreateCustomKeyStore', 'kms:DeleteCustomKeyStore', 'kms:DescribeCustomKeyStores',
    'kms:DisconnectCustomKeyStore', 'kms:ListKeys', 'kms:UpdateCustomKeyStore',
  ]);
});

test('the store role can only describe keys, never touch their material', async () => {
  const role = roleId('CdkKmsLifecycleCustomKeyStoreProviderHandlerRole');
  const thisKey = Object.keys(template.Resources).find((id) => id.startsWith('ThisKey') && template.Resources[id].Type === 'AWS::KMS::Key')!;
  expect(await allowedKeyActions(role, templateKey(template, thisKey))).toEqual(['kms:DescribeKey']);
  expect(await allowedKeyActions(role, { arn: OUTSIDE_KEY, keyPolicy: accountRootKeyPolicy() })).toEqual(['kms:DescribeKey']);
});

test('the key-material role cannot do any custom key store work', async () => {
  expect(await allowedWildcardActions(roleId('CdkKmsLifecycleKeyMaterialProviderHandlerRole'))).toEqual([]);
});

test('the store role reads exactly its password secret, and gets the CloudHSM extras', async () => {
  const role = roleId('CdkKmsLifecycleCustomKeyStoreProviderHandlerRole');
  const base = { principalArn: physicalArn(template, role), identityPolicies: identityPoliciesOf(template, role) };
  const secret = (prefix: string) => physicalArn(template, Object.keys(template.Resources).find((id) => id.startsWith(prefix))!);
  expect(await simulate({ ...base, action: 'secretsmanager:GetSecretValue', resourceArn: secret('Password') })).toBe('Allowed');
  expect(await simulate({ ...base, action: 'secretsmanager:GetSecretValue', resourceArn: secret('Material') })).toBe('ImplicitlyDenied');
  expect(await simulate({ ...base, action: 'cloudhsm:DescribeClusters', resourceArn: '*' })).toBe('Allowed');
  const slr = `arn:aws:iam::${TEST_ENV.account}:role/aws-service-role/cks.kms.amazonaws.com/AWSServiceRoleForKeyManagementServiceCustomKeyStores`;
  expect(await simulate({ ...base, action: 'iam:CreateServiceLinkedRole', resourceArn: slr, context: { 'iam:AWSServiceName': 'cks.kms.amazonaws.com' } })).toBe('Allowed');
  expect(await simulate({ ...base, action: 'iam:CreateServiceLinkedRole', resourceArn: slr, context: { 'iam:AWSServiceName': 'elasticloadbalancing.amazonaws.com' } })).toBe('ImplicitlyDenied');
  expect(await simulate({ ...base, action: 'iam:CreateServiceLinkedRole', resourceArn: `arn:aws:iam::${TEST_ENV.account}:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing`, context: { 'iam:AWSServiceName': 'cks.kms.amazonaws.com' } })).toBe('ImplicitlyDenied');
});

test('grantees get exactly the store actions their grants name', async () => {
  expect(await allowedWildcardActions(roleId('Deleter'))).toEqual(['kms:DeleteCustomKeyStore']);
  expect(await allowedWildcardActions(roleId('Ops'))).toEqual(['kms:ConnectCustomKeyStore', 'kms:DescribeCustomKeyStores', 'kms:DisconnectCustomKeyStore']);
});

test('with an adopted store, the store role may read the status of its own stack only (rollback detection)', async () => {
  const stack = new Stack(new App(), TEST_ENV.stackName, { env: { account: TEST_ENV.account, region: TEST_ENV.region } });
  new AdoptedCustomKeyStore(stack, 'Old', { customKeyStoreId: 'cks-1234567890abcdef0' });
  const adopted = CdkTemplate.fromStack(stack).toJSON() as Template;
  const role = Object.entries(adopted.Resources).find(([id, r]) => id.startsWith('CdkKmsLifecycleCustomKeyStoreProviderHandlerRole') && r.Type === 'AWS::IAM::Role')![0];
  const base = { principalArn: physicalArn(adopted, role), identityPolicies: identityPoliciesOf(adopted, role), action: 'cloudformation:DescribeStacks' };
  expect(await simulate({ ...base, resourceArn: String(resolve(adopted, { Ref: 'AWS::StackId' })) })).toBe('Allowed');
  expect(await simulate({ ...base, resourceArn: `arn:aws:cloudformation:${TEST_ENV.region}:${TEST_ENV.account}:stack/OtherStack/00000000-0000-0000-0000-000000000000` })).toBe('ImplicitlyDenied');
  // Without an adopted store, no CloudFormation permission at all.
  expect(JSON.stringify(identityPoliciesOf(template, roleId('CdkKmsLifecycleCustomKeyStoreProviderHandlerRole')))).not.toContain('cloudformation:');
});
