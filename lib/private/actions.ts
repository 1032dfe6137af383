/**
 * IAM action lists, in one place (as aws-kms's lib/private/perms.ts does).
 */

/** Deletes imported key material (a key-policy permission; not allowed cross-account). */
export const DELETE_IMPORTED_KEY_MATERIAL_ACTIONS = ['kms:DeleteImportedKeyMaterial'];

/** Gets the wrapping public key and import token (key-policy permission; conditions kms:WrappingAlgorithm, kms:WrappingKeySpec). */
export const GET_PARAMETERS_FOR_IMPORT_ACTIONS = ['kms:GetParametersForImport'];

/** Imports the wrapped material (key-policy permission; conditions kms:ExpirationModel, kms:ValidTo). */
export const IMPORT_WRAPPED_KEY_MATERIAL_ACTIONS = ['kms:ImportKeyMaterial'];

/** Imports key material: GetParametersForImport + ImportKeyMaterial (key-policy permissions). */
export const IMPORT_KEY_MATERIAL_ACTIONS = [...GET_PARAMETERS_FOR_IMPORT_ACTIONS, ...IMPORT_WRAPPED_KEY_MATERIAL_ACTIONS];

/** Lists every material of a symmetric key, so that destroy deletes all of them. */
export const LIST_KEY_MATERIALS_ACTIONS = ['kms:ListKeyRotations'];

/** Reads a key's Origin, key spec and multi-Region setting (the handler verifies its target). */
export const DESCRIBE_KEY_ACTIONS = ['kms:DescribeKey'];

/** Makes newly imported material current on a symmetric key (a multi-Region one on its primary). */
export const ROTATE_KEY_MATERIAL_ACTIONS = ['kms:RotateKeyOnDemand'];

/** Reads a secret (key material, key store password, XKS credential). */
export const READ_SECRET_VALUE_ACTIONS = ['secretsmanager:GetSecretValue'];

/** Decrypts a secret through Secrets Manager (on the secret's customer-managed key, condition kms:ViaService). */
export const DECRYPT_SECRET_ACTIONS = ['kms:Decrypt'];

/** Reads this stack's status (rollback detection of both handlers; granted on the stack id only). */
export const DESCRIBE_STACKS_ACTIONS = ['cloudformation:DescribeStacks'];

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

/** Lists the account's keys, to find those left in a store (no resource or condition keys: Resource "*"). */
export const LIST_KEYS_ACTIONS = ['kms:ListKeys'];

/** What a CloudHSM key store also needs: the cluster, and the KMS custom key store service-linked role. */
export const DESCRIBE_CLOUDHSM_CLUSTERS_ACTIONS = ['cloudhsm:DescribeClusters'];
export const CREATE_SERVICE_LINKED_ROLE_ACTIONS = ['iam:CreateServiceLinkedRole'];
