/**
 * Dispatch of a custom resource event on its RequestType, shared by the handlers.
 */

export type RequestType = 'Create' | 'Update' | 'Delete';

/**
 * Runs the function for the event's RequestType; an unknown RequestType fails with `error(message)`.
 */
export function onRequestType<T>(
  event: { readonly RequestType: string; readonly LogicalResourceId: string },
  handlers: Readonly<Record<RequestType, () => Promise<T>>>,
  error: (message: string) => Error,
): Promise<T> {
  const run = handlers[event.RequestType as RequestType];
  if (!Object.prototype.hasOwnProperty.call(handlers, event.RequestType) || !run) {
    return Promise.reject(error(`Unknown RequestType '${String(event.RequestType)}' for resource ${event.LogicalResourceId}.`));
  }
  return run();
}
