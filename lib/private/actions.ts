/**
 * IAM action lists, in one place (as aws-kms's lib/private/perms.ts does).
 */

/** Deletes imported key material (a key-policy permission; not allowed cross-account). */
export const DELETE_IMPORTED_KEY_MATERIAL_ACTIONS = ['kms:DeleteImportedKeyMaterial'];

/** Imports key material: GetParametersForImport + ImportKeyMaterial (key-policy permissions). */
export const IMPORT_KEY_MATERIAL_ACTIONS = ['kms:GetParametersForImport', 'kms:ImportKeyMaterial'];

/** Lists every material of a single-Region symmetric key, so that destroy deletes all of them. */
export const LIST_KEY_MATERIALS_ACTIONS = ['kms:ListKeyRotations'];

/** Makes newly imported material current on a single-Region symmetric key. */
export const ROTATE_KEY_MATERIAL_ACTIONS = ['kms:RotateKeyOnDemand'];

/** Reads a secret (key material, key store password, XKS credential). */
export const READ_SECRET_VALUE_ACTIONS = ['secretsmanager:GetSecretValue'];

/** Custom key store actions (IAM-policy only; the API accepts only Resource "*"). */
export const DELETE_CUSTOM_KEY_STORE_ACTIONS = ['kms:DeleteCustomKeyStore'];
export const CONNECT_CUSTOM_KEY_STORE_ACTIONS = ['kms:ConnectCustomKeyStore'];
export const DISCONNECT_CUSTOM_KEY_STORE_ACTIONS = ['kms:DisconnectCustomKeyStore'];
export const DESCRIBE_CUSTOM_KEY_STORES_ACTIONS = ['kms:DescribeCustomKeyStores'];

/** What the custom key store handler calls in KMS (granted on Resource "*" for this caller account). */
export const CUSTOM_KEY_STORE_HANDLER_ACTIONS = [
  'kms:CreateCustomKeyStore',
  'kms:ConnectCustomKeyStore',
  'kms:DisconnectCustomKeyStore',
  'kms:DescribeCustomKeyStores',
  'kms:UpdateCustomKeyStore',
  'kms:DeleteCustomKeyStore',
  'kms:DescribeKey',
];
