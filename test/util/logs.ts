/**
 * Captures the handlers' log lines: every console method they write with (debug, info, warn, error, and log),
 * each line tagged with the method that wrote it.
 */

export type ConsoleMethod = 'debug' | 'info' | 'warn' | 'error' | 'log';

export interface CapturedLogs {
  /** The lines, in order. */
  readonly lines: string[];
  /** The console method of each line. */
  readonly methods: ConsoleMethod[];
  /** The lines parsed as JSON. */
  parsed(): Record<string, unknown>[];
  restore(): void;
}

export function captureLogs(): CapturedLogs {
  const lines: string[] = [];
  const methods: ConsoleMethod[] = [];
  const spies = (['debug', 'info', 'warn', 'error', 'log'] as const).map((method) => jest.spyOn(console, method).mockImplementation((...args: unknown[]) => {
    lines.push(args.map(String).join(' '));
    methods.push(method);
  }));
  return {
    lines,
    methods,
    parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    restore: () => spies.forEach((s) => s.mockRestore()),
  };
}
