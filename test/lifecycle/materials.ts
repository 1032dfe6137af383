/**
 * Key material for the lifecycle tests: what a user stores in Secrets Manager, per key spec.
 */
import * as crypto from 'node:crypto';

/** Deterministic 32-byte SYMMETRIC_DEFAULT material (distinct per seed). */
export function symmetricMaterial(seed: number): Buffer {
  return crypto.createHash('sha256').update(`lifecycle-material-${seed}`).digest();
}

/** Deterministic HMAC material of `bytes` length. */
export function hmacMaterial(bytes: number, seed: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 32) crypto.createHash('sha256').update(`hmac-${seed}-${i}`).digest().copy(out, i);
  return out;
}

const rsaCache = new Map<string, Buffer>();

/** An RSA private key as PKCS#8 DER (cached per bits and slot: generating one takes tens of ms). */
export function rsaPkcs8(bits: number, slot = 0): Buffer {
  const k = `${bits}/${slot}`;
  let der = rsaCache.get(k);
  if (!der) {
    der = crypto.generateKeyPairSync('rsa', { modulusLength: bits }).privateKey.export({ format: 'der', type: 'pkcs8' });
    rsaCache.set(k, der);
  }
  return der;
}

/** The same key as PEM text. */
export function pkcs8Pem(der: Buffer): string {
  return crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }).toString();
}
