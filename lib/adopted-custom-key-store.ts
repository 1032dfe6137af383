import { RemovalPolicy } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { KeysRemainingBehaviour } from './custom-key-store';
import { CustomKeyStoreBase, validateStoreId } from './private/custom-key-store-base';
import { createStoreResource, CustomKeyStoreProvider } from './private/custom-key-store-provider';

/** Properties of `AdoptedCustomKeyStore`. */
export interface AdoptedCustomKeyStoreProps {
  /** The id of the existing store (`cks-` followed by 17 hexadecimal digits). */
  readonly customKeyStoreId: string;

  /**
   * What the delete does when KMS keys still live in the store (keys pending deletion count).
   *
   * @default KeysRemainingBehaviour.FAIL
   */
  readonly keysRemaining?: KeysRemainingBehaviour;
}

/**
 * Adopts a custom key store created elsewhere, only so that it is deleted when the stack is
 * destroyed (or this construct is removed): disconnect, wait until DISCONNECTED, delete. Nothing
 * about the store changes on deploy; the deploy fails if the store does not exist. When
 * CloudFormation deletes it to roll back the deployment that adopted it, the store is left as it
 * was. `applyRemovalPolicy(RemovalPolicy.RETAIN)` keeps the store on destroy too.
 *
 * @example
 * import { AdoptedCustomKeyStore } from 'cdk-kms-lifecycle';
 *
 * // When this stack is destroyed, delete custom key store cks-1234567890abcdef0.
 * new AdoptedCustomKeyStore(this, 'OldStore', { customKeyStoreId: 'cks-1234567890abcdef0' });
 */
export class AdoptedCustomKeyStore extends CustomKeyStoreBase {
  public readonly customKeyStoreId: string;

  /**
   * @param scope the construct scope (usually the stack) in which to define the adopted store
   * @param id the construct id, unique within `scope`
   * @param props the id of the store to adopt and what to do if keys remain in it
   */
  constructor(scope: Construct, id: string, props: AdoptedCustomKeyStoreProps) {
    super(scope, id);
    validateStoreId(`${this.node.path}: customKeyStoreId`, props.customKeyStoreId);
    const provider = CustomKeyStoreProvider.getOrCreate(this);
    // Rollback detection: a rollback of the deployment that adopted the store leaves the store as it was.
    provider.grantReadStackStatus();
    const resource = createStoreResource(this, provider, {
      Adopt: 'true',
      CustomKeyStoreId: props.customKeyStoreId,
      Connect: 'false',
      KeysRemaining: props.keysRemaining ?? KeysRemainingBehaviour.FAIL,
    }, RemovalPolicy.DESTROY);
    this.storeResource = resource;
    this.customKeyStoreId = resource.ref;
  }
}
