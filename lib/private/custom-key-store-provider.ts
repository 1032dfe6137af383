import { CustomResource, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import {
  CUSTOM_KEY_STORE_RESOURCE_TYPE, CustomKeyStoreResourceProperties, QUERY_INTERVAL_SECONDS, TOTAL_TIMEOUT_MINUTES,
} from './custom-key-store-contract';
import {
  CREATE_SERVICE_LINKED_ROLE_ACTIONS, CUSTOM_KEY_STORE_HANDLER_ACTIONS, DESCRIBE_CLOUDHSM_CLUSTERS_ACTIONS, DESCRIBE_STACKS_ACTIONS, LIST_KEYS_ACTIONS,
} from './actions';
import { HandlerProvider } from './handler-provider';

/** Construct id of the per-stack provider. Part of the public contract: don't rename. */
export const CUSTOM_KEY_STORE_PROVIDER_ID = 'CdkKmsLifecycleCustomKeyStoreProvider';

/** The service-linked role KMS uses for CloudHSM key stores. */
const CKS_SERVICE = 'cks.kms.amazonaws.com';

/**
 * The custom key store provider: one per stack, with its own role, separate from the
 * key-material provider's. Waits (connect, disconnect) run in the framework's isComplete loop.
 */
export class CustomKeyStoreProvider extends HandlerProvider {
  public static getOrCreate(scope: Construct): CustomKeyStoreProvider {
    const stack = Stack.of(scope);
    const existing = stack.node.tryFindChild(CUSTOM_KEY_STORE_PROVIDER_ID);
    return (existing as CustomKeyStoreProvider | undefined) ?? new CustomKeyStoreProvider(stack, CUSTOM_KEY_STORE_PROVIDER_ID);
  }

  private cloudHsmGranted = false;
  private stackStatusGranted = false;

  private constructor(scope: Construct, id: string) {
    super(scope, id, {
      bundle: 'custom-key-store-provider',
      description: 'cdk-kms-lifecycle: creates, connects, updates and deletes KMS custom key stores',
      timeout: Duration.minutes(5),
      onEventHandler: 'onEventHandler',
      isCompleteHandler: 'isCompleteHandler',
      queryInterval: Duration.seconds(QUERY_INTERVAL_SECONDS),
      totalTimeout: Duration.minutes(TOTAL_TIMEOUT_MINUTES),
    });
    const account = Stack.of(this).account;
    // Custom key store actions accept only Resource "*": scope them to this account. DescribeKey
    // (with ListKeys) finds the keys that still live in a store before it is deleted (any key).
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: CUSTOM_KEY_STORE_HANDLER_ACTIONS,
      resources: ['*'],
      conditions: { StringEquals: { 'kms:CallerAccount': account } },
    }));
    // ListKeys has no condition keys at all (a kms:CallerAccount condition would never match).
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: LIST_KEYS_ACTIONS, resources: ['*'] }));
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'The custom key store actions (Create/Connect/Disconnect/Update/Delete/DescribeCustomKeyStores) and kms:ListKeys accept only Resource "*" in IAM, as does cloudhsm:DescribeClusters; the KMS ones are limited to this account with kms:CallerAccount. kms:DescribeKey (read-only) must reach any key of the account, to list the keys that still live in a store before it is deleted.',
    });
  }

  /** Adopted stores read this stack's status on Delete (rollback detection): this stack only. */
  public grantReadStackStatus(): void {
    if (this.stackStatusGranted) return;
    this.stackStatusGranted = true;
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: DESCRIBE_STACKS_ACTIONS, resources: [Stack.of(this).stackId] }));
  }

  /** CloudHSM key stores also need cloudhsm:DescribeClusters and the KMS custom key store service-linked role. */
  public grantCloudHsm(): void {
    if (this.cloudHsmGranted) return;
    this.cloudHsmGranted = true;
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: DESCRIBE_CLOUDHSM_CLUSTERS_ACTIONS, resources: ['*'] }));
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: CREATE_SERVICE_LINKED_ROLE_ACTIONS,
      resources: [Stack.of(this).formatArn({
        service: 'iam', region: '', resource: 'role',
        resourceName: `aws-service-role/${CKS_SERVICE}/AWSServiceRoleForKeyManagementServiceCustomKeyStores`,
      })],
      conditions: { StringEquals: { 'iam:AWSServiceName': CKS_SERVICE } },
    }));
  }
}

/** Creates the custom resource; it depends on the handler role and its policies (destroy order). */
export function createStoreResource(
  scope: Construct, provider: CustomKeyStoreProvider,
  properties: Omit<CustomKeyStoreResourceProperties, 'ServiceToken'>, removalPolicy: RemovalPolicy,
): CustomResource {
  const resource = new CustomResource(scope, 'Resource', {
    serviceToken: provider.serviceToken,
    resourceType: CUSTOM_KEY_STORE_RESOURCE_TYPE,
    properties,
    removalPolicy,
    // CloudFormation's maximum: a CloudHSM connect can take about 20 minutes.
    serviceTimeout: Duration.hours(1),
  });
  resource.node.addDependency(provider.role);
  return resource;
}
