/**
 * Expiration of imported material: `ValidTo` (a fixed time, `KeyMaterialExpiration.at`) or `ValidFor` (seconds
 * after each import, `KeyMaterialExpiration.after`). Resolved here, at import time, so that synthesis never
 * depends on the clock; checks that need "now" run here too.
 */
import { ExpirationModelName, KeyMaterialResourceProperties, MAX_VALID_FOR_SECONDS, MIN_VALID_FOR_SECONDS } from '../../lib/private/key-material-contract';

export function expirationModelOf(p: KeyMaterialResourceProperties): ExpirationModelName {
  return p.ExpirationModel ?? 'KEY_MATERIAL_DOES_NOT_EXPIRE';
}

/**
 * What decides the expiration, comparable between old and new properties: the same `ValidFor` on the next
 * deploy is the same expiration (no re-import), whatever the time.
 */
export function expirationSignature(p: KeyMaterialResourceProperties): string {
  if (expirationModelOf(p) !== 'KEY_MATERIAL_EXPIRES') return 'KEY_MATERIAL_DOES_NOT_EXPIRE';
  if (p.ValidFor !== undefined && p.ValidFor !== '') return `FOR:${p.ValidFor}`;
  const t = p.ValidTo ? Date.parse(p.ValidTo) : NaN;
  return `TO:${Number.isNaN(t) ? p.ValidTo ?? '' : t}`;
}

/**
 * Why the expiration properties cannot be imported now (`now`: epoch ms), or undefined when they can.
 * `where` names the resource and key.
 */
export function expirationProblem(p: KeyMaterialResourceProperties, now: number, where: string): string | undefined {
  const model = p.ExpirationModel;
  if (model !== undefined && model !== 'KEY_MATERIAL_DOES_NOT_EXPIRE' && model !== 'KEY_MATERIAL_EXPIRES') {
    return `ExpirationModel of ${where} must be KEY_MATERIAL_DOES_NOT_EXPIRE or KEY_MATERIAL_EXPIRES, got '${model}'.`;
  }
  if (model !== 'KEY_MATERIAL_EXPIRES') return undefined;
  if (p.ValidFor !== undefined && p.ValidFor !== '') {
    const seconds = Number(p.ValidFor);
    if (!Number.isInteger(seconds) || seconds < MIN_VALID_FOR_SECONDS || seconds > MAX_VALID_FOR_SECONDS) {
      return `ValidFor of ${where} must be a whole number of seconds from ${MIN_VALID_FOR_SECONDS} (1 day) to ${MAX_VALID_FOR_SECONDS} (365 days), got '${p.ValidFor}'.`;
    }
    return undefined;
  }
  const validTo = p.ValidTo ? Date.parse(p.ValidTo) : NaN;
  if (Number.isNaN(validTo)) {
    return `ExpirationModel KEY_MATERIAL_EXPIRES of ${where} needs ValidTo as an ISO-8601 time or ValidFor in seconds, got ValidTo '${p.ValidTo ?? ''}'.`;
  }
  const advice = 'Use KeyMaterialExpiration.after(Duration.days(n)) so that every import gets a fresh expiration, or set a new date, and deploy again.';
  if (validTo <= now) {
    return `The expiration ${new Date(validTo).toISOString()} of ${where} is in the past (now ${new Date(now).toISOString()}): KMS needs a ValidTo in the future, at most 365 days after the import. ${advice}`;
  }
  if (validTo > now + MAX_VALID_FOR_SECONDS * 1000) {
    return `The expiration ${new Date(validTo).toISOString()} of ${where} is more than 365 days after now (${new Date(now).toISOString()}): KMS accepts a ValidTo at most 365 days after the import. ${advice}`;
  }
  return undefined;
}

/** The ValidTo to send with an import made at `now` (epoch ms); undefined when the material does not expire. */
export function resolveValidTo(p: KeyMaterialResourceProperties, now: number): Date | undefined {
  if (expirationModelOf(p) !== 'KEY_MATERIAL_EXPIRES') return undefined;
  if (p.ValidFor !== undefined && p.ValidFor !== '') return new Date(now + Number(p.ValidFor) * 1000);
  return new Date(p.ValidTo!);
}
