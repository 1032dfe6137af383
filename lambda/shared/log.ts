/**
 * Structured JSON logging for the custom-resource handlers.
 *
 * One JSON object per line (console.log), so CloudWatch Logs Insights can query the fields.
 * Only the fields declared here (plus scalar extras) are ever written: never the ResponseURL, the raw
 * event, ResourceProperties, secret values, SDK responses, import tokens or public keys.
 */

export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

/** What a log line is about. Every field is a scalar chosen by the handler, never a payload. */
export interface LogContext {
  readonly requestType?: string;
  readonly logicalResourceId?: string;
  readonly physicalResourceId?: string;
  readonly keyId?: string;
  readonly [field: string]: string | number | boolean | undefined;
}

/** Extra scalar fields of one line (outcome, durationMs, operation, ...). */
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

export class Logger {
  public constructor(private readonly context: LogContext = {}, private readonly sink: (line: string) => void = (l) => console.log(l)) {}

  /** A logger that adds `extra` to every line. */
  public child(extra: LogContext): Logger {
    return new Logger({ ...this.context, ...extra }, this.sink);
  }

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
        if (v !== undefined && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) {
          line[k] = v;
        }
      }
    }
    this.sink(JSON.stringify(line));
  }
}
