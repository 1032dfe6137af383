import { Token } from 'aws-cdk-lib';

/** True when the value is a literal string known at synth time. */
export function isLiteral(value: string | undefined): value is string {
  return value !== undefined && !Token.isUnresolved(value);
}

/** Throws `<what> must <rule>, got '<value>'` when a literal value breaks a pattern. */
export function validatePattern(what: string, value: string | undefined, pattern: RegExp, rule: string): void {
  if (isLiteral(value) && !pattern.test(value)) {
    throw new Error(`${what} must ${rule}, got '${value}'`);
  }
}
