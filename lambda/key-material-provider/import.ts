/**
 * The import round trip: read the material from its secret, validate it against the key spec,
 * GetParametersForImport, wrap it under the returned public key, ImportKeyMaterial. The plaintext is zeroed
 * whatever happens.
 */
import { GetParametersForImportCommand, ImportKeyMaterialCommand, ImportKeyMaterialCommandInput, KMSClient } from '@aws-sdk/client-kms';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { WRAPPING_KEY_SPEC, wrappingAlgorithmFor } from '../../lib/private/key-material-contract';
import { kms, secretsManager } from '../shared/clients';
import { errorMessage, errorName } from '../shared/errors';
import { KeyMaterialContext } from './context';
import { HandlerError, kmsFailure, secretFailure } from './errors';
import { expirationModelOf, expirationProblem, resolveValidTo } from './expiration';
import { decodeMaterial, validateMaterial, wrapMaterial } from './material';

/** Reads, decodes and validates the material, runs `use`, and zeroes the plaintext whatever happens. */
export async function withMaterial<T>(ctx: KeyMaterialContext, use: (material: Buffer) => Promise<T>): Promise<T> {
  const source = ctx.props.Material!;
  const subject = ctx.subject(source.SecretArn);
  // Needs "now", so it runs here and not at synth: a ValidTo in the past or more than 365 days ahead.
  const expirationError = expirationProblem(ctx.props, Date.now(), ctx.subjectText());
  if (expirationError) throw new HandlerError(expirationError);
  let secret: { SecretString?: string; SecretBinary?: Uint8Array };
  try {
    secret = await ctx.call('Secrets Manager', 'GetSecretValue', (abortSignal) => secretsManager.send(new GetSecretValueCommand({
      SecretId: source.SecretArn,
      ...(source.VersionId ? { VersionId: source.VersionId } : {}),
      ...(source.VersionStage ? { VersionStage: source.VersionStage } : {}),
    }), { abortSignal }));
  } catch (err) {
    throw secretFailure(err, subject);
  }
  let material: Buffer | undefined;
  try {
    const where = { keyArn: ctx.keyArn, logicalResourceId: ctx.event.LogicalResourceId, secretArn: source.SecretArn };
    material = decodeMaterial(secret, source.Encoding ?? 'AUTO', source.JsonField, where);
    validateMaterial(material, ctx.props.KeySpec, where);
    ctx.log.info('material read and validated', { keySpec: ctx.props.KeySpec, materialBytes: material.length });
    return await use(material);
  } finally {
    material?.fill(0);
    secret.SecretBinary?.fill(0);
  }
}

/** The wrapped material and import token, ready for ImportKeyMaterial. */
export interface PreparedImport {
  readonly importToken: Uint8Array;
  readonly encryptedKeyMaterial: Uint8Array;
}

/** Where an import goes when it is not this resource's key: a related multi-Region key, with a client of its Region. */
export interface ImportTarget {
  readonly keyArn: string;
  readonly client: KMSClient;
}

/** GetParametersForImport, then wrap the material under the returned public key. */
export async function prepareImport(ctx: KeyMaterialContext, material: Buffer, target?: ImportTarget): Promise<PreparedImport> {
  const wrappingAlgorithm = wrappingAlgorithmFor(ctx.props.KeySpec);
  let params;
  try {
    params = await ctx.kms('GetParametersForImport', (abortSignal) => (target?.client ?? kms).send(new GetParametersForImportCommand({
      KeyId: target?.keyArn ?? ctx.keyArn,
      WrappingAlgorithm: wrappingAlgorithm,
      WrappingKeySpec: WRAPPING_KEY_SPEC,
    }), { abortSignal }));
  } catch (err) {
    throw kmsFailure('GetParametersForImport', err, target ? { ...ctx.subject(), keyArn: target.keyArn } : ctx.subject());
  }
  if (!params.PublicKey || !params.ImportToken) {
    throw new HandlerError(`KMS GetParametersForImport for key ${ctx.keyArn} (resource ${ctx.event.LogicalResourceId}) returned no public key or ` +
      `import token; ` +
      'retry the deployment.');
  }
  try {
    return { importToken: params.ImportToken, encryptedKeyMaterial: wrapMaterial(material, params.PublicKey, wrappingAlgorithm) };
  } catch (err) {
    throw new HandlerError(`Wrapping the key material for key ${ctx.keyArn} (resource ${ctx.event.LogicalResourceId}) with ${wrappingAlgorithm} ` +
      `failed: ` +
      `${errorMessage(err) || errorName(err) || 'unknown error'}. ` +
      (wrappingAlgorithm === 'RSAES_OAEP_SHA_256' ? `The material (${material.length} bytes) may be too long for RSA-OAEP under ` +
        `${WRAPPING_KEY_SPEC}.` : 'Retry the deployment.'));
  }
}

export interface ImportOptions {
  /** ImportType (only sent for SYMMETRIC_DEFAULT keys). */
  readonly importType?: 'EXISTING_KEY_MATERIAL' | 'NEW_KEY_MATERIAL';
  /** Reject with the raw SDK error instead of the mapped one. */
  readonly raw?: boolean;
  /** Import into this key instead of the resource's (the parameters must come from the same key). */
  readonly target?: ImportTarget;
}

export async function sendImport(ctx: KeyMaterialContext, prepared: PreparedImport, options: ImportOptions): Promise<{ keyMaterialId?: string }> {
  const expirationModel = expirationModelOf(ctx.props);
  const validTo = resolveValidTo(ctx.props, Date.now()); // ValidFor: import time + the duration
  const input: ImportKeyMaterialCommandInput = {
    KeyId: options.target?.keyArn ?? ctx.keyArn,
    ImportToken: prepared.importToken,
    EncryptedKeyMaterial: prepared.encryptedKeyMaterial,
    ExpirationModel: expirationModel,
    ...(validTo ? { ValidTo: validTo } : {}),
    ...(options.importType && ctx.props.KeySpec === 'SYMMETRIC_DEFAULT' ? { ImportType: options.importType } : {}),
    ...(ctx.props.KeyMaterialDescription && ctx.props.KeySpec === 'SYMMETRIC_DEFAULT' ? { KeyMaterialDescription: ctx.props.KeyMaterialDescription } : {}),
  };
  try {
    const out = await ctx.kms('ImportKeyMaterial', (abortSignal) => (options.target?.client ?? kms).send(new ImportKeyMaterialCommand(input), { abortSignal }));
    ctx.log.info('material imported', {
      importType: input.ImportType, expirationModel, validTo: validTo?.toISOString(), keyMaterialId: out.KeyMaterialId, ...(options.target ? { into: options.target.keyArn } : {}),
    });
    return { keyMaterialId: out.KeyMaterialId };
  } catch (err) {
    if (options.raw) {
      throw err;
    }
    throw kmsFailure('ImportKeyMaterial', err, options.target ? { ...ctx.subject(), keyArn: options.target.keyArn } : ctx.subject());
  }
}

/** First import (Create, or material added on Update). */
export async function importMaterial(ctx: KeyMaterialContext, material: Buffer, options: ImportOptions): Promise<{ keyMaterialId?: string }> {
  return sendImport(ctx, await prepareImport(ctx, material), options);
}
