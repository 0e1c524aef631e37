/**
 * How functions of every VM see their arguments as bytes: a self-describing canonical encoding of
 * `DataValue`s (the value's shape travels with it, since a VM is handed values, not types).
 *
 *   VALUE = CoproductT [ boolean: BooleanT, ring: nat, field: nat, binary: BinaryT,
 *                        function: ProductT [RingT 2^64 (vm), BinaryT (code)],
 *                        tuple: list(VALUE), option: ProductT [RingT 2^32 (index), embed(VALUE)] ]
 *   ARGS  = list(VALUE)   (a BinaryT blob: varint(count) ++ VALUE…)
 *
 * `nat` is wire's BinaryT holding the minimal little-endian magnitude. Both are `wire/schema.ts`
 * schemas, so the bytes are the canonical format of wire/README.md for the types `VALUE.type` and
 * `ARGS.type`, and the encoding is a bijection.
 */
import { varintLength } from '../wire/buffer.ts';
import type { DecodeLimits } from '../wire/errors.ts';
import { type Schema, s, decode as schemaDecode, encode as schemaEncode } from '../wire/schema.ts';
import { type DataValue, V } from '../wire/types.ts';

type RawValue =
  | { tag: 'boolean'; value: boolean }
  | { tag: 'ring'; value: bigint }
  | { tag: 'field'; value: bigint }
  | { tag: 'binary'; value: Uint8Array }
  | { tag: 'function'; value: { vm: bigint; code: Uint8Array } }
  | { tag: 'tuple'; value: DataValue[] }
  | { tag: 'option'; value: { index: number; value: DataValue } };

const self: Schema<DataValue> = s.lazy(() => VALUE);

const raw = s.variant({
  boolean: s.bool(),
  ring: s.nat(),
  field: s.nat(),
  binary: s.bytes(),
  function: s.struct({ vm: s.u64(), code: s.bytes() }),
  tuple: s.list(self),
  option: s.struct({ index: s.u32(), value: s.embed(self) }),
}) as unknown as Schema<RawValue>;

function toRaw(v: DataValue): RawValue {
  switch (v.kind) {
    case 'tuple':
      return { tag: 'tuple', value: v.items as DataValue[] };
    case 'option':
      return { tag: 'option', value: { index: v.index, value: v.value } };
    case 'basic': {
      const b = v.value;
      if (b.kind === 'function') return { tag: 'function', value: { vm: b.vm, code: b.code } };
      return { tag: b.kind, value: b.value } as RawValue;
    }
  }
}

function fromRaw(r: RawValue): DataValue {
  switch (r.tag) {
    case 'boolean':
      return V.bool(r.value);
    case 'ring':
      return V.ring(r.value);
    case 'field':
      return V.field(r.value);
    case 'binary':
      return V.binary(r.value);
    case 'function':
      return V.fn(r.value.vm, r.value.code);
    case 'tuple':
      return V.tuple(r.value);
    case 'option':
      return V.option(r.value.index, r.value.value);
  }
}

/** One DataValue with its shape (see the module comment). */
export const VALUE: Schema<DataValue> = s.transform(raw, { name: 'DataValue', to: toRaw, from: fromRaw });

/** An argument list: `list(VALUE)`. */
export const ARGS: Schema<DataValue[]> = s.list(VALUE);

/** Variant tags of VALUE, as a WebAssembly or AssemblyScript function sees them. */
export const VALUE_TAG = {
  boolean: 0,
  ring: 1,
  field: 2,
  binary: 3,
  function: 4,
  tuple: 5,
  option: 6,
} as const;

export function encodeArgs(args: readonly DataValue[]): Uint8Array {
  return schemaEncode(ARGS, args as DataValue[]);
}

/**
 * VALUE lengths of values already measured. The executor hands one transaction view to each of
 * its predicates, and a native charges gas by the length of its arguments' encoding: the view is
 * encoded once, not once per predicate. Keyed by identity: DataValues are never mutated.
 */
const valueLengths = new WeakMap<DataValue, number>();

function valueLength(v: DataValue): number {
  // bytes (an extradata, a note list): varint(tag 3) ++ varint(length) ++ the bytes, no encoding needed
  if (v.kind === 'basic' && v.value.kind === 'binary') {
    const len = v.value.value.length;
    return 1 + varintLength(len) + len;
  }
  let n = valueLengths.get(v);
  if (n === undefined) {
    n = encodeValue(v).length;
    valueLengths.set(v, n);
  }
  return n;
}

/**
 * `encodeArgs(args).length` without building the bytes again for a value measured before: ARGS
 * is a BinaryT blob holding varint(count) ++ each VALUE, so its length follows from theirs.
 * Throws as `encodeArgs` does on a value that does not encode.
 */
export function encodedArgsLength(args: readonly DataValue[]): number {
  let inner = varintLength(args.length);
  for (const a of args) inner += valueLength(a);
  return varintLength(inner) + inner;
}

/** Throws wire's DecodeError on bytes that are not a canonical ARGS encoding. */
export function decodeArgs(bytes: Uint8Array): DataValue[] {
  return schemaDecode(ARGS, bytes);
}

export function encodeValue(value: DataValue): Uint8Array {
  return schemaEncode(VALUE, value);
}

/**
 * Throws wire's DecodeError on bytes that are not a canonical VALUE encoding (within `limits`,
 * wire's defaults unless given). The encoding is a bijection, so the value's length is known.
 */
export function decodeValue(bytes: Uint8Array, limits?: Partial<DecodeLimits>): DataValue {
  const v = schemaDecode(VALUE, bytes, limits);
  valueLengths.set(v, bytes.length);
  return v;
}
