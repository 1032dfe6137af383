import { App, Stack } from 'aws-cdk-lib';
import { Template as CdkTemplate } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { ExternalKey, ImportedKeyMaterial, KeyMaterial } from '../lib';
import {
  accountRootKeyPolicy, identityPoliciesOf, kmsKeyActions, KeyUnderTest, simulate, templateKey,
} from './util/simulate';
import { physicalArn, resolve, Template, TEST_ENV } from './util/template';

/**
 * Least privilege, proven with iam-simulate over the synthesized template: every KMS key action ×
 * {this key, another key in the stack, a protected key outside the stack, an unrelated key outside
 * the stack}, for the handler role and for two grantees. Only the needed cells are Allowed.
 */

const FOREIGN_KEY = `arn:aws:kms:us-east-1:${TEST_ENV.account}:key/11111111-2222-3333-4444-555555555555`;
const UNRELATED_KEY = `arn:aws:kms:us-east-1:${TEST_ENV.account}:key/99999999-8888-7777-6666-555555555555`;

/** The request context the handler sends with each action (conditions are evaluated on it). */
const HANDLER_CONTEXT: Record<string, Record<string, string>> = {
  'kms:GetParametersForImport': { 'kms:WrappingAlgorithm': 'RSAES_OAEP_SHA_256', 'kms:WrappingKeySpec': 'RSA_4096' },
  'kms:ImportKeyMaterial': { 'kms:ExpirationModel': 'KEY_MATERIAL_DOES_NOT_EXPIRE' },
};

let template: Template;
let keys: Record<string, KeyUnderTest>;
let actions: string[];

function logicalId(prefix: string, type: string): string {
  const ids = Object.entries(template.Resources).filter(([id, r]) => id.startsWith(prefix) && r.Type === type).map(([id]) => id);
  expect(ids).toHaveLength(1);
  return ids[0];
}

beforeAll(async () => {
  const stack = new Stack(new App(), TEST_ENV.stackName, { env: { account: TEST_ENV.account, region: TEST_ENV.region } });
  const secret = new secretsmanager.Secret(stack, 'MaterialSecret');
  const thisKey = new ExternalKey(stack, 'ThisKey', { material: KeyMaterial.fromSecret(secret) });
  new kms.Key(stack, 'OtherKey');
  const foreign = new ImportedKeyMaterial(stack, 'ForeignMaterial', { key: kms.Key.fromKeyArn(stack, 'Foreign', FOREIGN_KEY) });
  thisKey.grantDeleteImportedKeyMaterial(new iam.Role(stack, 'BreakGlass', { assumedBy: new iam.AccountRootPrincipal() }));
  foreign.grantImportKeyMaterial(new iam.Role(stack, 'Importer', { assumedBy: new iam.AccountRootPrincipal() }));
  template = CdkTemplate.fromStack(stack).toJSON() as Template;

  keys = {
    thisKey: templateKey(template, logicalId('ThisKey', 'AWS::KMS::Key')),
    otherKey: templateKey(template, logicalId('OtherKey', 'AWS::KMS::Key')),
    protectedOutsideKey: { arn: FOREIGN_KEY, keyPolicy: accountRootKeyPolicy() },
    unrelatedOutsideKey: { arn: UNRELATED_KEY, keyPolicy: accountRootKeyPolicy() },
  };
  actions = await kmsKeyActions();
});

async function allowedCells(roleLogicalId: string, context: Record<string, Record<string, string>> = {}): Promise<Record<string, string[]>> {
  const identityPolicies = identityPoliciesOf(template, roleLogicalId);
  const principalArn = physicalArn(template, roleLogicalId);
  const allowed: Record<string, string[]> = {};
  for (const [name, key] of Object.entries(keys)) {
    allowed[name] = [];
    for (const action of actions) {
      const decision = await simulate({
        principalArn, identityPolicies, action, resourceArn: key.arn, resourcePolicy: key.keyPolicy, context: context[action],
      });
      if (decision === 'Allowed') allowed[name].push(action);
    }
  }
  return allowed;
}

test('the matrix covers every KMS key action', () => {
  expect(actions.length).toBeGreaterThan(40);
  expect(actions).toEqual(expect.arrayContaining(['kms:DeleteImportedKeyMaterial', 'kms:ImportKeyMaterial', 'kms:Decrypt', 'kms:ScheduleKeyDeletion']));
});

test('the handler role can do exactly what the handler needs, key by key', async () => {
  const allowed = await allowedCells(logicalId('CdkKmsLifecycleKeyMaterialProviderHandlerRole', 'AWS::IAM::Role'), HANDLER_CONTEXT);
  expect(allowed).toEqual({
    thisKey: ['kms:DeleteImportedKeyMaterial', 'kms:DescribeKey', 'kms:GetParametersForImport', 'kms:ImportKeyMaterial', 'kms:ListKeyRotations', 'kms:RotateKeyOnDemand'],
    otherKey: [],
    protectedOutsideKey: ['kms:DeleteImportedKeyMaterial', 'kms:DescribeKey', 'kms:ListKeyRotations'],
    unrelatedOutsideKey: [],
  });
});

test('import permissions hold only under the wrapping and expiration conditions the handler uses', async () => {
  const role = logicalId('CdkKmsLifecycleKeyMaterialProviderHandlerRole', 'AWS::IAM::Role');
  const base = { principalArn: physicalArn(template, role), identityPolicies: identityPoliciesOf(template, role), resourceArn: keys.thisKey.arn, resourcePolicy: keys.thisKey.keyPolicy };
  expect(await simulate({ ...base, action: 'kms:GetParametersForImport', context: { 'kms:WrappingAlgorithm': 'RSAES_OAEP_SHA_1', 'kms:WrappingKeySpec': 'RSA_4096' } })).toBe('ImplicitlyDenied');
  expect(await simulate({ ...base, action: 'kms:GetParametersForImport', context: { 'kms:WrappingAlgorithm': 'RSAES_OAEP_SHA_256', 'kms:WrappingKeySpec': 'RSA_2048' } })).toBe('ImplicitlyDenied');
  expect(await simulate({ ...base, action: 'kms:ImportKeyMaterial', context: { 'kms:ExpirationModel': 'KEY_MATERIAL_EXPIRES' } })).toBe('ImplicitlyDenied');
});

test('the handler role reads exactly the material secret', async () => {
  const role = logicalId('CdkKmsLifecycleKeyMaterialProviderHandlerRole', 'AWS::IAM::Role');
  const base = { principalArn: physicalArn(template, role), identityPolicies: identityPoliciesOf(template, role) };
  const secretArn = physicalArn(template, logicalId('MaterialSecret', 'AWS::SecretsManager::Secret'));
  expect(await simulate({ ...base, action: 'secretsmanager:GetSecretValue', resourceArn: secretArn })).toBe('Allowed');
  expect(await simulate({ ...base, action: 'secretsmanager:DescribeSecret', resourceArn: secretArn })).toBe('ImplicitlyDenied');
  expect(await simulate({ ...base, action: 'secretsmanager:GetSecretValue', resourceArn: `arn:aws:secretsmanager:us-east-1:${TEST_ENV.account}:secret:other-AbCdEf` })).toBe('ImplicitlyDenied');
});

test('a grantee of grantDeleteImportedKeyMaterial gets exactly that action on that key', async () => {
  expect(await allowedCells(logicalId('BreakGlass', 'AWS::IAM::Role'))).toEqual({
    thisKey: ['kms:DeleteImportedKeyMaterial'], otherKey: [], protectedOutsideKey: [], unrelatedOutsideKey: [],
  });
});

test('a grantee of grantImportKeyMaterial on an outside key gets exactly the import actions on that key', async () => {
  expect(await allowedCells(logicalId('Importer', 'AWS::IAM::Role'))).toEqual({
    thisKey: [], otherKey: [], protectedOutsideKey: ['kms:GetParametersForImport', 'kms:ImportKeyMaterial'], unrelatedOutsideKey: [],
  });
});

test('the handler role may read the status of its own stack only (rollback detection)', async () => {
  const role = logicalId('CdkKmsLifecycleKeyMaterialProviderHandlerRole', 'AWS::IAM::Role');
  const base = { principalArn: physicalArn(template, role), identityPolicies: identityPoliciesOf(template, role), action: 'cloudformation:DescribeStacks' };
  const own = `arn:aws:cloudformation:${TEST_ENV.region}:${TEST_ENV.account}:stack/${TEST_ENV.stackName}/`;
  const stackId = String(resolve(template, { Ref: 'AWS::StackId' }));
  expect(stackId.startsWith(own)).toBe(true);
  expect(await simulate({ ...base, resourceArn: stackId })).toBe('Allowed');
  expect(await simulate({ ...base, resourceArn: `arn:aws:cloudformation:${TEST_ENV.region}:${TEST_ENV.account}:stack/OtherStack/00000000-0000-0000-0000-000000000000` })).toBe('ImplicitlyDenied');
});
