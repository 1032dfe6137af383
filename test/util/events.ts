/**
 * Builders of the custom resource events the Provider framework hands to a user handler.
 */
import type { CustomResourceEvent } from '../../lambda/shared/run';

/** An event as the handler receives it (the framework passes the ResponseURL on). */
export interface HandlerEvent<P> extends CustomResourceEvent<P> {
  readonly ResponseURL: string;
}

export interface EventDefaults {
  readonly resourceType: string;
  readonly logicalResourceId: string;
  readonly stackId: string;
  readonly responseUrl: string;
  /** The physical id Update and Delete events carry unless told otherwise. */
  readonly physicalResourceId: string;
}

export function eventBuilders<P>(defaults: EventDefaults) {
  const base = (requestType: HandlerEvent<P>['RequestType']) => ({
    RequestType: requestType,
    LogicalResourceId: defaults.logicalResourceId,
    StackId: defaults.stackId,
    RequestId: `request-${requestType.toLowerCase()}`,
    ResponseURL: defaults.responseUrl,
    ResourceType: defaults.resourceType,
  });
  return {
    createEvent: (props: P): HandlerEvent<P> => ({ ...base('Create'), ResourceProperties: props }),
    updateEvent: (oldProps: P, newProps: P, physicalResourceId = defaults.physicalResourceId): HandlerEvent<P> =>
      ({ ...base('Update'), PhysicalResourceId: physicalResourceId, OldResourceProperties: oldProps, ResourceProperties: newProps }),
    deleteEvent: (props: P, physicalResourceId = defaults.physicalResourceId): HandlerEvent<P> =>
      ({ ...base('Delete'), PhysicalResourceId: physicalResourceId, ResourceProperties: props }),
  };
}
