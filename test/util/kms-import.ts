/**
 * Importing key material the way a KMS caller does it (GetParametersForImport, wrap under the public
 * key, ImportKeyMaterial), for tests that drive the emulator through the real SDK.
 */
import * as crypto from 'node:crypto';
import {
  AlgorithmSpec, GetParametersForImportCommand, ImportKeyMaterialCommand, ImportKeyMaterialCommandOutput, KMSClient, WrappingKeySpec,
} from '@aws-sdk/client-kms';

/** RSAES_OAEP_SHA_256 under a DER (SPKI) public key. */
export function wrapOaep(publicKeyDer: Uint8Array, material: Buffer): Buffer {
  const key = crypto.createPublicKey({ key: Buffer.from(publicKeyDer), format: 'der', type: 'spki' });
  return crypto.publicEncrypt({ key, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, material);
}

/** RSA_AES_KEY_WRAP_SHA_256: an ephemeral AES key under RSA-OAEP, then AES key wrap with padding (RFC 5649). */
export function wrapRsaAes(publicKeyDer: Uint8Array, material: Buffer): Buffer {
  const aesKey = crypto.randomBytes(32);
  const cipher = crypto.createCipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('A65959A6', 'hex'));
  return Buffer.concat([wrapOaep(publicKeyDer, aesKey), cipher.update(material), cipher.final()]);
}

export interface ImportOptions {
  algorithm?: AlgorithmSpec;
  importType?: 'NEW_KEY_MATERIAL' | 'EXISTING_KEY_MATERIAL';
  validTo?: Date;
  description?: string;
}

/** One import of `material` into `keyId` with `client` (whose Region is the Region of the import). */
export async function importMaterial(client: KMSClient, keyId: string, material: Buffer, options: ImportOptions = {}): Promise<ImportKeyMaterialCommandOutput> {
  const algorithm = options.algorithm ?? 'RSAES_OAEP_SHA_256';
  const params = await client.send(new GetParametersForImportCommand({
    KeyId: keyId, WrappingAlgorithm: algorithm, WrappingKeySpec: WrappingKeySpec.RSA_2048,
  }));
  const wrapped = algorithm.startsWith('RSA_AES') ? wrapRsaAes(params.PublicKey!, material) : wrapOaep(params.PublicKey!, material);
  return client.send(new ImportKeyMaterialCommand({
    KeyId: keyId,
    ImportToken: params.ImportToken,
    EncryptedKeyMaterial: wrapped,
    ExpirationModel: options.validTo ? 'KEY_MATERIAL_EXPIRES' : 'KEY_MATERIAL_DOES_NOT_EXPIRE',
    ValidTo: options.validTo,
    ImportType: options.importType,
    KeyMaterialDescription: options.description,
  }));
}
