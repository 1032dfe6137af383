/**
 * Real cryptography behind the emulator: RSA wrapping key pairs, unwrapping of imported
 * key material, validation of material against the key spec, and the ciphertext format
 * of Encrypt/Decrypt.
 */
import * as crypto from 'node:crypto';
import { err } from './errors';

export type WrappingKeySpec = 'RSA_2048' | 'RSA_3072' | 'RSA_4096';
export type WrappingAlgorithm =
  | 'RSAES_OAEP_SHA_1'
  | 'RSAES_OAEP_SHA_256'
  | 'RSA_AES_KEY_WRAP_SHA_1'
  | 'RSA_AES_KEY_WRAP_SHA_256';

export const WRAPPING_KEY_SPECS: Record<WrappingKeySpec, number> = {
  RSA_2048: 2048,
  RSA_3072: 3072,
  RSA_4096: 4096,
};
export const WRAPPING_ALGORITHMS: readonly WrappingAlgorithm[] = [
  'RSAES_OAEP_SHA_1',
  'RSAES_OAEP_SHA_256',
  'RSA_AES_KEY_WRAP_SHA_1',
  'RSA_AES_KEY_WRAP_SHA_256',
];

/** RFC 5649 alternative initial value, as used by CKM_RSA_AES_KEY_WRAP. */
const AES_KWP_IV = Buffer.from('A65959A6', 'hex');

export interface WrappingKeyPair {
  readonly publicKeyDer: Buffer;
  readonly privateKey: crypto.KeyObject;
}

/** One RSA key pair per wrapping key spec, generated on first use (RSA-4096 takes ~1 s). */
export class WrappingKeyCache {
  private readonly pairs = new Map<WrappingKeySpec, Promise<WrappingKeyPair>>();

  public get(spec: WrappingKeySpec): Promise<WrappingKeyPair> {
    let pair = this.pairs.get(spec);
    if (!pair) {
      pair = generateRsa(WRAPPING_KEY_SPECS[spec]);
      this.pairs.set(spec, pair);
    }
    return pair;
  }
}

function generateRsa(modulusLength: number): Promise<WrappingKeyPair> {
  return new Promise((resolve, reject) => {
    crypto.generateKeyPair('rsa', { modulusLength }, (error, publicKey, privateKey) => {
      if (error) {
        reject(error);
        return;
      }
      resolve({ publicKeyDer: publicKey.export({ type: 'spki', format: 'der' }), privateKey });
    });
  });
}

function oaepHash(algorithm: WrappingAlgorithm): 'sha1' | 'sha256' {
  return algorithm.endsWith('SHA_1') ? 'sha1' : 'sha256';
}

export function isAesKeyWrap(algorithm: WrappingAlgorithm): boolean {
  return algorithm.startsWith('RSA_AES_KEY_WRAP');
}

/**
 * Undo the wrapping the caller applied with the public key of `privateKey`.
 * Anything that does not decrypt is InvalidCiphertextException, as in KMS.
 */
export function unwrapKeyMaterial(
  algorithm: WrappingAlgorithm,
  privateKey: crypto.KeyObject,
  blob: Buffer,
): Buffer {
  const hash = oaepHash(algorithm);
  const rsaDecrypt = (data: Buffer): Buffer =>
    crypto.privateDecrypt({ key: privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, data);
  try {
    if (!isAesKeyWrap(algorithm)) {
      return rsaDecrypt(blob);
    }
    const modulusBytes = (privateKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8;
    if (blob.length <= modulusBytes) {
      throw new Error('blob shorter than the wrapped AES key');
    }
    const aesKey = rsaDecrypt(blob.subarray(0, modulusBytes));
    if (aesKey.length !== 32) {
      throw new Error(`wrapped AES key is ${aesKey.length} bytes, expected 32`);
    }
    const decipher = crypto.createDecipheriv('id-aes256-wrap-pad', aesKey, AES_KWP_IV);
    return Buffer.concat([decipher.update(blob.subarray(modulusBytes)), decipher.final()]);
  } catch (e) {
    throw err(
      'InvalidCiphertextException',
      `KMS cannot decrypt the encrypted key material with ${algorithm}: ${(e as Error).message}`,
    );
  }
}

const HMAC_RANGES: Record<string, [number, number]> = {
  HMAC_224: [28, 64],
  HMAC_256: [32, 64],
  HMAC_384: [48, 128],
  HMAC_512: [64, 128],
};
const EC_CURVES: Record<string, string> = {
  ECC_NIST_P256: 'prime256v1',
  ECC_NIST_P384: 'secp384r1',
  ECC_NIST_P521: 'secp521r1',
  ECC_SECG_P256K1: 'secp256k1',
};

export function isRsaSpec(keySpec: string): boolean {
  return keySpec.startsWith('RSA_');
}
export function isEccSpec(keySpec: string): boolean {
  return keySpec in EC_CURVES;
}
export function isHmacSpec(keySpec: string): boolean {
  return keySpec in HMAC_RANGES;
}

/**
 * Check that plaintext key material fits the key spec and return its canonical bytes
 * (raw bytes for symmetric and HMAC keys, PKCS#8 DER for asymmetric keys).
 */
export function validateKeyMaterial(keySpec: string, material: Buffer): Buffer {
  const incorrect = (why: string) => err('IncorrectKeyMaterialException', `Key material is not valid for a ${keySpec} key: ${why}`);
  if (keySpec === 'SYMMETRIC_DEFAULT') {
    if (material.length !== 32) throw incorrect(`expected 32 bytes, got ${material.length}`);
    return Buffer.from(material);
  }
  const hmac = HMAC_RANGES[keySpec];
  if (hmac) {
    if (material.length < hmac[0] || material.length > hmac[1]) {
      throw incorrect(`expected ${hmac[0]}-${hmac[1]} bytes, got ${material.length}`);
    }
    return Buffer.from(material);
  }
  if (isRsaSpec(keySpec) || isEccSpec(keySpec)) {
    let key: crypto.KeyObject;
    try {
      key = crypto.createPrivateKey({ key: material, format: 'der', type: 'pkcs8' });
    } catch {
      throw incorrect('expected a DER-encoded PKCS#8 private key');
    }
    if (isRsaSpec(keySpec)) {
      const bits = Number(keySpec.slice(4));
      if (key.asymmetricKeyType !== 'rsa' || key.asymmetricKeyDetails?.modulusLength !== bits) {
        throw incorrect(`expected an RSA ${bits}-bit private key, got ${describeKey(key)}`);
      }
    } else if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== EC_CURVES[keySpec]) {
      throw incorrect(`expected an EC private key on ${EC_CURVES[keySpec]}, got ${describeKey(key)}`);
    }
    return key.export({ type: 'pkcs8', format: 'der' });
  }
  throw incorrect('the emulator does not support importing this key spec');
}

function describeKey(key: crypto.KeyObject): string {
  const d = key.asymmetricKeyDetails;
  return `${key.asymmetricKeyType} ${d?.modulusLength ?? d?.namedCurve ?? ''}`.trim();
}

/** KMS derives the key material id from the key id and the material: deterministic, 64 hex digits. */
export function keyMaterialId(keyId: string, material: Buffer): string {
  return crypto.createHash('sha256').update(Buffer.from(keyId, 'utf8')).update(material).digest('hex');
}

export function randomHex(bytes: number): string {
  return crypto.randomBytes(bytes).toString('hex');
}

// ---------------------------------------------------------------------------------------------
// Symmetric ciphertext format (emulator-specific, self-describing like real KMS ciphertext):
//   "EMK1" | u8 keyIdLength | keyId (utf8) | 32-byte key material id | 12-byte IV | 16-byte tag | data
// AES-256-GCM under the material; the header and the canonical encryption context are the AAD.
// ---------------------------------------------------------------------------------------------
const MAGIC = Buffer.from('EMK1', 'ascii');

export interface ParsedCiphertext {
  readonly keyId: string;
  readonly keyMaterialId: string;
  readonly header: Buffer;
  readonly iv: Buffer;
  readonly tag: Buffer;
  readonly data: Buffer;
}

function contextAad(context: Record<string, string> | undefined): Buffer {
  const entries = Object.entries(context ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.from(JSON.stringify(entries), 'utf8');
}

export function symmetricEncrypt(
  keyId: string,
  materialId: string,
  material: Buffer,
  plaintext: Buffer,
  context: Record<string, string> | undefined,
): Buffer {
  const idBytes = Buffer.from(keyId, 'utf8');
  const header = Buffer.concat([MAGIC, Buffer.from([idBytes.length]), idBytes, Buffer.from(materialId, 'hex')]);
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', material, iv);
  cipher.setAAD(Buffer.concat([header, contextAad(context)]));
  const data = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([header, iv, cipher.getAuthTag(), data]);
}

/** Returns undefined when the blob is not in the emulator's symmetric format. */
export function parseCiphertext(blob: Buffer): ParsedCiphertext | undefined {
  if (blob.length < MAGIC.length + 1 || !blob.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const idLength = blob[MAGIC.length];
  const headerLength = MAGIC.length + 1 + idLength + 32;
  if (blob.length < headerLength + 12 + 16) return undefined;
  return {
    keyId: blob.subarray(MAGIC.length + 1, MAGIC.length + 1 + idLength).toString('utf8'),
    keyMaterialId: blob.subarray(headerLength - 32, headerLength).toString('hex'),
    header: blob.subarray(0, headerLength),
    iv: blob.subarray(headerLength, headerLength + 12),
    tag: blob.subarray(headerLength + 12, headerLength + 28),
    data: blob.subarray(headerLength + 28),
  };
}

export function symmetricDecrypt(
  parsed: ParsedCiphertext,
  material: Buffer,
  context: Record<string, string> | undefined,
): Buffer {
  try {
    const decipher = crypto.createDecipheriv('aes-256-gcm', material, parsed.iv);
    decipher.setAAD(Buffer.concat([parsed.header, contextAad(context)]));
    decipher.setAuthTag(parsed.tag);
    return Buffer.concat([decipher.update(parsed.data), decipher.final()]);
  } catch {
    throw err('InvalidCiphertextException', 'The ciphertext or its encryption context is not valid');
  }
}

/** RSA encryption for asymmetric ENCRYPT_DECRYPT keys (RSAES_OAEP_SHA_1 / RSAES_OAEP_SHA_256). */
export function rsaEncrypt(privateKeyDer: Buffer, algorithm: string, plaintext: Buffer): Buffer {
  const key = crypto.createPublicKey(crypto.createPrivateKey({ key: privateKeyDer, format: 'der', type: 'pkcs8' }));
  try {
    return crypto.publicEncrypt(
      { key, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: algorithm === 'RSAES_OAEP_SHA_1' ? 'sha1' : 'sha256' },
      plaintext,
    );
  } catch (e) {
    throw err('ValidationException', `Plaintext is too long for ${algorithm}: ${(e as Error).message}`);
  }
}

export function rsaDecrypt(privateKeyDer: Buffer, algorithm: string, ciphertext: Buffer): Buffer {
  const key = crypto.createPrivateKey({ key: privateKeyDer, format: 'der', type: 'pkcs8' });
  try {
    return crypto.privateDecrypt(
      { key, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: algorithm === 'RSAES_OAEP_SHA_1' ? 'sha1' : 'sha256' },
      ciphertext,
    );
  } catch {
    throw err('InvalidCiphertextException', 'The ciphertext is not valid for this key and algorithm');
  }
}

/** Material KMS generates itself (AWS_KMS origin, custom key stores). RSA/ECC are generated on demand. */
export function generateMaterial(keySpec: string): Buffer {
  if (keySpec === 'SYMMETRIC_DEFAULT') return crypto.randomBytes(32);
  const hmac = HMAC_RANGES[keySpec];
  if (hmac) return crypto.randomBytes(hmac[0]);
  if (isRsaSpec(keySpec)) {
    return crypto.generateKeyPairSync('rsa', { modulusLength: Number(keySpec.slice(4)) }).privateKey.export({ type: 'pkcs8', format: 'der' });
  }
  if (isEccSpec(keySpec)) {
    return crypto.generateKeyPairSync('ec', { namedCurve: EC_CURVES[keySpec] }).privateKey.export({ type: 'pkcs8', format: 'der' });
  }
  return crypto.randomBytes(32);
}
