/**
 * Decoding, validation and wrapping of key material. Pure functions over node:crypto: no AWS calls.
 *
 * Error messages name the key, the expected size and the size received; they never contain the
 * material itself.
 */
import * as crypto from 'node:crypto';
import {
  HMAC_MATERIAL_BYTES,
  isAsymmetricKeySpec,
  isHmacKeySpec,
  MaterialEncodingName,
  SYMMETRIC_MATERIAL_BYTES,
} from '../../lib/private/key-material-contract';
import { ActionableError } from '../shared/errors';

/** The secret value as Secrets Manager returned it (only the two value fields). */
export interface SecretValue {
  readonly SecretString?: string;
  readonly SecretBinary?: Uint8Array;
}

/** What to name in error messages. */
export interface MaterialSubject {
  /** The key ARN (or id). */
  readonly keyArn: string;
  /** The logical id of the custom resource. */
  readonly logicalResourceId: string;
  /** The secret the material came from. */
  readonly secretArn: string;
}

/** A material error: the message is safe to show (no material, no secret value). */
export class MaterialError extends ActionableError {
  public constructor(message: string) {
    super(message, 'MaterialError');
  }
}

/** The RFC 5649 alternative initial value used by `id-aes256-wrap-pad`. */
export const AES_KEY_WRAP_PAD_IV = Buffer.from('A65959A6', 'hex');

/** The encodings the handler accepts. */
export const MATERIAL_ENCODINGS: readonly MaterialEncodingName[] = ['AUTO', 'BINARY', 'BASE64', 'HEX', 'PEM'];

function where(s: MaterialSubject): string {
  return `key ${s.keyArn} (resource ${s.logicalResourceId}, secret ${s.secretArn})`;
}

/**
 * Decodes the plaintext material from a secret value. The caller owns (and zeroes) the returned buffer.
 * `jsonField`: the SecretString is a JSON object and the material is that (string) field.
 */
export function decodeMaterial(secret: SecretValue, encoding: MaterialEncodingName, jsonField: string | undefined, subject: MaterialSubject): Buffer {
  if (!MATERIAL_ENCODINGS.includes(encoding)) {
    throw new MaterialError(`Unsupported material Encoding '${encoding}' for ${where(subject)}: use one of ${MATERIAL_ENCODINGS.join(', ')}.`);
  }

  if (jsonField !== undefined && jsonField !== '') {
    if (encoding === 'BINARY') {
      throw new MaterialError(`Encoding BINARY cannot be combined with JsonField '${jsonField}' for ${where(subject)}: a JSON field holds text; ` +
        `use BASE64, HEX, PEM or AUTO.`);
    }
    if (secret.SecretString === undefined) {
      throw new MaterialError(`The secret for ${where(subject)} has no SecretString, but JsonField '${jsonField}' expects a JSON object in ` +
        `SecretString.`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(secret.SecretString);
    } catch {
      throw new MaterialError(`The SecretString of the secret for ${where(subject)} is not valid JSON, but JsonField '${jsonField}' expects a JSON ` +
        `object.`);
    }
    const value = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>)[jsonField] : undefined;
    if (typeof value !== 'string') {
      throw new MaterialError(`The JSON in the secret for ${where(subject)} has no string field '${jsonField}' ` +
        `(${value === undefined ? 'field absent' : `field is a ${Array.isArray(value) ? 'array' : typeof value}`}).`);
    }
    return decodeText(value, encoding, subject);
  }

  switch (encoding) {
    case 'BINARY':
      if (secret.SecretBinary === undefined) {
        throw new MaterialError(`Encoding BINARY expects SecretBinary, but the secret for ${where(subject)} holds a SecretString: store the raw ` +
          `bytes as SecretBinary, or set the encoding to BASE64, HEX or PEM.`);
      }
      return Buffer.from(secret.SecretBinary);
    case 'AUTO':
      if (secret.SecretBinary !== undefined) {
        return Buffer.from(secret.SecretBinary);
      }
      return decodeText(requireString(secret, encoding, subject), 'AUTO', subject);
    default:
      return decodeText(requireString(secret, encoding, subject), encoding, subject);
  }
}

function requireString(secret: SecretValue, encoding: MaterialEncodingName, subject: MaterialSubject): string {
  if (secret.SecretString === undefined) {
    throw new MaterialError(`Encoding ${encoding} expects a SecretString, but the secret for ${where(subject)} holds SecretBinary: set the ` +
      `encoding to BINARY (or AUTO).`);
  }
  return secret.SecretString;
}

function decodeText(text: string, encoding: Exclude<MaterialEncodingName, 'BINARY'>, subject: MaterialSubject): Buffer {
  switch (encoding) {
    case 'AUTO':
      return text.trimStart().startsWith('-----BEGIN') ? decodePem(text, subject) : decodeBase64(text, subject);
    case 'BASE64':
      return decodeBase64(text, subject);
    case 'HEX':
      return decodeHex(text, subject);
    case 'PEM':
      return decodePem(text, subject);
  }
}

/** Strict base64: whitespace allowed between groups, otherwise only the standard alphabet with correct padding. */
export function decodeBase64(text: string, subject: MaterialSubject): Buffer {
  const compact = text.replace(/\s+/g, '');
  if (compact.length === 0 || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
    throw new MaterialError(`The material in the secret for ${where(subject)} is not valid base64 (${compact.length} characters after removing ` +
      `whitespace): store base64 text, or set the encoding (BINARY, HEX, PEM) that matches the secret.`);
  }
  const bytes = Buffer.from(compact, 'base64');
  if (bytes.toString('base64') !== compact) {
    bytes.fill(0);
    throw new MaterialError(`The material in the secret for ${where(subject)} is not canonical base64 (non-zero padding bits): re-encode the ` +
      `material.`);
  }
  return bytes;
}

export function decodeHex(text: string, subject: MaterialSubject): Buffer {
  const compact = text.replace(/\s+/g, '');
  if (compact.length === 0 || compact.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(compact)) {
    throw new MaterialError(`The material in the secret for ${where(subject)} is not a hex string with an even number of digits (${compact.length} ` +
      `characters after removing whitespace).`);
  }
  return Buffer.from(compact, 'hex');
}

/** A PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC) converted to PKCS#8 DER. */
export function decodePem(text: string, subject: MaterialSubject): Buffer {
  const label = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(text)?.[1];
  if (label !== 'PRIVATE KEY' && label !== 'RSA PRIVATE KEY' && label !== 'EC PRIVATE KEY') {
    throw new MaterialError(`The material in the secret for ${where(subject)} is not a PEM private key: expected '-----BEGIN PRIVATE KEY-----', ` +
      `'-----BEGIN RSA PRIVATE KEY-----' or '-----BEGIN EC PRIVATE KEY-----', got ` +
      `${label ? `'BEGIN ${label}'` : 'no PEM header'}` +
      `${label?.includes('ENCRYPTED') ? ' (encrypted keys are not supported: store the unencrypted key)' : ''}.`);
  }
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey({ key: text, format: 'pem' });
  } catch {
    throw new MaterialError(`The PEM '${label}' in the secret for ${where(subject)} could not be parsed as a private key: check the secret holds a ` +
      `complete, unencrypted PEM block.`);
  }
  return key.export({ format: 'der', type: 'pkcs8' });
}

/** Describes a parsed private key for messages ('an RSA 3072-bit private key', 'an EC private key on curve secp384r1'). */
function describeKey(key: crypto.KeyObject): string {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'rsa') {
    return `an RSA ${details.modulusLength}-bit private key`;
  }
  if (type === 'ec') {
    return `an EC private key on curve ${details.namedCurve}`;
  }
  return `a ${type} private key`;
}

const RSA_BITS: Record<string, number> = { RSA_2048: 2048, RSA_3072: 3072, RSA_4096: 4096 };
const EC_CURVES: Record<string, string> = {
  ECC_NIST_P256: 'prime256v1',
  ECC_NIST_P384: 'secp384r1',
  ECC_NIST_P521: 'secp521r1',
  ECC_SECG_P256K1: 'secp256k1',
};

/** What a key spec expects, for messages. */
export function expectedMaterial(keySpec: string): string {
  if (keySpec === 'SYMMETRIC_DEFAULT') {
    return `exactly ${SYMMETRIC_MATERIAL_BYTES} bytes (256 bits)`;
  }
  const hmac = HMAC_MATERIAL_BYTES[keySpec];
  if (hmac) {
    return `${hmac.min} to ${hmac.max} bytes`;
  }
  if (RSA_BITS[keySpec]) {
    return `a PKCS#8 DER RSA ${RSA_BITS[keySpec]}-bit private key`;
  }
  if (EC_CURVES[keySpec]) {
    return `a PKCS#8 DER EC private key on curve ${EC_CURVES[keySpec]}`;
  }
  if (keySpec === 'SM2') {
    return 'a PKCS#8 DER SM2 private key';
  }
  return 'material KMS can import';
}

/** Checks the decoded material against the key spec. Throws a MaterialError naming sizes, never bytes. */
export function validateMaterial(material: Buffer, keySpec: string, subject: MaterialSubject): void {
  const head = `The key material for ${where(subject)} does not fit key spec ${keySpec}`;
  if (keySpec === 'SYMMETRIC_DEFAULT') {
    if (material.length !== SYMMETRIC_MATERIAL_BYTES) {
      throw new MaterialError(`${head}: expected ${expectedMaterial(keySpec)}, received ${material.length} bytes.`);
    }
    return;
  }
  if (isHmacKeySpec(keySpec)) {
    const { min, max } = HMAC_MATERIAL_BYTES[keySpec];
    if (material.length < min || material.length > max) {
      throw new MaterialError(`${head}: expected ${expectedMaterial(keySpec)}, received ${material.length} bytes.`);
    }
    return;
  }
  if (!isAsymmetricKeySpec(keySpec) || keySpec === 'SM2') {
    return; // SM2: node:crypto cannot check it reliably; KMS validates on import.
  }
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey({ key: material, format: 'der', type: 'pkcs8' });
  } catch {
    throw new MaterialError(`${head}: expected ${expectedMaterial(keySpec)}, received ${material.length} bytes that do not parse as a PKCS#8 DER ` +
      `private key (store it as PEM, or as base64/binary PKCS#8 DER).`);
  }
  const details = key.asymmetricKeyDetails ?? {};
  const rsaBits = RSA_BITS[keySpec];
  const curve = EC_CURVES[keySpec];
  const ok = rsaBits !== undefined
    ? key.asymmetricKeyType === 'rsa' && details.modulusLength === rsaBits
    : key.asymmetricKeyType === 'ec' && details.namedCurve === curve;
  if (!ok) {
    throw new MaterialError(`${head}: expected ${expectedMaterial(keySpec)}, received ${describeKey(key)}.`);
  }
}

/**
 * Encrypts the material under the KMS wrapping public key (DER SPKI, RSA_4096).
 * RSAES_OAEP_SHA_256: RSA-OAEP(SHA-256) of the material.
 * RSA_AES_KEY_WRAP_SHA_256: RSA-OAEP(SHA-256) of a fresh AES-256 key || AES key wrap with padding (RFC 5649) of the material.
 */
export function wrapMaterial(
  material: Buffer, publicKeyDer: Uint8Array, wrappingAlgorithm: 'RSAES_OAEP_SHA_256' | 'RSA_AES_KEY_WRAP_SHA_256',
): Buffer {
  const publicKey = crypto.createPublicKey({ key: Buffer.from(publicKeyDer), format: 'der', type: 'spki' });
  const oaep = (data: Buffer) => crypto.publicEncrypt({ key: publicKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, data);
  if (wrappingAlgorithm === 'RSAES_OAEP_SHA_256') {
    return oaep(material);
  }
  const aesKey = crypto.randomBytes(32);
  try {
    const cipher = crypto.createCipheriv('id-aes256-wrap-pad', aesKey, AES_KEY_WRAP_PAD_IV);
    const wrapped = Buffer.concat([cipher.update(material), cipher.final()]);
    return Buffer.concat([oaep(aesKey), wrapped]);
  } finally {
    aesKey.fill(0);
  }
}
