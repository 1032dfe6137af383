/**
 * Finds the KMS keys in a custom key store: ListKeys (all pages) and DescribeKey for each key, keeping the keys
 * whose CustomKeyStoreId is the store, in any key state (keys pending deletion still block DeleteCustomKeyStore
 * until their waiting period ends).
 */
import { DescribeKeyCommand, KeyMetadata, KMSClient, ListKeysCommand } from '@aws-sdk/client-kms';
import { errorName } from '../shared/aws';

/** A key found in the store. */
export interface StoreKey {
  readonly keyId: string;
  readonly keyState: string;
  /** When a key pending deletion is deleted. */
  readonly deletionDate?: Date;
}

export interface StoreKeys {
  readonly keys: StoreKey[];
  /** Keys DescribeKey refused (AccessDeniedException): they may be in the store. */
  readonly undescribable: number;
}

/** DescribeKey calls in flight at once (the SDK retries throttling). */
const DESCRIBE_CONCURRENCY = 5;
const LIST_KEYS_PAGE_SIZE = 1000;

/** Runs a KMS call; the caller bounds it by the deadline and maps errors. */
export type KmsCall = <T>(operation: string, call: (kms: KMSClient, abortSignal: AbortSignal | undefined) => Promise<T>) => Promise<T>;

export async function findKeysInStore(kms: KmsCall, storeId: string): Promise<StoreKeys> {
  const keyIds: string[] = [];
  let marker: string | undefined;
  do {
    const page = await kms('ListKeys', (client, abortSignal) =>
      client.send(new ListKeysCommand({ Limit: LIST_KEYS_PAGE_SIZE, ...(marker ? { Marker: marker } : {}) }), { abortSignal }));
    for (const k of page.Keys ?? []) {
      if (k.KeyId) {
        keyIds.push(k.KeyId);
      }
    }
    marker = page.Truncated ? page.NextMarker : undefined;
  } while (marker);

  const keys: StoreKey[] = [];
  let undescribable = 0;
  let next = 0;
  const worker = async () => {
    while (next < keyIds.length) {
      const keyId = keyIds[next++];
      let metadata: KeyMetadata | undefined;
      try {
        metadata = (await kms('DescribeKey', (client, abortSignal) => client.send(new DescribeKeyCommand({ KeyId: keyId }), { abortSignal }))).KeyMetadata;
      } catch (err) {
        const name = errorName(err);
        if (name === 'NotFoundException') {
          continue; // deleted since ListKeys
        }
        if (name === 'AccessDeniedException') {
          undescribable++;
          continue;
        }
        throw err;
      }
      if (metadata?.CustomKeyStoreId === storeId) {
        keys.push({ keyId, keyState: metadata.KeyState ?? 'Unknown', deletionDate: metadata.DeletionDate });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(DESCRIBE_CONCURRENCY, keyIds.length) }, worker));
  const position = new Map(keyIds.map((id, i) => [id, i]));
  keys.sort((a, b) => position.get(a.keyId)! - position.get(b.keyId)!);
  return { keys, undescribable };
}

/** `1234… (Enabled), 5678… (PendingDeletion until 2026-12-01)` */
export function describeKeys(keys: readonly StoreKey[]): string {
  return keys.map((k) => {
    const until = k.keyState === 'PendingDeletion' && k.deletionDate ? ` until ${k.deletionDate.toISOString().slice(0, 10)}` : '';
    return `${k.keyId} (${k.keyState}${until})`;
  }).join(', ');
}
