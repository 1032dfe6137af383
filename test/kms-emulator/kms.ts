/**
 * KMS keys, their key materials and the key-state rules of the AWS KMS API Reference.
 *
 * KeyState is computed, never stored:
 *   PendingReplicaDeletion  for a multi-Region primary scheduled for deletion while replicas exist
 *   PendingDeletion  when a deletion is scheduled
 *   Unavailable      for keys in a custom key store that is not CONNECTED
 *   PendingImport    for EXTERNAL keys whose associated (CURRENT / NON_CURRENT) materials are not all imported
 *   Enabled/Disabled otherwise, from the key's enabled flag
 * so deleting material of a PendingDeletion key keeps PendingDeletion, and cancelling the deletion of a
 * key without material lands in PendingImport, as in KMS.
 *
 * Multi-Region keys: every Region has its own `KmsKeys`; related keys share their key id (`mrk-...`)
 * and find each other through `MultiRegionPeers`. Each related key keeps its own copy of the
 * materials list: the ids and KeyMaterialStates are kept in step (they are shared properties), the
 * import state, expiry and description are per Region (KMS never copies imported material).
 */
import * as crypto from 'node:crypto';
import { err } from './errors';
import {
  WRAPPING_ALGORITHMS, WRAPPING_KEY_SPECS, WrappingAlgorithm, WrappingKeyCache, WrappingKeySpec,
  generateMaterial, isEccSpec, isHmacSpec, isRsaSpec, keyMaterialId, parseCiphertext, randomHex,
  rsaDecrypt, rsaEncrypt, symmetricDecrypt, symmetricEncrypt, unwrapKeyMaterial, validateKeyMaterial,
} from './crypto';
import { CustomKeyStores } from './stores';
import {
  Input, Output, b64, compact, iso, optBoolean, optEnum, optNumber, optString, optStringMap,
  optTimestamp, page, reqBlob, reqString, ts,
} from './wire';

export type Origin = 'AWS_KMS' | 'EXTERNAL' | 'AWS_CLOUDHSM' | 'EXTERNAL_KEY_STORE';
export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion' | 'PendingReplicaDeletion' | 'PendingImport' | 'Unavailable';
export type KeyMaterialState = 'CURRENT' | 'NON_CURRENT' | 'PENDING_ROTATION' | 'PENDING_MULTI_REGION_IMPORT_AND_ROTATION';

/** Material imported for a rotation that has not happened yet: not permanently associated with the key. */
function isPending(m: { state: KeyMaterialState }): boolean {
  return m.state === 'PENDING_ROTATION' || m.state === 'PENDING_MULTI_REGION_IMPORT_AND_ROTATION';
}

/** How the KMS of one Region reaches the related multi-Region keys in the others. */
export interface MultiRegionPeers {
  /** The KMS of `region` (created on first use). */
  kmsOf(region: string): KmsKeys;
  /** Every Region served so far. */
  regions(): string[];
}

/** The default key policy KMS attaches when a request gives none. */
const DEFAULT_KEY_POLICY = (accountId: string): string => JSON.stringify({
  Version: '2012-10-17',
  Id: 'key-default-1',
  Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${accountId}:root` }, Action: 'kms:*', Resource: '*' }],
});

/** ImportKeyMaterial KeyMaterialDescription: at most 256 characters of this pattern (API Reference). */
const MAX_KEY_MATERIAL_DESCRIPTION = 256;
const KEY_MATERIAL_DESCRIPTION_PATTERN = /^[a-zA-Z0-9:/_\s.-]+$/;

const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
export type ExpirationModel = 'KEY_MATERIAL_EXPIRES' | 'KEY_MATERIAL_DOES_NOT_EXPIRE';

const DAY_MS = 24 * 60 * 60 * 1000;
const IMPORT_TOKEN_TTL_MS = DAY_MS;
const MAX_VALID_TO_MS = 365 * DAY_MS;
const MAX_ON_DEMAND_ROTATIONS = 25;

const KEY_SPECS = [
  'SYMMETRIC_DEFAULT', 'RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256', 'ECC_NIST_P384',
  'ECC_NIST_P521', 'ECC_SECG_P256K1', 'HMAC_224', 'HMAC_256', 'HMAC_384', 'HMAC_512',
] as const;
const KEY_USAGES = ['ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT'] as const;
const ORIGINS = ['AWS_KMS', 'EXTERNAL', 'AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE'] as const;
const EXPIRATION_MODELS = ['KEY_MATERIAL_EXPIRES', 'KEY_MATERIAL_DOES_NOT_EXPIRE'] as const;

interface Material {
  id: string;
  /** Plaintext material; undefined while not imported (deleted or expired). */
  bytes?: Buffer;
  state: KeyMaterialState;
  /** Always true for material KMS generated. */
  imported: boolean;
  expirationModel?: ExpirationModel;
  validTo?: number;
  description?: string;
  rotationDate?: number;
  rotationType?: 'AUTOMATIC' | 'ON_DEMAND';
}

interface Key {
  keyId: string;
  arn: string;
  creationDate: number;
  description: string;
  keySpec: string;
  keyUsage: string;
  origin: Origin;
  multiRegion: boolean;
  /** Multi-Region keys: the Region of the primary key (this Region for the primary itself). */
  primaryRegion?: string;
  customKeyStoreId?: string;
  xksKeyId?: string;
  enabled: boolean;
  deletionDate?: number;
  pendingWindowInDays?: number;
  materials: Material[];
}

interface ImportToken {
  keyId: string;
  algorithm: WrappingAlgorithm;
  wrappingKeySpec: WrappingKeySpec;
  expiresAt: number;
}

/** Seed input for `emulator.createKey(...)`. */
export interface SeedKey {
  origin?: Origin;
  keySpec?: string;
  keyUsage?: string;
  multiRegion?: boolean;
  description?: string;
  customKeyStoreId?: string;
  xksKeyId?: string;
  /** For EXTERNAL keys: import this plaintext material right away (bypasses wrapping). */
  material?: Buffer;
  /** Expiry of the seeded material; default: does not expire. */
  validTo?: Date;
  enabled?: boolean;
  /** Schedule deletion this many days ahead (7-30). */
  pendingDeletionDays?: number;
  /** Region of the key. Default: the emulator's Region. */
  region?: string;
}

export interface SeededKey {
  keyId: string;
  arn: string;
  keyMaterialId?: string;
}

export class KmsKeys {
  private readonly keys = new Map<string, Key>();
  private readonly tokens = new Map<string, ImportToken>();
  private readonly wrappingKeys = new WrappingKeyCache();

  constructor(
    private readonly now: () => number,
    private readonly region: string,
    private readonly accountId: string,
    private readonly stores: CustomKeyStores,
    private readonly peers?: MultiRegionPeers,
  ) {}

  // ================================================================ multi-Region relations

  /** The related multi-Region keys in every Region (this key included), primary first. */
  private related(key: Key): Key[] {
    if (!key.multiRegion || !this.peers) return [key];
    const out: Key[] = [];
    for (const region of this.peers.regions()) {
      const peer = this.peers.kmsOf(region).keys.get(key.keyId);
      if (peer && peer.multiRegion) out.push(peer);
    }
    return out.sort((a, b) => Number(b.primaryRegion === regionOf(b)) - Number(a.primaryRegion === regionOf(a)));
  }

  private isReplica(key: Key): boolean {
    return key.multiRegion && key.primaryRegion !== undefined && key.primaryRegion !== regionOf(key);
  }

  /** The replicas of a primary key (none for other keys). */
  private replicasOf(key: Key): Key[] {
    return this.isReplica(key) ? [] : this.related(key).filter((k) => k !== key);
  }

  private primaryOf(key: Key): Key | undefined {
    return this.related(key).find((k) => k.primaryRegion === regionOf(k));
  }

  /** The same material (by id) in each of `keys`. */
  private static copies(keys: Key[], id: string): Material[] {
    return keys.map((k) => k.materials.find((m) => m.id === id)).filter((m): m is Material => m !== undefined);
  }

  /**
   * Pending material of a multi-Region primary is PENDING_MULTI_REGION_IMPORT_AND_ROTATION until every
   * replica has it imported, then PENDING_ROTATION (in every related key).
   */
  private syncPendingState(primary: Key): void {
    const replicas = this.replicasOf(primary);
    for (const m of primary.materials.filter(isPending)) {
      const everywhere = replicas.every((r) => r.materials.some((c) => c.id === m.id && c.imported));
      const state: KeyMaterialState = everywhere ? 'PENDING_ROTATION' : 'PENDING_MULTI_REGION_IMPORT_AND_ROTATION';
      for (const c of KmsKeys.copies([primary, ...replicas], m.id)) c.state = state;
    }
  }

  // ================================================================ lookup and state

  /** Lazy housekeeping on every request: expired materials are deleted, expired deletion windows end. */
  public sweep(): void {
    const now = this.now();
    for (const key of this.keys.values()) {
      if (key.deletionDate !== undefined && key.deletionDate <= now && this.isReplica(key)) {
        this.keys.delete(key.keyId);
        const primary = this.primaryOf(key);
        if (primary?.deletionDate !== undefined) {
          primary.deletionDate = Math.max(primary.deletionDate, key.deletionDate + (primary.pendingWindowInDays ?? 30) * DAY_MS);
        }
        continue;
      }
      // A primary is deleted after its replicas: its waiting period begins when its last replica is deleted.
      if (key.deletionDate !== undefined && key.deletionDate <= now && this.replicasOf(key).length === 0) {
        this.keys.delete(key.keyId);
        continue;
      }
      for (const m of key.materials) {
        if (m.imported && m.validTo !== undefined && m.validTo <= now) {
          m.imported = false;
          m.bytes = undefined;
        }
      }
    }
  }

  private keyState(key: Key): KeyState {
    if (key.deletionDate !== undefined) {
      const now = this.now();
      const liveReplicas = this.replicasOf(key).some((r) => r.deletionDate === undefined || r.deletionDate > now);
      return liveReplicas ? 'PendingReplicaDeletion' : 'PendingDeletion';
    }
    if (key.customKeyStoreId && this.stores.connectionState(key.customKeyStoreId) !== 'CONNECTED') return 'Unavailable';
    if (key.origin === 'EXTERNAL') {
      const associated = key.materials.filter((m) => !isPending(m));
      if (associated.length === 0 || associated.some((m) => !m.imported)) return 'PendingImport';
    }
    return key.enabled ? 'Enabled' : 'Disabled';
  }

  private resolve(keyRef: string): Key {
    let id = keyRef;
    if (keyRef.startsWith('arn:')) {
      const m = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):key\/(.+)$/.exec(keyRef);
      if (!m) {
        if (/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:alias\//.test(keyRef)) {
          throw err('NotFoundException', `Alias ${keyRef} is not found.`);
        }
        throw err('InvalidArnException', `${keyRef} is not a valid KMS key ARN`);
      }
      if (m[1] !== this.region || m[2] !== this.accountId) throw err('NotFoundException', `Key '${keyRef}' does not exist`);
      id = m[3];
    } else if (keyRef.startsWith('alias/')) {
      throw err('NotFoundException', `Alias ${keyRef} is not found.`);
    }
    const key = this.keys.get(id);
    if (!key) throw err('NotFoundException', `Key '${this.arnOf(id)}' does not exist`);
    return key;
  }

  private arnOf(keyId: string): string {
    return `arn:aws:kms:${this.region}:${this.accountId}:key/${keyId}`;
  }

  private current(key: Key): Material | undefined {
    return key.materials.find((m) => m.state === 'CURRENT');
  }

  private invalidState(key: Key, operation: string): never {
    throw err('KMSInvalidStateException', `${this.arnOf(key.keyId)} is ${this.keyState(key)} and cannot be used for ${operation}`);
  }

  /** State check shared by cryptographic operations. */
  private assertUsable(key: Key, operation: string): void {
    const state = this.keyState(key);
    if (state === 'Disabled') throw err('DisabledException', `${this.arnOf(key.keyId)} is disabled.`);
    if (state !== 'Enabled') this.invalidState(key, operation);
  }

  public keysInStore(storeId: string): number {
    return [...this.keys.values()].filter((k) => k.customKeyStoreId === storeId).length;
  }

  // ================================================================ key lifecycle

  public createKey(input: Input): Output {
    const origin = optEnum(input, 'Origin', ORIGINS) ?? 'AWS_KMS';
    const keySpec = optEnum(input, 'KeySpec', KEY_SPECS) ?? optEnum(input, 'CustomerMasterKeySpec', KEY_SPECS) ?? 'SYMMETRIC_DEFAULT';
    const multiRegion = optBoolean(input, 'MultiRegion') ?? false;
    const keyUsage = optEnum(input, 'KeyUsage', KEY_USAGES) ?? (isHmacSpec(keySpec) ? 'GENERATE_VERIFY_MAC' : 'ENCRYPT_DECRYPT');
    validateUsage(keySpec, keyUsage);
    const customKeyStoreId = optString(input, 'CustomKeyStoreId');
    const xksKeyId = optString(input, 'XksKeyId');

    if (origin === 'AWS_CLOUDHSM' || origin === 'EXTERNAL_KEY_STORE') {
      if (!customKeyStoreId) throw err('ValidationException', `CustomKeyStoreId is required when Origin is ${origin}`);
      const type = this.stores.typeOf(customKeyStoreId);
      if (!type) throw err('CustomKeyStoreNotFoundException', `Custom key store ${customKeyStoreId} does not exist`);
      if ((origin === 'AWS_CLOUDHSM') !== (type === 'AWS_CLOUDHSM')) {
        throw err('UnsupportedOperationException', `Origin ${origin} does not match custom key store type ${type}`);
      }
      if (keySpec !== 'SYMMETRIC_DEFAULT' || keyUsage !== 'ENCRYPT_DECRYPT' || multiRegion) {
        throw err('UnsupportedOperationException', 'Keys in a custom key store must be single-Region SYMMETRIC_DEFAULT ENCRYPT_DECRYPT keys');
      }
      if (this.stores.connectionState(customKeyStoreId) !== 'CONNECTED') {
        throw err('CustomKeyStoreInvalidStateException', `Custom key store ${customKeyStoreId} is not CONNECTED`);
      }
      if (origin === 'EXTERNAL_KEY_STORE') {
        if (!xksKeyId) throw err('ValidationException', 'XksKeyId is required when Origin is EXTERNAL_KEY_STORE');
        if ([...this.keys.values()].some((k) => k.customKeyStoreId === customKeyStoreId && k.xksKeyId === xksKeyId)) {
          throw err('XksKeyAlreadyInUseException', `External key ${xksKeyId} is already associated with a KMS key in ${customKeyStoreId}`);
        }
      } else if (xksKeyId) {
        throw err('ValidationException', 'XksKeyId is only valid when Origin is EXTERNAL_KEY_STORE');
      }
    } else if (customKeyStoreId || xksKeyId) {
      throw err('ValidationException', `CustomKeyStoreId and XksKeyId are not valid when Origin is ${origin}`);
    }

    const keyId = multiRegion ? `mrk-${randomHex(16)}` : crypto.randomUUID();
    const key: Key = {
      keyId,
      arn: this.arnOf(keyId),
      creationDate: this.now(),
      description: optString(input, 'Description') ?? '',
      keySpec,
      keyUsage,
      origin,
      multiRegion,
      primaryRegion: multiRegion ? this.region : undefined,
      customKeyStoreId,
      xksKeyId,
      enabled: true,
      materials: [],
    };
    if (origin !== 'EXTERNAL') {
      // RSA/ECC material is generated on first use (RSA generation is slow).
      const bytes = isRsaSpec(keySpec) || isEccSpec(keySpec) ? undefined : generateMaterial(keySpec);
      key.materials.push({ id: randomHex(32), bytes, state: 'CURRENT', imported: true });
    }
    this.keys.set(keyId, key);
    return { KeyMetadata: this.metadata(key) };
  }

  public describeKey(input: Input): Output {
    return { KeyMetadata: this.metadata(this.resolve(reqString(input, 'KeyId'))) };
  }

  public listKeys(input: Input): Output {
    const p = page([...this.keys.values()], input);
    return compact({
      Keys: p.items.map((k) => ({ KeyId: k.keyId, KeyArn: k.arn })),
      NextMarker: p.nextMarker,
      Truncated: p.truncated,
    });
  }

  public enableKey(input: Input): Output {
    const key = this.resolve(reqString(input, 'KeyId'));
    const state = this.keyState(key);
    if (state !== 'Enabled' && state !== 'Disabled') this.invalidState(key, 'EnableKey');
    key.enabled = true;
    return {};
  }

  public disableKey(input: Input): Output {
    const key = this.resolve(reqString(input, 'KeyId'));
    const state = this.keyState(key);
    if (state !== 'Enabled' && state !== 'Disabled') this.invalidState(key, 'DisableKey');
    key.enabled = false;
    return {};
  }

  public scheduleKeyDeletion(input: Input): Output {
    const key = this.resolve(reqString(input, 'KeyId'));
    const days = optNumber(input, 'PendingWindowInDays') ?? 30;
    if (!Number.isInteger(days) || days < 7 || days > 30) {
      throw err('ValidationException', `PendingWindowInDays must be an integer between 7 and 30, got ${days}`);
    }
    if (key.deletionDate !== undefined) this.invalidState(key, 'ScheduleKeyDeletion');
    key.deletionDate = this.now() + days * DAY_MS;
    key.pendingWindowInDays = days;
    return {
      KeyId: key.arn,
      DeletionDate: ts(key.deletionDate),
      KeyState: 'PendingDeletion',
      PendingWindowInDays: days,
    };
  }

  public cancelKeyDeletion(input: Input): Output {
    const key = this.resolve(reqString(input, 'KeyId'));
    if (key.deletionDate === undefined) this.invalidState(key, 'CancelKeyDeletion');
    key.deletionDate = undefined;
    key.pendingWindowInDays = undefined;
    key.enabled = false; // KMS leaves a key whose deletion was cancelled Disabled (or PendingImport).
    return { KeyId: key.arn };
  }

  // ================================================================ multi-Region

  /**
   * ReplicateKey: a replica in `ReplicaRegion` with the primary's key id and shared properties. A replica
   * of an EXTERNAL primary has no material (each material is listed, PENDING_IMPORT there), so it is
   * PendingImport until the same material is imported in its Region. No transient `Creating` state.
   */
  public replicateKey(input: Input): Output {
    const key = this.resolve(reqString(input, 'KeyId'));
    const replicaRegion = reqString(input, 'ReplicaRegion');
    const policy = optString(input, 'Policy');
    if (!REGION_PATTERN.test(replicaRegion)) {
      throw err('ValidationException', `ReplicaRegion '${replicaRegion}' is not a valid AWS Region name`);
    }
    if (!key.multiRegion) {
      throw err('UnsupportedOperationException', `${key.arn} is not a multi-Region key; only multi-Region primary keys can be replicated`);
    }
    if (this.isReplica(key)) {
      throw err('UnsupportedOperationException', `${key.arn} is a replica key; replicate its primary key in ${key.primaryRegion}`);
    }
    if (replicaRegion === this.region) {
      throw err('ValidationException', `ReplicaRegion ${replicaRegion} is the Region of the primary key ${key.arn}; a replica must be in a different Region`);
    }
    if (!this.peers) throw err('UnsupportedOperationException', 'This emulator serves one Region only');
    const state = this.keyState(key);
    if (state === 'Disabled') throw err('DisabledException', `${key.arn} is disabled.`);
    if (state !== 'Enabled' && state !== 'PendingImport') this.invalidState(key, 'ReplicateKey');
    const target = this.peers.kmsOf(replicaRegion);
    if (target.keys.has(key.keyId)) {
      throw err('AlreadyExistsException', `A replica of ${key.keyId} already exists in ${replicaRegion}`);
    }
    const external = key.origin === 'EXTERNAL';
    const replica: Key = {
      keyId: key.keyId,
      arn: target.arnOf(key.keyId),
      creationDate: this.now(),
      description: optString(input, 'Description') ?? '',
      keySpec: key.keySpec,
      keyUsage: key.keyUsage,
      origin: key.origin,
      multiRegion: true,
      primaryRegion: this.region,
      enabled: true,
      materials: key.materials.map((m) => ({
        id: m.id,
        state: m.state,
        imported: !external,
        bytes: external ? undefined : m.bytes,
        rotationDate: m.rotationDate,
        rotationType: m.rotationType,
      })),
    };
    target.keys.set(replica.keyId, replica);
    this.syncPendingState(key);
    return compact({
      ReplicaKeyMetadata: target.metadata(replica),
      ReplicaPolicy: policy ?? DEFAULT_KEY_POLICY(this.accountId),
      ReplicaTags: input.Tags ?? [],
    });
  }

  // ================================================================ import

  public async getParametersForImport(input: Input): Promise<Output> {
    const key = this.resolve(reqString(input, 'KeyId'));
    const algorithm = optEnum(input, 'WrappingAlgorithm', WRAPPING_ALGORITHMS)
      ?? (reqString(input, 'WrappingAlgorithm') as WrappingAlgorithm);
    const wrappingKeySpec = optEnum(input, 'WrappingKeySpec', Object.keys(WRAPPING_KEY_SPECS) as WrappingKeySpec[])
      ?? (reqString(input, 'WrappingKeySpec') as WrappingKeySpec);
    if (key.origin !== 'EXTERNAL') {
      throw err('UnsupportedOperationException', `${key.arn} has Origin ${key.origin}; only EXTERNAL keys accept imported key material`);
    }
    if (key.deletionDate !== undefined) this.invalidState(key, 'GetParametersForImport');
    if (isRsaSpec(key.keySpec) && !algorithm.startsWith('RSA_AES_KEY_WRAP')) {
      throw err('UnsupportedOperationException', `RSA private key material cannot be wrapped with ${algorithm}; use RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256`);
    }
    if (key.keySpec === 'ECC_NIST_P521' && wrappingKeySpec === 'RSA_2048' && algorithm.startsWith('RSAES_OAEP')) {
      throw err('UnsupportedOperationException', `${algorithm} with an RSA_2048 wrapping key cannot hold ECC_NIST_P521 key material`);
    }
    const pair = await this.wrappingKeys.get(wrappingKeySpec);
    const token = crypto.randomBytes(64);
    const expiresAt = this.now() + IMPORT_TOKEN_TTL_MS;
    this.tokens.set(b64(token), { keyId: key.keyId, algorithm, wrappingKeySpec, expiresAt });
    return {
      KeyId: key.arn,
      ImportToken: b64(token),
      PublicKey: b64(pair.publicKeyDer),
      ParametersValidTo: ts(expiresAt),
    };
  }

  public async importKeyMaterial(input: Input): Promise<Output> {
    const key = this.resolve(reqString(input, 'KeyId'));
    const tokenBytes = reqBlob(input, 'ImportToken');
    const wrapped = reqBlob(input, 'EncryptedKeyMaterial');
    const validTo = optTimestamp(input, 'ValidTo');
    const expirationModel = optEnum(input, 'ExpirationModel', EXPIRATION_MODELS) ?? 'KEY_MATERIAL_EXPIRES';
    const importTypeInput = optEnum(input, 'ImportType', ['NEW_KEY_MATERIAL', 'EXISTING_KEY_MATERIAL'] as const);
    const description = optString(input, 'KeyMaterialDescription');
    const expectedId = optString(input, 'KeyMaterialId');

    if (key.origin !== 'EXTERNAL') {
      throw err('UnsupportedOperationException', `${key.arn} has Origin ${key.origin}; only EXTERNAL keys accept imported key material`);
    }
    if (description !== undefined && (description.length > MAX_KEY_MATERIAL_DESCRIPTION || !KEY_MATERIAL_DESCRIPTION_PATTERN.test(description))) {
      throw err('ValidationException', `1 validation error detected: Value '${description}' at 'keyMaterialDescription' failed to satisfy constraint: ` +
        `Member must have length less than or equal to ${MAX_KEY_MATERIAL_DESCRIPTION} and satisfy regular expression pattern: ${KEY_MATERIAL_DESCRIPTION_PATTERN.source}`);
    }
    // ExpirationModel / ValidTo (documented default: KEY_MATERIAL_EXPIRES, which requires ValidTo).
    if (expirationModel === 'KEY_MATERIAL_EXPIRES') {
      if (validTo === undefined) throw err('ValidationException', 'ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES (the default)');
      if (validTo <= this.now()) throw err('ValidationException', 'ValidTo must be in the future');
      if (validTo > this.now() + MAX_VALID_TO_MS) throw err('ValidationException', 'ValidTo must be at most 365 days from now');
    } else if (validTo !== undefined) {
      throw err('ValidationException', 'ValidTo is not valid when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE');
    }

    // Import token.
    const token = this.tokens.get(b64(tokenBytes));
    if (!token || token.keyId !== key.keyId) {
      throw err('InvalidImportTokenException', `The import token is invalid or belongs to a different KMS key than ${key.arn}`);
    }
    if (token.expiresAt <= this.now()) {
      throw err('ExpiredImportTokenException', 'The import token has expired; call GetParametersForImport again');
    }

    // Unwrap, validate and identify the material.
    const pair = await this.wrappingKeys.get(token.wrappingKeySpec);
    const plaintext = unwrapKeyMaterial(token.algorithm, pair.privateKey, wrapped);
    const material = validateKeyMaterial(key.keySpec, plaintext);
    if (isRsaSpec(key.keySpec) && !token.algorithm.startsWith('RSA_AES_KEY_WRAP')) {
      throw err('IncorrectKeyMaterialException', 'RSA private key material must be wrapped with an RSA_AES_KEY_WRAP algorithm');
    }
    const id = keyMaterialId(key.keyId, material);
    const expiry = { expirationModel, validTo: expirationModel === 'KEY_MATERIAL_EXPIRES' ? validTo : undefined };

    const replica = this.isReplica(key);
    if (replica && key.materials.length === 0) {
      throw err('UnsupportedOperationException', `${key.arn} is a replica key and its primary key in ${key.primaryRegion} has no key material yet; import the material into the primary key first, then the same material here`);
    }
    if (key.keySpec === 'SYMMETRIC_DEFAULT') {
      const importType = importTypeInput ?? (key.materials.length === 0 ? 'NEW_KEY_MATERIAL' : 'EXISTING_KEY_MATERIAL');
      if (replica && importType === 'NEW_KEY_MATERIAL') {
        throw err('UnsupportedOperationException', `${key.arn} is a replica key: new key material can only be imported into the primary key in ${key.primaryRegion} (ImportType NEW_KEY_MATERIAL); import the same material here with ImportType EXISTING_KEY_MATERIAL`);
      }
      const existing = key.materials.find((m) => m.id === id);
      if (importType === 'EXISTING_KEY_MATERIAL') {
        if (!existing) {
          throw err('IncorrectKeyMaterialException', `The key material is not associated with ${key.arn}; use ImportType NEW_KEY_MATERIAL to add new material`);
        }
        if (expectedId !== undefined && expectedId !== id) {
          throw err('IncorrectKeyMaterialException', `The key material does not match KeyMaterialId ${expectedId}`);
        }
        Object.assign(existing, { bytes: material, imported: true, ...expiry });
        if (description !== undefined) existing.description = description;
        if (replica) {
          const primary = this.primaryOf(key);
          if (primary) this.syncPendingState(primary);
        }
      } else {
        if (expectedId !== undefined) {
          throw err('ValidationException', 'KeyMaterialId cannot be specified with ImportType NEW_KEY_MATERIAL');
        }
        if (existing) {
          throw err('IncorrectKeyMaterialException', `The key material is already associated with ${key.arn} (KeyMaterialId ${id}); use ImportType EXISTING_KEY_MATERIAL to reimport it`);
        }
        let state: KeyMaterialState = 'CURRENT';
        if (key.materials.length > 0) {
          const pending = key.materials.find(isPending);
          if (pending) {
            throw err('KMSInvalidStateException', `${key.arn} already has key material in ${pending.state}; rotate with RotateKeyOnDemand or delete that material first`);
          }
          state = 'PENDING_ROTATION';
        }
        key.materials.push({ id, bytes: material, state, imported: true, description, ...expiry });
        // The new material is associated with every replica too, PENDING_IMPORT there.
        for (const r of this.replicasOf(key)) r.materials.push({ id, state, imported: false });
        this.syncPendingState(key);
      }
    } else {
      // Asymmetric and HMAC keys hold exactly one key material for life.
      if (importTypeInput === 'NEW_KEY_MATERIAL' && key.materials.length > 0) {
        throw err('UnsupportedOperationException', `${key.keySpec} keys do not support new key material; only the original material can be reimported`);
      }
      if (expectedId !== undefined || description !== undefined) {
        throw err('ValidationException', 'KeyMaterialId and KeyMaterialDescription are only valid for symmetric encryption keys');
      }
      const existing = key.materials[0];
      if (existing && existing.id !== id) {
        throw err('IncorrectKeyMaterialException', `The key material is not the material previously imported into ${key.arn}`);
      }
      if (existing && existing.imported) {
        this.invalidState(key, 'ImportKeyMaterial (the same material is already imported)');
      }
      if (existing) Object.assign(existing, { bytes: material, imported: true, ...expiry });
      else key.materials.push({ id, bytes: material, state: 'CURRENT', imported: true, ...expiry });
    }
    return { KeyId: key.arn, KeyMaterialId: id };
  }

  public deleteImportedKeyMaterial(input: Input): Output {
    const key = this.resolve(reqString(input, 'KeyId'));
    const materialId = optString(input, 'KeyMaterialId');
    if (key.origin !== 'EXTERNAL') {
      throw err('UnsupportedOperationException', `${key.arn} has Origin ${key.origin}; only EXTERNAL keys have imported key material`);
    }
    let material: Material | undefined;
    if (materialId !== undefined) {
      material = key.materials.find((m) => m.id === materialId);
      if (!material) throw err('NotFoundException', `Key material ${materialId} is not associated with ${key.arn}`);
    } else {
      material = this.current(key);
    }
    if (!material) {
      // Never imported: nothing to delete (no effect on a PendingImport key).
      return { KeyId: key.arn };
    }
    if (isPending(material) && !this.isReplica(key)) {
      // Pending-rotation material is not permanently associated: it goes away entirely, and deleting it
      // from a multi-Region primary deletes the replicas' copies too.
      const id = material.id;
      for (const k of this.related(key)) k.materials = k.materials.filter((m) => m.id !== id);
    } else {
      // A replica's copy (pending or not) is deleted in its Region only; the other keys are unchanged.
      material.imported = false;
      material.bytes = undefined;
      material.expirationModel = undefined;
      material.validTo = undefined;
    }
    return { KeyId: key.arn, KeyMaterialId: material.id };
  }

  // ================================================================ rotation

  public rotateKeyOnDemand(input: Input): Output {
    const key = this.resolve(reqString(input, 'KeyId'));
    if (key.keySpec !== 'SYMMETRIC_DEFAULT' || key.customKeyStoreId) {
      throw err('UnsupportedOperationException', `On-demand rotation is only supported for symmetric encryption keys outside custom key stores; ${key.arn} is ${key.keySpec}${key.customKeyStoreId ? ` in ${key.customKeyStoreId}` : ''}`);
    }
    if (this.isReplica(key)) {
      throw err('UnsupportedOperationException', `${key.arn} is a replica key; rotate a multi-Region key on its primary key in ${key.primaryRegion}`);
    }
    this.assertUsable(key, 'RotateKeyOnDemand');
    if (key.materials.filter((m) => m.rotationType === 'ON_DEMAND').length >= MAX_ON_DEMAND_ROTATIONS) {
      throw err('LimitExceededException', `${key.arn} has reached the limit of ${MAX_ON_DEMAND_ROTATIONS} on-demand rotations`);
    }
    const replicas = this.replicasOf(key);
    let nextId: string;
    if (key.origin === 'EXTERNAL') {
      const pending = key.materials.find(isPending);
      if (!pending) {
        throw err('KMSInvalidStateException', `${key.arn} has no key material in PENDING_ROTATION; import new key material with ImportType NEW_KEY_MATERIAL first`);
      }
      const missing = replicas.filter((r) => !r.materials.some((m) => m.id === pending.id && m.imported)).map(regionOf);
      if (missing.length > 0) {
        throw err('KMSInvalidStateException', `Key material ${pending.id} of ${key.arn} is ${pending.state}: it is not imported into the replica keys in ${missing.join(', ')}; import the same material there with ImportType EXISTING_KEY_MATERIAL first`);
      }
      nextId = pending.id;
    } else {
      const bytes = generateMaterial(key.keySpec);
      nextId = randomHex(32);
      for (const k of [key, ...replicas]) k.materials.push({ id: nextId, bytes, state: 'PENDING_ROTATION', imported: true });
    }
    // Rotation is a shared property: every related key makes the same material current.
    const now = this.now();
    for (const k of [key, ...replicas]) {
      const previous = this.current(k);
      const next = k.materials.find((m) => m.id === nextId)!;
      if (previous) previous.state = 'NON_CURRENT';
      next.state = 'CURRENT';
      next.rotationDate = now;
      next.rotationType = 'ON_DEMAND';
    }
    return { KeyId: key.keyId };
  }

  public listKeyRotations(input: Input): Output {
    const key = this.resolve(reqString(input, 'KeyId'));
    const include = optEnum(input, 'IncludeKeyMaterial', ['ALL_KEY_MATERIAL', 'ROTATIONS_ONLY'] as const) ?? 'ROTATIONS_ONLY';
    if (key.keySpec !== 'SYMMETRIC_DEFAULT' || key.customKeyStoreId) {
      throw err('UnsupportedOperationException', `${key.arn} does not support key rotation`);
    }
    const materials = include === 'ALL_KEY_MATERIAL' ? key.materials : key.materials.filter((m) => m.rotationDate !== undefined);
    const external = key.origin === 'EXTERNAL';
    const p = page(materials, input);
    return compact({
      Rotations: p.items.map((m) => compact({
        KeyId: key.keyId,
        KeyMaterialId: m.id,
        KeyMaterialDescription: external ? m.description : undefined,
        ImportState: external ? (m.imported ? 'IMPORTED' : 'PENDING_IMPORT') : undefined,
        KeyMaterialState: m.state,
        ExpirationModel: external ? m.expirationModel : undefined,
        ValidTo: m.validTo !== undefined ? ts(m.validTo) : undefined,
        RotationDate: m.rotationDate !== undefined ? ts(m.rotationDate) : undefined,
        RotationType: m.rotationType,
      })),
      NextMarker: p.nextMarker,
      Truncated: p.truncated,
    });
  }

  // ================================================================ cryptography

  public encrypt(input: Input): Output {
    const key = this.resolve(reqString(input, 'KeyId'));
    const plaintext = reqBlob(input, 'Plaintext');
    const context = optStringMap(input, 'EncryptionContext');
    const algorithm = optString(input, 'EncryptionAlgorithm') ?? 'SYMMETRIC_DEFAULT';
    if (plaintext.length < 1 || plaintext.length > 4096) throw err('ValidationException', 'Plaintext must be 1-4096 bytes');
    this.assertUsable(key, 'Encrypt');
    const material = this.cryptoMaterial(key, algorithm);
    const blob = key.keySpec === 'SYMMETRIC_DEFAULT'
      ? symmetricEncrypt(key.keyId, material.id, material.bytes!, plaintext, context)
      : rsaEncrypt(material.bytes!, algorithm, plaintext);
    return { CiphertextBlob: b64(blob), KeyId: key.arn, EncryptionAlgorithm: algorithm };
  }

  public decrypt(input: Input): Output {
    const blob = reqBlob(input, 'CiphertextBlob');
    const keyRef = optString(input, 'KeyId');
    const context = optStringMap(input, 'EncryptionContext');
    const algorithm = optString(input, 'EncryptionAlgorithm') ?? 'SYMMETRIC_DEFAULT';
    const parsed = parseCiphertext(blob);
    let key: Key;
    if (parsed) {
      key = this.resolve(parsed.keyId);
      if (keyRef !== undefined && this.resolve(keyRef) !== key) {
        throw err('IncorrectKeyException', `The ciphertext was not encrypted under ${keyRef}`);
      }
    } else {
      if (keyRef === undefined) throw err('InvalidCiphertextException', 'The ciphertext is not valid');
      key = this.resolve(keyRef);
      if (key.keySpec === 'SYMMETRIC_DEFAULT') throw err('InvalidCiphertextException', 'The ciphertext is not valid');
    }
    this.assertUsable(key, 'Decrypt');
    if (parsed) {
      if (algorithm !== 'SYMMETRIC_DEFAULT') throw err('IncorrectKeyException', `${algorithm} is not valid for ${key.arn}`);
      const material = key.materials.find((m) => m.id === parsed.keyMaterialId);
      if (!material || !material.bytes) {
        throw err('KMSInvalidStateException', `Key material ${parsed.keyMaterialId} of ${key.arn} is not available`);
      }
      const plaintext = symmetricDecrypt(parsed, material.bytes, context);
      return { KeyId: key.arn, Plaintext: b64(plaintext), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT', KeyMaterialId: material.id };
    }
    const material = this.cryptoMaterial(key, algorithm);
    return {
      KeyId: key.arn,
      Plaintext: b64(rsaDecrypt(material.bytes!, algorithm, blob)),
      EncryptionAlgorithm: algorithm,
      KeyMaterialId: material.id,
    };
  }

  /** Current material usable for Encrypt/Decrypt with `algorithm`, generating lazily where KMS owns it. */
  private cryptoMaterial(key: Key, algorithm: string): Material {
    if (key.keyUsage !== 'ENCRYPT_DECRYPT') {
      throw err('InvalidKeyUsageException', `${key.arn} has KeyUsage ${key.keyUsage}`);
    }
    const allowed = encryptionAlgorithms(key.keySpec, key.keyUsage) ?? [];
    if (!allowed.includes(algorithm)) {
      throw err('InvalidKeyUsageException', `${algorithm} is not valid for ${key.arn} (${key.keySpec}); use ${allowed.join(' or ')}`);
    }
    const material = this.current(key);
    if (!material || !material.imported) this.invalidState(key, 'cryptographic operations');
    if (!material.bytes) material.bytes = generateMaterial(key.keySpec);
    return material;
  }

  // ================================================================ views

  private metadata(key: Key): Output {
    const state = this.keyState(key);
    const current = this.current(key);
    const externalCurrent = key.origin === 'EXTERNAL' && current?.imported ? current : undefined;
    return compact({
      AWSAccountId: this.accountId,
      KeyId: key.keyId,
      Arn: key.arn,
      CreationDate: ts(key.creationDate),
      Enabled: state === 'Enabled',
      Description: key.description,
      KeyUsage: key.keyUsage,
      KeyState: state,
      DeletionDate: key.deletionDate !== undefined ? ts(key.deletionDate) : undefined,
      ValidTo: externalCurrent?.validTo !== undefined ? ts(externalCurrent.validTo) : undefined,
      Origin: key.origin,
      CustomKeyStoreId: key.customKeyStoreId,
      CloudHsmClusterId: key.origin === 'AWS_CLOUDHSM' && key.customKeyStoreId ? this.stores.cloudHsmClusterId(key.customKeyStoreId) : undefined,
      ExpirationModel: externalCurrent?.expirationModel,
      KeyManager: 'CUSTOMER',
      CustomerMasterKeySpec: key.keySpec,
      KeySpec: key.keySpec,
      EncryptionAlgorithms: encryptionAlgorithms(key.keySpec, key.keyUsage),
      SigningAlgorithms: signingAlgorithms(key.keySpec, key.keyUsage),
      MacAlgorithms: isHmacSpec(key.keySpec) ? [`HMAC_SHA_${key.keySpec.slice(5)}`] : undefined,
      KeyAgreementAlgorithms: key.keyUsage === 'KEY_AGREEMENT' ? ['ECDH'] : undefined,
      MultiRegion: key.multiRegion,
      MultiRegionConfiguration: key.multiRegion ? this.multiRegionConfiguration(key) : undefined,
      PendingDeletionWindowInDays: key.pendingWindowInDays,
      XksKeyConfiguration: key.xksKeyId ? { Id: key.xksKeyId } : undefined,
      CurrentKeyMaterialId: current?.id,
    });
  }

  private multiRegionConfiguration(key: Key): Output {
    const related = this.related(key);
    const primary = related.find((k) => k.primaryRegion === regionOf(k));
    const primaryRegion = key.primaryRegion ?? this.region;
    return {
      MultiRegionKeyType: this.isReplica(key) ? 'REPLICA' : 'PRIMARY',
      PrimaryKey: { Arn: primary?.arn ?? key.arn.replace(`:${this.region}:`, `:${primaryRegion}:`), Region: primaryRegion },
      ReplicaKeys: related.filter((k) => k !== primary).map((k) => ({ Arn: k.arn, Region: regionOf(k) }))
        .sort((a, b) => a.Region.localeCompare(b.Region)),
    };
  }

  // ================================================================ test helpers

  public seed(seed: SeedKey): SeededKey {
    const out = this.createKey(compact({
      Origin: seed.origin,
      KeySpec: seed.keySpec,
      KeyUsage: seed.keyUsage,
      MultiRegion: seed.multiRegion,
      Description: seed.description,
      CustomKeyStoreId: seed.customKeyStoreId,
      XksKeyId: seed.xksKeyId,
    }));
    const keyId = (out.KeyMetadata as Output).KeyId as string;
    const key = this.keys.get(keyId)!;
    let keyMaterialIdOut: string | undefined = key.materials[0]?.id;
    if (seed.material) {
      if (key.origin !== 'EXTERNAL') throw new Error('seed material is only valid for EXTERNAL keys');
      const material = validateKeyMaterial(key.keySpec, seed.material);
      keyMaterialIdOut = keyMaterialId(keyId, material);
      key.materials.push({
        id: keyMaterialIdOut,
        bytes: material,
        state: 'CURRENT',
        imported: true,
        expirationModel: seed.validTo ? 'KEY_MATERIAL_EXPIRES' : 'KEY_MATERIAL_DOES_NOT_EXPIRE',
        validTo: seed.validTo?.getTime(),
      });
    }
    if (seed.enabled === false) key.enabled = false;
    if (seed.pendingDeletionDays !== undefined) {
      key.deletionDate = this.now() + seed.pendingDeletionDays * DAY_MS;
      key.pendingWindowInDays = seed.pendingDeletionDays;
    }
    return { keyId, arn: key.arn, keyMaterialId: keyMaterialIdOut };
  }

  public dump(): unknown[] {
    return [...this.keys.values()].map((k) => JSON.parse(JSON.stringify({
      KeyId: k.keyId,
      Arn: k.arn,
      KeyState: this.keyState(k),
      Enabled: k.enabled,
      Origin: k.origin,
      KeySpec: k.keySpec,
      KeyUsage: k.keyUsage,
      MultiRegion: k.multiRegion,
      MultiRegionKeyType: k.multiRegion ? (this.isReplica(k) ? 'REPLICA' : 'PRIMARY') : undefined,
      PrimaryRegion: k.primaryRegion,
      CustomKeyStoreId: k.customKeyStoreId,
      XksKeyId: k.xksKeyId,
      Description: k.description,
      CurrentKeyMaterialId: this.current(k)?.id,
      materials: k.materials.map((m) => ({
        KeyMaterialId: m.id,
        state: m.state,
        importState: m.imported ? 'IMPORTED' : 'PENDING_IMPORT',
        expirationModel: m.expirationModel,
        validTo: iso(m.validTo),
        description: m.description,
        rotationDate: iso(m.rotationDate),
        rotationType: m.rotationType,
      })),
      pendingDeletionDate: iso(k.deletionDate),
      pendingWindowInDays: k.pendingWindowInDays,
    })));
  }

  public outstandingImportTokens(): number {
    return [...this.tokens.values()].filter((t) => t.expiresAt > this.now()).length;
  }
}

function validateUsage(keySpec: string, keyUsage: string): void {
  const ok = keySpec === 'SYMMETRIC_DEFAULT' ? keyUsage === 'ENCRYPT_DECRYPT'
    : isHmacSpec(keySpec) ? keyUsage === 'GENERATE_VERIFY_MAC'
      : isRsaSpec(keySpec) ? keyUsage === 'ENCRYPT_DECRYPT' || keyUsage === 'SIGN_VERIFY'
        : keySpec === 'ECC_SECG_P256K1' ? keyUsage === 'SIGN_VERIFY'
          : keyUsage === 'SIGN_VERIFY' || keyUsage === 'KEY_AGREEMENT';
  if (!ok) throw err('ValidationException', `KeyUsage ${keyUsage} is not valid for KeySpec ${keySpec}`);
}

function encryptionAlgorithms(keySpec: string, keyUsage: string): string[] | undefined {
  if (keyUsage !== 'ENCRYPT_DECRYPT') return undefined;
  return keySpec === 'SYMMETRIC_DEFAULT' ? ['SYMMETRIC_DEFAULT'] : ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'];
}

function signingAlgorithms(keySpec: string, keyUsage: string): string[] | undefined {
  if (keyUsage !== 'SIGN_VERIFY') return undefined;
  if (isRsaSpec(keySpec)) {
    return ['RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512', 'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512'];
  }
  return { ECC_NIST_P256: ['ECDSA_SHA_256'], ECC_NIST_P384: ['ECDSA_SHA_384'], ECC_NIST_P521: ['ECDSA_SHA_512'], ECC_SECG_P256K1: ['ECDSA_SHA_256'] }[keySpec];
}

/** The Region in a key's ARN. */
function regionOf(key: Key): string {
  return key.arn.split(':')[3];
}
