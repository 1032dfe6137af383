import { App, Stack } from 'aws-cdk-lib';
import { Template as CdkTemplate } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { ExternalKey, ExternalReplicaKey, KeyMaterial } from '../lib';
import { accountRootKeyPolicy, identityPoliciesOf, kmsKeyActions, simulate } from './util/simulate';
import { Env, physicalArn, resolve, Template, TEST_ENV } from './util/template';

/**
 * Least privilege across Regions, proven with iam-simulate over the two synthesized templates: the primary Region's
 * handler role may import (and only import) into the replica, whose key policy names it; the replica's own handler
 * role manages only the replica's material. Every KMS key action × {the replica, an unrelated key in the replica's
 * Region} for both roles.
 */

let PRIMARY_ENV: Env = { account: TEST_ENV.account, region: 'us-east-1', stackName: 'Primary' };
const REPLICA_ENV: Env = { account: TEST_ENV.account, region: 'eu-west-1', stackName: 'Replica' };
const KEY_ID = 'mrk-1234abcd12ab34cd56ef1234567890ab';
const REPLICA_ARN = `arn:aws:kms:${REPLICA_ENV.region}:${TEST_ENV.account}:key/${KEY_ID}`;
const UNRELATED_ARN = `arn:aws:kms:${REPLICA_ENV.region}:${TEST_ENV.account}:key/99999999-8888-7777-6666-555555555555`;

/** The request context the handler sends (conditions are evaluated on it). */
const HANDLER_CONTEXT: Record<string, Record<string, string>> = {
  'kms:GetParametersForImport': { 'kms:WrappingAlgorithm': 'RSAES_OAEP_SHA_256', 'kms:WrappingKeySpec': 'RSA_4096' },
  'kms:ImportKeyMaterial': { 'kms:ExpirationModel': 'KEY_MATERIAL_DOES_NOT_EXPIRE' },
};

let primary: Template;
let replica: Template;
let replicaKeyPolicy: any;
let actions: string[];
let replicaEnv: Env;

function logicalId(template: Template, prefix: string, type: string): string {
  const ids = Object.entries(template.Resources).filter(([id, r]) => id.startsWith(prefix) && r.Type === type).map(([id]) => id);
  expect(ids).toHaveLength(1);
  return ids[0];
}

const HANDLER_ROLE = 'CdkKmsLifecycleKeyMaterialProviderHandlerRole';

beforeAll(async () => {
  const app = new App();
  const primaryStack = new Stack(app, 'Primary', { env: { account: TEST_ENV.account, region: PRIMARY_ENV.region } });
  const replicaStack = new Stack(app, 'Replica', { env: { account: TEST_ENV.account, region: REPLICA_ENV.region } });
  const key = new ExternalKey(primaryStack, 'Key', { multiRegion: true, material: KeyMaterial.fromSecret(new secretsmanager.Secret(primaryStack, 'Material')) });
  new ExternalReplicaKey(replicaStack, 'Replica', {
    primaryKey: key,
    material: KeyMaterial.fromSecret(secretsmanager.Secret.fromSecretNameV2(replicaStack, 'Material', 'app/material')),
  });
  primary = CdkTemplate.fromStack(primaryStack).toJSON() as Template;
  replica = CdkTemplate.fromStack(replicaStack).toJSON() as Template;

  // Each stack's handler role has its own name (the logical ids are the same in both stacks).
  const role = (t: Template, env: Env) => ({ [logicalId(t, HANDLER_ROLE, 'AWS::IAM::Role')]: { ref: `${env.stackName}-HandlerRole`, arn: `arn:aws:iam::${TEST_ENV.account}:role/${env.stackName}-HandlerRole` } });
  PRIMARY_ENV = { ...PRIMARY_ENV, physicalIds: role(primary, PRIMARY_ENV) };
  // What the cross-Region reference reads in the replica's Region: the primary handler role's ARN.
  const reader = logicalId(replica, 'ExportsReader', 'Custom::CrossRegionExportReader');
  const imports = replica.Resources[reader].Properties!.ReaderProps.imports as Record<string, string>;
  const writer = logicalId(primary, 'ExportsWriter', 'Custom::CrossRegionExportWriter');
  const exported = primary.Resources[writer].Properties!.WriterProps.exports as Record<string, unknown>;
  const attributes = Object.fromEntries(Object.keys(imports).map((name) => [name, String(resolve(primary, exported[name], PRIMARY_ENV))]));
  const replicaKey = logicalId(replica, 'Replica', 'AWS::KMS::ReplicaKey');
  replicaEnv = {
    ...REPLICA_ENV,
    physicalIds: { ...role(replica, REPLICA_ENV), [reader]: { ref: reader, attributes }, [replicaKey]: { ref: KEY_ID, arn: REPLICA_ARN, attributes: { KeyId: KEY_ID, Arn: REPLICA_ARN } } },
  };
  replicaKeyPolicy = resolve(replica, replica.Resources[replicaKey].Properties!.KeyPolicy, replicaEnv);
  actions = await kmsKeyActions();
});

async function allowed(template: Template, env: Env, role: string): Promise<Record<string, string[]>> {
  const principalArn = physicalArn(template, role, env);
  const identityPolicies = identityPoliciesOf(template, role, env);
  const out: Record<string, string[]> = { replica: [], unrelatedKey: [] };
  for (const action of actions) {
    if (await simulate({ principalArn, identityPolicies, action, resourceArn: REPLICA_ARN, resourcePolicy: replicaKeyPolicy, context: HANDLER_CONTEXT[action] }) === 'Allowed') {
      out.replica.push(action);
    }
    if (await simulate({ principalArn, identityPolicies, action, resourceArn: UNRELATED_ARN, resourcePolicy: accountRootKeyPolicy(), context: HANDLER_CONTEXT[action] }) === 'Allowed') {
      out.unrelatedKey.push(action);
    }
  }
  return out;
}

test('the primary Region\'s handler role may only import into the replica (for a rotation), through the replica\'s key policy', async () => {
  expect(await allowed(primary, PRIMARY_ENV, logicalId(primary, HANDLER_ROLE, 'AWS::IAM::Role'))).toEqual({
    replica: ['kms:GetParametersForImport', 'kms:ImportKeyMaterial'],
    unrelatedKey: [],
  });
});

test('the primary handler\'s import into the replica holds only with the wrapping the handler uses', async () => {
  const role = logicalId(primary, HANDLER_ROLE, 'AWS::IAM::Role');
  const base = { principalArn: physicalArn(primary, role, PRIMARY_ENV), identityPolicies: [], resourceArn: REPLICA_ARN, resourcePolicy: replicaKeyPolicy };
  expect(await simulate({ ...base, action: 'kms:GetParametersForImport', context: HANDLER_CONTEXT['kms:GetParametersForImport'] })).toBe('Allowed');
  expect(await simulate({ ...base, action: 'kms:GetParametersForImport', context: { 'kms:WrappingAlgorithm': 'RSAES_OAEP_SHA_1', 'kms:WrappingKeySpec': 'RSA_4096' } })).toBe('ImplicitlyDenied');
});

test('the replica\'s own handler role manages exactly the replica\'s material, and never rotates it', async () => {
  const result = await allowed(replica, replicaEnv, logicalId(replica, HANDLER_ROLE, 'AWS::IAM::Role'));
  expect(result.unrelatedKey).toEqual([]);
  expect(result.replica).toEqual(['kms:DeleteImportedKeyMaterial', 'kms:DescribeKey', 'kms:GetParametersForImport', 'kms:ImportKeyMaterial', 'kms:ListKeyRotations']);
});

test('on its own multi-Region symmetric key, the primary\'s handler role may rotate (and list the materials to destroy them all)', async () => {
  const role = logicalId(primary, HANDLER_ROLE, 'AWS::IAM::Role');
  const keyId = logicalId(primary, 'Key', 'AWS::KMS::Key');
  const principalArn = physicalArn(primary, role, PRIMARY_ENV);
  const identityPolicies = identityPoliciesOf(primary, role, PRIMARY_ENV);
  const resourceArn = physicalArn(primary, keyId, PRIMARY_ENV);
  const resourcePolicy = resolve(primary, primary.Resources[keyId].Properties!.KeyPolicy, PRIMARY_ENV);
  const allowedActions: string[] = [];
  for (const action of actions) {
    if (await simulate({ principalArn, identityPolicies, action, resourceArn, resourcePolicy, context: HANDLER_CONTEXT[action] }) === 'Allowed') allowedActions.push(action);
  }
  expect(allowedActions).toEqual([
    'kms:DeleteImportedKeyMaterial', 'kms:DescribeKey', 'kms:GetParametersForImport', 'kms:ImportKeyMaterial', 'kms:ListKeyRotations', 'kms:RotateKeyOnDemand',
  ]);
});
