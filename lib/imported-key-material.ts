import { CustomResource, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import {
  canRotateMaterial, IMPORTABLE_KEY_SPECS, KEY_MATERIAL_ID_PATTERN, KEY_MATERIAL_RESOURCE_TYPE,
  KeyMaterialResourceProperties, WRAPPING_KEY_SPEC, wrappingAlgorithmFor,
} from './private/key-material-contract';
import { KeyMaterial, KeyMaterialExpiration } from './key-material';
import {
  DELETE_IMPORTED_KEY_MATERIAL_ACTIONS, GET_PARAMETERS_FOR_IMPORT_ACTIONS, IMPORT_KEY_MATERIAL_ACTIONS, IMPORT_WRAPPED_KEY_MATERIAL_ACTIONS,
  LIST_KEY_MATERIALS_ACTIONS, ROTATE_KEY_MATERIAL_ACTIONS,
} from './private/actions';
import { addToKeyPolicyOrElse, grantOnKey, keyInfo, keyPolicyStatement, validateKey } from './private/key-info';
import { KeyMaterialProvider } from './private/key-material-provider';
import { validatePattern } from './private/validation';

/** The most distant expiration KMS accepts, counted from the deployment. */
const MAX_VALID_TO_DAYS = 365;

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
   * What happens to the imported key material when this resource is removed from the stack or
   * the stack is destroyed.
   *
   * - `RemovalPolicy.DESTROY`: DeleteImportedKeyMaterial makes the key unusable at once
   *   (crypto-shredding), before the key itself is scheduled for deletion.
   * - `RemovalPolicy.RETAIN`: the material stays; the key keeps working unless it is deleted.
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
 * // When this stack is destroyed, delete the imported key material of key X.
 * new ImportedKeyMaterial(this, 'Shred', {
 *   key: kms.Key.fromKeyArn(this, 'Key', 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'),
 * });
 */
export class ImportedKeyMaterial extends Construct {
  /** The key whose material is managed. */
  public readonly key: kms.IKey;

  constructor(scope: Construct, id: string, props: ImportedKeyMaterialProps) {
    super(scope, id);
    this.key = props.key;

    const info = keyInfo(this, props.key);
    validateKey(this, props.key, info);
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
    if (removal === RemovalPolicy.RETAIN && !props.material) {
      throw new Error(`${this.node.path}: with no material to import and materialRemovalPolicy RETAIN this resource would do nothing; give material, or use RemovalPolicy.DESTROY to delete the material on destroy`);
    }
    if (props.expiration && !props.material) {
      throw new Error(`${this.node.path}: expiration applies to imported material; give material too`);
    }
    if (props.material && !IMPORTABLE_KEY_SPECS.includes(keySpec)) {
      throw new Error(`${this.node.path}: KMS cannot import key material for ${keySpec} keys; importable key specs are ${IMPORTABLE_KEY_SPECS.join(', ')}`);
    }
    const expiration = props.material ? (props.expiration ?? KeyMaterialExpiration.never()) : undefined;
    if (expiration?.validTo) validateValidTo(this, expiration.validTo);

    const provider = KeyMaterialProvider.getOrCreate(this);
    const allow = (actions: string[], conditions?: Record<string, Record<string, unknown>>) => addToKeyPolicyOrElse(
      props.key, info, keyPolicyStatement(provider.role, actions, conditions),
      () => provider.grantOnForeignKey(props.key.keyArn, actions, conditions),
    );

    // DeleteImportedKeyMaterial: on destroy, and to re-import with a new expiration. A single-Region
    // symmetric key can hold several materials: ListKeyRotations finds them all for destroy.
    const rotatable = canRotateMaterial(keySpec, multiRegionFlag);
    allow(rotatable ? [...DELETE_IMPORTED_KEY_MATERIAL_ACTIONS, ...LIST_KEY_MATERIALS_ACTIONS] : DELETE_IMPORTED_KEY_MATERIAL_ACTIONS);
    const material = props.material?.bind(this, keySpec, provider.role);
    if (material && expiration) {
      allow(GET_PARAMETERS_FOR_IMPORT_ACTIONS, {
        StringEquals: { 'kms:WrappingAlgorithm': wrappingAlgorithmFor(keySpec), 'kms:WrappingKeySpec': WRAPPING_KEY_SPEC },
      });
      allow(IMPORT_WRAPPED_KEY_MATERIAL_ACTIONS, { StringEquals: { 'kms:ExpirationModel': expiration.expirationModel } });
      if (rotatable) allow(ROTATE_KEY_MATERIAL_ACTIONS);
    }

    const properties: Omit<KeyMaterialResourceProperties, 'ServiceToken'> = {
      KeyArn: props.key.keyArn,
      KeySpec: keySpec,
      MultiRegion: String(multiRegionFlag),
      MaterialRemovalPolicy: removal === RemovalPolicy.RETAIN ? 'retain' : 'destroy',
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
    };
    const resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: KEY_MATERIAL_RESOURCE_TYPE,
      properties,
    });
    // Destroy order: this resource is deleted while the handler's permissions still exist.
    resource.node.addDependency(provider.role);
    if (info.cfnKey && info.inStack) resource.node.addDependency(info.cfnKey);
  }

  /**
   * Grants kms:DeleteImportedKeyMaterial on the key: in its key policy when the key is in this
   * stack, otherwise in the grantee's IAM policy scoped to the key ARN.
   */
  public grantDeleteImportedKeyMaterial(grantee: iam.IGrantable): iam.Grant {
    return grantOnKey(this, this.key, grantee, DELETE_IMPORTED_KEY_MATERIAL_ACTIONS);
  }

  /**
   * Grants kms:GetParametersForImport and kms:ImportKeyMaterial on the key: in its key policy when
   * the key is in this stack, otherwise in the grantee's IAM policy scoped to the key ARN.
   */
  public grantImportKeyMaterial(grantee: iam.IGrantable): iam.Grant {
    return grantOnKey(this, this.key, grantee, IMPORT_KEY_MATERIAL_ACTIONS);
  }
}

function validateValidTo(scope: Construct, validTo: Date): void {
  const now = Date.now();
  if (validTo.getTime() <= now) {
    throw new Error(`${scope.node.path}: expiration ${validTo.toISOString()} is in the past; KMS needs a ValidTo in the future (at most ${MAX_VALID_TO_DAYS} days ahead)`);
  }
  if (validTo.getTime() > now + MAX_VALID_TO_DAYS * 24 * 3600 * 1000) {
    throw new Error(`${scope.node.path}: expiration ${validTo.toISOString()} is more than ${MAX_VALID_TO_DAYS} days ahead; KMS accepts a ValidTo at most ${MAX_VALID_TO_DAYS} days after the import`);
  }
}
