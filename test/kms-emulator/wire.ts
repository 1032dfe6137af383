/** Helpers to read JSON 1.1 request members and write response members. */
import { err } from './errors';

export type Input = Record<string, unknown>;
export type Output = Record<string, unknown>;

export function optString(input: Input, name: string): string | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw err('ValidationException', `${name} must be a string`);
  return v;
}

export function reqString(input: Input, name: string): string {
  const v = optString(input, name);
  if (v === undefined || v === '') {
    throw err('ValidationException', `1 validation error detected: Value null at '${lowerFirst(name)}' failed to satisfy constraint: Member must not be null`);
  }
  return v;
}

export function optNumber(input: Input, name: string): number | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || Number.isNaN(v)) throw err('ValidationException', `${name} must be a number`);
  return v;
}

export function optBoolean(input: Input, name: string): boolean | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw err('ValidationException', `${name} must be a boolean`);
  return v;
}

export function optEnum<T extends string>(input: Input, name: string, allowed: readonly T[]): T | undefined {
  const v = optString(input, name);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) {
    throw err(
      'ValidationException',
      `1 validation error detected: Value '${v}' at '${lowerFirst(name)}' failed to satisfy constraint: Member must satisfy enum value set: [${allowed.join(', ')}]`,
    );
  }
  return v as T;
}

export function optObject(input: Input, name: string): Input | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw err('ValidationException', `${name} must be an object`);
  return v as Input;
}

export function optStringMap(input: Input, name: string): Record<string, string> | undefined {
  const v = optObject(input, name);
  if (!v) return undefined;
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') throw err('ValidationException', `${name}.${k} must be a string`);
  }
  return v as Record<string, string>;
}

/** Blobs travel as base64 strings. */
export function reqBlob(input: Input, name: string): Buffer {
  const v = reqString(input, name);
  return Buffer.from(v, 'base64');
}

export function optBlob(input: Input, name: string): Buffer | undefined {
  const v = optString(input, name);
  return v === undefined ? undefined : Buffer.from(v, 'base64');
}

/** Timestamps travel as epoch seconds (possibly fractional). Returns epoch milliseconds. */
export function optTimestamp(input: Input, name: string): number | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number') throw err('ValidationException', `${name} must be a timestamp in epoch seconds`);
  return Math.round(v * 1000);
}

export function ts(ms: number): number {
  return ms / 1000;
}

export function b64(buf: Buffer): string {
  return buf.toString('base64');
}

export function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

/** Drop undefined members so the JSON looks like what the service sends. */
export function compact<T extends Output>(o: T): T {
  for (const k of Object.keys(o)) {
    if (o[k] === undefined) delete o[k];
  }
  return o;
}

/** Limit/Marker paging shared by the List/Describe operations (marker = next index). */
export function page<T>(items: T[], input: Input, defaultLimit = 100): { items: T[]; nextMarker?: string; truncated: boolean } {
  const limit = optNumber(input, 'Limit') ?? defaultLimit;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw err('ValidationException', `Limit must be between 1 and 1000, got ${limit}`);
  }
  const marker = optString(input, 'Marker');
  let start = 0;
  if (marker !== undefined) {
    const m = /^emu-marker-(\d+)$/.exec(marker);
    if (!m) throw err('InvalidMarkerException', `Marker '${marker}' is not valid`);
    start = Number(m[1]);
  }
  const slice = items.slice(start, start + limit);
  const truncated = start + limit < items.length;
  return { items: slice, truncated, nextMarker: truncated ? `emu-marker-${start + limit}` : undefined };
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}
