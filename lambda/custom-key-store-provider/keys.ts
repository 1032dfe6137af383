/**
 * Finds the KMS keys in a custom key store: ListKeys page by page and DescribeKey for each key, keeping the keys
 * whose CustomKeyStoreId is the store, in any key state (keys pending deletion still block DeleteCustomKeyStore
 * until their waiting period ends).
 *
 * KMS cannot list the keys of one store, so the scan reads every key of the account. It is bounded: it stops
 * once MAX_KEYS_LISTED keys of the store are found (enough to know the store cannot be deleted and to name
 * them), and before the Lambda deadline (SCAN_RESERVE_MS before it), so that an account with too many keys gets
 * an actionable failure instead of a time-out. The result says how the scan ended.
 */
import { DescribeKeyCommand, KeyMetadata, KMSClient, ListKeysCommand } from '@aws-sdk/client-kms';
import { errorName } from '../shared/aws';
import { Deadline, DeadlineExceededError } from '../shared/deadline';

/** A key found in the store. */
export interface StoreKey {
  readonly keyId: string;
  readonly keyState: string;
  /** When a key pending deletion is deleted. */
  readonly deletionDate?: Date;
}

/**
 * How a scan ended: COMPLETE (every key of the account checked), LIMIT (MAX_KEYS_LISTED keys of the store
 * found: there may be more), DEADLINE (stopped before the Lambda deadline: other keys may be in the store).
 */
export type ScanEnd = 'COMPLETE' | 'LIMIT' | 'DEADLINE';

export interface StoreKeys {
  /** Keys of the store found, in ListKeys order (at most MAX_KEYS_LISTED). */
  readonly keys: StoreKey[];
  /** Keys DescribeKey refused (AccessDeniedException): they may be in the store. */
  readonly undescribable: number;
  readonly end: ScanEnd;
  /** Keys of the account checked with DescribeKey (answered, refused or gone). */
  readonly checked: number;
  /** Keys of the account listed by ListKeys (so far, when the scan stopped early). */
  readonly listed: number;
}

/** DescribeKey calls in flight at once (the SDK retries throttling). */
export const DESCRIBE_CONCURRENCY = 10;
/** The scan stops once it has found this many keys in the store. */
export const MAX_KEYS_LISTED = 25;
/** Time the scan leaves before the Lambda deadline (to report the failure, or to disconnect). */
export const SCAN_RESERVE_MS = 15_000;
const LIST_KEYS_PAGE_SIZE = 1000;
const SCAN_STOPPED = 'the scan for keys in the store stopped before the Lambda deadline';

/** Runs a KMS call; the caller bounds it by the deadline and maps errors. */
export type KmsCall = <T>(operation: string, call: (kms: KMSClient, abortSignal: AbortSignal | undefined) => Promise<T>) => Promise<T>;

export interface FindKeysOptions {
  /** The Lambda deadline: the scan stops SCAN_RESERVE_MS before it. @default - unbounded */
  readonly deadline?: Deadline;
}

function isScanStop(err: unknown): boolean {
  return err instanceof DeadlineExceededError && err.message === SCAN_STOPPED;
}

export async function findKeysInStore(kms: KmsCall, storeId: string, options: FindKeysOptions = {}): Promise<StoreKeys> {
  const at = options.deadline?.at;
  const scanDeadline = at === undefined ? Deadline.none() : new Deadline(at, SCAN_RESERVE_MS);
  /** One KMS call, cut off (and aborted) at the scan's stop time whatever the transport does. */
  const call: KmsCall = (operation, send) => scanDeadline.run(
    (scanSignal) => kms(operation, (client, signal) => send(client, signal && scanSignal ? AbortSignal.any([signal, scanSignal]) : signal ?? scanSignal)),
    () => SCAN_STOPPED);

  const found: { key: StoreKey; position: number }[] = [];
  let undescribable = 0;
  let checked = 0;
  let listed = 0;
  let end: ScanEnd | undefined;
  let stopped = false; // a call failed or the scan stopped: the other workers take no further key
  let marker: string | undefined;
  try {
    do {
      const page = await call('ListKeys', (client, abortSignal) =>
        client.send(new ListKeysCommand({ Limit: LIST_KEYS_PAGE_SIZE, ...(marker ? { Marker: marker } : {}) }), { abortSignal }));
      const keyIds = (page.Keys ?? []).map((k) => k.KeyId).filter((id): id is string => !!id);
      const first = listed;
      listed += keyIds.length;
      let next = 0;
      const worker = async () => {
        while (next < keyIds.length && found.length < MAX_KEYS_LISTED && !stopped) {
          const position = next++;
          const keyId = keyIds[position];
          let metadata: KeyMetadata | undefined;
          try {
            metadata = (await call('DescribeKey', (client, abortSignal) => client.send(new DescribeKeyCommand({ KeyId: keyId }), { abortSignal }))).KeyMetadata;
          } catch (err) {
            const name = errorName(err);
            if (name === 'NotFoundException') {
              checked++;
              continue; // deleted since ListKeys
            }
            if (name === 'AccessDeniedException') {
              checked++;
              undescribable++;
              continue;
            }
            stopped = true;
            throw err;
          }
          checked++;
          if (metadata?.CustomKeyStoreId === storeId) {
            found.push({ key: { keyId, keyState: metadata.KeyState ?? 'Unknown', deletionDate: metadata.DeletionDate }, position: first + position });
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(DESCRIBE_CONCURRENCY, keyIds.length) }, worker));
      marker = page.Truncated ? page.NextMarker : undefined;
      if (found.length >= MAX_KEYS_LISTED) {
        end = 'LIMIT';
      }
    } while (marker && end === undefined);
  } catch (err) {
    stopped = true;
    if (!isScanStop(err)) {
      throw err;
    }
    end = found.length >= MAX_KEYS_LISTED ? 'LIMIT' : 'DEADLINE';
  }
  const keys = found.sort((a, b) => a.position - b.position).slice(0, MAX_KEYS_LISTED).map((f) => f.key);
  return { keys, undescribable, end: end ?? 'COMPLETE', checked, listed };
}

/** `1234… (Enabled), 5678… (PendingDeletion until 2026-12-01)` */
export function describeKeys(keys: readonly StoreKey[]): string {
  return keys.map((k) => {
    const until = k.keyState === 'PendingDeletion' && k.deletionDate ? ` until ${k.deletionDate.toISOString().slice(0, 10)}` : '';
    return `${k.keyId} (${k.keyState}${until})`;
  }).join(', ');
}
