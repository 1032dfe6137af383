/**
 * What the driver plays for stacks of several Regions: aws-cdk-lib's cross-Region references
 * (`Custom::CrossRegionExportWriter` in the producing stack writes SSM parameters in the consuming
 * stack's Region; `Custom::CrossRegionExportReader` in the consuming stack reads them), made native here,
 * with one parameter store per emulator shared by every driver that plays a stack against it.
 */
import type { Emulator } from '../kms-emulator';
import type { PhysicalIds } from '../util/template';

export const EXPORT_WRITER_TYPE = 'Custom::CrossRegionExportWriter';
export const EXPORT_READER_TYPE = 'Custom::CrossRegionExportReader';

/** SSM parameters by Region, then name, per emulator. */
const parameters = new WeakMap<Emulator, Map<string, Map<string, string>>>();

function store(emulator: Emulator, region: string): Map<string, string> {
  let regions = parameters.get(emulator);
  if (!regions) {
    regions = new Map();
    parameters.set(emulator, regions);
  }
  let names = regions.get(region);
  if (!names) {
    names = new Map();
    regions.set(region, names);
  }
  return names;
}

export function isCrossRegionReference(type: string): boolean {
  return type === EXPORT_WRITER_TYPE || type === EXPORT_READER_TYPE;
}

interface WriterProps { region: string; exports: Record<string, string> }
interface ReaderProps { region: string; imports: Record<string, string> }

/**
 * Create or update: the writer puts its exports in the consuming Region; the reader returns each import as
 * an attribute (`Fn::GetAtt [Reader, '/cdk/exports/...']`). Throws when an import was never exported, as
 * the SSM dynamic reference would.
 */
export function applyCrossRegionReference(emulator: Emulator, logicalId: string, type: string, props: Record<string, unknown>): PhysicalIds {
  if (type === EXPORT_WRITER_TYPE) {
    const writer = props.WriterProps as WriterProps;
    const names = store(emulator, writer.region);
    for (const [name, value] of Object.entries(writer.exports)) names.set(name, String(value));
    return { ref: `${logicalId}-writer`, attributes: {} };
  }
  const reader = props.ReaderProps as ReaderProps;
  const names = store(emulator, reader.region);
  const attributes: Record<string, string> = {};
  for (const name of Object.keys(reader.imports)) {
    const value = names.get(name);
    if (value === undefined) throw new Error(`SSM parameter ${name} does not exist in ${reader.region}: deploy the producing stack first`);
    attributes[name] = value;
  }
  return { ref: `${logicalId}-reader`, attributes };
}

/** Delete: the writer removes its parameters; the reader has nothing to delete. */
export function deleteCrossRegionReference(emulator: Emulator, type: string, props: Record<string, unknown>): void {
  if (type !== EXPORT_WRITER_TYPE) return;
  const writer = props.WriterProps as WriterProps;
  const names = store(emulator, writer.region);
  for (const name of Object.keys(writer.exports)) names.delete(name);
}
