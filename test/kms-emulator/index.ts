/**
 * TEST-ONLY emulator of the AWS KMS, Secrets Manager and CloudFormation APIs this project calls,
 * for the real AWS SDK v3 clients: `new KMSClient({ endpoint: emulator.endpoint, ... })`.
 * Not shipped; see README.md in this folder for the rules it implements and the choices it makes.
 */
export { startEmulator, Emulator } from './server';
export type { EmulatorOptions, CallRecord, EmulatorState, ServiceName } from './server';
export type { SeedKey, SeededKey, Origin, KeyState, KeyMaterialState, ExpirationModel } from './kms';
export type { SeedCustomKeyStore, StoreBehaviour, ConnectionState, ConnectionErrorCode, CustomKeyStoreType } from './stores';
export type { SeedSecret } from './secrets';
export type { FaultKind, FaultOptions, FaultStats } from './faults';
export { mulberry32 } from './faults';
export { keyMaterialId } from './crypto';
export type { QuotaOptions, QuotaStats } from './quotas';
export { KMS_DEFAULT_REQUEST_QUOTAS, THROTTLING_MESSAGE, TokenBucket } from './quotas';
