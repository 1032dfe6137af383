/**
 * Errors raised by the emulator's service handlers. The server turns them into the
 * wire format the real SDK clients expect (`__type` for JSON 1.1, `<Error><Code>` for Query).
 */

/** HTTP status per error name. Server faults use the status the SDK classifies as retryable. */
const STATUS: Record<string, number> = {
  KMSInternalException: 500,
  KeyUnavailableException: 500,
  DependencyTimeoutException: 503,
  InternalServiceError: 500,
  InternalFailure: 500,
};

export class ServiceError extends Error {
  public readonly type: string;
  public readonly status: number;

  constructor(type: string, message: string, status?: number) {
    super(message);
    this.type = type;
    this.name = type;
    this.status = status ?? STATUS[type] ?? 400;
  }
}

/** Shorthand: `throw err('NotFoundException', 'Key ... does not exist')`. */
export function err(type: string, message: string): ServiceError {
  return new ServiceError(type, message);
}
