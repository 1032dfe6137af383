import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { ImportedKeyMaterial, KeyMaterialOptions } from './imported-key-material';
import { DELETE_IMPORTED_KEY_MATERIAL_ACTIONS, IMPORT_KEY_MATERIAL_ACTIONS } from './private/actions';
import { grantOnKey } from './private/key-info';

/**
 * Properties of `ExternalKey`. They follow `kms.KeyProps` wherever they apply to EXTERNAL keys.
 */
export interface ExternalKeyProps extends KeyMaterialOptions {
  /**
   * A description of the key.
   *
   * @default - no description
   */
  readonly description?: string;

  /**
   * Initial alias to add to the key (`alias/` is added when missing).
   *
   * @default - no alias
   */
  readonly alias?: string;

  /**
   * The key spec. EXTERNAL keys can be symmetric (SYMMETRIC_DEFAULT), HMAC or asymmetric
   * (RSA, ECC). Changing it replaces the key.
   *
   * @default KeySpec.SYMMETRIC_DEFAULT
   */
  readonly keySpec?: kms.KeySpec;

  /**
   * The cryptographic operations the key is for. Changing it replaces the key.
   *
   * @default KeyUsage.ENCRYPT_DECRYPT
   */
  readonly keyUsage?: kms.KeyUsage;

  /**
   * Creates a multi-Region primary key. Its material cannot change after the first import.
   *
   * @default false
   */
  readonly multiRegion?: boolean;

  /**
   * Whether the key is enabled.
   *
   * @default true
   */
  readonly enabled?: boolean;

  /**
   * Custom policy document to attach to the key, as on `kms.Key`. The statements that the
   * key-material handler needs are added to it.
   *
   * @default - the `kms.Key` default policy (the account root may administer and use the key)
   */
  readonly policy?: iam.PolicyDocument;

  /**
   * Principals allowed to administer the key, as on `kms.Key`.
   *
   * @default []
   */
  readonly admins?: iam.IPrincipal[];

  /**
   * Waiting period (7 to 30 days) before KMS deletes the key once it is scheduled for deletion.
   *
   * @default Duration.days(30)
   */
  readonly pendingWindow?: Duration;

  /**
   * What happens to the key itself when it is removed from the stack. DESTROY schedules the key
   * for deletion after `pendingWindow`; RETAIN keeps it. Independent of `materialRemovalPolicy`,
   * which decides whether the imported material is deleted first (see the README).
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A KMS key with Origin EXTERNAL, whose key material you bring, and which is a full `kms.IKey`:
 * grants, aliases and key policy behave as on `kms.Key`.
 *
 * It imports `material` when it is created and deletes the imported material when the stack is
 * destroyed (unless `materialRemovalPolicy` is RETAIN), so the key is unusable at once instead of
 * staying usable for the 7 to 30 days of its deletion window.
 */
export class ExternalKey extends kms.Key {
  /**
   * The resource that imports and deletes this key's material. Undefined when there is nothing
   * to manage (no material and `materialRemovalPolicy` RETAIN).
   */
  public readonly keyMaterial?: ImportedKeyMaterial;

  constructor(scope: Construct, id: string, props: ExternalKeyProps = {}) {
    super(scope, id, {
      description: props.description,
      alias: props.alias,
      keySpec: props.keySpec,
      keyUsage: props.keyUsage,
      multiRegion: props.multiRegion,
      enabled: props.enabled,
      policy: props.policy,
      admins: props.admins,
      pendingWindow: props.pendingWindow,
      removalPolicy: props.removalPolicy,
      // KMS does not rotate EXTERNAL keys automatically.
      enableKeyRotation: false,
    });
    const cfnKey = this.node.defaultChild as kms.CfnKey;
    cfnKey.origin = 'EXTERNAL';
    Validations.of(cfnKey).acknowledge({
      id: 'AwsSolutions-KMS5',
      reason: 'KMS cannot rotate EXTERNAL-origin keys automatically; material you import is rotated on demand (ImportKeyMaterial NEW_KEY_MATERIAL + RotateKeyOnDemand).',
    });

    const managesMaterial = props.material !== undefined || props.materialRemovalPolicy !== RemovalPolicy.RETAIN;
    if (managesMaterial) {
      this.keyMaterial = new ImportedKeyMaterial(this, 'Material', {
        key: this,
        keySpec: props.keySpec,
        multiRegion: props.multiRegion,
        material: props.material,
        expiration: props.expiration,
        materialRemovalPolicy: props.materialRemovalPolicy,
      });
    } else if (props.expiration) {
      throw new Error(`${this.node.path}: expiration applies to imported material; give material too`);
    }
  }

  /**
   * Grants kms:DeleteImportedKeyMaterial on this key, in its key policy.
   */
  public grantDeleteImportedKeyMaterial(grantee: iam.IGrantable): iam.Grant {
    return grantOnKey(this, this, grantee, DELETE_IMPORTED_KEY_MATERIAL_ACTIONS);
  }

  /**
   * Grants kms:GetParametersForImport and kms:ImportKeyMaterial on this key, in its key policy.
   */
  public grantImportKeyMaterial(grantee: iam.IGrantable): iam.Grant {
    return grantOnKey(this, this, grantee, IMPORT_KEY_MATERIAL_ACTIONS);
  }
}
