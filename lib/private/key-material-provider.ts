import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { DESCRIBE_STACKS_ACTIONS } from './actions';
import { HandlerProvider } from './handler-provider';

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

  private readonly foreignKeyStatements = new Map<string, iam.PolicyStatement>();

  private constructor(scope: Construct, id: string) {
    super(scope, id, {
      bundle: 'key-material-provider',
      description: 'cdk-kms-lifecycle: imports and deletes KMS key material',
      // KMS throttles GetParametersForImport at 1 request per second per account and Region, and CloudFormation
      // sends every key of a wave at once: the handler retries until this deadline (lambda/shared/retry.ts).
      timeout: Duration.minutes(15),
      onEventHandler: 'handler',
    });

    // Rollback detection: a refused material change is accepted as a no-op while this stack rolls back, and a
    // resource that imported nothing leaves the key's material alone when a rollback deletes it.
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: DESCRIBE_STACKS_ACTIONS,
      resources: [Stack.of(this).stackId],
    }));
  }

  /**
   * Lets the handler call `actions` on a key outside this stack, through the role's own policy.
   */
  public grantOnForeignKey(keyArn: string, actions: string[], conditions?: Record<string, Record<string, unknown>>): void {
    const signature = JSON.stringify([actions, conditions ?? {}]);
    let statement = this.foreignKeyStatements.get(signature);
    if (!statement) {
      statement = new iam.PolicyStatement({ actions, conditions });
      this.foreignKeyStatements.set(signature, statement);
      this.role.addToPrincipalPolicy(statement);
    }
    statement.addResources(keyArn);
  }
}
