/**
 * Multiformat tables (seed 003): every encoding scheme and every virtual machine has a natural
 * number, written as a minimal unsigned varint (the multiformats convention). The tables are
 * append-only: an entry, once published, is never changed or reused; new entries only get new
 * codes. Code 0 is never assigned. A node that meets a code it does not know fails with
 * DecodeError `unknown-code`.
 *
 * multiencode(prefs, value) = varint(scheme code) ++ scheme.serialise(value)
 */
import { acquireWriter, Reader, releaseWriter } from './buffer.ts';
import { deserialise, serialise } from './codec.ts';
import {
  asDecodeError,
  DEFAULT_LIMITS,
  DecodeError,
  type DecodeLimits,
  EncodeError,
  resolveLimits,
} from './errors.ts';
import type { DecodeResult, Schema } from './schema.ts';
import type { DataType, DataValue } from './types.ts';

export interface MultiformatEntry {
  readonly code: number;
  readonly name: string;
  readonly description: string;
}

/** Encoding schemes. Append-only. */
export const ENCODING_SCHEMES: readonly MultiformatEntry[] = Object.freeze([
  Object.freeze({
    code: 0x01,
    name: 'fractal-canonical-v1',
    description: 'the canonical binary codec of wire/README.md (bijective for a fixed DataType)',
  }),
]);

/** Virtual machines (the `n` of `FunctionV n bytes`). Append-only. */
export const VIRTUAL_MACHINES: readonly MultiformatEntry[] = Object.freeze([
  Object.freeze({ code: 0x01, name: 'native', description: 'TypeScript built-in predicates, by name' }),
  Object.freeze({ code: 0x02, name: 'wasm', description: 'WebAssembly modules with metered gas' }),
  Object.freeze({
    code: 0x03,
    name: 'transparent-proof',
    description: 'a provable VM whose proofs are the execution trace itself',
  }),
]);

/** VM ids as they appear in `FunctionV` values. */
export const VM_NATIVE = 0x01n;
export const VM_WASM = 0x02n;
export const VM_TRANSPARENT_PROOF = 0x03n;

export const SCHEME_CANONICAL = 0x01;

function lookup(
  table: readonly MultiformatEntry[],
  key: number | bigint | string,
): MultiformatEntry | undefined {
  if (typeof key === 'string') return table.find((e) => e.name === key);
  if (typeof key === 'bigint') return table.find((e) => BigInt(e.code) === key);
  return table.find((e) => e.code === key);
}

export function encodingScheme(key: number | string): MultiformatEntry | undefined {
  return lookup(ENCODING_SCHEMES, key);
}

export function virtualMachine(key: number | bigint | string): MultiformatEntry | undefined {
  return lookup(VIRTUAL_MACHINES, key);
}

/** What a node can do with an encoding scheme it implements. */
export interface EncodingSchemeImpl {
  readonly code: number;
  readonly name: string;
  serialise(type: DataType, value: DataValue): Uint8Array;
  deserialise(type: DataType, bytes: Uint8Array, limits?: Partial<DecodeLimits>): DataValue;
}

const IMPLEMENTED = new Map<number, EncodingSchemeImpl>([
  [SCHEME_CANONICAL, { code: SCHEME_CANONICAL, name: 'fractal-canonical-v1', serialise, deserialise }],
]);

/** Preferences for multiencode: which scheme to use (default `fractal-canonical-v1`). */
export interface Preferences {
  readonly scheme?: number | string;
}

function chooseScheme(prefs?: Preferences): EncodingSchemeImpl {
  const want = prefs?.scheme ?? SCHEME_CANONICAL;
  const entry = encodingScheme(want);
  const impl = entry === undefined ? undefined : IMPLEMENTED.get(entry.code);
  if (impl === undefined)
    throw new EncodeError(`encoding scheme ${JSON.stringify(want)} is not implemented here`);
  return impl;
}

/** varint(scheme code) ++ serialise(type, value). Throws EncodeError. */
export function multiencode(type: DataType, value: DataValue, prefs?: Preferences): Uint8Array {
  const scheme = chooseScheme(prefs);
  const body = scheme.serialise(type, value);
  const w = acquireWriter();
  try {
    w.varint(scheme.code);
    w.bytes(body);
    return w.finish();
  } finally {
    releaseWriter(w);
  }
}

/** Reads the scheme code and hands the rest to that scheme. Throws DecodeError (`unknown-code`, …). */
export function multidecode(bytes: Uint8Array, type: DataType, limits?: Partial<DecodeLimits>): DataValue {
  const lim = resolveLimits(limits);
  try {
    const { scheme, offset } = readScheme(bytes, lim);
    return scheme.deserialise(type, bytes.subarray(offset), lim);
  } catch (e) {
    throw asDecodeError(e);
  }
}

export function tryMultidecode(
  bytes: Uint8Array,
  type: DataType,
  limits?: Partial<DecodeLimits>,
): DecodeResult<DataValue> {
  try {
    return { ok: true, value: multidecode(bytes, type, limits) };
  } catch (e) {
    return { ok: false, error: asDecodeError(e) };
  }
}

function readScheme(bytes: Uint8Array, lim: DecodeLimits): { scheme: EncodingSchemeImpl; offset: number } {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('type-mismatch', 'input must be a Uint8Array');
  if (bytes.length > lim.maxBytes) throw new DecodeError('too-large', `input is ${bytes.length} bytes`, 0);
  const r = new Reader(bytes, lim);
  const code = r.varint();
  const scheme = IMPLEMENTED.get(code);
  if (scheme === undefined) throw new DecodeError('unknown-code', `unknown encoding scheme code ${code}`, 0);
  return { scheme, offset: r.pos };
}

/** The typed fast path: varint(scheme) ++ encode(schema, value) (only the canonical scheme has one). */
export function multiencodeTyped<T>(schema: Schema<T>, value: T, prefs?: Preferences): Uint8Array {
  const scheme = chooseScheme(prefs);
  if (scheme.code !== SCHEME_CANONICAL) return multiencode(schema.type, schema.toValue(value), prefs);
  const w = acquireWriter();
  try {
    w.varint(SCHEME_CANONICAL);
    schema.write(w, value);
    return w.finish();
  } finally {
    releaseWriter(w);
  }
}

export function multidecodeTyped<T>(schema: Schema<T>, bytes: Uint8Array, limits?: Partial<DecodeLimits>): T {
  const lim = limits === undefined ? DEFAULT_LIMITS : resolveLimits(limits);
  try {
    const { scheme, offset } = readScheme(bytes, lim);
    if (scheme.code !== SCHEME_CANONICAL) {
      return schema.fromValue(scheme.deserialise(schema.type, bytes.subarray(offset), lim));
    }
    const r = new Reader(bytes, lim, offset);
    const v = schema.read(r);
    r.expectEnd('the value');
    return v;
  } catch (e) {
    throw asDecodeError(e);
  }
}

export function tryMultidecodeTyped<T>(
  schema: Schema<T>,
  bytes: Uint8Array,
  limits?: Partial<DecodeLimits>,
): DecodeResult<T> {
  try {
    return { ok: true, value: multidecodeTyped(schema, bytes, limits) };
  } catch (e) {
    return { ok: false, error: asDecodeError(e) };
  }
}
