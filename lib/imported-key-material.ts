import { CfnResource, CustomResource, Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import {
  canRotateMaterial, IMPORTABLE_KEY_SPECS, KEY_MATERIAL_ID_PATTERN, KEY_MATERIAL_RESOURCE_TYPE,
  KeyMaterialResourceProperties, WRAPPING_KEY_SPEC, wrappingAlgorithmFor,
} from './private/key-material-contract';
import { KeyMaterial, KeyMaterialExpiration } from './key-material';
import {
  DELETE_IMPORTED_KEY_MATERIAL_ACTIONS, DESCRIBE_KEY_ACTIONS, GET_PARAMETERS_FOR_IMPORT_ACTIONS, IMPORT_KEY_MATERIAL_ACTIONS,
  IMPORT_WRAPPED_KEY_MATERIAL_ACTIONS, LIST_KEY_MATERIALS_ACTIONS, ROTATE_KEY_MATERIAL_ACTIONS,
} from './private/actions';
import { addToKeyPolicyOrElse, grantOnKey, keyInfo, keyPolicyStatement, validateKey } from './private/key-info';
import { validateKeyMaterialDescription } from './private/key-material-description';
import { KeyMaterialProvider } from './private/key-material-provider';
import { claimKeyMaterial, validateKeyReference, validatePattern } from './private/validation';

/**
 * Options shared by `ImportedKeyMaterial` and `ExternalKey` for the key material.
 */
export interface KeyMaterialOptions {
  /**
   * Key material to import when the resource is created.
   *
   * @default - nothing is imported: the key stays PendingImport until material is imported out of band
   */
  readonly material?: KeyMaterial;

  /**
   * When the imported material expires. Only with `material`.
   *
   * @default KeyMaterialExpiration.never()
   */
  readonly expiration?: KeyMaterialExpiration;

  /**
   * A description of the imported material (ImportKeyMaterial `KeyMaterialDescription`), shown by
   * ListKeyRotations: at most 256 characters of letters, digits, whitespace and `: / _ . -`. Only with
   * `material`, and only for SYMMETRIC_DEFAULT keys. It is sent with each import; changing it alone
   * imports nothing (it applies at the next import).
   *
   * @default - no description (KMS keeps the one given at an earlier import of the same material)
   */
  readonly keyMaterialDescription?: string;

  /**
   * What happens to the imported key material when this resource is removed from the stack, the
   * stack is destroyed, or the resource is replaced (a new key). It becomes the material resource's
   * CloudFormation DeletionPolicy and UpdateReplacePolicy, so it protects the material whatever
   * the template change.
   *
   * - `RemovalPolicy.DESTROY`: DeleteImportedKeyMaterial makes the key unusable at once
   *   (crypto-shredding), before the key itself is scheduled for deletion.
   * - `RemovalPolicy.RETAIN`: CloudFormation never sends the Delete; the material stays and the key
   *   keeps working unless it is deleted.
   *
   * A rollback that deletes this resource while it imported nothing itself (no `material`) leaves
   * the key's material as it was; material that it did import is deleted by the rollback, which
   * returns the key to its state before the deployment.
   *
   * @default RemovalPolicy.DESTROY
   */
  readonly materialRemovalPolicy?: RemovalPolicy;
}

/**
 * Properties of `ImportedKeyMaterial`.
 */
export interface ImportedKeyMaterialProps extends KeyMaterialOptions {
  /**
   * The EXTERNAL-origin key whose imported material this resource manages: a key of this
   * stack, of another stack in the same account, or one imported with `kms.Key.fromKeyArn`.
   */
  readonly key: kms.IKey;

  /**
   * The key spec of the key. Decides how material is wrapped and what it may contain.
   *
   * @default - the key spec of the key when it is defined in this CDK app, otherwise SYMMETRIC_DEFAULT
   */
  readonly keySpec?: kms.KeySpec;

  /**
   * Whether the key is a multi-Region key (its material cannot change after the first import).
   *
   * @default - the key's setting when it is defined in this CDK app, otherwise false
   */
  readonly multiRegion?: boolean;

  /**
   * Delete this specific key material (64 hexadecimal digits) on destroy, instead of the key's
   * current material.
   *
   * @default - the key's current material
   */
  readonly keyMaterialId?: string;
}

/**
 * Manages the imported key material of an EXTERNAL-origin KMS key that this library did not
 * create: deletes it when the stack is destroyed, and optionally imports it on create.
 *
 * @example
 * import * as kms from 'aws-cdk-lib/aws-kms';
 * import { ImportedKeyMaterial } from 'cdk-kms-lifecycle';
 *
 * // When this stack is destroyed, delete the imported key material of key X.
 * new ImportedKeyMaterial(this, 'Shred', {
 *   key: kms.Key.fromKeyArn(this, 'Key', 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'),
 * });
 */
export class ImportedKeyMaterial extends Construct {
  /** The key whose material is managed. */
  public readonly key: kms.IKey;

  /**
   * @param scope the construct scope (usually the stack) in which to define the material resource
   * @param id the construct id, unique within `scope`
   * @param props the key, and optionally the material to import and its expiration
   */
  constructor(scope: Construct, id: string, props: ImportedKeyMaterialProps) {
    super(scope, id);
    this.key = props.key;

    const info = keyInfo(this, props.key);
    validateKey(this, props.key, info);
    validateKeyReference(this, props.key);
    const keySpec = props.keySpec ?? info.cfnKey?.keySpec ?? kms.KeySpec.SYMMETRIC_DEFAULT;
    const multiRegion = props.multiRegion ?? info.cfnKey?.multiRegion ?? false;
    if (Token.isUnresolved(keySpec) || Token.isUnresolved(multiRegion)) {
      throw new Error(`${this.node.path}: the key spec and multi-Region setting of ${props.key.node.path} are not known at synth time; pass keySpec and multiRegion explicitly`);
    }
    const multiRegionFlag = multiRegion === true;
    validatePattern(`${this.node.path}: keyMaterialId`, props.keyMaterialId, KEY_MATERIAL_ID_PATTERN, 'be 64 lowercase hexadecimal digits');

    const removal = props.materialRemovalPolicy ?? RemovalPolicy.DESTROY;
    if (removal !== RemovalPolicy.DESTROY && removal !== RemovalPolicy.RETAIN) {
      throw new Error(`${this.node.path}: materialRemovalPolicy must be DESTROY or RETAIN, got ${removal}`);
    }
    if (props.expiration && !props.material) {
      throw new Error(`${this.node.path}: expiration applies to imported material; give material too`);
    }
    if (props.keyMaterialDescription !== undefined && !props.material) {
      throw new Error(`${this.node.path}: keyMaterialDescription applies to imported material; give material too`);
    }
    validateKeyMaterialDescription(this, props.keyMaterialDescription, keySpec);
    if (props.material && !IMPORTABLE_KEY_SPECS.includes(keySpec)) {
      throw new Error(`${this.node.path}: KMS cannot import key material for ${keySpec} keys; importable key specs are ${IMPORTABLE_KEY_SPECS.join(', ')}`);
    }
    // Synthesis never reads the clock: "in the past" and "more than 365 days ahead" are checked by the
    // handler at import time; KeyMaterialExpiration.after() validates its duration without a clock.
    const expiration = props.material ? (props.expiration ?? KeyMaterialExpiration.never()) : undefined;

    claimKeyMaterial(this, props.key, info.cfnKey);
    const provider = KeyMaterialProvider.getOrCreate(this);
    const allow = (actions: string[], conditions?: Record<string, Record<string, unknown>>) => addToKeyPolicyOrElse(
      props.key, info, keyPolicyStatement(provider.role, actions, conditions),
      () => provider.grantOnForeignKey(props.key.keyArn, actions, conditions),
    );

    // DeleteImportedKeyMaterial: on destroy, and to re-import with a new expiration. A
    // symmetric key can hold several materials: ListKeyRotations finds them all for destroy.
    // DescribeKey: the handler verifies the target key on create (exists, EXTERNAL, key spec, multi-Region).
    const rotatable = canRotateMaterial(keySpec, multiRegionFlag);
    allow([...DELETE_IMPORTED_KEY_MATERIAL_ACTIONS, ...DESCRIBE_KEY_ACTIONS, ...(rotatable ? LIST_KEY_MATERIALS_ACTIONS : [])]);
    const material = props.material?.bind(this, keySpec, provider.role);
    if (material && expiration) {
      allow(GET_PARAMETERS_FOR_IMPORT_ACTIONS, {
        StringEquals: { 'kms:WrappingAlgorithm': wrappingAlgorithmFor(keySpec), 'kms:WrappingKeySpec': WRAPPING_KEY_SPEC },
      });
      allow(IMPORT_WRAPPED_KEY_MATERIAL_ACTIONS, { StringEquals: { 'kms:ExpirationModel': expiration.expirationModel } });
      // A replica never rotates (KMS rotates a multi-Region key on its primary, whose handler imports into replicas).
      if (rotatable && !info.cfnReplicaKey) allow(ROTATE_KEY_MATERIAL_ACTIONS);
    }

    const properties: Omit<KeyMaterialResourceProperties, 'ServiceToken'> = {
      KeyArn: props.key.keyArn,
      // Left out when they are the defaults (the handler reads absent as SYMMETRIC_DEFAULT, single-Region).
      KeySpec: keySpec === kms.KeySpec.SYMMETRIC_DEFAULT ? undefined : keySpec,
      MultiRegion: multiRegionFlag ? 'true' : undefined,
      KeyMaterialId: props.keyMaterialId,
      Material: material && {
        SecretArn: material.secretArn,
        Encoding: material.encoding,
        JsonField: material.jsonField,
        VersionId: material.versionId,
        VersionStage: material.versionStage,
      },
      ExpirationModel: expiration?.expirationModel as KeyMaterialResourceProperties['ExpirationModel'],
      ValidTo: expiration?.validTo?.toISOString(),
      ValidFor: expiration?.validFor && validForSeconds(expiration.validFor),
      KeyMaterialDescription: props.keyMaterialDescription,
    };
    // Removal is the resource's DeletionPolicy and UpdateReplacePolicy, never a property the handler reads:
    // CloudFormation deletes with the OLD properties, so only a policy protects what a template change removes.
    const resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: KEY_MATERIAL_RESOURCE_TYPE,
      properties,
      removalPolicy: removal,
    });
    if (removal === RemovalPolicy.DESTROY) {
      // Delete is CloudFormation's default DeletionPolicy and UpdateReplacePolicy: not written for each key.
      const cfn = resource.node.defaultChild as CfnResource;
      cfn.cfnOptions.deletionPolicy = undefined;
      cfn.cfnOptions.updateReplacePolicy = undefined;
    }
    // Destroy order needs no DependsOn: the ServiceToken references the handler function, which depends on its
    // role and every policy of the role, and KeyArn references the key, so CloudFormation deletes this resource
    // first, while the handler, its permissions and the key still exist.
  }

  /**
   * Grants kms:DeleteImportedKeyMaterial on the key: in its key policy when the key is in this
   * stack, otherwise in the grantee's IAM policy scoped to the key ARN.
   *
   * @param grantee the principal to grant the permission to (a role, user, group or any `iam.IGrantable`)
   */
  public grantDeleteImportedKeyMaterial(grantee: iam.IGrantable): iam.Grant {
    return grantOnKey(this, this.key, grantee, DELETE_IMPORTED_KEY_MATERIAL_ACTIONS);
  }

  /**
   * Grants kms:GetParametersForImport and kms:ImportKeyMaterial on the key: in its key policy when
   * the key is in this stack, otherwise in the grantee's IAM policy scoped to the key ARN.
   *
   * @param grantee the principal to grant the permission to (a role, user, group or any `iam.IGrantable`)
   */
  public grantImportKeyMaterial(grantee: iam.IGrantable): iam.Grant {
    return grantOnKey(this, this.key, grantee, IMPORT_KEY_MATERIAL_ACTIONS);
  }
}

/** The validity in whole seconds, as CloudFormation sends it (a string). */
function validForSeconds(validFor: Duration): string {
  const seconds = validFor.toSeconds();
  return validFor.isUnresolved() ? Token.asString(seconds) : String(seconds);
}
