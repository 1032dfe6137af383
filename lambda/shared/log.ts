/**
 * Structured JSON logging for the custom-resource handlers.
 *
 * One JSON object per line, written with the console method of its level (console.debug, info, warn, error):
 * under the functions' LoggingFormat.JSON, Lambda records each line at that level, so applicationLogLevel
 * filters them (DEBUG lines are dropped at the default INFO level).
 * Only the fields declared here (plus scalar extras) are ever written: never the ResponseURL, the raw
 * event, ResourceProperties, secret values, SDK responses, import tokens or public keys.
 */

export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

/** Scalar fields of a log line (request type, logical id, outcome, durationMs, operation, ...), never a payload. */
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

const WRITERS: Record<LogLevel, (line: string) => void> = {
  DEBUG: (line) => console.debug(line),
  INFO: (line) => console.info(line),
  WARN: (line) => console.warn(line),
  ERROR: (line) => console.error(line),
};

export class Logger {
  /** @param context fields added to every line */
  public constructor(private readonly context: LogFields = {}) {}

  public debug(message: string, fields?: LogFields): void {
    this.write('DEBUG', message, fields);
  }

  public info(message: string, fields?: LogFields): void {
    this.write('INFO', message, fields);
  }

  public warn(message: string, fields?: LogFields): void {
    this.write('WARN', message, fields);
  }

  public error(message: string, fields?: LogFields): void {
    this.write('ERROR', message, fields);
  }

  private write(level: LogLevel, message: string, fields?: LogFields): void {
    const line: Record<string, unknown> = { level, message };
    for (const source of [this.context, fields ?? {}]) {
      for (const [k, v] of Object.entries(source)) {
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') line[k] = v;
      }
    }
    WRITERS[level](JSON.stringify(line));
  }
}
