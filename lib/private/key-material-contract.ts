/**
 * The contract between the key-material constructs (lib/) and the key-material handler (lambda/).
 *
 * Types and constants only: this file is imported by both sides, so it must not import
 * aws-cdk-lib or the AWS SDK.
 *
 * CloudFormation delivers every scalar as a string, so booleans arrive as 'true' / 'false'.
 * No secret value is ever part of these properties: the material is referenced by its secret ARN.
 */

/** The custom resource type of the key-material resource. */
export const KEY_MATERIAL_RESOURCE_TYPE = 'Custom::KmsImportedKeyMaterial';

/** How the material is encoded in the secret. */
export type MaterialEncodingName = 'AUTO' | 'BINARY' | 'BASE64' | 'HEX' | 'PEM';

export interface MaterialSourceProperties {
  /** ARN (full or partial) of the Secrets Manager secret that holds the plaintext key material. */
  readonly SecretArn: string;
  /** Secret version to read. */
  readonly VersionId?: string;
  /** Secret version stage to read (AWSCURRENT when neither VersionId nor VersionStage is set). */
  readonly VersionStage?: string;
  /** How the secret value is encoded. */
  readonly Encoding: MaterialEncodingName;
  /** When set, the SecretString is a JSON object and the material is the value of this field. */
  readonly JsonField?: string;
}

export type ExpirationModelName = 'KEY_MATERIAL_DOES_NOT_EXPIRE' | 'KEY_MATERIAL_EXPIRES';

export interface KeyMaterialResourceProperties {
  readonly ServiceToken?: string;
  /** ARN of the EXTERNAL-origin KMS key. */
  readonly KeyArn: string;
  /**
   * The key spec (SYMMETRIC_DEFAULT, HMAC_256, RSA_2048, ECC_NIST_P256, ...). Not sent when it is the default.
   * @default SYMMETRIC_DEFAULT
   */
  readonly KeySpec?: string;
  /**
   * 'true' when the key is a multi-Region key. Not sent when it is the default.
   * @default 'false'
   */
  readonly MultiRegion?: string;
  /**
   * 0.1.0 only, no longer sent: removal is the resource's DeletionPolicy / UpdateReplacePolicy.
   * A Delete whose (old) properties still carry 'retain' came from a 0.1.0 template that asked to keep
   * the material, so the handler honours it (migration shim).
   */
  readonly MaterialRemovalPolicy?: 'destroy' | 'retain';
  /** A specific key material to delete on Delete (64 hex digits). */
  readonly KeyMaterialId?: string;
  /** Where the material to import comes from. Absent: nothing is imported. */
  readonly Material?: MaterialSourceProperties;
  /** Expiration model of the imported material (only with Material). */
  readonly ExpirationModel?: ExpirationModelName;
  /** ISO-8601 expiration time (only with KEY_MATERIAL_EXPIRES; `KeyMaterialExpiration.at`). */
  readonly ValidTo?: string;
  /**
   * How long the material stays valid after each import, in whole seconds (only with
   * KEY_MATERIAL_EXPIRES; `KeyMaterialExpiration.after`). The handler sets ValidTo = import time + ValidFor.
   */
  readonly ValidFor?: string;
  /** KeyMaterialDescription sent with each import (only with Material; SYMMETRIC_DEFAULT keys). */
  readonly KeyMaterialDescription?: string;
}

/** Attributes returned to CloudFormation (`Fn::GetAtt`). Never holds a secret. */
export interface KeyMaterialResourceAttributes {
  /** The key id. */
  readonly KeyId: string;
  /** The id of the material this resource imported, when KMS assigned one (symmetric keys). */
  readonly KeyMaterialId?: string;
}

/** What a Delete returns in Data (logged as well): exactly what was deleted. */
export interface KeyMaterialDeleteResult {
  /** The key id. */
  readonly KeyId: string;
  /**
   * Comma-separated ids of the materials deleted; 'CURRENT' for the current material of a key whose
   * material ids KMS does not list (asymmetric, HMAC, multi-Region). Empty when nothing was deleted.
   */
  readonly DeletedKeyMaterials: string;
  /** Why nothing was deleted (only when `DeletedKeyMaterials` is empty). */
  readonly NothingDeletedBecause?: string;
}

/** The longest validity KMS accepts: ValidTo at most 365 days after the import. */
export const MAX_VALID_FOR_SECONDS = 365 * 24 * 3600;

/** The shortest validity `KeyMaterialExpiration.after` accepts (material that expires sooner makes the key unusable right after a deploy). */
export const MIN_VALID_FOR_SECONDS = 24 * 3600;


/** The wrapping key spec the handler asks for. */
export const WRAPPING_KEY_SPEC = 'RSA_4096';

/** The wrapping algorithm the handler uses for a key spec. */
export function wrappingAlgorithmFor(keySpec: string): 'RSAES_OAEP_SHA_256' | 'RSA_AES_KEY_WRAP_SHA_256' {
  return isAsymmetricKeySpec(keySpec) ? 'RSA_AES_KEY_WRAP_SHA_256' : 'RSAES_OAEP_SHA_256';
}

export function isAsymmetricKeySpec(keySpec: string): boolean {
  return keySpec.startsWith('RSA_') || keySpec.startsWith('ECC_') || keySpec === 'SM2';
}

export function isHmacKeySpec(keySpec: string): boolean {
  return keySpec.startsWith('HMAC_');
}

/** Key specs whose material KMS can import. */
export const IMPORTABLE_KEY_SPECS = [
  'SYMMETRIC_DEFAULT',
  'HMAC_224', 'HMAC_256', 'HMAC_384', 'HMAC_512',
  'RSA_2048', 'RSA_3072', 'RSA_4096',
  'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1',
  'SM2',
];

/** Allowed HMAC material lengths in bytes, per key spec. */
export const HMAC_MATERIAL_BYTES: Record<string, { min: number; max: number }> = {
  HMAC_224: { min: 28, max: 64 },
  HMAC_256: { min: 32, max: 64 },
  HMAC_384: { min: 48, max: 128 },
  HMAC_512: { min: 64, max: 128 },
};

/** Symmetric (SYMMETRIC_DEFAULT) material is exactly 256 bits. */
export const SYMMETRIC_MATERIAL_BYTES = 32;

/**
 * Only SYMMETRIC_DEFAULT keys can take new key material after the first import, and so hold several materials
 * (ImportType NEW_KEY_MATERIAL followed by RotateKeyOnDemand). Multi-Region keys too (since 2025-11-26): NEW on
 * the primary, EXISTING on every replica, then RotateKeyOnDemand on the primary. Asymmetric and HMAC material never
 * changes after the first import.
 */
export function canRotateMaterial(keySpec: string, _multiRegion?: boolean): boolean {
  return keySpec === 'SYMMETRIC_DEFAULT';
}

/** KMS KeyMaterialId: 64 hexadecimal digits. */
export const KEY_MATERIAL_ID_PATTERN = /^[0-9a-f]{64}$/;

/** The properties with their defaults filled in (absent KeySpec and MultiRegion mean the defaults). */
export type ResolvedKeyMaterialProperties = KeyMaterialResourceProperties & { readonly KeySpec: string; readonly MultiRegion: string };

/** What the handler reads: absent = default, for properties the construct leaves out when they equal their default. */
export function withDefaults(props: KeyMaterialResourceProperties): ResolvedKeyMaterialProperties {
  return { ...props, KeySpec: props.KeySpec ?? 'SYMMETRIC_DEFAULT', MultiRegion: props.MultiRegion ?? 'false' };
}
