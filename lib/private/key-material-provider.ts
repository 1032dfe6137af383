import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { DESCRIBE_STACKS_ACTIONS } from './actions';
import { HandlerProvider } from './handler-provider';
import { PolicyBuckets } from './policy-buckets';

/** Construct id of the per-stack provider. Part of the public contract: don't rename. */
export const KEY_MATERIAL_PROVIDER_ID = 'CdkKmsLifecycleKeyMaterialProvider';

/**
 * The key-material provider: one per stack, whatever the number of keys.
 *
 * Per-key permissions live in each key's policy. Only keys outside the stack (whose policy this
 * stack cannot change) add their ARN to the role's own policy, merged into one statement per set
 * of actions and conditions.
 */
export class KeyMaterialProvider extends HandlerProvider {
  public static getOrCreate(scope: Construct): KeyMaterialProvider {
    const stack = Stack.of(scope);
    const existing = stack.node.tryFindChild(KEY_MATERIAL_PROVIDER_ID);
    return (existing as KeyMaterialProvider | undefined) ?? new KeyMaterialProvider(stack, KEY_MATERIAL_PROVIDER_ID);
  }

  /** The role's statements that grant one set of actions on many keys or secrets (never one statement per key). */
  private readonly buckets: PolicyBuckets;

  private constructor(scope: Construct, id: string) {
    super(scope, id, {
      bundle: 'key-material-provider',
      description: 'cdk-kms-lifecycle: imports and deletes KMS key material',
      // KMS throttles GetParametersForImport at 1 request per second per account and Region, and CloudFormation
      // sends every key of a wave at once: the handler retries until this deadline (lambda/shared/retry.ts).
      timeout: Duration.minutes(15),
      // One Lambda function, which answers CloudFormation through aws-cdk-lib's custom resource entrypoint: the
      // Provider framework's function in front of it would double the cold start of every request for nothing
      // this resource needs (it has no waiter; the entrypoint answers the Delete after a failed Create itself).
      onEventHandler: 'main',
      direct: true,
    });

    // Rollback detection: a refused material change is accepted as a no-op while this stack rolls back, and a
    // resource that imported nothing leaves the key's material alone when a rollback deletes it.
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: DESCRIBE_STACKS_ACTIONS,
      resources: [Stack.of(this).stackId],
    }));
    this.buckets = PolicyBuckets.register(this, this.role, this.node.path);
  }

  /**
   * Lets the handler call `actions` on a key outside this stack, through the role's own policy.
   */
  public grantOnForeignKey(keyArn: string, actions: string[], conditions?: Record<string, Record<string, unknown>>): void {
    this.buckets.grant(actions, keyArn, conditions);
  }
}
