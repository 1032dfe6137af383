import { Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct, IConstruct } from 'constructs';

/**
 * What can be known at synth time about a key passed as `kms.IKey`.
 */
export interface KeyInfo {
  /** The L1 key when the key was defined in this CDK app. */
  readonly cfnKey?: kms.CfnKey;
  /** The L1 replica key when the key is a multi-Region replica defined in this CDK app (ExternalReplicaKey). */
  readonly cfnReplicaKey?: kms.CfnReplicaKey;
  /** True when the key is defined in the same stack as `scope`, so its key policy can be edited. */
  readonly inStack: boolean;
}

/** What the app tells about `key` (no AWS call): its L1 key, and whether it is in the stack of `scope`. */
export function keyInfo(scope: IConstruct, key: kms.IKey): KeyInfo {
  const cfnKey = findCfnKey(key);
  const cfnReplicaKey = key.node.defaultChild instanceof kms.CfnReplicaKey ? key.node.defaultChild : undefined;
  const l1 = cfnKey ?? cfnReplicaKey;
  return { cfnKey, cfnReplicaKey, inStack: l1 !== undefined && Stack.of(l1) === Stack.of(scope) };
}

function findCfnKey(key: kms.IKey): kms.CfnKey | undefined {
  const child = key.node.defaultChild;
  if (child instanceof kms.CfnKey) return child;
  // kms.Key.fromCfnKey(cfnKey) returns a construct created under the CfnKey itself.
  if (key.node.scope instanceof kms.CfnKey) return key.node.scope;
  return undefined;
}

/**
 * Fails at synth time for keys that can never have their imported material managed from `scope`.
 */
export function validateKey(scope: Construct, key: kms.IKey, info: KeyInfo): void {
  const stack = Stack.of(scope);
  const keyAccount = key.env.account;
  if (!Token.isUnresolved(keyAccount) && !Token.isUnresolved(stack.account) && keyAccount !== stack.account) {
    throw new Error(`${scope.node.path}: key ${key.keyArn} is in account ${keyAccount}, but this stack deploys to account ${stack.account}; KMS does not allow importing or deleting key material across accounts. Manage the material from a stack in account ${keyAccount}.`);
  }
  const origin = info.cfnKey?.origin;
  if (info.cfnKey && (origin === undefined || !Token.isUnresolved(origin)) && (origin ?? 'AWS_KMS') !== 'EXTERNAL') {
    throw new Error(`${scope.node.path}: key ${info.cfnKey.node.path} has Origin ${origin ?? 'AWS_KMS (the default)'}; only keys with Origin EXTERNAL hold imported key material. Use ExternalKey, or set Origin to EXTERNAL on the key.`);
  }
}

/**
 * Adds `statement` to the key policy when the key is in the stack; otherwise calls `fallback`.
 */
export function addToKeyPolicyOrElse(key: kms.IKey, info: KeyInfo, statement: iam.PolicyStatement, fallback: () => void): void {
  if (info.inStack && key.addToResourcePolicy(statement).statementAdded) return;
  fallback();
}

/** A statement for the key's own policy ("Resource": "*" means this key there). */
export function keyPolicyStatement(principal: iam.IPrincipal, actions: string[], conditions?: Record<string, Record<string, unknown>>): iam.PolicyStatement {
  return new iam.PolicyStatement({ principals: [principal], actions, resources: ['*'], conditions });
}

/**
 * Grants `actions` on `key` to `grantee`: in the key policy when the key is in the stack,
 * otherwise in the grantee's IAM policy, scoped to the key ARN.
 */
export function grantOnKey(scope: IConstruct, key: kms.IKey, grantee: iam.IGrantable, actions: string[]): iam.Grant {
  const info = keyInfo(scope, key);
  if (info.inStack) {
    const statement = keyPolicyStatement(grantee.grantPrincipal, actions);
    return iam.Grant.addStatementToResourcePolicy({ grantee, actions, resourceArns: ['*'], resource: key, statement });
  }
  return iam.Grant.addToPrincipal({ grantee, actions, resourceArns: [key.keyArn] });
}
