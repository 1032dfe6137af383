/**
 * Fixtures for the key-material handler tests: a real RSA-4096 wrapping key pair (what KMS would hold),
 * an unwrap that reverses what the handler sent, sample material per key spec, and event builders.
 */
import * as crypto from 'node:crypto';
import { KeyMaterialResourceProperties } from '../../lib/private/key-material-contract';
import { eventBuilders } from '../util/events';

export const REGION = 'eu-west-1';
export const ACCOUNT = '111122223333';
export const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
export const KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/${KEY_ID}`;
export const OTHER_KEY_ID = '0987dcba-09fe-87dc-65ba-ab0987654321';
export const OTHER_KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/${OTHER_KEY_ID}`;
export const SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:key-material-AbCdEf`;
export const OTHER_SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:key-material-v2-GhIjKl`;
export const STACK_ID = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/MyStack/11111111-2222-3333-4444-555555555555`;
export const LOGICAL_ID = 'KeyMaterialC0FFEE42';
export const RESPONSE_URL = 'https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/signed-response-url?X-Amz-Signature=deadbeef';
export const KEY_MATERIAL_ID = 'a'.repeat(64);
export const IMPORT_TOKEN = Buffer.from('import-token-that-must-never-be-logged');

/** The wrapping key pair KMS would return the public half of (RSA_4096). Generated once per test file. */
export const wrappingKeyPair = crypto.generateKeyPairSync('rsa', { modulusLength: 4096 });
export const WRAPPING_PUBLIC_KEY_DER = wrappingKeyPair.publicKey.export({ format: 'der', type: 'spki' });

/** Reverses RSAES_OAEP_SHA_256 wrapping with the wrapping private key. */
export function unwrapOaep(encrypted: Uint8Array): Buffer {
  return crypto.privateDecrypt(
    { key: wrappingKeyPair.privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    Buffer.from(encrypted));
}

/** Reverses RSA_AES_KEY_WRAP_SHA_256: RSA-OAEP(first 512 bytes) → AES key; AES-KWP (RFC 5649) of the rest → material. */
export function unwrapRsaAesKeyWrap(encrypted: Uint8Array): Buffer {
  const bytes = Buffer.from(encrypted);
  const aesKey = unwrapOaep(bytes.subarray(0, 512));
  expect(aesKey).toHaveLength(32);
  const decipher = crypto.createDecipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('A65959A6', 'hex'));
  return Buffer.concat([decipher.update(bytes.subarray(512)), decipher.final()]);
}

/** Deterministic, recognisable material bytes of a length. */
export function materialBytes(length: number, seed = 7): Buffer {
  return Buffer.from(Array.from({ length }, (_, i) => (i * 31 + seed) % 256));
}

export function rsaPrivateKey(bits: number): crypto.KeyObject {
  return crypto.generateKeyPairSync('rsa', { modulusLength: bits }).privateKey;
}

export function ecPrivateKey(namedCurve: string): crypto.KeyObject {
  return crypto.generateKeyPairSync('ec', { namedCurve }).privateKey;
}

export function pkcs8Der(key: crypto.KeyObject): Buffer {
  return key.export({ format: 'der', type: 'pkcs8' });
}

export function props(overrides: Partial<KeyMaterialResourceProperties> = {}): KeyMaterialResourceProperties {
  return {
    ServiceToken: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:provider-framework-onEvent`,
    KeyArn: KEY_ARN,
    KeySpec: 'SYMMETRIC_DEFAULT',
    MultiRegion: 'false',
    MaterialRemovalPolicy: 'destroy',
    ...overrides,
  };
}

export function withMaterial(overrides: Partial<KeyMaterialResourceProperties> = {}, encoding: 'AUTO' | 'BINARY' | 'BASE64' | 'HEX' | 'PEM' = 'AUTO'): KeyMaterialResourceProperties {
  return props({ Material: { SecretArn: SECRET_ARN, Encoding: encoding }, ...overrides });
}

/** Create, Update and Delete events for this handler. */
export const { createEvent, updateEvent, deleteEvent } = eventBuilders<KeyMaterialResourceProperties>({
  resourceType: 'Custom::KmsImportedKeyMaterial', logicalResourceId: LOGICAL_ID, stackId: STACK_ID, responseUrl: RESPONSE_URL, physicalResourceId: KEY_ID,
});
