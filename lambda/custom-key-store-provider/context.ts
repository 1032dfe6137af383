/**
 * What one custom key store request knows: the event, the store as last observed, the deadline, the logger and
 * the outcome. The types of what onEvent and isComplete exchange through the Provider framework.
 */
import type { CustomKeyStoresListEntry } from '@aws-sdk/client-kms';
import { CustomKeyStoreResourceAttributes, CustomKeyStoreResourceProperties } from '../../lib/private/custom-key-store-contract';
import { Deadline } from '../shared/deadline';
import { LogFields } from '../shared/log';
import { CustomResourceEvent, RequestContext } from '../shared/run';
import { StoreSubject, subjectText } from './errors';
import { pollAgainOnTransient } from './transient';

/**
 * What Delete decided in onEvent (passed to isComplete in Data; Delete's Data never becomes attributes).
 * LEAVE: an adopted store deleted by a rollback of the deployment that adopted it stays as it was.
 */
export type DeleteAction = 'DELETE' | 'DISCONNECT_AND_RETAIN' | 'LEAVE';

/**
 * What Update decided in onEvent when its properties call for a replacement but the store behind the physical id
 * already matches them (the rollback of a failed replacement): update it in place. isComplete cannot tell this
 * from a replacement by looking at the store (both match the new properties), so it is passed on in Data.
 */
export type UpdateAction = 'IN_PLACE';

/** The Data onEvent returns (and isComplete receives). */
export interface OnEventData extends CustomKeyStoreResourceAttributes {
  /** Delete only. */
  readonly DeleteAction?: DeleteAction;
  /** Update only, when a replacement was skipped. */
  readonly UpdateAction?: UpdateAction;
}

/** The custom resource event the Provider framework passes to onEvent and isComplete. */
export interface CustomKeyStoreEvent extends CustomResourceEvent<CustomKeyStoreResourceProperties> {
  /** isComplete only: the Data onEvent returned. */
  readonly Data?: Partial<OnEventData>;
}

export interface OnEventResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: OnEventData;
}

export interface IsCompleteResponse {
  readonly IsComplete: boolean;
  readonly Data?: CustomKeyStoreResourceAttributes;
}

/** What a request did, as logged in its summary line. */
export type StoreOutcome =
  | 'ADOPTED' | 'CREATED' | 'REPLACED' | 'COMPLETE' | 'CONNECTED' | 'CONNECT_FAILED' | 'CONNECTING' | 'DISCONNECTED' | 'DISCONNECTING'
  | 'WAITING_FOR_DISCONNECT' | 'WAITING_TO_UPDATE' | 'DISCONNECTING_TO_UPDATE' | 'UPDATED_RECONNECTING'
  | 'UPDATED' | 'UPDATED_CONNECTING' | 'UPDATED_DISCONNECTING'
  | 'NO_CHANGE' | 'NO_CHANGE_CONNECTING' | 'NO_CHANGE_RECONNECTING' | 'NO_CHANGE_DISCONNECTING'
  | 'DELETED' | 'ALREADY_GONE' | 'RETAINED' | 'DISCONNECTING_TO_RETAIN' | 'DISCONNECTING_TO_DELETE' | 'SKIPPED_NOT_A_STORE_ID'
  | 'LEFT_ON_ROLLBACK' | 'TRANSIENT_FAULT';

export class StoreContext extends RequestContext<CustomKeyStoreEvent, StoreOutcome> {
  public storeId: string | undefined;
  public storeName: string | undefined;
  public connectionState: string | undefined;
  public readonly props: CustomKeyStoreResourceProperties;
  public readonly oldProps: CustomKeyStoreResourceProperties | undefined;

  public constructor(public readonly handler: 'onEvent' | 'isComplete', event: CustomKeyStoreEvent, deadline: Deadline) {
    super(event, deadline, 'UNKNOWN', { handler });
    this.props = event.ResourceProperties ?? ({} as CustomKeyStoreResourceProperties);
    this.oldProps = event.OldResourceProperties;
    this.storeName = this.props.CustomKeyStoreName;
  }

  public get physicalId(): string {
    return this.event.PhysicalResourceId ?? '';
  }

  public subject(): StoreSubject {
    return { logicalResourceId: this.event.LogicalResourceId, storeId: this.storeId, storeName: this.storeName };
  }

  public subjectText(): string {
    return subjectText(this.subject());
  }

  /** Runs one KMS call within the deadline; in isComplete, a transient failure rejects with PollAgain (transient.ts). */
  public kms<T>(operation: string, send: (abortSignal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    const run = this.call('KMS', operation, send);
    return this.handler === 'isComplete' ? pollAgainOnTransient(operation, run) : run;
  }

  /** Forgets the store observed last (it is not the store this request is about). */
  public forgetStore(): void {
    this.storeId = undefined;
    this.storeName = this.props.CustomKeyStoreName;
    this.connectionState = undefined;
  }

  /** Remembers the store as DescribeCustomKeyStores showed it. */
  public observe(store: CustomKeyStoresListEntry): void {
    this.storeId = store.CustomKeyStoreId ?? this.storeId;
    this.storeName = store.CustomKeyStoreName ?? this.storeName;
    this.connectionState = store.ConnectionState;
  }

  public fields(extra: LogFields = {}): LogFields {
    return { customKeyStoreId: this.storeId, connectionState: this.connectionState, ...extra };
  }
}
