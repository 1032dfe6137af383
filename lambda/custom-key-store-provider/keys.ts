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
import { DescribeKeyCommand, KeyMetadata, paginateListKeys } from '@aws-sdk/client-kms';
import { kms } from '../shared/clients';
import { Deadline, DeadlineExceededError } from '../shared/deadline';
import { errorName } from '../shared/errors';
import { StoreContext } from './context';

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

function isScanStop(err: unknown): boolean {
  return err instanceof DeadlineExceededError && err.message === SCAN_STOPPED;
}

/** Finds the keys of `storeId`; the scan as a whole is cut off (and its calls aborted) SCAN_RESERVE_MS before the deadline. */
export async function findKeysInStore(ctx: StoreContext, storeId: string): Promise<StoreKeys> {
  const at = ctx.deadline.at;
  const scanDeadline = at === undefined ? Deadline.none() : new Deadline(at, SCAN_RESERVE_MS);
  const found: { key: StoreKey; position: number }[] = [];
  let undescribable = 0;
  let checked = 0;
  let listed = 0;
  let end: ScanEnd | undefined;
  let stopped = false; // a call failed or the scan stopped: the workers take no further key

  /** DescribeKey of every key of one page, DESCRIBE_CONCURRENCY at a time, until MAX_KEYS_LISTED keys of the store are found. */
  const describePage = async (keyIds: string[], first: number, abortSignal: AbortSignal | undefined) => {
    let next = 0;
    const worker = async () => {
      while (next < keyIds.length && found.length < MAX_KEYS_LISTED && !stopped) {
        const position = next++;
        const keyId = keyIds[position];
        let metadata: KeyMetadata | undefined;
        try {
          metadata = (await kms.send(new DescribeKeyCommand({ KeyId: keyId }), { abortSignal })).KeyMetadata;
        } catch (err) {
          const name = errorName(err);
          if (name === 'NotFoundException' || name === 'AccessDeniedException') {
            checked++; // NotFoundException: deleted since ListKeys
            if (name === 'AccessDeniedException') undescribable++;
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
  };

  try {
    await scanDeadline.run(async (abortSignal) => {
      ctx.log.debug('calling KMS', { operation: 'ListKeys/DescribeKey', ...ctx.fields() });
      for await (const page of paginateListKeys({ client: kms, pageSize: LIST_KEYS_PAGE_SIZE }, {}, { abortSignal })) {
        const keyIds = (page.Keys ?? []).map((k) => k.KeyId).filter((id): id is string => !!id);
        const first = listed;
        listed += keyIds.length;
        await describePage(keyIds, first, abortSignal);
        if (found.length >= MAX_KEYS_LISTED) {
          end = 'LIMIT';
          break;
        }
      }
    }, () => SCAN_STOPPED);
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
