import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { isAsymmetricKeySpec, MAX_VALID_FOR_SECONDS, MIN_VALID_FOR_SECONDS } from './private/key-material-contract';
import { grantGetSecretValue, requireSecret, warnIfSecretInOtherAccount } from './private/secrets';

/**
 * How plaintext key material is encoded in a Secrets Manager secret.
 */
export enum MaterialEncoding {
  /**
   * SecretBinary is used as raw bytes; otherwise a SecretString that starts with `-----BEGIN`
   * is PEM, and any other SecretString is base64.
   */
  AUTO = 'AUTO',
  /** The secret's SecretBinary holds the raw material bytes. */
  BINARY = 'BINARY',
  /** The SecretString (or the JSON field) is the material in base64. */
  BASE64 = 'BASE64',
  /** The SecretString (or the JSON field) is the material in hexadecimal. */
  HEX = 'HEX',
  /**
   * The SecretString (or the JSON field) is a PEM private key (PKCS#8, or PKCS#1 RSA / SEC1 EC).
   * Only asymmetric (RSA, ECC, SM2) keys can hold it.
   */
  PEM = 'PEM',
}

/**
 * Options for `KeyMaterial.fromSecret`.
 */
export interface SecretKeyMaterialOptions {
  /**
   * How the material is encoded in the secret.
   *
   * @default MaterialEncoding.AUTO
   */
  readonly encoding?: MaterialEncoding;

  /**
   * Read the material from this field of a JSON SecretString.
   *
   * @default - the whole secret value is the material
   */
  readonly jsonField?: string;

  /**
   * Read this version of the secret. Changing it is a change of material.
   *
   * @default - the version in `versionStage`
   */
  readonly versionId?: string;

  /**
   * Read the version with this staging label. Changing it is a change of material.
   *
   * @default AWSCURRENT
   */
  readonly versionStage?: string;
}

/**
 * What a `KeyMaterial` tells the handler. Never holds the material itself.
 */
export interface KeyMaterialConfig {
  /** ARN of the secret that holds the plaintext material. */
  readonly secretArn: string;
  /** How the material is encoded in the secret. */
  readonly encoding: MaterialEncoding;
  /**
   * JSON field that holds the material.
   * @default - the whole secret value
   */
  readonly jsonField?: string;
  /**
   * Secret version to read.
   * @default - the version in `versionStage`
   */
  readonly versionId?: string;
  /**
   * Secret version stage to read.
   * @default AWSCURRENT
   */
  readonly versionStage?: string;
}

/**
 * Where imported key material comes from.
 *
 * The handler reads the plaintext material only at the moment it imports it, wraps it under the
 * public key that KMS hands out (GetParametersForImport) and calls ImportKeyMaterial. The material
 * never appears in the template, in a log line or in the response to CloudFormation.
 *
 * Material formats: SYMMETRIC_DEFAULT keys take exactly 32 bytes; HMAC keys take 28 to 128 bytes
 * depending on the key spec; asymmetric keys take a PKCS#8 private key (DER bytes, or PEM).
 */
export abstract class KeyMaterial {
  /**
   * Plaintext key material held in a Secrets Manager secret.
   *
   * @param secret the secret that holds the plaintext material (read by the handler only at import time)
   * @param options how the material is encoded in the secret, and which field and version to read
   */
  public static fromSecret(secret: secretsmanager.ISecret, options: SecretKeyMaterialOptions = {}): KeyMaterial {
    return new SecretKeyMaterial(secret, options);
  }

  /**
   * Checks that this material source can hold material for the given key spec, and grants the
   * handler read access to it. Called once per importing resource.
   *
   * @param scope the resource that imports the material
   * @param keySpec the KMS key spec of the key (for example `SYMMETRIC_DEFAULT`)
   * @param grantee the role that reads the material
   */
  public abstract bind(scope: Construct, keySpec: string, grantee: iam.IGrantable): KeyMaterialConfig;
}

class SecretKeyMaterial extends KeyMaterial {
  constructor(private readonly secret: secretsmanager.ISecret, private readonly options: SecretKeyMaterialOptions) {
    super();
    if (options.versionId !== undefined && options.versionStage !== undefined) {
      throw new Error('KeyMaterial.fromSecret accepts versionId or versionStage, not both');
    }
    if (options.jsonField !== undefined && options.encoding === MaterialEncoding.BINARY) {
      throw new Error('KeyMaterial.fromSecret: jsonField reads a JSON SecretString, so encoding cannot be BINARY');
    }
  }

  public bind(scope: Construct, keySpec: string, grantee: iam.IGrantable): KeyMaterialConfig {
    const encoding = this.options.encoding ?? MaterialEncoding.AUTO;
    requireSecret(`${scope.node.path}: KeyMaterial.fromSecret`, 'secret', this.secret);
    warnIfSecretInOtherAccount(scope, this.secret, 'the key material secret', grantee);
    if (encoding === MaterialEncoding.PEM && !isAsymmetricKeySpec(keySpec)) {
      throw new Error(`${scope.node.path}: a PEM secret holds an asymmetric private key, which cannot be material for a ${keySpec} key; store the raw material as SecretBinary, base64 or hex instead`);
    }
    grantGetSecretValue(this.secret, grantee);
    return {
      secretArn: this.secret.secretArn,
      encoding,
      jsonField: this.options.jsonField,
      versionId: this.options.versionId,
      versionStage: this.options.versionStage,
    };
  }
}

/**
 * When imported key material expires.
 */
export class KeyMaterialExpiration {
  /**
   * The material never expires (KEY_MATERIAL_DOES_NOT_EXPIRE).
   */
  public static never(): KeyMaterialExpiration {
    return new KeyMaterialExpiration('KEY_MATERIAL_DOES_NOT_EXPIRE');
  }

  /**
   * The material expires this long after each import (KEY_MATERIAL_EXPIRES; the handler sets
   * ValidTo = import time + `validFor`). The template holds the duration, not a date, so the same
   * app synthesizes the same template on any day, and deploying it again imports nothing.
   * Material is imported again (with a fresh ValidTo) only when the material or the expiration
   * changes in the template. From 1 day to 365 days (KMS's maximum).
   *
   * @param validFor how long the material stays valid after each import
   */
  public static after(validFor: Duration): KeyMaterialExpiration {
    if (!validFor.isUnresolved()) {
      const seconds = validFor.toMilliseconds() / 1000;
      if (!Number.isInteger(seconds) || seconds < MIN_VALID_FOR_SECONDS || seconds > MAX_VALID_FOR_SECONDS) {
        throw new Error(`KeyMaterialExpiration.after needs a whole number of seconds from 1 day to 365 days (KMS accepts a ValidTo at most 365 days after the import), got ${validFor.toHumanString()}`);
      }
    }
    return new KeyMaterialExpiration('KEY_MATERIAL_EXPIRES', undefined, validFor);
  }

  /**
   * The material expires at this time (KEY_MATERIAL_EXPIRES with ValidTo). KMS then deletes it and
   * the key becomes unusable until the same material is imported again. Must lie in the future and
   * at most 365 days after the import: the handler checks this when it imports (synthesis never
   * reads the clock). Prefer `after()`, which needs no new date to stay valid.
   *
   * @param validTo the time at which KMS deletes the material
   */
  public static at(validTo: Date): KeyMaterialExpiration {
    if (Number.isNaN(validTo.getTime())) {
      throw new Error('KeyMaterialExpiration.at needs a valid date');
    }
    return new KeyMaterialExpiration('KEY_MATERIAL_EXPIRES', validTo);
  }

  private constructor(
    /** KEY_MATERIAL_DOES_NOT_EXPIRE or KEY_MATERIAL_EXPIRES. */
    public readonly expirationModel: string,
    /** When the material expires (only with `at()`). */
    public readonly validTo?: Date,
    /** How long the material is valid after each import (only with `after()`). */
    public readonly validFor?: Duration,
  ) {}
}
