/**
 * IAM action lists, in one place (as aws-kms's lib/private/perms.ts does).
 */

/** Deletes imported key material (a key-policy permission; not allowed cross-account). */
export const DELETE_IMPORTED_KEY_MATERIAL_ACTIONS = ['kms:DeleteImportedKeyMaterial'];

/** Imports key material: GetParametersForImport + ImportKeyMaterial (key-policy permissions). */
export const IMPORT_KEY_MATERIAL_ACTIONS = ['kms:GetParametersForImport', 'kms:ImportKeyMaterial'];

/** Makes newly imported material current on a single-Region symmetric key. */
export const ROTATE_KEY_MATERIAL_ACTIONS = ['kms:RotateKeyOnDemand'];

/** Reads a material secret. */
export const READ_MATERIAL_SECRET_ACTIONS = ['secretsmanager:GetSecretValue'];

/** Custom key store actions (IAM-policy only; the API accepts only Resource "*"). */
export const DELETE_CUSTOM_KEY_STORE_ACTIONS = ['kms:DeleteCustomKeyStore'];
export const CONNECT_CUSTOM_KEY_STORE_ACTIONS = ['kms:ConnectCustomKeyStore'];
export const DISCONNECT_CUSTOM_KEY_STORE_ACTIONS = ['kms:DisconnectCustomKeyStore'];
export const DESCRIBE_CUSTOM_KEY_STORES_ACTIONS = ['kms:DescribeCustomKeyStores'];
