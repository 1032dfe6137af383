/**
 * Unit tests of the key-material handler (lambda/key-material-provider). AWS is mocked with aws-sdk-client-mock;
 * every import test decrypts what was sent to ImportKeyMaterial with the wrapping private key and compares it
 * with the original material.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  DeleteImportedKeyMaterialCommand,
  DescribeKeyCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  ImportKeyMaterialCommandInput,
  IncorrectKeyMaterialException,
  KMSClient,
  KMSInvalidStateException,
  NotFoundException,
  ListKeyRotationsCommand,
  ListKeyRotationsCommandInput,
  ListKeyRotationsCommandOutput,
  RotateKeyOnDemandCommand,
  UnsupportedOperationException,
} from '@aws-sdk/client-kms';
import {
  DecryptionFailure,
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { KeyMaterialResourceProperties } from '../lib/private/key-material-contract';
import {
  Deadline, handler, HandlerOptions, keyIdFromArn, KeyMaterialEvent, KeyMaterialResponse, onEvent as handlerOnEvent,
} from '../lambda/key-material-provider/index';
import { CLIENT_CONFIG, kms as handlerKms } from '../lambda/shared/clients';
import { RenewableRetryStrategy } from '../lambda/shared/retry';
import { CapturedLogs, captureLogs } from './util/logs';
import { scriptedEndpoint, withModuleAt } from './util/scripted-endpoint';
import {
  createEvent, deleteEvent, ecPrivateKey, IMPORT_TOKEN, KEY_ARN, KEY_ID, KEY_MATERIAL_ID, LOGICAL_ID, materialBytes,
  OTHER_KEY_ARN, OTHER_KEY_ID, OTHER_SECRET_ARN, pkcs8Der, props, REGION, RESPONSE_URL, rsaPrivateKey, SECRET_ARN,
  STACK_ID, unwrapOaep, unwrapRsaAesKeyWrap, updateEvent, withMaterial, WRAPPING_PUBLIC_KEY_DER, ACCOUNT,
} from './key-material-handler/fixtures';

/** Expiration times relative to now: the handler refuses a ValidTo in the past or more than 365 days ahead. */
const IN_30_DAYS = new Date(Date.now() + 30 * 86_400_000).toISOString();
const IN_90_DAYS = new Date(Date.now() + 90 * 86_400_000).toISOString();

// The handler's module-level clients, mocked on their prototypes.
const kmsMock = mockClient(KMSClient);
const smMock = mockClient(SecretsManagerClient);
const cfnMock = mockClient(CloudFormationClient);

/** KMS mock that answers the import round trip like KMS would. */
function kmsAcceptsImports(keyMaterialId: string | null = KEY_MATERIAL_ID): void {
  kmsMock.on(GetParametersForImportCommand).resolves({
    KeyId: KEY_ARN,
    PublicKey: new Uint8Array(WRAPPING_PUBLIC_KEY_DER),
    ImportToken: new Uint8Array(IMPORT_TOKEN),
    ParametersValidTo: new Date(Date.now() + 86_400_000),
  });
  kmsMock.on(ImportKeyMaterialCommand).resolves({ KeyId: KEY_ARN, ...(keyMaterialId ? { KeyMaterialId: keyMaterialId } : {}) });
}

/**
 * Answers ListKeyRotations with `pages` in turn and returns each input as it was sent (the SDK's paginator reuses
 * one input object, so the mock's recorded inputs all show the last marker).
 */
function listKeyRotationsPages(...pages: Omit<ListKeyRotationsCommandOutput, '$metadata'>[]): ListKeyRotationsCommandInput[] {
  const inputs: ListKeyRotationsCommandInput[] = [];
  kmsMock.on(ListKeyRotationsCommand).callsFake((input: ListKeyRotationsCommandInput) => {
    inputs.push({ ...input });
    return pages[Math.min(inputs.length - 1, pages.length - 1)];
  });
  return inputs;
}

function secretHoldsString(value: string): void {
  smMock.on(GetSecretValueCommand).resolves({ ARN: SECRET_ARN, SecretString: value });
}

function secretHoldsBinary(value: Uint8Array): void {
  smMock.on(GetSecretValueCommand).resolves({ ARN: SECRET_ARN, SecretBinary: value });
}

function importInput(n = 0): ImportKeyMaterialCommandInput {
  return kmsMock.commandCalls(ImportKeyMaterialCommand)[n].args[0].input;
}

function kmsError<T extends Error>(ctor: new (opts: { message: string; $metadata: object }) => T, message: string): T {
  return new ctor({ message, $metadata: {} });
}

function awsError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } });
}

/** The properties of the event being handled: by default DescribeKey finds the key they declare. */
let declared: KeyMaterialResourceProperties | undefined;

/** onEvent, remembering the declared key so that the default DescribeKey answer matches it. */
function onEvent(event: KeyMaterialEvent, opts?: HandlerOptions): Promise<KeyMaterialResponse> {
  declared = event.ResourceProperties;
  return handlerOnEvent(event, opts);
}

/** What KMS's DescribeKey says about the declared key: an Enabled EXTERNAL key of the stack's account and Region. */
function declaredKeyMetadata(keyId: string | undefined) {
  const arn = keyId?.startsWith('arn:') ? keyId : `arn:aws:kms:${REGION}:${ACCOUNT}:key/${keyId}`;
  return {
    KeyMetadata: {
      KeyId: keyIdFromArn(arn), Arn: arn, AWSAccountId: ACCOUNT, Origin: 'EXTERNAL' as const, KeyState: 'Enabled' as const,
      KeySpec: (declared?.KeySpec ?? 'SYMMETRIC_DEFAULT') as 'SYMMETRIC_DEFAULT', MultiRegion: declared?.MultiRegion === 'true',
    },
  };
}

let logs: CapturedLogs;
beforeEach(() => {
  kmsMock.reset();
  smMock.reset();
  cfnMock.reset();
  declared = undefined;
  kmsMock.on(DescribeKeyCommand).callsFake((input) => declaredKeyMetadata(input.KeyId));
  cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'MyStack', StackStatus: 'DELETE_IN_PROGRESS', CreationTime: new Date() }] });
  logs = captureLogs();
});
afterEach(() => {
  logs.restore();
});

describe('physical id', () => {
  test('is the key id taken from a key ARN', () => {
    expect(keyIdFromArn(KEY_ARN)).toBe(KEY_ID);
  });

  test('is the key ARN itself when KeyArn is a bare key id', () => {
    expect(keyIdFromArn(KEY_ID)).toBe(KEY_ID);
  });
});

describe('Create', () => {
  test('without material verifies the key (DescribeKey only) and returns its id', async () => {
    // WHEN
    const result = await onEvent(createEvent(props()));

    // THEN
    expect(result).toEqual({ PhysicalResourceId: KEY_ID, Data: { KeyId: KEY_ID } });
    expect(kmsMock.calls().map((c) => c.args[0].constructor.name)).toEqual(['DescribeKeyCommand']);
    expect(kmsMock).toHaveReceivedCommandWith(DescribeKeyCommand, { KeyId: KEY_ARN });
    expect(smMock).not.toHaveReceivedAnyCommand();
    expect(cfnMock).not.toHaveReceivedAnyCommand();
  });

  test('imports SYMMETRIC_DEFAULT material wrapped with RSAES_OAEP_SHA_256 under the KMS public key', async () => {
    // GIVEN
    const material = materialBytes(32);
    secretHoldsBinary(Buffer.from(material));
    kmsAcceptsImports();

    // WHEN
    const result = await onEvent(createEvent(withMaterial()));

    // THEN
    expect(result).toEqual({ PhysicalResourceId: KEY_ID, Data: { KeyId: KEY_ID, KeyMaterialId: KEY_MATERIAL_ID } });
    expect(smMock).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    expect(smMock.commandCalls(GetSecretValueCommand)[0].args[0].input).toEqual({ SecretId: SECRET_ARN });
    expect(kmsMock.commandCalls(GetParametersForImportCommand)[0].args[0].input).toEqual({
      KeyId: KEY_ARN, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_4096',
    });
    const sent = importInput();
    expect(sent).toEqual({
      KeyId: KEY_ARN,
      ImportToken: new Uint8Array(IMPORT_TOKEN),
      EncryptedKeyMaterial: expect.any(Uint8Array),
      ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
    });
    expect(unwrapOaep(sent.EncryptedKeyMaterial!)).toEqual(material);
    expect(kmsMock).toHaveReceivedCommandTimes(ImportKeyMaterialCommand, 1);
  });

  test('sends KeyMaterialDescription with the import', async () => {
    secretHoldsBinary(materialBytes(32));
    kmsAcceptsImports();

    await onEvent(createEvent(withMaterial({ KeyMaterialDescription: 'hsm-export/2026-12 batch 7' })));

    expect(importInput()).toMatchObject({ KeyId: KEY_ARN, KeyMaterialDescription: 'hsm-export/2026-12 batch 7' });
  });

  test('reads the secret version and stage that the properties pin', async () => {
    // GIVEN
    secretHoldsBinary(materialBytes(32));
    kmsAcceptsImports();

    // WHEN
    await onEvent(createEvent(props({ Material: { SecretArn: SECRET_ARN, Encoding: 'BINARY', VersionId: 'v-123', VersionStage: 'AWSPREVIOUS' } })));

    // THEN
    expect(smMock.commandCalls(GetSecretValueCommand)[0].args[0].input).toEqual({ SecretId: SECRET_ARN, VersionId: 'v-123', VersionStage: 'AWSPREVIOUS' });
  });

  test('imports HMAC_384 material of 48 bytes wrapped with RSAES_OAEP_SHA_256', async () => {
    // GIVEN
    const material = materialBytes(48, 3);
    secretHoldsString(material.toString('base64'));
    kmsAcceptsImports(null);

    // WHEN
    const result = await onEvent(createEvent(withMaterial({ KeySpec: 'HMAC_384' })));

    // THEN
    expect(result).toEqual({ PhysicalResourceId: KEY_ID, Data: { KeyId: KEY_ID } });
    expect(kmsMock).toHaveReceivedCommandWith(GetParametersForImportCommand, { WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_4096' });
    expect(unwrapOaep(importInput().EncryptedKeyMaterial!)).toEqual(material);
  });

  test('imports an RSA_2048 private key as PKCS#8 DER wrapped with RSA_AES_KEY_WRAP_SHA_256', async () => {
    // GIVEN
    const key = rsaPrivateKey(2048);
    secretHoldsString(key.export({ format: 'pem', type: 'pkcs8' }) as string);
    kmsAcceptsImports(null);

    // WHEN
    await onEvent(createEvent(withMaterial({ KeySpec: 'RSA_2048' }, 'PEM')));

    // THEN
    expect(kmsMock.commandCalls(GetParametersForImportCommand)[0].args[0].input).toEqual({
      KeyId: KEY_ARN, WrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256', WrappingKeySpec: 'RSA_4096',
    });
    expect(importInput().ImportType).toBeUndefined();
    expect(unwrapRsaAesKeyWrap(importInput().EncryptedKeyMaterial!)).toEqual(pkcs8Der(key));
  });

  test('imports an ECC_NIST_P256 private key given as base64 PKCS#8 DER wrapped with RSA_AES_KEY_WRAP_SHA_256', async () => {
    // GIVEN
    const der = pkcs8Der(ecPrivateKey('prime256v1'));
    secretHoldsString(der.toString('base64'));
    kmsAcceptsImports(null);

    // WHEN
    await onEvent(createEvent(withMaterial({ KeySpec: 'ECC_NIST_P256' })));

    // THEN
    expect(kmsMock).toHaveReceivedCommandWith(GetParametersForImportCommand, { WrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256' });
    expect(unwrapRsaAesKeyWrap(importInput().EncryptedKeyMaterial!)).toEqual(der);
  });

  test('sends ExpirationModel KEY_MATERIAL_EXPIRES with ValidTo as a Date', async () => {
    // GIVEN
    secretHoldsBinary(materialBytes(32));
    kmsAcceptsImports();

    // WHEN
    await onEvent(createEvent(withMaterial({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: IN_30_DAYS })));

    // THEN
    expect(importInput().ExpirationModel).toBe('KEY_MATERIAL_EXPIRES');
    expect(importInput().ValidTo).toEqual(new Date(IN_30_DAYS));
  });

  test('zeroes the SecretBinary buffer it received once the import is done', async () => {
    // GIVEN
    const secretBinary = Buffer.from(materialBytes(32));
    secretHoldsBinary(secretBinary);
    kmsAcceptsImports();

    // WHEN
    await onEvent(createEvent(withMaterial()));

    // THEN
    expect(secretBinary.equals(Buffer.alloc(32))).toBe(true);
  });

  test('fails when KeyArn is missing, before any AWS call', async () => {
    await expect(onEvent(createEvent(props({ KeyArn: '' })))).rejects.toThrow(
      /^Resource KeyMaterialC0FFEE42 has no KeyArn property: set it to the ARN of an EXTERNAL-origin KMS key\.$/);
    expect(kmsMock).not.toHaveReceivedAnyCommand();
  });

});

describe('encodings', () => {
  beforeEach(() => kmsAcceptsImports());

  test('BINARY imports the SecretBinary bytes', async () => {
    const material = materialBytes(32, 11);
    secretHoldsBinary(Buffer.from(material));
    await onEvent(createEvent(withMaterial({}, 'BINARY')));
    expect(unwrapOaep(importInput().EncryptedKeyMaterial!)).toEqual(material);
  });

  test('BINARY rejects a secret that holds a SecretString', async () => {
    secretHoldsString(materialBytes(32).toString('base64'));
    await expect(onEvent(createEvent(withMaterial({}, 'BINARY')))).rejects.toThrow(
      /^Encoding BINARY expects SecretBinary, but the secret for key arn:aws:kms:.*key\/1234abcd-12ab-34cd-56ef-1234567890ab \(resource KeyMaterialC0FFEE42, secret arn:aws:secretsmanager:.*\) holds a SecretString/);
    expect(kmsMock).not.toHaveReceivedAnyCommand();
  });

  test('BASE64 imports the decoded SecretString, ignoring line breaks', async () => {
    const material = materialBytes(32, 13);
    const b64 = material.toString('base64');
    secretHoldsString(`${b64.slice(0, 20)}\n${b64.slice(20)}\n`);
    await onEvent(createEvent(withMaterial({}, 'BASE64')));
    expect(unwrapOaep(importInput().EncryptedKeyMaterial!)).toEqual(material);
  });

  test('BASE64 rejects text that is not base64, naming the length and not the value', async () => {
    secretHoldsString('this is not base64!!');
    const failure = onEvent(createEvent(withMaterial({}, 'BASE64')));
    await expect(failure).rejects.toThrow(/is not valid base64 \(17 characters after removing whitespace\)/);
    await expect(failure).rejects.not.toThrow(/this is not/);
    expect(kmsMock).not.toHaveReceivedAnyCommand();
  });

  test('AUTO decodes a SecretString as strict base64', async () => {
    const material = materialBytes(32, 17);
    secretHoldsString(material.toString('base64'));
    await onEvent(createEvent(withMaterial({}, 'AUTO')));
    expect(unwrapOaep(importInput().EncryptedKeyMaterial!)).toEqual(material);
  });

  test('AUTO uses SecretBinary raw bytes when present', async () => {
    const material = materialBytes(32, 19);
    secretHoldsBinary(Buffer.from(material));
    await onEvent(createEvent(withMaterial({}, 'AUTO')));
    expect(unwrapOaep(importInput().EncryptedKeyMaterial!)).toEqual(material);
  });

  test('HEX imports the decoded hex string', async () => {
    const material = materialBytes(32, 23);
    secretHoldsString(material.toString('hex').toUpperCase());
    await onEvent(createEvent(withMaterial({}, 'HEX')));
    expect(unwrapOaep(importInput().EncryptedKeyMaterial!)).toEqual(material);
  });

  test('HEX rejects an odd number of digits', async () => {
    secretHoldsString('abc');
    await expect(onEvent(createEvent(withMaterial({}, 'HEX')))).rejects.toThrow(
      /is not a hex string with an even number of digits \(3 characters after removing whitespace\)/);
    expect(kmsMock).not.toHaveReceivedAnyCommand();
  });

  test('PEM converts a PKCS#1 RSA PRIVATE KEY to PKCS#8 DER', async () => {
    const key = rsaPrivateKey(2048);
    const pem = key.export({ format: 'pem', type: 'pkcs1' }) as string;
    expect(pem).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    secretHoldsString(pem);
    await onEvent(createEvent(withMaterial({ KeySpec: 'RSA_2048' }, 'PEM')));
    expect(unwrapRsaAesKeyWrap(importInput().EncryptedKeyMaterial!)).toEqual(pkcs8Der(key));
  });

  test('PEM converts a SEC1 EC PRIVATE KEY to PKCS#8 DER', async () => {
    const key = ecPrivateKey('secp384r1');
    const pem = key.export({ format: 'pem', type: 'sec1' }) as string;
    expect(pem).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
    secretHoldsString(pem);
    await onEvent(createEvent(withMaterial({ KeySpec: 'ECC_NIST_P384' }, 'PEM')));
    expect(unwrapRsaAesKeyWrap(importInput().EncryptedKeyMaterial!)).toEqual(pkcs8Der(key));
  });

  test('PEM rejects a public key', async () => {
    const publicPem = ecPrivateKey('prime256v1');
    secretHoldsString(require('node:crypto').createPublicKey(publicPem).export({ format: 'pem', type: 'spki' }) as string);
    await expect(onEvent(createEvent(withMaterial({ KeySpec: 'ECC_NIST_P256' }, 'PEM')))).rejects.toThrow(
      /is not a PEM private key: .* got 'BEGIN PUBLIC KEY'/);
    expect(kmsMock).not.toHaveReceivedAnyCommand();
  });

  test('JsonField takes the material from a field of the JSON SecretString', async () => {
    const material = materialBytes(32, 29);
    secretHoldsString(JSON.stringify({ username: 'ignored', material: material.toString('base64') }));
    await onEvent(createEvent(props({ Material: { SecretArn: SECRET_ARN, Encoding: 'AUTO', JsonField: 'material' } })));
    expect(unwrapOaep(importInput().EncryptedKeyMaterial!)).toEqual(material);
  });

  test('JsonField with AUTO reads a PEM private key from the field', async () => {
    const key = ecPrivateKey('secp256k1');
    secretHoldsString(JSON.stringify({ privateKey: key.export({ format: 'pem', type: 'pkcs8' }) }));
    await onEvent(createEvent(props({ KeySpec: 'ECC_SECG_P256K1', Material: { SecretArn: SECRET_ARN, Encoding: 'AUTO', JsonField: 'privateKey' } })));
    expect(unwrapRsaAesKeyWrap(importInput().EncryptedKeyMaterial!)).toEqual(pkcs8Der(key));
  });

  test('JsonField fails when the field is absent', async () => {
    secretHoldsString(JSON.stringify({ other: 'x' }));
    await expect(onEvent(createEvent(props({ Material: { SecretArn: SECRET_ARN, Encoding: 'BASE64', JsonField: 'material' } })))).rejects.toThrow(
      /The JSON in the secret for key .* has no string field 'material' \(field absent\)/);
    expect(kmsMock).not.toHaveReceivedAnyCommand();
  });
});

describe('material validation', () => {
  beforeEach(() => kmsAcceptsImports());

  test('rejects SYMMETRIC_DEFAULT material that is not 32 bytes, without importing', async () => {
    secretHoldsBinary(materialBytes(16));
    await expect(onEvent(createEvent(withMaterial()))).rejects.toThrow(
      /^The key material for key arn:aws:kms:eu-west-1:111122223333:key\/1234abcd-12ab-34cd-56ef-1234567890ab \(resource KeyMaterialC0FFEE42, secret .*\) does not fit key spec SYMMETRIC_DEFAULT: expected exactly 32 bytes \(256 bits\), received 16 bytes\.$/);
    expect(kmsMock).not.toHaveReceivedCommand(GetParametersForImportCommand);
    expect(kmsMock).not.toHaveReceivedCommand(ImportKeyMaterialCommand);
  });

  test('rejects HMAC_256 material shorter than 32 bytes, without importing', async () => {
    secretHoldsBinary(materialBytes(31));
    await expect(onEvent(createEvent(withMaterial({ KeySpec: 'HMAC_256' })))).rejects.toThrow(
      /does not fit key spec HMAC_256: expected 32 to 64 bytes, received 31 bytes\.$/);
    expect(kmsMock).not.toHaveReceivedCommand(ImportKeyMaterialCommand);
  });

  test('rejects an RSA 3072-bit key for an RSA_2048 key, without importing', async () => {
    secretHoldsBinary(pkcs8Der(rsaPrivateKey(3072)));
    await expect(onEvent(createEvent(withMaterial({ KeySpec: 'RSA_2048' })))).rejects.toThrow(
      /does not fit key spec RSA_2048: expected a PKCS#8 DER RSA 2048-bit private key, received an RSA 3072-bit private key\.$/);
    expect(kmsMock).not.toHaveReceivedCommand(ImportKeyMaterialCommand);
  });

  test('rejects a P-384 key for an ECC_NIST_P256 key, without importing', async () => {
    secretHoldsBinary(pkcs8Der(ecPrivateKey('secp384r1')));
    await expect(onEvent(createEvent(withMaterial({ KeySpec: 'ECC_NIST_P256' })))).rejects.toThrow(
      /does not fit key spec ECC_NIST_P256: expected a PKCS#8 DER EC private key on curve prime256v1, received an EC private key on curve secp384r1\.$/);
    expect(kmsMock).not.toHaveReceivedCommand(ImportKeyMaterialCommand);
  });

  test('rejects bytes that are not a PKCS#8 private key for an asymmetric key', async () => {
    secretHoldsBinary(materialBytes(64));
    await expect(onEvent(createEvent(withMaterial({ KeySpec: 'RSA_4096' })))).rejects.toThrow(
      /does not fit key spec RSA_4096: expected a PKCS#8 DER RSA 4096-bit private key, received 64 bytes that do not parse as a PKCS#8 DER private key/);
    expect(kmsMock).not.toHaveReceivedCommand(ImportKeyMaterialCommand);
  });

});

describe('import errors', () => {
  beforeEach(() => secretHoldsBinary(materialBytes(32)));

  test('explains that the key is not EXTERNAL when GetParametersForImport answers UnsupportedOperationException', async () => {
    kmsMock.on(GetParametersForImportCommand).rejects(kmsError(UnsupportedOperationException, 'arn is not an EXTERNAL key'));
    await expect(onEvent(createEvent(withMaterial()))).rejects.toThrow(
      /^KMS GetParametersForImport failed for key arn:aws:kms:eu-west-1:111122223333:key\/1234abcd-12ab-34cd-56ef-1234567890ab \(resource KeyMaterialC0FFEE42\): UnsupportedOperationException: the key's Origin is not EXTERNAL \(or it is in a custom key store\); only EXTERNAL keys accept imported material\./);
    expect(kmsMock).not.toHaveReceivedCommand(ImportKeyMaterialCommand);
  });

  test('explains a missing key on NotFoundException', async () => {
    kmsMock.on(GetParametersForImportCommand).rejects(kmsError(NotFoundException, 'Key not found'));
    await expect(onEvent(createEvent(withMaterial()))).rejects.toThrow(
      /KMS GetParametersForImport failed for key .* \(resource KeyMaterialC0FFEE42\): NotFoundException: the key does not exist in this account and Region/);
  });

  test('quotes the key state on KMSInvalidStateException', async () => {
    kmsAcceptsImports();
    kmsMock.on(ImportKeyMaterialCommand).rejects(kmsError(KMSInvalidStateException, `${KEY_ARN} is pending deletion.`));
    await expect(onEvent(createEvent(withMaterial()))).rejects.toThrow(
      /KMS ImportKeyMaterial failed for key .*: KMSInvalidStateException: the key's state does not allow this operation \(KMS says: "arn:.* is pending deletion\."\)\. If it is pending deletion, cancel the deletion/);
  });

  test('explains IncorrectKeyMaterialException as material that differs from the imported one', async () => {
    kmsAcceptsImports();
    kmsMock.on(ImportKeyMaterialCommand).rejects(kmsError(IncorrectKeyMaterialException, 'incorrect'));
    await expect(onEvent(createEvent(withMaterial()))).rejects.toThrow(
      /ImportKeyMaterial failed .*: IncorrectKeyMaterialException: the material differs from the material already imported into this key\./);
  });

  test('explains an expired import token', async () => {
    kmsAcceptsImports();
    kmsMock.on(ImportKeyMaterialCommand).rejects(awsError('ExpiredImportTokenException', 'expired'));
    await expect(onEvent(createEvent(withMaterial()))).rejects.toThrow(
      /ExpiredImportTokenException: the import token from GetParametersForImport expired .* retry the deployment\./);
  });

  test('points at the key policy on AccessDeniedException', async () => {
    kmsAcceptsImports();
    kmsMock.on(ImportKeyMaterialCommand).rejects(awsError('AccessDeniedException', 'User: arn:aws:sts::111122223333:assumed-role/x is not authorized'));
    await expect(onEvent(createEvent(withMaterial()))).rejects.toThrow(
      /KMS ImportKeyMaterial failed for key .* \(resource KeyMaterialC0FFEE42\): AccessDeniedException: the provider's role may not call kms:ImportKeyMaterial on this key\. Check the key policy grants the provider role kms:ImportKeyMaterial/);
  });

  test('explains a missing secret on ResourceNotFoundException, without calling KMS', async () => {
    smMock.on(GetSecretValueCommand).rejects(new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: {} }));
    await expect(onEvent(createEvent(withMaterial()))).rejects.toThrow(
      /^Secrets Manager GetSecretValue of secret arn:aws:secretsmanager:eu-west-1:111122223333:secret:key-material-AbCdEf failed for key .* \(resource KeyMaterialC0FFEE42\): ResourceNotFoundException: the secret, or the requested VersionId\/VersionStage, does not exist/);
    expect(kmsMock).not.toHaveReceivedAnyCommand();
  });

  test("explains DecryptionFailure as the secret's KMS key not being usable", async () => {
    smMock.on(GetSecretValueCommand).rejects(new DecryptionFailure({ message: 'cannot decrypt', $metadata: {} }));
    await expect(onEvent(createEvent(withMaterial()))).rejects.toThrow(
      /DecryptionFailure: Secrets Manager could not decrypt the secret with its KMS key\. Grant the provider role kms:Decrypt/);
  });

  test('explains AccessDeniedException on the secret', async () => {
    smMock.on(GetSecretValueCommand).rejects(awsError('AccessDeniedException', 'denied'));
    await expect(onEvent(createEvent(withMaterial()))).rejects.toThrow(
      /GetSecretValue .*: AccessDeniedException: the provider's role may not read the secret\. Grant it secretsmanager:GetSecretValue/);
  });
});

describe('Update', () => {
  const oldProps = withMaterial();

  test('to another key imports into the new key and returns its id as the new physical id', async () => {
    // GIVEN
    const material = materialBytes(32);
    secretHoldsBinary(Buffer.from(material));
    kmsAcceptsImports();

    // WHEN
    const result = await onEvent(updateEvent(oldProps, withMaterial({ KeyArn: OTHER_KEY_ARN })));

    // THEN
    expect(result).toEqual({ PhysicalResourceId: OTHER_KEY_ID, Data: { KeyId: OTHER_KEY_ID, KeyMaterialId: KEY_MATERIAL_ID } });
    expect(kmsMock).toHaveReceivedCommandWith(GetParametersForImportCommand, { KeyId: OTHER_KEY_ARN });
    expect(importInput().KeyId).toBe(OTHER_KEY_ARN);
    expect(importInput().ImportType).toBeUndefined();
    expect(unwrapOaep(importInput().EncryptedKeyMaterial!)).toEqual(material);
    expect(kmsMock).not.toHaveReceivedCommand(DeleteImportedKeyMaterialCommand);
  });

  test('to another key without material verifies the new key and returns its id as the new physical id', async () => {
    const result = await onEvent(updateEvent(props(), props({ KeyArn: OTHER_KEY_ARN })));
    expect(result).toEqual({ PhysicalResourceId: OTHER_KEY_ID, Data: { KeyId: OTHER_KEY_ID } });
    expect(kmsMock.calls().map((c) => c.args[0].input)).toEqual([{ KeyId: OTHER_KEY_ARN }]);
  });

  test('an upgrade that leaves out KeySpec and MultiRegion (absent = the defaults) changes nothing and makes no AWS call', async () => {
    // GIVEN: a 0.1.0 resource, whose template wrote the defaults, now synthesized without them
    const before = withMaterial({ KeySpec: 'SYMMETRIC_DEFAULT', MultiRegion: 'false' });
    const after: KeyMaterialResourceProperties = { ...before, KeySpec: undefined, MultiRegion: undefined, MaterialRemovalPolicy: undefined };
    // WHEN
    const result = await onEvent(updateEvent(before, after));
    // THEN
    expect(result).toEqual({ PhysicalResourceId: KEY_ID, Data: { KeyId: KEY_ID } });
    expect(kmsMock).not.toHaveReceivedAnyCommand();
    expect(smMock).not.toHaveReceivedAnyCommand();
  });

  test('removing the material source keeps the physical id and makes no AWS call', async () => {
    const result = await onEvent(updateEvent(oldProps, props()));
    expect(result).toEqual({ PhysicalResourceId: KEY_ID, Data: { KeyId: KEY_ID } });
    expect(kmsMock).not.toHaveReceivedAnyCommand();
    expect(smMock).not.toHaveReceivedAnyCommand();
  });

  test('adding a material source imports it and keeps the physical id', async () => {
    const material = materialBytes(32, 5);
    secretHoldsBinary(Buffer.from(material));
    kmsAcceptsImports();
    const result = await onEvent(updateEvent(props(), withMaterial()));
    expect(result).toEqual({ PhysicalResourceId: KEY_ID, Data: { KeyId: KEY_ID, KeyMaterialId: KEY_MATERIAL_ID } });
    expect(unwrapOaep(importInput().EncryptedKeyMaterial!)).toEqual(material);
    expect(importInput().ImportType).toBeUndefined();
  });

  test('changing only the expiration deletes the material, then re-imports the same material as EXISTING_KEY_MATERIAL', async () => {
    // GIVEN
    const material = materialBytes(32);
    secretHoldsBinary(Buffer.from(material));
    kmsAcceptsImports();
    kmsMock.on(DeleteImportedKeyMaterialCommand).resolves({ KeyId: KEY_ARN });

    // WHEN
    const result = await onEvent(updateEvent(oldProps, withMaterial({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: IN_90_DAYS })));

    // THEN
    expect(result.PhysicalResourceId).toBe(KEY_ID);
    const names = kmsMock.calls().map((c) => (c.args[0] as object).constructor.name);
    expect(names).toEqual(['GetParametersForImportCommand', 'DeleteImportedKeyMaterialCommand', 'ImportKeyMaterialCommand']);
    expect(kmsMock.commandCalls(DeleteImportedKeyMaterialCommand)[0].args[0].input).toEqual({ KeyId: KEY_ARN });
    expect(importInput()).toEqual(expect.objectContaining({
      KeyId: KEY_ARN, ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: new Date(IN_90_DAYS), ImportType: 'EXISTING_KEY_MATERIAL',
    }));
    expect(unwrapOaep(importInput().EncryptedKeyMaterial!)).toEqual(material);
  });

  test('changing only the expiration of an RSA key re-imports without ImportType', async () => {
    const key = rsaPrivateKey(2048);
    secretHoldsBinary(pkcs8Der(key));
    kmsAcceptsImports(null);
    kmsMock.on(DeleteImportedKeyMaterialCommand).resolves({ KeyId: KEY_ARN });
    const before = withMaterial({ KeySpec: 'RSA_2048', ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: IN_30_DAYS });
    await onEvent(updateEvent(before, { ...before, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ValidTo: undefined }));
    expect(kmsMock).toHaveReceivedCommandTimes(DeleteImportedKeyMaterialCommand, 1);
    expect(importInput()).toEqual({ KeyId: KEY_ARN, ImportToken: expect.any(Uint8Array), EncryptedKeyMaterial: expect.any(Uint8Array), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' });
    expect(unwrapRsaAesKeyWrap(importInput().EncryptedKeyMaterial!)).toEqual(pkcs8Der(key));
  });

  test('changing the expiration does not delete the material when the secret cannot be read', async () => {
    smMock.on(GetSecretValueCommand).rejects(new ResourceNotFoundException({ message: 'gone', $metadata: {} }));
    await expect(onEvent(updateEvent(oldProps, withMaterial({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: IN_90_DAYS }))))
      .rejects.toThrow(/ResourceNotFoundException/);
    expect(kmsMock).not.toHaveReceivedAnyCommand();
  });

  test('changing the expiration says the key is unusable when the re-import fails after the delete', async () => {
    secretHoldsBinary(materialBytes(32));
    kmsAcceptsImports();
    kmsMock.on(DeleteImportedKeyMaterialCommand).resolves({ KeyId: KEY_ARN });
    kmsMock.on(ImportKeyMaterialCommand).rejects(kmsError(IncorrectKeyMaterialException, 'incorrect'));
    await expect(onEvent(updateEvent(oldProps, withMaterial({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: IN_90_DAYS }))))
      .rejects.toThrow(/IncorrectKeyMaterialException: .* was deleted to change its expiration: the key is unusable \(PendingImport\) until the material is imported again/);
  });

  test('a new material source holding material the key already has is re-imported as EXISTING_KEY_MATERIAL without rotation', async () => {
    // GIVEN
    const material = materialBytes(32);
    secretHoldsBinary(Buffer.from(material));
    kmsAcceptsImports();
    kmsMock.on(ListKeyRotationsCommand).resolves({
      Rotations: [{ KeyId: KEY_ID, KeyMaterialId: KEY_MATERIAL_ID, ImportState: 'IMPORTED', KeyMaterialState: 'CURRENT' }], Truncated: false,
    });

    // WHEN
    const result = await onEvent(updateEvent(oldProps, props({ Material: { SecretArn: OTHER_SECRET_ARN, Encoding: 'AUTO' } })));

    // THEN
    expect(result).toEqual({ PhysicalResourceId: KEY_ID, Data: { KeyId: KEY_ID, KeyMaterialId: KEY_MATERIAL_ID } });
    expect(smMock.commandCalls(GetSecretValueCommand)[0].args[0].input).toEqual({ SecretId: OTHER_SECRET_ARN });
    expect(kmsMock).toHaveReceivedCommandTimes(ImportKeyMaterialCommand, 1);
    expect(importInput().ImportType).toBe('EXISTING_KEY_MATERIAL');
    expect(unwrapOaep(importInput().EncryptedKeyMaterial!)).toEqual(material);
    expect(kmsMock.commandCalls(ListKeyRotationsCommand).map((c) => c.args[0].input)).toEqual([{ KeyId: KEY_ARN, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }]);
    expect(kmsMock).not.toHaveReceivedCommand(RotateKeyOnDemandCommand);
    expect(kmsMock).not.toHaveReceivedCommand(DeleteImportedKeyMaterialCommand);
  });

  test('re-imported material that an interrupted attempt left PENDING_ROTATION is rotated to (found on a later ListKeyRotations page)', async () => {
    // GIVEN: an earlier attempt imported the new material as NEW_KEY_MATERIAL and the Lambda was killed before RotateKeyOnDemand
    const material = materialBytes(32, 99);
    secretHoldsBinary(Buffer.from(material));
    const pendingId = 'b'.repeat(64);
    kmsAcceptsImports(pendingId);
    const listInputs = listKeyRotationsPages(
      { Rotations: [{ KeyId: KEY_ID, KeyMaterialId: KEY_MATERIAL_ID, ImportState: 'IMPORTED', KeyMaterialState: 'CURRENT' }], Truncated: true, NextMarker: 'page-2' },
      { Rotations: [{ KeyId: KEY_ID, KeyMaterialId: pendingId, ImportState: 'IMPORTED', KeyMaterialState: 'PENDING_ROTATION' }], Truncated: false });
    kmsMock.on(RotateKeyOnDemandCommand).resolves({ KeyId: KEY_ID });

    // WHEN
    const result = await onEvent(updateEvent(oldProps, props({ Material: { SecretArn: OTHER_SECRET_ARN, Encoding: 'BINARY' } })));

    // THEN
    expect(result).toEqual({ PhysicalResourceId: KEY_ID, Data: { KeyId: KEY_ID, KeyMaterialId: pendingId } });
    const names = kmsMock.calls().map((c) => (c.args[0] as object).constructor.name);
    expect(names).toEqual(['GetParametersForImportCommand', 'ImportKeyMaterialCommand', 'ListKeyRotationsCommand', 'ListKeyRotationsCommand', 'RotateKeyOnDemandCommand']);
    expect(importInput(0).ImportType).toBe('EXISTING_KEY_MATERIAL');
    expect(unwrapOaep(importInput(0).EncryptedKeyMaterial!)).toEqual(material);
    expect(listInputs).toEqual([
      { KeyId: KEY_ARN, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' },
      { KeyId: KEY_ARN, IncludeKeyMaterial: 'ALL_KEY_MATERIAL', Marker: 'page-2' },
    ]);
    expect(kmsMock.commandCalls(RotateKeyOnDemandCommand)[0].args[0].input).toEqual({ KeyId: KEY_ARN });
    expect(kmsMock).not.toHaveReceivedCommand(DeleteImportedKeyMaterialCommand);
  });

  test('re-imported NON_CURRENT material (a change back to an older material) is not rotated to, and the change is logged', async () => {
    // GIVEN: the key was rotated away from the material the template now points at again
    secretHoldsBinary(Buffer.from(materialBytes(32, 98)));
    const olderId = 'c'.repeat(64);
    kmsAcceptsImports(olderId);
    kmsMock.on(ListKeyRotationsCommand).resolves({
      Rotations: [
        { KeyId: KEY_ID, KeyMaterialId: olderId, ImportState: 'IMPORTED', KeyMaterialState: 'NON_CURRENT' },
        { KeyId: KEY_ID, KeyMaterialId: KEY_MATERIAL_ID, ImportState: 'IMPORTED', KeyMaterialState: 'CURRENT' },
      ],
      Truncated: false,
    });

    // WHEN
    const result = await onEvent(updateEvent(oldProps, props({ Material: { SecretArn: OTHER_SECRET_ARN, Encoding: 'BINARY' } })));

    // THEN
    expect(result).toEqual({ PhysicalResourceId: KEY_ID, Data: { KeyId: KEY_ID, KeyMaterialId: olderId } });
    const names = kmsMock.calls().map((c) => (c.args[0] as object).constructor.name);
    expect(names).toEqual(['GetParametersForImportCommand', 'ImportKeyMaterialCommand', 'ListKeyRotationsCommand']);
    const lines = logs.parsed();
    expect(lines).toContainEqual(expect.objectContaining({ level: 'WARN', keyMaterialId: olderId, message: expect.stringMatching(/NON_CURRENT.*cannot make it current again/) }));
    expect(lines).toContainEqual(expect.objectContaining({ message: 'request succeeded', outcome: 'EXISTING_MATERIAL_NON_CURRENT' }));
  });

  test('when rotating to material left PENDING_ROTATION fails, removes that material and fails with the rotation error', async () => {
    // GIVEN
    secretHoldsBinary(Buffer.from(materialBytes(32, 99)));
    const pendingId = 'b'.repeat(64);
    kmsAcceptsImports(pendingId);
    kmsMock.on(ListKeyRotationsCommand).resolves({
      Rotations: [{ KeyId: KEY_ID, KeyMaterialId: pendingId, ImportState: 'IMPORTED', KeyMaterialState: 'PENDING_ROTATION' }], Truncated: false,
    });
    kmsMock.on(RotateKeyOnDemandCommand).rejects(kmsError(KMSInvalidStateException, 'key is disabled'));
    kmsMock.on(DeleteImportedKeyMaterialCommand).resolves({ KeyId: KEY_ARN, KeyMaterialId: pendingId });

    // WHEN
    const update = onEvent(updateEvent(oldProps, props({ Material: { SecretArn: OTHER_SECRET_ARN, Encoding: 'BINARY' } })));

    // THEN
    await expect(update).rejects.toThrow(/^KMS RotateKeyOnDemand failed for key .*KMSInvalidStateException/);
    expect(kmsMock.commandCalls(DeleteImportedKeyMaterialCommand).map((c) => c.args[0].input)).toEqual([{ KeyId: KEY_ARN, KeyMaterialId: pendingId }]);
  });

  test('fails without rotating when the state of the re-imported material cannot be listed', async () => {
    // GIVEN
    secretHoldsBinary(Buffer.from(materialBytes(32, 99)));
    kmsAcceptsImports();
    kmsMock.on(ListKeyRotationsCommand).rejects(awsError('AccessDeniedException', 'not authorized'));

    // WHEN
    const update = onEvent(updateEvent(oldProps, props({ Material: { SecretArn: OTHER_SECRET_ARN, Encoding: 'BINARY' } })));

    // THEN
    await expect(update).rejects.toThrow(/^KMS ListKeyRotations failed for key .*AccessDeniedException: the provider's role may not call kms:ListKeyRotations/);
    expect(kmsMock).not.toHaveReceivedCommand(RotateKeyOnDemandCommand);
    expect(kmsMock).not.toHaveReceivedCommand(DeleteImportedKeyMaterialCommand);
  });

  test('new material for a single-Region symmetric key is imported as NEW_KEY_MATERIAL and rotated to', async () => {
    // GIVEN
    const material = materialBytes(32, 99);
    secretHoldsBinary(Buffer.from(material));
    kmsAcceptsImports();
    const newMaterialId = 'b'.repeat(64);
    kmsMock.on(ImportKeyMaterialCommand, { ImportType: 'EXISTING_KEY_MATERIAL' }).rejects(kmsError(IncorrectKeyMaterialException, 'incorrect'));
    kmsMock.on(ImportKeyMaterialCommand, { ImportType: 'NEW_KEY_MATERIAL' }).resolves({ KeyId: KEY_ARN, KeyMaterialId: newMaterialId });
    kmsMock.on(RotateKeyOnDemandCommand).resolves({ KeyId: KEY_ARN });

    // WHEN
    const result = await onEvent(updateEvent(oldProps, props({ Material: { SecretArn: OTHER_SECRET_ARN, Encoding: 'BINARY' } })));

    // THEN
    expect(result).toEqual({ PhysicalResourceId: KEY_ID, Data: { KeyId: KEY_ID, KeyMaterialId: newMaterialId } });
    const names = kmsMock.calls().map((c) => (c.args[0] as object).constructor.name);
    expect(names).toEqual(['GetParametersForImportCommand', 'ImportKeyMaterialCommand', 'GetParametersForImportCommand', 'ImportKeyMaterialCommand', 'RotateKeyOnDemandCommand']);
    expect(importInput(0).ImportType).toBe('EXISTING_KEY_MATERIAL');
    expect(importInput(1).ImportType).toBe('NEW_KEY_MATERIAL');
    expect(unwrapOaep(importInput(1).EncryptedKeyMaterial!)).toEqual(material);
    expect(kmsMock.commandCalls(RotateKeyOnDemandCommand)[0].args[0].input).toEqual({ KeyId: KEY_ARN });
    expect(kmsMock).not.toHaveReceivedCommand(DeleteImportedKeyMaterialCommand);
  });

  test('when the rotation fails, deletes the new material pending rotation so that a retried deployment rotates again', async () => {
    // GIVEN (found by test/lifecycle-key-material.test.ts: the retry used to succeed as EXISTING_KEY_MATERIAL, never rotating)
    secretHoldsBinary(Buffer.from(materialBytes(32, 99)));
    kmsAcceptsImports();
    const newMaterialId = 'b'.repeat(64);
    kmsMock.on(ImportKeyMaterialCommand, { ImportType: 'EXISTING_KEY_MATERIAL' }).rejects(kmsError(IncorrectKeyMaterialException, 'incorrect'));
    kmsMock.on(ImportKeyMaterialCommand, { ImportType: 'NEW_KEY_MATERIAL' }).resolves({ KeyId: KEY_ARN, KeyMaterialId: newMaterialId });
    kmsMock.on(RotateKeyOnDemandCommand).rejects(kmsError(KMSInvalidStateException, 'key is disabled'));
    kmsMock.on(DeleteImportedKeyMaterialCommand).resolves({ KeyId: KEY_ARN, KeyMaterialId: newMaterialId });

    // WHEN
    const update = onEvent(updateEvent(oldProps, props({ Material: { SecretArn: OTHER_SECRET_ARN, Encoding: 'BINARY' } })));

    // THEN
    await expect(update).rejects.toThrow(/^KMS RotateKeyOnDemand failed for key .*KMSInvalidStateException/);
    expect(kmsMock).toHaveReceivedCommandTimes(DeleteImportedKeyMaterialCommand, 1);
    expect(kmsMock).toHaveReceivedCommandWith(DeleteImportedKeyMaterialCommand, { KeyId: KEY_ARN, KeyMaterialId: newMaterialId });
  });

  test('refuses new material for an RSA key and names the way out', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'MyStack', StackStatus: 'UPDATE_IN_PROGRESS', CreationTime: new Date() }] });
    const before = withMaterial({ KeySpec: 'RSA_2048' });
    await expect(onEvent(updateEvent(before, { ...before, Material: { SecretArn: OTHER_SECRET_ARN, Encoding: 'PEM' } }))).rejects.toThrow(
      /^Cannot change the key material of arn:aws:kms:eu-west-1:111122223333:key\/1234abcd-12ab-34cd-56ef-1234567890ab \(RSA_2048\) for resource KeyMaterialC0FFEE42: KMS only accepts new material for SYMMETRIC_DEFAULT keys; asymmetric and HMAC material never changes after the first import\. Restore the previous material source \(secret arn:aws:secretsmanager:.*:secret:key-material-AbCdEf\), or create a new key/);
    expect(cfnMock).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: STACK_ID });
    expect(kmsMock).not.toHaveReceivedAnyCommand();
    expect(smMock).not.toHaveReceivedAnyCommand();
  });

  test('refuses new material for an HMAC key', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'MyStack', StackStatus: 'UPDATE_IN_PROGRESS', CreationTime: new Date() }] });
    const before = withMaterial({ KeySpec: 'HMAC_256' });
    await expect(onEvent(updateEvent(before, { ...before, Material: { SecretArn: SECRET_ARN, Encoding: 'AUTO', VersionStage: 'AWSPENDING' } })))
      .rejects.toThrow(/^Cannot change the key material of arn:.* \(HMAC_256\) for resource KeyMaterialC0FFEE42: KMS only accepts new material/);
    expect(kmsMock).not.toHaveReceivedAnyCommand();
  });

  test('refuses new material for a multi-Region HMAC key, which no Region can take', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'MyStack', StackStatus: 'UPDATE_IN_PROGRESS', CreationTime: new Date() }] });
    const before = withMaterial({ KeySpec: 'HMAC_256', MultiRegion: 'true' });
    await expect(onEvent(updateEvent(before, { ...before, Material: { SecretArn: OTHER_SECRET_ARN, Encoding: 'AUTO' } })))
      .rejects.toThrow(/^Cannot change the key material of arn:.* \(HMAC_256, multi-Region\) for resource KeyMaterialC0FFEE42: KMS only accepts new material for SYMMETRIC_DEFAULT keys/);
    expect(kmsMock).not.toHaveReceivedAnyCommand();
  });

  test('still refuses when the stack status cannot be read', async () => {
    cfnMock.on(DescribeStacksCommand).rejects(awsError('AccessDenied', 'not authorized'));
    const before = withMaterial({ KeySpec: 'RSA_2048' });
    await expect(onEvent(updateEvent(before, { ...before, Material: { SecretArn: OTHER_SECRET_ARN, Encoding: 'PEM' } })))
      .rejects.toThrow(/^Cannot change the key material/);
  });

  test('accepts the reversed material change as a no-op while the stack is in UPDATE_ROLLBACK_IN_PROGRESS', async () => {
    // GIVEN: the forward update (to OTHER_SECRET_ARN) was refused; CloudFormation rolls back with the properties reversed
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'MyStack', StackStatus: 'UPDATE_ROLLBACK_IN_PROGRESS', CreationTime: new Date() }] });
    const refused = withMaterial({ KeySpec: 'RSA_2048', Material: { SecretArn: OTHER_SECRET_ARN, Encoding: 'PEM' } });
    const original = withMaterial({ KeySpec: 'RSA_2048', Material: { SecretArn: SECRET_ARN, Encoding: 'PEM' } });

    // WHEN
    const result = await onEvent(updateEvent(refused, original));

    // THEN
    expect(result).toEqual({ PhysicalResourceId: KEY_ID, Data: { KeyId: KEY_ID } });
    expect(cfnMock).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: STACK_ID });
    expect(kmsMock).not.toHaveReceivedAnyCommand();
    expect(smMock).not.toHaveReceivedAnyCommand();
  });

  test('with no relevant change makes no AWS call', async () => {
    const result = await onEvent(updateEvent(oldProps, { ...oldProps, MaterialRemovalPolicy: 'retain', ServiceToken: 'changed' }));
    expect(result).toEqual({ PhysicalResourceId: KEY_ID, Data: { KeyId: KEY_ID } });
    expect(kmsMock).not.toHaveReceivedAnyCommand();
    expect(smMock).not.toHaveReceivedAnyCommand();
    expect(cfnMock).not.toHaveReceivedAnyCommand();
  });
});

describe('Update: new material for a multi-Region symmetric key', () => {
  const REPLICA_REGION = 'ap-south-1';
  const REPLICA_ARN = KEY_ARN.replace(`:${REGION}:`, `:${REPLICA_REGION}:`);
  const NEW_MATERIAL_ID = 'd'.repeat(64);
  /** The handler's own client (the Lambda's Region). */
  const HOME = 'handler Region';
  const before = withMaterial({ MultiRegion: 'true' });
  const after = { ...before, Material: { SecretArn: OTHER_SECRET_ARN, Encoding: 'BINARY' as const } };
  const material = materialBytes(32, 11);

  function describeAs(type: 'PRIMARY' | 'REPLICA'): void {
    kmsMock.on(DescribeKeyCommand).resolves({
      KeyMetadata: {
        KeyId: KEY_ID, Arn: type === 'PRIMARY' ? KEY_ARN : REPLICA_ARN, MultiRegion: true,
        MultiRegionConfiguration: {
          MultiRegionKeyType: type,
          PrimaryKey: { Arn: KEY_ARN, Region: REGION },
          ReplicaKeys: [{ Arn: REPLICA_ARN, Region: REPLICA_REGION }],
        },
      },
    });
  }

  /** The KeyId and ImportType of every ImportKeyMaterial, and the Region of the client that sent it. */
  async function imports(): Promise<Array<[string | undefined, string | undefined, string]>> {
    return Promise.all(kmsMock.commandCalls(ImportKeyMaterialCommand).map(async (c) =>
      [c.args[0].input.KeyId, c.args[0].input.ImportType, c.thisValue === handlerKms ? HOME : await (c.thisValue as KMSClient).config.region()] as [string | undefined, string | undefined, string]));
  }

  beforeEach(() => {
    secretHoldsBinary(Buffer.from(material)); // a copy: the handler zeroes the plaintext it read
    kmsAcceptsImports(NEW_MATERIAL_ID);
  });

  test('on the primary: NEW on the primary, the same material EXISTING into each replica in its Region, then RotateKeyOnDemand', async () => {
    // GIVEN: the material is not associated with the key yet
    describeAs('PRIMARY');
    kmsMock.on(ImportKeyMaterialCommand, { ImportType: 'EXISTING_KEY_MATERIAL', KeyId: KEY_ARN }).rejects(kmsError(IncorrectKeyMaterialException, 'not associated'));
    listKeyRotationsPages({ Rotations: [{ KeyMaterialId: KEY_MATERIAL_ID, KeyMaterialState: 'CURRENT', ImportState: 'IMPORTED' }], Truncated: false });
    kmsMock.on(RotateKeyOnDemandCommand).resolves({ KeyId: KEY_ID });

    // WHEN
    const result = await onEvent(updateEvent(before, after));

    // THEN
    expect(result).toEqual({ PhysicalResourceId: KEY_ID, Data: { KeyId: KEY_ID, KeyMaterialId: NEW_MATERIAL_ID } });
    expect(await imports()).toEqual([
      [KEY_ARN, 'EXISTING_KEY_MATERIAL', HOME],
      [KEY_ARN, 'NEW_KEY_MATERIAL', HOME],
      [REPLICA_ARN, 'EXISTING_KEY_MATERIAL', REPLICA_REGION],
    ]);
    expect(kmsMock.commandCalls(GetParametersForImportCommand).map((c) => c.args[0].input.KeyId)).toEqual([KEY_ARN, KEY_ARN, REPLICA_ARN]);
    expect(unwrapOaep(importInput(2).EncryptedKeyMaterial!)).toEqual(material);
    expect(kmsMock).toHaveReceivedCommandWith(RotateKeyOnDemandCommand, { KeyId: KEY_ARN });
    const order = kmsMock.calls().map((c) => c.args[0].constructor.name);
    expect(order.lastIndexOf('ImportKeyMaterialCommand')).toBeLessThan(order.indexOf('RotateKeyOnDemandCommand'));
  });

  test('on the primary: a replica that refuses the import fails the update and removes the new material again', async () => {
    describeAs('PRIMARY');
    kmsMock.on(ImportKeyMaterialCommand, { ImportType: 'EXISTING_KEY_MATERIAL', KeyId: KEY_ARN }).rejects(kmsError(IncorrectKeyMaterialException, 'not associated'));
    kmsMock.on(ImportKeyMaterialCommand, { KeyId: REPLICA_ARN }).rejects(kmsError(KMSInvalidStateException, 'is pending deletion'));
    listKeyRotationsPages({ Rotations: [{ KeyMaterialId: KEY_MATERIAL_ID, KeyMaterialState: 'CURRENT', ImportState: 'IMPORTED' }], Truncated: false });
    kmsMock.on(DeleteImportedKeyMaterialCommand).resolves({ KeyId: KEY_ARN, KeyMaterialId: NEW_MATERIAL_ID });

    await expect(onEvent(updateEvent(before, after))).rejects.toThrow(
      new RegExp(`^KMS ImportKeyMaterial failed for key ${REPLICA_ARN.replace(/[/]/g, '\\/')} .*KMSInvalidStateException.* The new material was removed from the primary and every replica again`));
    expect(kmsMock.commandCalls(DeleteImportedKeyMaterialCommand).map((c) => c.args[0].input)).toEqual([{ KeyId: KEY_ARN, KeyMaterialId: NEW_MATERIAL_ID }]);
    expect(kmsMock).not.toHaveReceivedCommand(RotateKeyOnDemandCommand);
  });

  test('on the primary: material left pending by an earlier attempt is finished, not imported as new again', async () => {
    describeAs('PRIMARY');
    listKeyRotationsPages({
      Rotations: [
        { KeyMaterialId: KEY_MATERIAL_ID, KeyMaterialState: 'CURRENT', ImportState: 'IMPORTED' },
        { KeyMaterialId: NEW_MATERIAL_ID, KeyMaterialState: 'PENDING_MULTI_REGION_IMPORT_AND_ROTATION', ImportState: 'IMPORTED' },
      ],
      Truncated: false,
    });
    kmsMock.on(RotateKeyOnDemandCommand).resolves({ KeyId: KEY_ID });

    await onEvent(updateEvent(before, after));

    expect(await imports()).toEqual([[KEY_ARN, 'EXISTING_KEY_MATERIAL', HOME], [REPLICA_ARN, 'EXISTING_KEY_MATERIAL', REPLICA_REGION]]);
    expect(kmsMock).toHaveReceivedCommandTimes(RotateKeyOnDemandCommand, 1);
    expect(kmsMock).not.toHaveReceivedCommand(DeleteImportedKeyMaterialCommand);
  });

  test('on the primary: another abandoned pending material is deleted before the new one is imported', async () => {
    describeAs('PRIMARY');
    kmsMock.on(ImportKeyMaterialCommand, { ImportType: 'EXISTING_KEY_MATERIAL', KeyId: KEY_ARN }).rejects(kmsError(IncorrectKeyMaterialException, 'not associated'));
    listKeyRotationsPages({ Rotations: [{ KeyMaterialId: 'e'.repeat(64), KeyMaterialState: 'PENDING_MULTI_REGION_IMPORT_AND_ROTATION', ImportState: 'IMPORTED' }], Truncated: false });
    kmsMock.on(DeleteImportedKeyMaterialCommand).resolves({ KeyId: KEY_ARN });
    kmsMock.on(RotateKeyOnDemandCommand).resolves({ KeyId: KEY_ID });

    await onEvent(updateEvent(before, after));

    expect(kmsMock.commandCalls(DeleteImportedKeyMaterialCommand).map((c) => c.args[0].input)).toEqual([{ KeyId: KEY_ARN, KeyMaterialId: 'e'.repeat(64) }]);
    expect((await imports()).map((i) => i[1])).toEqual(['EXISTING_KEY_MATERIAL', 'NEW_KEY_MATERIAL', 'EXISTING_KEY_MATERIAL']);
  });

  test('on a replica: only re-imports into the replica itself, never NEW and never a rotation', async () => {
    describeAs('REPLICA');
    listKeyRotationsPages({ Rotations: [{ KeyMaterialId: NEW_MATERIAL_ID, KeyMaterialState: 'PENDING_MULTI_REGION_IMPORT_AND_ROTATION', ImportState: 'IMPORTED' }], Truncated: false });
    const replicaBefore = { ...before, KeyArn: REPLICA_ARN };

    const result = await onEvent(updateEvent(replicaBefore, { ...after, KeyArn: REPLICA_ARN }));

    expect(result.Data).toEqual({ KeyId: KEY_ID, KeyMaterialId: NEW_MATERIAL_ID });
    expect((await imports()).map((i) => [i[0], i[1]])).toEqual([[REPLICA_ARN, 'EXISTING_KEY_MATERIAL']]);
    expect(kmsMock).not.toHaveReceivedCommand(RotateKeyOnDemandCommand);
  });

  test('on a replica: material the primary does not have yet fails, naming the primary to deploy first', async () => {
    describeAs('REPLICA');
    kmsMock.on(ImportKeyMaterialCommand).rejects(kmsError(IncorrectKeyMaterialException, 'not associated'));

    await expect(onEvent(updateEvent({ ...before, KeyArn: REPLICA_ARN }, { ...after, KeyArn: REPLICA_ARN }))).rejects.toThrow(
      `Cannot change the key material of replica key ${REPLICA_ARN} (resource ${LOGICAL_ID}): this material is not associated with the multi-Region key yet, ` +
      `and KMS takes new material only on the primary key ${KEY_ARN}. Deploy the primary's stack (in ${REGION}) with the new material first`);
    expect(kmsMock).not.toHaveReceivedCommand(RotateKeyOnDemandCommand);
  });
});

describe('Delete', () => {
  // Keys that hold one material (HMAC, asymmetric, multi-Region): the current material is deleted.
  const hmac = (overrides: Partial<KeyMaterialResourceProperties> = {}) => props({ KeySpec: 'HMAC_256', ...overrides });
  const OLD_MATERIAL_ID = 'b'.repeat(64);

  test('deletes every imported material of a single-Region symmetric key, the current one first', async () => {
    // GIVEN: a rotated key: the current material, a previous one, and one never imported
    kmsMock.on(ListKeyRotationsCommand).resolves({
      Rotations: [
        { KeyId: KEY_ARN, KeyMaterialId: OLD_MATERIAL_ID, ImportState: 'IMPORTED', KeyMaterialState: 'NON_CURRENT' },
        { KeyId: KEY_ARN, KeyMaterialId: KEY_MATERIAL_ID, ImportState: 'IMPORTED', KeyMaterialState: 'CURRENT' },
        { KeyId: KEY_ARN, KeyMaterialId: 'c'.repeat(64), ImportState: 'PENDING_IMPORT', KeyMaterialState: 'NON_CURRENT' },
      ],
      Truncated: false,
    });
    kmsMock.on(DeleteImportedKeyMaterialCommand).resolves({ KeyId: KEY_ARN });

    // WHEN
    const result = await onEvent(deleteEvent(withMaterial()));

    // THEN: it returns exactly what it deleted
    expect(result).toEqual({ PhysicalResourceId: KEY_ID, Data: { KeyId: KEY_ID, DeletedKeyMaterials: `${KEY_MATERIAL_ID},${OLD_MATERIAL_ID}` } });
    expect(kmsMock).toHaveReceivedCommandWith(ListKeyRotationsCommand, { KeyId: KEY_ARN, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' });
    expect(kmsMock.commandCalls(DeleteImportedKeyMaterialCommand).map((c) => c.args[0].input)).toEqual([
      { KeyId: KEY_ARN, KeyMaterialId: KEY_MATERIAL_ID },
      { KeyId: KEY_ARN, KeyMaterialId: OLD_MATERIAL_ID },
    ]);
    expect(smMock).not.toHaveReceivedAnyCommand();
  });

  test('follows ListKeyRotations pages', async () => {
    kmsMock.on(ListKeyRotationsCommand)
      .resolvesOnce({ Rotations: [{ KeyMaterialId: KEY_MATERIAL_ID, ImportState: 'IMPORTED', KeyMaterialState: 'CURRENT' }], Truncated: true, NextMarker: 'page-2' })
      .resolvesOnce({ Rotations: [{ KeyMaterialId: OLD_MATERIAL_ID, ImportState: 'IMPORTED', KeyMaterialState: 'NON_CURRENT' }], Truncated: false });
    kmsMock.on(DeleteImportedKeyMaterialCommand).resolves({ KeyId: KEY_ARN });
    await onEvent(deleteEvent(props()));
    expect(kmsMock.commandCalls(ListKeyRotationsCommand)[1].args[0].input).toEqual({ KeyId: KEY_ARN, IncludeKeyMaterial: 'ALL_KEY_MATERIAL', Marker: 'page-2' });
    expect(kmsMock).toHaveReceivedCommandTimes(DeleteImportedKeyMaterialCommand, 2);
  });

  test('makes no delete call when a symmetric key has no imported material left, and says nothing was deleted and why', async () => {
    kmsMock.on(ListKeyRotationsCommand).resolves({ Rotations: [], Truncated: false });
    await expect(onEvent(deleteEvent(props()))).resolves.toEqual({ PhysicalResourceId: KEY_ID, Data: {
      KeyId: KEY_ID, DeletedKeyMaterials: '', NothingDeletedBecause: `key ${KEY_ARN} has no imported material (ListKeyRotations lists none in state IMPORTED)`,
    } });
    expect(logs.parsed()).toContainEqual(expect.objectContaining({
      message: `nothing to delete, because key ${KEY_ARN} has no imported material (ListKeyRotations lists none in state IMPORTED)`, deletedKeyMaterials: '',
    }));
    expect(logs.parsed().map((l) => l.message)).not.toContain('imported material deleted');
    expect(kmsMock).not.toHaveReceivedCommand(DeleteImportedKeyMaterialCommand);
  });

  test('treats a symmetric key that no longer exists as already deleted', async () => {
    kmsMock.on(ListKeyRotationsCommand).rejects(kmsError(NotFoundException, `Key '${KEY_ARN}' does not exist`));
    await expect(onEvent(deleteEvent(props()))).resolves.toEqual({ PhysicalResourceId: KEY_ID, Data: {
      KeyId: KEY_ID, DeletedKeyMaterials: '', NothingDeletedBecause: `key ${KEY_ARN} does not exist`,
    } });
    expect(kmsMock).not.toHaveReceivedCommand(DeleteImportedKeyMaterialCommand);
  });

  test('deletes the current material when a symmetric key cannot list its materials (pending deletion)', async () => {
    kmsMock.on(ListKeyRotationsCommand).rejects(kmsError(KMSInvalidStateException, `${KEY_ARN} is pending deletion.`));
    kmsMock.on(DeleteImportedKeyMaterialCommand).resolves({ KeyId: KEY_ARN });
    await expect(onEvent(deleteEvent(props()))).resolves.toEqual({ PhysicalResourceId: KEY_ID, Data: { KeyId: KEY_ID, DeletedKeyMaterials: 'CURRENT' } });
    expect(kmsMock.commandCalls(DeleteImportedKeyMaterialCommand).map((c) => c.args[0].input)).toEqual([{ KeyId: KEY_ARN }]);
  });

  test('points at the key policy when ListKeyRotations is denied', async () => {
    kmsMock.on(ListKeyRotationsCommand).rejects(awsError('AccessDeniedException', 'denied'));
    await expect(onEvent(deleteEvent(props()))).rejects.toThrow(/^KMS ListKeyRotations failed for key arn:.*AccessDeniedException/);
    expect(kmsMock).not.toHaveReceivedCommand(DeleteImportedKeyMaterialCommand);
  });

  test('deletes the current material of a key with one material and keeps the physical id', async () => {
    kmsMock.on(DeleteImportedKeyMaterialCommand).resolves({ KeyId: KEY_ARN });
    const result = await onEvent(deleteEvent(withMaterial({ KeySpec: 'HMAC_256' })));
    expect(result).toEqual({ PhysicalResourceId: KEY_ID, Data: { KeyId: KEY_ID, DeletedKeyMaterials: 'CURRENT' } });
    expect(kmsMock).toHaveReceivedCommandTimes(DeleteImportedKeyMaterialCommand, 1);
    expect(kmsMock.commandCalls(DeleteImportedKeyMaterialCommand)[0].args[0].input).toEqual({ KeyId: KEY_ARN });
    expect(kmsMock).not.toHaveReceivedCommand(ListKeyRotationsCommand);
    expect(smMock).not.toHaveReceivedAnyCommand();
  });

  test('deletes the pinned KeyMaterialId', async () => {
    kmsMock.on(DeleteImportedKeyMaterialCommand).resolves({ KeyId: KEY_ARN });
    await onEvent(deleteEvent(props({ KeyMaterialId: KEY_MATERIAL_ID })));
    expect(kmsMock.commandCalls(DeleteImportedKeyMaterialCommand).map((c) => c.args[0].input)).toEqual([{ KeyId: KEY_ARN, KeyMaterialId: KEY_MATERIAL_ID }]);
    expect(kmsMock).not.toHaveReceivedCommand(ListKeyRotationsCommand);
  });

  test('treats a key that no longer exists as already deleted', async () => {
    kmsMock.on(DeleteImportedKeyMaterialCommand).rejects(kmsError(NotFoundException, `Key '${KEY_ARN}' does not exist`));
    await expect(onEvent(deleteEvent(hmac()))).resolves.toEqual({ PhysicalResourceId: KEY_ID, Data: {
      KeyId: KEY_ID, DeletedKeyMaterials: '', NothingDeletedBecause: `KMS found no key ${KEY_ARN} (NotFoundException)`,
    } });
  });

  test('treats a key pending import as already deleted', async () => {
    kmsMock.on(DeleteImportedKeyMaterialCommand).rejects(kmsError(KMSInvalidStateException, `${KEY_ARN} is pending import.`));
    await expect(onEvent(deleteEvent(hmac()))).resolves.toMatchObject({ PhysicalResourceId: KEY_ID, Data: { DeletedKeyMaterials: '', NothingDeletedBecause: expect.stringMatching(/pending import/) } });
  });

  test('treats a key pending deletion as already deleted', async () => {
    kmsMock.on(DeleteImportedKeyMaterialCommand).rejects(kmsError(KMSInvalidStateException, `KeyState is PendingDeletion for ${KEY_ARN}`));
    await expect(onEvent(deleteEvent(hmac()))).resolves.toMatchObject({ PhysicalResourceId: KEY_ID, Data: { DeletedKeyMaterials: '', NothingDeletedBecause: expect.stringMatching(/pending deletion/) } });
  });

  test('fails with the key state on another KMSInvalidStateException', async () => {
    kmsMock.on(DeleteImportedKeyMaterialCommand).rejects(kmsError(KMSInvalidStateException, `${KEY_ARN} is unavailable.`));
    await expect(onEvent(deleteEvent(hmac()))).rejects.toThrow(
      /^KMS DeleteImportedKeyMaterial failed for key arn:.* \(resource KeyMaterialC0FFEE42\): KMSInvalidStateException: the key's state does not allow this operation \(KMS says: "arn:.* is unavailable\."\)/);
  });

  test('tells to retain the material when the key is not EXTERNAL', async () => {
    kmsMock.on(DeleteImportedKeyMaterialCommand).rejects(kmsError(UnsupportedOperationException, 'not external'));
    await expect(onEvent(deleteEvent(hmac()))).rejects.toThrow(
      /^KMS DeleteImportedKeyMaterial failed for key arn:.* \(resource KeyMaterialC0FFEE42\): UnsupportedOperationException: the key's Origin is not EXTERNAL .* Set materialRemovalPolicy to RETAIN, or retain this resource when retrying the stack delete\.$/);
  });

  test('points at the key policy on AccessDeniedException', async () => {
    kmsMock.on(DeleteImportedKeyMaterialCommand).rejects(awsError('AccessDeniedException', 'denied'));
    await expect(onEvent(deleteEvent(hmac()))).rejects.toThrow(
      /AccessDeniedException: the provider's role may not call kms:DeleteImportedKeyMaterial on this key\. Check the key policy grants the provider role kms:DeleteImportedKeyMaterial/);
  });

  test('a Delete from a 0.1.0 template with MaterialRemovalPolicy retain leaves the material and makes no AWS call (migration shim)', async () => {
    const result = await onEvent(deleteEvent(withMaterial({ MaterialRemovalPolicy: 'retain' })));
    expect(result).toEqual({ PhysicalResourceId: KEY_ID, Data: {
      KeyId: KEY_ID, DeletedKeyMaterials: '',
      NothingDeletedBecause: 'the resource was deployed from a 0.1.0 template with MaterialRemovalPolicy retain, which asked to keep the material',
    } });
    expect(cfnMock).not.toHaveReceivedAnyCommand();
    expect(kmsMock).not.toHaveReceivedAnyCommand();
  });
});

describe('transient faults and the deadline', () => {
  test('ThrottlingException twice then success: the SDK retries and the delete succeeds after 3 calls', async () => {
    // GIVEN: the handler as a Lambda container loads it, its KMS endpoint throttling twice
    const throttled = { status: 400, body: { __type: 'ThrottlingException', message: 'Rate exceeded' } };
    const endpoint = await scriptedEndpoint({ DeleteImportedKeyMaterial: [throttled, throttled, { status: 200, body: { KeyId: KEY_ARN } }] });
    try {
      // WHEN
      const result = await withModuleAt<typeof import('../lambda/key-material-provider/index'), unknown>(
        // (with Material: a resource that imported its material deletes it without reading the stack status)
        require.resolve('../lambda/key-material-provider/index'), endpoint.url, REGION, (fresh) => fresh.onEvent(deleteEvent(withMaterial({ KeySpec: 'HMAC_256' }))));

      // THEN
      expect(result).toEqual({ PhysicalResourceId: KEY_ID, Data: { KeyId: KEY_ID, DeletedKeyMaterials: 'CURRENT' } });
      expect(endpoint.targets).toEqual(Array(3).fill('DeleteImportedKeyMaterial'));
    } finally {
      await endpoint.close();
    }
  });

  test('a fault that persists through all attempts fails with a retry-the-deployment message', async () => {
    // GIVEN: the error the SDK rejects with once its attempts are used up
    kmsMock.on(DeleteImportedKeyMaterialCommand).rejects(Object.assign(new Error('internal'), {
      name: 'KMSInternalException', $fault: 'server', $metadata: { httpStatusCode: 500, attempts: 3 },
    }));
    await expect(onEvent(deleteEvent(props({ KeySpec: 'HMAC_256' })))).rejects.toThrow(
      /^KMS DeleteImportedKeyMaterial failed for key arn:.* \(resource KeyMaterialC0FFEE42\): KMSInternalException: a transient KMS fault that persisted through 3 attempts; retry the deployment\.$/);
    expect(kmsMock).toHaveReceivedCommandTimes(DeleteImportedKeyMaterialCommand, 1);
  });

  test('the client configuration uses the standard retry mode with 8 attempts', () => {
    expect(CLIENT_CONFIG).toEqual({ maxAttempts: 8, retryMode: 'standard' });
  });

  test('the KMS client retries with the renewable throttle-tolerant strategy', async () => {
    expect(await handlerKms.config.retryStrategy()).toBeInstanceOf(RenewableRetryStrategy);
  });

  test('KMS still throttling when the retries end: the message names the quota, its numbers and the next step (not "retry")', async () => {
    // GIVEN: GetParametersForImport throttled through every attempt the SDK made
    secretHoldsBinary(materialBytes(32));
    kmsMock.on(GetParametersForImportCommand).rejects(Object.assign(new Error('You have exceeded the rate at which you may call KMS.'), {
      name: 'ThrottlingException', $fault: 'client', $metadata: { httpStatusCode: 400, attempts: 101 },
    }));
    // WHEN: with a 15-minute Lambda budget
    const failure = onEvent(createEvent(withMaterial()), { deadline: new Deadline(Date.now() + 900_000) });
    // THEN
    await expect(failure).rejects.toThrow(new RegExp(
      '^KMS GetParametersForImport for key arn:.* \\(resource KeyMaterialC0FFEE42\\) was still throttled \\(ThrottlingException\\) when its ' +
      'retries ended, after 101 throttled attempts: .*default 1 per second.* At 1 per second, the 895 s this function had serve about 895 such ' +
      'calls, .* Retrying the same deployment meets the same quota: request a higher quota \\(Service Quotas, AWS Key Management Service, ' +
      '"GetParametersForImport request rate"\\), or deploy fewer of these resources at once \\(split them over several stacks or successive ' +
      'deployments of at most about 716 resources each\\)\\.$'));
  });

  test('a call that never answers fails with the time-out message before the deadline', async () => {
    // GIVEN: 300 ms before the cut-off (deadline minus the 5 s safety margin)
    kmsMock.on(DeleteImportedKeyMaterialCommand).callsFake(() => new Promise(() => undefined));
    const deadline = new Deadline(Date.now() + 5_300, 5_000);
    const started = Date.now();

    // WHEN / THEN
    await expect(onEvent(deleteEvent(props({ KeySpec: 'HMAC_256' })), { deadline })).rejects.toThrow(
      /^KMS DeleteImportedKeyMaterial for key arn:aws:kms:eu-west-1:111122223333:key\/1234abcd-12ab-34cd-56ef-1234567890ab \(resource KeyMaterialC0FFEE42\) ran out of time before the Lambda function's deadline: transient KMS faults .* persisted through the SDK's retries; retry the deployment\.$/);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(Date.now()).toBeLessThan(deadline.at!);
  });

  test('the SDK request receives an abort signal that fires at the cut-off', async () => {
    // GIVEN: a KMS call that only ends when its abort signal fires
    const seen: { aborted?: boolean } = {};
    kmsMock.send.callsFake((_command: unknown, opts?: { abortSignal?: AbortSignal }) => new Promise<never>((_, reject) => {
      opts?.abortSignal?.addEventListener('abort', () => {
        seen.aborted = true;
        reject(Object.assign(new Error('Request aborted'), { name: 'AbortError' }));
      });
    }));

    // WHEN
    await expect(onEvent(deleteEvent(props({ KeySpec: 'HMAC_256' })), { deadline: new Deadline(Date.now() + 5_200, 5_000) }))
      .rejects.toThrow(/ran out of time/);

    // THEN
    expect(seen.aborted).toBe(true);
  });

  test('handler bounds the module clients by the Lambda remaining time', async () => {
    // GIVEN: 5.3 s left in the invocation, a KMS call that never answers
    kmsMock.on(DeleteImportedKeyMaterialCommand).callsFake(() => new Promise(() => undefined));
    const started = Date.now();

    // WHEN / THEN
    await expect(handler(deleteEvent(props({ KeySpec: 'HMAC_256' })), { getRemainingTimeInMillis: () => 5_300 })).rejects.toThrow(/ran out of time/);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(kmsMock).toHaveReceivedCommandWith(DeleteImportedKeyMaterialCommand, { KeyId: KEY_ARN });
  });
});

describe('logs', () => {
  test('are JSON lines with request type and logical id, and never hold the material, secret, response URL or import token', async () => {
    // GIVEN
    const material = materialBytes(32, 77);
    const secretString = JSON.stringify({ material: material.toString('base64') });
    secretHoldsString(secretString);
    kmsAcceptsImports();
    const { lines } = logs;
    const resourceProperties: KeyMaterialResourceProperties = props({ Material: { SecretArn: SECRET_ARN, Encoding: 'BASE64', JsonField: 'material' } });

    // WHEN
    await onEvent(createEvent(resourceProperties));

    // THEN
    expect(lines.length).toBeGreaterThanOrEqual(2);
    const forbidden = [
      material.toString('base64'), material.toString('hex'), secretString, RESPONSE_URL,
      IMPORT_TOKEN.toString(), IMPORT_TOKEN.toString('base64'), Buffer.from(WRAPPING_PUBLIC_KEY_DER).toString('base64').slice(0, 40),
    ];
    for (const line of lines) {
      const parsed = JSON.parse(line);
      expect(parsed).toEqual(expect.objectContaining({ requestType: 'Create', logicalResourceId: LOGICAL_ID, keyId: KEY_ID }));
      for (const f of forbidden) {
        expect(line).not.toContain(f);
      }
    }
    const last = JSON.parse(lines[lines.length - 1]);
    expect(last).toEqual(expect.objectContaining({ level: 'INFO', outcome: 'IMPORTED', durationMs: expect.any(Number) }));
  });

  test('each line is written with the console method of its level, so that Lambda JSON logging records and filters the level', async () => {
    // GIVEN a rotation that fails: INFO, DEBUG, WARN and ERROR lines
    secretHoldsBinary(materialBytes(32));
    kmsAcceptsImports();
    kmsMock.on(ImportKeyMaterialCommand, { ImportType: 'EXISTING_KEY_MATERIAL' }).rejects(kmsError(IncorrectKeyMaterialException, 'different'));
    kmsMock.on(RotateKeyOnDemandCommand).rejects(awsError('ValidationException', 'no'));
    kmsMock.on(DeleteImportedKeyMaterialCommand).resolves({});

    // WHEN
    await expect(onEvent(updateEvent(withMaterial(), props({ Material: { SecretArn: OTHER_SECRET_ARN, Encoding: 'AUTO' } })))).rejects.toThrow(/RotateKeyOnDemand/);

    // THEN
    const levels = logs.parsed().map((l, i) => `${String(l.level)}:${logs.methods[i]}`);
    expect(new Set(levels)).toEqual(new Set(['INFO:info', 'DEBUG:debug', 'WARN:warn', 'ERROR:error']));
  });

  test('a failure is logged with the actionable message and outcome FAILED', async () => {
    secretHoldsBinary(materialBytes(16));
    const { lines } = logs;
    await expect(onEvent(createEvent(withMaterial()))).rejects.toThrow(/received 16 bytes/);
    const last = JSON.parse(lines[lines.length - 1]);
    expect(last).toEqual(expect.objectContaining({ level: 'ERROR', outcome: 'FAILED', requestType: 'Create', logicalResourceId: LOGICAL_ID }));
    expect(last.error).toMatch(/expected exactly 32 bytes \(256 bits\), received 16 bytes/);
  });
});

describe('unknown request types', () => {
  test('fail with a message naming the request type and the resource, with no AWS call', async () => {
    const event = { ...deleteEvent(props()), RequestType: 'Bogus' } as unknown as Parameters<typeof onEvent>[0];
    await expect(onEvent(event)).rejects.toThrow(`Unknown RequestType 'Bogus' for resource ${event.LogicalResourceId}.`);
    expect(kmsMock).not.toHaveReceivedAnyCommand();
  });
});

describe('target verification (Create, and Updates that change the key)', () => {
  function keyIs(metadata: Record<string, unknown>): void {
    kmsMock.on(DescribeKeyCommand).resolves({
      KeyMetadata: {
        KeyId: KEY_ID, Arn: KEY_ARN, AWSAccountId: ACCOUNT, Origin: 'EXTERNAL', KeySpec: 'SYMMETRIC_DEFAULT', MultiRegion: false, KeyState: 'Enabled',
        ...metadata,
      } as never,
    });
  }

  test('fails a Create without material on a key whose Origin is AWS_KMS, saying what was found (no false crypto-shred later)', async () => {
    keyIs({ Origin: 'AWS_KMS' });
    await expect(onEvent(createEvent(props()))).rejects.toThrow(
      `Resource ${LOGICAL_ID} cannot manage the material of key ${KEY_ARN}: its Origin is AWS_KMS, and only keys with Origin EXTERNAL hold imported material ` +
      '(found AWS_KMS, SYMMETRIC_DEFAULT, single-Region, Enabled). Check the ARN, or use a key created with Origin EXTERNAL (ExternalKey).');
  });

  test('fails a Create on a mistyped key ARN (DescribeKey NotFoundException)', async () => {
    kmsMock.on(DescribeKeyCommand).rejects(kmsError(NotFoundException, `Key '${KEY_ARN}' does not exist`));
    await expect(onEvent(createEvent(props()))).rejects.toThrow(
      `Resource ${LOGICAL_ID} cannot manage the material of key ${KEY_ARN}: KMS has no such key in account ${ACCOUNT}, Region ${REGION} (DescribeKey: NotFoundException). ` +
      'Check the key ARN for a typo, and that the key was not deleted.');
  });

  test('fails a Create with material on a key of another key spec before GetParametersForImport', async () => {
    secretHoldsBinary(materialBytes(32));
    keyIs({ KeySpec: 'HMAC_256' });
    await expect(onEvent(createEvent(withMaterial()))).rejects.toThrow(
      /it was declared SYMMETRIC_DEFAULT, but KMS says its key spec is HMAC_256 .*Set keySpec to HMAC_256/);
    expect(kmsMock).not.toHaveReceivedCommand(GetParametersForImportCommand);
  });

  test('fails when the key is multi-Region but was declared single-Region', async () => {
    keyIs({ MultiRegion: true });
    await expect(onEvent(createEvent(props()))).rejects.toThrow(/declared single-Region, but KMS says it is multi-Region .*Set multiRegion to true/);
  });

  test('fails when the key is pending deletion', async () => {
    keyIs({ KeyState: 'PendingDeletion' });
    await expect(onEvent(createEvent(props()))).rejects.toThrow(/the key is PendingDeletion .*Cancel the deletion/);
  });

  test('fails on a key ARN of another Region or account, and on an alias ARN, without calling KMS', async () => {
    await expect(onEvent(createEvent(props({ KeyArn: `arn:aws:kms:us-west-2:${ACCOUNT}:key/${KEY_ID}` }))))
      .rejects.toThrow(/the key is in Region us-west-2, but the stack is in Region eu-west-1/);
    await expect(onEvent(createEvent(props({ KeyArn: `arn:aws:kms:${REGION}:999999999999:key/${KEY_ID}` }))))
      .rejects.toThrow(/the key is in account 999999999999, but the stack is in account 111122223333/);
    await expect(onEvent(createEvent(props({ KeyArn: `arn:aws:kms:${REGION}:${ACCOUNT}:alias/app` }))))
      .rejects.toThrow(/it is an alias ARN, and imported material is managed on the key itself/);
    expect(kmsMock).not.toHaveReceivedAnyCommand();
  });

  test('an Update that changes the declared key spec verifies the key again', async () => {
    keyIs({ KeySpec: 'SYMMETRIC_DEFAULT' });
    await expect(onEvent(updateEvent(props(), props({ KeySpec: 'HMAC_256' })))).rejects.toThrow(/declared HMAC_256, but KMS says its key spec is SYMMETRIC_DEFAULT/);
  });

  test('an Update of the same key that changes nothing about it makes no DescribeKey call', async () => {
    await onEvent(updateEvent(props(), props({ KeyMaterialId: KEY_MATERIAL_ID })));
    expect(kmsMock).not.toHaveReceivedAnyCommand();
  });
});

describe('Delete during a rollback', () => {
  function stackIs(status: string): void {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'MyStack', StackStatus: status as never, CreationTime: new Date() }] });
  }

  test.each(['ROLLBACK_IN_PROGRESS', 'UPDATE_ROLLBACK_IN_PROGRESS', 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS'])(
    'in %s, a resource that imported nothing itself leaves the key material as it was and says why', async (status) => {
      stackIs(status);
      const result = await onEvent(deleteEvent(props()));
      expect(result).toEqual({ PhysicalResourceId: KEY_ID, Data: {
        KeyId: KEY_ID, DeletedKeyMaterials: '',
        NothingDeletedBecause: `the stack is rolling back (${status}) the deployment that added this resource, which imported no material itself: the key's material stays as it was`,
      } });
      expect(cfnMock).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: STACK_ID });
      expect(kmsMock).not.toHaveReceivedAnyCommand();
    });

  test.each(['DELETE_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'])('in %s (a destroy, or a removal in a successful update) it still deletes', async (status) => {
    stackIs(status);
    kmsMock.on(DeleteImportedKeyMaterialCommand).resolves({ KeyId: KEY_ARN });
    await expect(onEvent(deleteEvent(props({ KeySpec: 'HMAC_256' })))).resolves.toEqual({ PhysicalResourceId: KEY_ID, Data: { KeyId: KEY_ID, DeletedKeyMaterials: 'CURRENT' } });
  });

  test('material the resource imported itself is deleted by a rollback, without reading the stack status', async () => {
    stackIs('ROLLBACK_IN_PROGRESS');
    kmsMock.on(DeleteImportedKeyMaterialCommand).resolves({ KeyId: KEY_ARN });
    await expect(onEvent(deleteEvent(withMaterial({ KeySpec: 'HMAC_256' })))).resolves.toMatchObject({ Data: { DeletedKeyMaterials: 'CURRENT' } });
    expect(cfnMock).not.toHaveReceivedAnyCommand();
  });

  test('when the stack status cannot be read, the Delete fails with what to do and deletes nothing', async () => {
    cfnMock.on(DescribeStacksCommand).rejects(awsError('AccessDenied', 'not authorized to perform: cloudformation:DescribeStacks'));
    await expect(onEvent(deleteEvent(props({ KeySpec: 'HMAC_256' })))).rejects.toThrow(
      `Cannot read the status of stack ${STACK_ID} for key ${KEY_ARN} (resource ${LOGICAL_ID}) (DescribeStacks failed: AccessDenied: not authorized to perform: cloudformation:DescribeStacks). ` +
      'The handler needs it to tell a rollback (which leaves material this resource did not import) from a destroy, and does not guess. ' +
      'Check that the handler role may call cloudformation:DescribeStacks on this stack, then retry the operation (a retried delete or rollback sends the Delete again).');
    expect(kmsMock).not.toHaveReceivedAnyCommand();
  });
});

describe('expiration resolved at import time', () => {
  const expiresIn90Days = (): KeyMaterialResourceProperties => withMaterial({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidFor: String(90 * 86_400) });

  test('ValidFor sets ValidTo to the import time plus the duration', async () => {
    secretHoldsBinary(materialBytes(32));
    kmsAcceptsImports();
    const before = Date.now();
    await onEvent(createEvent(expiresIn90Days()));
    const validTo = importInput().ValidTo!.getTime();
    expect(validTo).toBeGreaterThanOrEqual(before + 90 * 86_400_000);
    expect(validTo).toBeLessThanOrEqual(Date.now() + 90 * 86_400_000);
  });

  test('the same ValidFor on the next deploy is no change: no KMS call, no re-import', async () => {
    const result = await onEvent(updateEvent(expiresIn90Days(), { ...expiresIn90Days(), ServiceToken: 'changed' }));
    expect(result).toEqual({ PhysicalResourceId: KEY_ID, Data: { KeyId: KEY_ID } });
    expect(kmsMock).not.toHaveReceivedAnyCommand();
    expect(smMock).not.toHaveReceivedAnyCommand();
  });

  test('a new ValidFor re-imports the same material with a fresh ValidTo', async () => {
    secretHoldsBinary(materialBytes(32));
    kmsAcceptsImports();
    kmsMock.on(DeleteImportedKeyMaterialCommand).resolves({ KeyId: KEY_ARN });
    await onEvent(updateEvent(expiresIn90Days(), withMaterial({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidFor: String(30 * 86_400) })));
    expect(importInput().ImportType).toBe('EXISTING_KEY_MATERIAL');
    expect(importInput().ValidTo!.getTime()).toBeLessThanOrEqual(Date.now() + 30 * 86_400_000);
  });

  test('a fixed ValidTo that has passed fails at import time with what to do, before reading the secret', async () => {
    await expect(onEvent(createEvent(withMaterial({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: '2020-01-01T00:00:00.000Z' })))).rejects.toThrow(
      /^The expiration 2020-01-01T00:00:00.000Z of key arn:.* \(resource KeyMaterialC0FFEE42\) is in the past \(now .*\): KMS needs a ValidTo in the future, at most 365 days after the import\. Use KeyMaterialExpiration.after\(Duration.days\(n\)\)/);
    expect(smMock).not.toHaveReceivedAnyCommand();
    expect(kmsMock).not.toHaveReceivedAnyCommand();
  });

  test('a ValidFor outside 1 to 365 days fails', async () => {
    await expect(onEvent(createEvent(withMaterial({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidFor: String(400 * 86_400) }))))
      .rejects.toThrow(/ValidFor of key arn:.* \(resource KeyMaterialC0FFEE42\) must be a whole number of seconds from 86400 \(1 day\) to 31536000 \(365 days\), got '34560000'/);
  });
});
