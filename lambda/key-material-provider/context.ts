/**
 * What one key-material request knows: the event, its key, the deadline, the logger and the outcome.
 */
import {
  KeyMaterialDeleteResult, KeyMaterialResourceAttributes, KeyMaterialResourceProperties, ResolvedKeyMaterialProperties, withDefaults,
} from '../../lib/private/key-material-contract';
import { Deadline } from '../shared/deadline';
import { CustomResourceEvent, RequestContext } from '../shared/run';
import { FailureSubject, subjectText } from './errors';

/** The custom resource event the Provider framework passes to onEvent. */
export type KeyMaterialEvent = CustomResourceEvent<KeyMaterialResourceProperties>;

/** What onEvent returns to the Provider framework. */
export interface KeyMaterialResponse {
  readonly PhysicalResourceId: string;
  /** Create/Update: the attributes; Delete: exactly what was deleted. */
  readonly Data?: KeyMaterialResourceAttributes | KeyMaterialDeleteResult;
}

/** What a request did, as logged in its summary line. */
export type KeyMaterialOutcome =
  | 'NO_MATERIAL' | 'IMPORTED' | 'REIMPORTED' | 'NO_CHANGE' | 'MATERIAL_SOURCE_REMOVED' | 'ROLLBACK_ACCEPTED'
  | 'ROTATED' | 'ROTATED_PENDING' | 'EXISTING_MATERIAL' | 'EXISTING_MATERIAL_NON_CURRENT' | 'REPLICA_IMPORTED_PENDING'
  | 'RETAINED' | 'DELETED' | 'ALREADY_GONE' | 'LEFT_ON_ROLLBACK';

/** The key id in a key ARN (`arn:...:key/<id>` → `<id>`); a bare key id is returned as is. */
export function keyIdFromArn(keyArn: string): string {
  const i = keyArn.lastIndexOf('key/');
  return i >= 0 ? keyArn.slice(i + 'key/'.length) : keyArn;
}

export class KeyMaterialContext extends RequestContext<KeyMaterialEvent, KeyMaterialOutcome> {
  /** The resource properties, defaults filled in. */
  public readonly props: ResolvedKeyMaterialProperties;
  /** The previous properties (Update), defaults filled in. */
  public readonly oldProps?: ResolvedKeyMaterialProperties;

  public constructor(event: KeyMaterialEvent, deadline: Deadline) {
    const props = event.ResourceProperties ?? ({} as KeyMaterialResourceProperties);
    super(event, deadline, 'UNKNOWN', { keyId: typeof props.KeyArn === 'string' && props.KeyArn ? keyIdFromArn(props.KeyArn) : undefined });
    this.props = withDefaults(props);
    this.oldProps = event.OldResourceProperties ? withDefaults(event.OldResourceProperties) : undefined;
  }

  public get keyArn(): string {
    return this.props.KeyArn;
  }

  public get keyId(): string {
    return keyIdFromArn(this.props.KeyArn);
  }

  public subject(secretArn?: string): FailureSubject {
    return { keyArn: this.props.KeyArn, logicalResourceId: this.event.LogicalResourceId, secretArn, budgetMs: this.deadline.budgetMs() };
  }

  public subjectText(): string {
    return subjectText(this.subject());
  }

  /** Runs one KMS call within the deadline. */
  public kms<T>(operation: string, send: (abortSignal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    return this.call('KMS', operation, send);
  }

  /** The response: the key id as physical id, and the material id KMS assigned, if any. */
  public result(keyMaterialId?: string): KeyMaterialResponse {
    return { PhysicalResourceId: this.keyId, Data: keyMaterialId ? { KeyId: this.keyId, KeyMaterialId: keyMaterialId } : { KeyId: this.keyId } };
  }
}
