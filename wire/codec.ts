/**
 * The canonical encoding scheme `fractal-canonical-v1` at the DataValue level (seed 003's
 * serialise / deserialise). The format is specified in wire/README.md:
 *
 *   BooleanT          one byte, 0x00 or 0x01
 *   RingT n / FiniteFieldT n
 *                     ceil(bitlen(n-1)/8) bytes little-endian (none when n = 1), value < n
 *   BinaryT           varint(length) ++ bytes
 *   FunctionT         varint(vm id) ++ varint(length) ++ code bytes
 *   ProductT [t…]     the items' encodings concatenated
 *   CoproductT [t…]   varint(option index) ++ the option's encoding
 *
 * Varints are minimal unsigned LEB128. For a fixed type the mapping is a bijection between the
 * values of that type and the byte strings that deserialise: anything non-canonical is rejected.
 */
import { acquireWriter, Reader, releaseWriter, VARINT_BIG_BOUND, type Writer } from './buffer.ts';
import {
  asDecodeError,
  DecodeError,
  type DecodeLimits,
  EncodeError,
  resolveLimits,
  withPath,
} from './errors.ts';
import {
  type BasicType,
  type BasicValue,
  basicWidth,
  type DataType,
  type DataValue,
  validateType,
} from './types.ts';

/** Serialises `value` as `type`; throws EncodeError when the value does not typecheck. */
export function serialise(type: DataType, value: DataValue): Uint8Array {
  validateType(type);
  const w = acquireWriter();
  try {
    writeValue(w, type, value);
    return w.finish();
  } finally {
    releaseWriter(w);
  }
}

/** Appends the canonical encoding of `value` (checked against `type`) to a writer. */
export function writeValue(w: Writer, type: DataType, value: DataValue): void {
  if (typeof value !== 'object' || value === null) throw new EncodeError('value must be a DataValue object');
  switch (type.kind) {
    case 'basic': {
      if (value.kind !== 'basic') throw mismatch(type, value);
      writeBasic(w, type.basic, value.value as BasicValueLike);
      return;
    }
    case 'function': {
      const f = value.kind === 'basic' ? value.value : undefined;
      if (f?.kind !== 'function') throw mismatch(type, value);
      if (typeof f.vm !== 'bigint' || f.vm < 0n || f.vm >= VARINT_BIG_BOUND) {
        throw new EncodeError(`FunctionV vm id must be a bigint in [0, 2^63), got ${String(f.vm)}`);
      }
      if (!(f.code instanceof Uint8Array)) throw new EncodeError('FunctionV code must be a Uint8Array');
      w.varintBig(f.vm);
      w.blob(f.code);
      return;
    }
    case 'product': {
      if (value.kind !== 'tuple' || !Array.isArray(value.items)) throw mismatch(type, value);
      const n = type.items.length;
      if (value.items.length !== n) {
        throw new EncodeError(`TupleV has ${value.items.length} items, ProductT has ${n}`);
      }
      for (let i = 0; i < n; i++) {
        try {
          writeValue(w, type.items[i]!, value.items[i]!);
        } catch (e) {
          withPath(e, `[${i}]`);
        }
      }
      return;
    }
    case 'coproduct': {
      if (value.kind !== 'option') throw mismatch(type, value);
      const i = value.index;
      const n = type.options.length;
      if (!Number.isInteger(i) || i < 0 || i >= n) {
        throw new EncodeError(`OptionV index ${i} is not below the ${n} options of the CoproductT`);
      }
      w.varint(i);
      try {
        writeValue(w, type.options[i]!, value.value);
      } catch (e) {
        withPath(e, `<${i}>`);
      }
    }
  }
}

function writeBasic(w: Writer, t: BasicType, v: BasicValueLike): void {
  if (typeof v !== 'object' || v === null || v.kind !== t.kind) {
    throw new EncodeError(`expected a ${t.kind} value, got ${describe(v)}`);
  }
  switch (t.kind) {
    case 'boolean':
      if (typeof v.value !== 'boolean') throw new EncodeError('BooleanV needs a boolean');
      w.u8(v.value ? 1 : 0);
      return;
    case 'ring':
    case 'field': {
      const x = v.value;
      if (typeof x !== 'bigint' || x < 0n || x >= t.n) {
        throw new EncodeError(`${t.kind} value ${String(x)} is not in [0, ${t.n})`);
      }
      w.uintLE(x, basicWidth(t));
      return;
    }
    case 'binary':
      if (!(v.value instanceof Uint8Array)) throw new EncodeError('BinaryV needs a Uint8Array');
      w.blob(v.value);
      return;
  }
}

type BasicValueLike = { kind: string; value?: unknown };

function mismatch(type: DataType, value: DataValue): EncodeError {
  const want = type.kind === 'basic' ? type.basic.kind : type.kind;
  return new EncodeError(`expected a value of a ${want} type, got ${describe(value)}`);
}

function describe(v: unknown): string {
  if (typeof v !== 'object' || v === null) return String(v);
  const o = v as { kind?: unknown; value?: { kind?: unknown } };
  if (o.kind === 'basic' && typeof o.value === 'object' && o.value !== null)
    return `basic ${String(o.value.kind)}`;
  return String(o.kind);
}

/** Deserialises a value of `type`; throws DecodeError (and nothing else) on bad bytes. */
export function deserialise(type: DataType, bytes: Uint8Array, limits?: Partial<DecodeLimits>): DataValue {
  validateType(type);
  const lim = resolveLimits(limits);
  try {
    if (!(bytes instanceof Uint8Array)) throw new DecodeError('type-mismatch', 'input must be a Uint8Array');
    const r = new Reader(bytes, lim);
    if (bytes.length > lim.maxBytes)
      r.fail('too-large', `input is ${bytes.length} bytes, limit ${lim.maxBytes}`, 0);
    const v = readValue(r, type);
    r.expectEnd('the value');
    return v;
  } catch (e) {
    throw asDecodeError(e);
  }
}

export type DecodeResult<T> = { ok: true; value: T } | { ok: false; error: DecodeError };

/** `deserialise` returning a result instead of throwing (seed 003's `Maybe DataValue`). */
export function tryDeserialise(
  type: DataType,
  bytes: Uint8Array,
  limits?: Partial<DecodeLimits>,
): DecodeResult<DataValue> {
  try {
    return { ok: true, value: deserialise(type, bytes, limits) };
  } catch (e) {
    return { ok: false, error: asDecodeError(e) };
  }
}

/** Reads one value of `type` from a reader (no trailing-bytes check). */
export function readValue(r: Reader, type: DataType): DataValue {
  switch (type.kind) {
    case 'basic':
      return { kind: 'basic', value: readBasic(r, type.basic) };
    case 'function': {
      const vm = r.varintBig();
      const code = r.blob();
      return { kind: 'basic', value: { kind: 'function', vm, code } };
    }
    case 'product': {
      r.enter();
      const n = type.items.length;
      const items: DataValue[] = [];
      for (let i = 0; i < n; i++) {
        try {
          items.push(readValue(r, type.items[i]!));
        } catch (e) {
          withPath(e, `[${i}]`);
        }
      }
      r.leave();
      return { kind: 'tuple', items };
    }
    case 'coproduct': {
      r.enter();
      const at = r.pos;
      const index = r.varint();
      const n = type.options.length;
      if (index >= n) r.fail('bad-tag', `option index ${index} is not below the ${n} options`, at);
      let value: DataValue;
      try {
        value = readValue(r, type.options[index]!);
      } catch (e) {
        withPath(e, `<${index}>`);
      }
      r.leave();
      return { kind: 'option', index, value };
    }
  }
}

function readBasic(r: Reader, t: BasicType): BasicValue {
  switch (t.kind) {
    case 'boolean':
      return { kind: 'boolean', value: r.bool() };
    case 'ring':
    case 'field': {
      const at = r.pos;
      const value = r.uintLE(basicWidth(t));
      if (value >= t.n) r.fail('out-of-range', `${t.kind} value ${value} is not below ${t.n}`, at);
      return t.kind === 'ring' ? { kind: 'ring', value } : { kind: 'field', value };
    }
    case 'binary':
      return { kind: 'binary', value: r.blob() };
  }
}
