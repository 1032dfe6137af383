import { CustomResource, RemovalPolicy, Resource, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { CUSTOM_KEY_STORE_ID_PATTERN } from './custom-key-store-contract';
import type { ICustomKeyStore } from '../custom-key-store';
import {
  CONNECT_CUSTOM_KEY_STORE_ACTIONS, DELETE_CUSTOM_KEY_STORE_ACTIONS, DESCRIBE_CUSTOM_KEY_STORES_ACTIONS,
  DISCONNECT_CUSTOM_KEY_STORE_ACTIONS,
} from './actions';
import { validatePattern } from './validation';

/**
 * Grants shared by every custom key store. KMS accepts only `Resource: "*"` for custom key store
 * actions, so a grant covers the stores of this account (kms:CallerAccount), not one store.
 *
 * @internal jsii hides this base class: each store class exposes the grant methods itself.
 */
export abstract class CustomKeyStoreBase extends Resource implements ICustomKeyStore {
  public abstract readonly customKeyStoreId: string;

  /** The custom resource that manages the store (undefined for `fromCustomKeyStoreId`). */
  protected storeResource?: CustomResource;

  /**
   * Sets what happens to the store when it is removed from the stack or the stack is destroyed:
   * the store resource's DeletionPolicy and UpdateReplacePolicy (DESTROY or RETAIN).
   *
   * @param policy `RemovalPolicy.DESTROY` (disconnect and delete the store) or `RemovalPolicy.RETAIN` (leave it)
   */
  public applyRemovalPolicy(policy: RemovalPolicy): void {
    if (!this.storeResource) {
      throw new Error(`${this.node.path}: a store referenced with fromCustomKeyStoreId is not managed by this stack, so it has no removal policy`);
    }
    if (policy !== RemovalPolicy.DESTROY && policy !== RemovalPolicy.RETAIN) {
      throw new Error(`${this.node.path}: the removal policy of a custom key store must be DESTROY or RETAIN, got ${policy}`);
    }
    this.storeResource.applyRemovalPolicy(policy);
  }

  /**
   * Grants kms:DeleteCustomKeyStore (IAM allows only `Resource: "*"`, limited to this account).
   *
   * @param grantee the principal to grant the permission to (a role, user, group or any `iam.IGrantable`)
   */
  public grantDelete(grantee: iam.IGrantable): iam.Grant {
    return this.grant(grantee, DELETE_CUSTOM_KEY_STORE_ACTIONS);
  }

  /**
   * Grants kms:ConnectCustomKeyStore (IAM allows only `Resource: "*"`, limited to this account).
   *
   * @param grantee the principal to grant the permission to (a role, user, group or any `iam.IGrantable`)
   */
  public grantConnect(grantee: iam.IGrantable): iam.Grant {
    return this.grant(grantee, CONNECT_CUSTOM_KEY_STORE_ACTIONS);
  }

  /**
   * Grants kms:DisconnectCustomKeyStore (IAM allows only `Resource: "*"`, limited to this account).
   *
   * @param grantee the principal to grant the permission to (a role, user, group or any `iam.IGrantable`)
   */
  public grantDisconnect(grantee: iam.IGrantable): iam.Grant {
    return this.grant(grantee, DISCONNECT_CUSTOM_KEY_STORE_ACTIONS);
  }

  /**
   * Grants kms:DescribeCustomKeyStores (IAM allows only `Resource: "*"`, limited to this account).
   *
   * @param grantee the principal to grant the permission to (a role, user, group or any `iam.IGrantable`)
   */
  public grantDescribe(grantee: iam.IGrantable): iam.Grant {
    return this.grant(grantee, DESCRIBE_CUSTOM_KEY_STORES_ACTIONS);
  }

  private grant(grantee: iam.IGrantable, actions: string[]): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions,
      resourceArns: ['*'],
      conditions: { StringEquals: { 'kms:CallerAccount': Stack.of(this).account } },
    });
  }
}

export function validateStoreId(what: string, id: string): void {
  validatePattern(what, id, CUSTOM_KEY_STORE_ID_PATTERN, "match 'cks-' followed by 17 hexadecimal digits");
}
