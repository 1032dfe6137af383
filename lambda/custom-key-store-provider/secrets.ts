/**
 * Reads the kmsuser password and the XKS proxy authentication credential from Secrets Manager.
 *
 * Values are read only when a request needs them and never leave this process except in the KMS request:
 * no error message quotes a value (JSON.parse messages are not propagated, they can quote the input).
 */
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { SecretReferenceProperties, XKS_CREDENTIAL_FIELDS } from '../../lib/private/custom-key-store-contract';
import { secretsManager } from '../shared/clients';
import { StoreContext } from './context';
import { CustomKeyStoreError, secretFailure } from './errors';

/** The XKS proxy authentication credential as KMS takes it. */
export interface XksCredential {
  readonly AccessKeyId: string;
  readonly RawSecretAccessKey: string;
}

/** KeyStorePassword: 7 to 32 characters (CreateCustomKeyStore). */
const PASSWORD_LENGTH = { min: 7, max: 32 };
/** XksProxyAuthenticationCredentialType constraints. */
const ACCESS_KEY_ID_PATTERN = /^[A-Z2-7]{20,30}$/;
const SECRET_ACCESS_KEY_PATTERN = /^[A-Za-z0-9/+=]{43,64}$/;

async function secretString(ctx: StoreContext, ref: SecretReferenceProperties, purpose: string): Promise<string> {
  if (!ref || typeof ref.SecretArn !== 'string' || ref.SecretArn === '') {
    throw new CustomKeyStoreError(`The ${purpose} secret reference of ${ctx.subjectText()} has no SecretArn.`);
  }
  let out: { SecretString?: string; SecretBinary?: Uint8Array };
  try {
    out = await ctx.call('Secrets Manager', 'GetSecretValue', (abortSignal) =>
      secretsManager.send(new GetSecretValueCommand({ SecretId: ref.SecretArn }), { abortSignal }));
  } catch (err) {
    throw secretFailure(err, ctx.subject(), ref.SecretArn, purpose);
  }
  out.SecretBinary?.fill(0);
  if (typeof out.SecretString !== 'string') {
    throw new CustomKeyStoreError(`The ${purpose} secret ${ref.SecretArn} of ${ctx.subjectText()} has no SecretString ` +
      '(binary secrets are not supported): store the value as a string.');
  }
  return out.SecretString;
}

function parseJsonObject(text: string, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Never propagate the parser's message: it can quote the secret.
    throw new CustomKeyStoreError(`${what} is not valid JSON.`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new CustomKeyStoreError(`${what} is not a JSON object.`);
  }
  return parsed as Record<string, unknown>;
}

/** The kmsuser password: the SecretString, or its JsonField. */
export async function readKeyStorePassword(ctx: StoreContext, ref: SecretReferenceProperties): Promise<string> {
  const purpose = 'key store password';
  const text = await secretString(ctx, ref, purpose);
  const where = `The ${purpose} secret ${ref.SecretArn} of ${ctx.subjectText()}`;
  let password: unknown = text;
  if (ref.JsonField) {
    const obj = parseJsonObject(text, `${where} (JsonField '${ref.JsonField}' requested)`);
    password = obj[ref.JsonField];
    if (password === undefined) {
      throw new CustomKeyStoreError(`${where} has no JSON field '${ref.JsonField}'.`);
    }
  }
  if (typeof password !== 'string') {
    throw new CustomKeyStoreError(`${where}: the JSON field '${ref.JsonField}' is not a string.`);
  }
  if (password.length < PASSWORD_LENGTH.min || password.length > PASSWORD_LENGTH.max) {
    throw new CustomKeyStoreError(`${where}: the kmsuser password must be ${PASSWORD_LENGTH.min} to ${PASSWORD_LENGTH.max} characters long.`);
  }
  return password;
}

function firstString(obj: Record<string, unknown>, names: readonly string[]): string | undefined {
  for (const n of names) {
    if (typeof obj[n] === 'string') {
      return obj[n] as string;
    }
  }
  return undefined;
}

/** The XKS proxy credential: a JSON SecretString (or the JSON object in its JsonField) with the XKS_CREDENTIAL_FIELDS. */
export async function readXksCredential(ctx: StoreContext, ref: SecretReferenceProperties): Promise<XksCredential> {
  const purpose = 'XKS proxy authentication credential';
  const text = await secretString(ctx, ref, purpose);
  const where = `The ${purpose} secret ${ref.SecretArn} of ${ctx.subjectText()}`;
  let obj = parseJsonObject(text, where);
  if (ref.JsonField) {
    const nested = obj[ref.JsonField];
    if (nested === undefined) {
      throw new CustomKeyStoreError(`${where} has no JSON field '${ref.JsonField}'.`);
    }
    if (typeof nested === 'string') {
      obj = parseJsonObject(nested, `${where}: the JSON field '${ref.JsonField}'`);
    } else if (nested && typeof nested === 'object' && !Array.isArray(nested)) {
      obj = nested as Record<string, unknown>;
    } else {
      throw new CustomKeyStoreError(`${where}: the JSON field '${ref.JsonField}' is not a JSON object.`);
    }
  }
  const accessKeyId = firstString(obj, XKS_CREDENTIAL_FIELDS.accessKeyId);
  const secretAccessKey = firstString(obj, XKS_CREDENTIAL_FIELDS.secretAccessKey);
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    const missing = [
      ...(accessKeyId === undefined ? [`the access key ID (one of ${XKS_CREDENTIAL_FIELDS.accessKeyId.join(', ')})`] : []),
      ...(secretAccessKey === undefined ? [`the secret access key (one of ${XKS_CREDENTIAL_FIELDS.secretAccessKey.join(', ')})`] : []),
    ];
    throw new CustomKeyStoreError(`${where} lacks ${missing.join(' and ')} as a string field.`);
  }
  if (!ACCESS_KEY_ID_PATTERN.test(accessKeyId)) {
    throw new CustomKeyStoreError(`${where}: the access key ID must be 20 to 30 characters of A-Z and 2-7.`);
  }
  if (!SECRET_ACCESS_KEY_PATTERN.test(secretAccessKey)) {
    throw new CustomKeyStoreError(`${where}: the secret access key must be 43 to 64 characters of a-z, A-Z, 0-9, /, + and =.`);
  }
  return { AccessKeyId: accessKeyId, RawSecretAccessKey: secretAccessKey };
}
