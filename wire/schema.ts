/**
 * Typed schemas: builders that denote a seed-003 `DataType`, carry the TypeScript type of their
 * values, and compile to direct encode / decode closures over a reusable buffer. The bytes are
 * exactly the canonical codec's (`encode(schema, v)` equals `serialise(schema.type,
 * schema.toValue(v))`), so the DataValue layer and the typed layer are interchangeable; the typed
 * one just skips the intermediate DataValue.
 *
 * Types that seed 003 does not have are represented by types it has:
 *   u8 / u16 / u32 / u64   RingT 2^8 / 2^16 / 2^32 / 2^64
 *   string                 BinaryT holding UTF-8
 *   list(T)                BinaryT holding varint(count) ++ the items' encodings
 *   map(K, V)              BinaryT holding varint(count) ++ (key ++ value)… sorted by key bytes
 *   embed(T)               BinaryT holding T's encoding
 *   nat                    BinaryT holding the minimal little-endian magnitude
 *   option(T)              CoproductT [ProductT [], T]
 *   unit                   ProductT []
 */
import {
  acquireWriter,
  MAX_SAFE,
  Reader,
  releaseWriter,
  VARINT_BIG_BOUND,
  varintLength,
  type Writer,
  writeToBytes,
} from './buffer.ts';
import type { DecodeResult } from './codec.ts';
import {
  asDecodeError,
  DEFAULT_LIMITS,
  DecodeError,
  type DecodeLimits,
  EncodeError,
  InvalidTypeError,
  resolveLimits,
  withPath,
} from './errors.ts';
import { type DataType, type DataValue, numberWidth, T, V, validateType } from './types.ts';

export interface Schema<T> {
  /** the seed-003 type this schema denotes */
  readonly type: DataType;
  /** for error messages and the visualiser */
  readonly name: string;
  /** into the generic representation (throws EncodeError when `v` is not a value of the schema) */
  toValue(v: T): DataValue;
  /** from the generic representation (throws DecodeError when the shape is wrong) */
  fromValue(v: DataValue): T;
  /** compiled encoder: appends the canonical bytes of `v` (throws EncodeError) */
  write(w: Writer, v: T): void;
  /** compiled decoder: reads one value (throws DecodeError) */
  read(r: Reader): T;
  /** the fewest bytes an encoding can take (bounds list lengths before allocating) */
  readonly minSize: number;
  /** whether `null` is a value of this schema (such a schema cannot sit inside `option`) */
  readonly nullable: boolean;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

export type { DecodeResult };

interface Parts<T> {
  name: string;
  type: DataType | (() => DataType);
  /** a number, or a thunk when it depends on other schemas (computed on first use, so that
   * schemas may refer to ones defined later through `lazy`) */
  minSize: number | (() => number);
  nullable?: boolean;
  write(w: Writer, v: T): void;
  read(r: Reader): T;
  toValue(v: T): DataValue;
  fromValue(v: DataValue): T;
}

class CompiledSchema<T> implements Schema<T> {
  readonly name: string;
  readonly nullable: boolean;
  readonly write: (w: Writer, v: T) => void;
  readonly read: (r: Reader) => T;
  readonly toValue: (v: T) => DataValue;
  readonly fromValue: (v: DataValue) => T;
  #type: DataType | undefined;
  #typeThunk: (() => DataType) | undefined;
  #minSize: number;
  #minSizeThunk: (() => number) | undefined;

  constructor(p: Parts<T>) {
    this.name = p.name;
    if (typeof p.minSize === 'function') {
      this.#minSize = -1;
      this.#minSizeThunk = p.minSize;
    } else this.#minSize = p.minSize;
    this.nullable = p.nullable ?? false;
    this.write = p.write;
    this.read = p.read;
    this.toValue = p.toValue;
    this.fromValue = p.fromValue;
    if (typeof p.type === 'function') this.#typeThunk = p.type;
    else this.#type = p.type;
  }

  get minSize(): number {
    if (this.#minSizeThunk !== undefined) {
      this.#minSize = this.#minSizeThunk();
      this.#minSizeThunk = undefined;
    }
    return this.#minSize;
  }

  get type(): DataType {
    if (this.#type === undefined) {
      this.#type = this.#typeThunk!();
      this.#typeThunk = undefined;
    }
    return this.#type;
  }
}

function make<T>(p: Parts<T>): Schema<T> {
  return new CompiledSchema(p);
}

// ---------------------------------------------------------------------------------------------
// top-level encode / decode

/** The canonical bytes of `value`; throws EncodeError when it is not a value of the schema. */
export function encode<T>(schema: Schema<T>, value: T): Uint8Array {
  const w = acquireWriter();
  try {
    schema.write(w, value);
    return w.finish();
  } finally {
    releaseWriter(w);
  }
}

/** Decodes a whole input as one value of the schema; throws DecodeError (and nothing else). */
export function decode<T>(schema: Schema<T>, bytes: Uint8Array, limits?: Partial<DecodeLimits>): T {
  const lim = limits === undefined ? DEFAULT_LIMITS : resolveLimits(limits);
  try {
    if (!(bytes instanceof Uint8Array)) throw new DecodeError('type-mismatch', 'input must be a Uint8Array');
    if (bytes.length > lim.maxBytes) {
      throw new DecodeError('too-large', `input is ${bytes.length} bytes, limit ${lim.maxBytes}`, 0);
    }
    const r = new Reader(bytes, lim);
    const v = schema.read(r);
    if (r.pos !== r.end) r.fail('trailing-bytes', `${r.end - r.pos} byte(s) left after the value`);
    return v;
  } catch (e) {
    throw asDecodeError(e);
  }
}

/** `decode` returning a result instead of throwing. */
export function tryDecode<T>(
  schema: Schema<T>,
  bytes: Uint8Array,
  limits?: Partial<DecodeLimits>,
): DecodeResult<T> {
  try {
    return { ok: true, value: decode(schema, bytes, limits) };
  } catch (e) {
    return { ok: false, error: asDecodeError(e) };
  }
}

// ---------------------------------------------------------------------------------------------
// helpers for fromValue

function mismatch(want: string, got: DataValue): DecodeError {
  let kind: string = typeof got === 'object' && got !== null ? String(got.kind) : String(got);
  if (kind === 'basic') kind = `basic ${String((got as { value: { kind: unknown } }).value?.kind)}`;
  return new DecodeError('type-mismatch', `expected ${want}, got ${kind}`);
}

function basicOf(v: DataValue, kind: 'boolean'): boolean;
function basicOf(v: DataValue, kind: 'ring' | 'field'): bigint;
function basicOf(v: DataValue, kind: 'binary'): Uint8Array;
function basicOf(v: DataValue, kind: 'boolean' | 'ring' | 'field' | 'binary'): unknown {
  if (typeof v !== 'object' || v === null || v.kind !== 'basic' || v.value?.kind !== kind)
    throw mismatch(kind, v);
  return v.value.value;
}

function tupleOf(v: DataValue, n: number): readonly DataValue[] {
  if (typeof v !== 'object' || v === null || v.kind !== 'tuple' || !Array.isArray(v.items))
    throw mismatch('tuple', v);
  if (v.items.length !== n) {
    throw new DecodeError('type-mismatch', `expected a tuple of ${n} items, got ${v.items.length}`);
  }
  return v.items;
}

function optionOf(v: DataValue, n: number): { index: number; value: DataValue } {
  if (typeof v !== 'object' || v === null || v.kind !== 'option') throw mismatch('option', v);
  if (!Number.isInteger(v.index) || v.index < 0 || v.index >= n) {
    throw new DecodeError('bad-tag', `option index ${v.index} is not below ${n}`);
  }
  return v;
}

/** Decodes a blob's content (from `fromValue`) with `read`, requiring every byte be used. */
function readContent<T>(content: Uint8Array, read: (r: Reader) => T): T {
  const r = new Reader(content, DEFAULT_LIMITS);
  const v = read(r);
  r.expectEnd('the content');
  return v;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Uint8Array) return 'a Uint8Array';
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'object') return 'an object';
  return String(v);
}

// ---------------------------------------------------------------------------------------------
// basic schemas

const boolSchema = make<boolean>({
  name: 'bool',
  type: T.bool,
  minSize: 1,
  write(w, v) {
    if (typeof v !== 'boolean') throw new EncodeError(`bool needs a boolean, got ${describe(v)}`);
    w.u8(v ? 1 : 0);
  },
  read: (r) => r.bool(),
  toValue(v) {
    if (typeof v !== 'boolean') throw new EncodeError(`bool needs a boolean, got ${describe(v)}`);
    return V.bool(v);
  },
  fromValue: (v) => basicOf(v, 'boolean'),
});

function smallUint(bits: 8 | 16 | 32): Schema<number> {
  const max = 2 ** bits - 1;
  const name = `u${bits}`;
  const bad = (v: unknown) => new EncodeError(`${name} needs an integer in [0, ${max}], got ${describe(v)}`);
  const check = (v: number) => {
    if (typeof v !== 'number' || !(v >= 0 && v <= max) || Math.floor(v) !== v) throw bad(v);
  };
  const toValue = (v: number) => {
    check(v);
    return V.ring(v);
  };
  const fromValue = (v: DataValue) => {
    const x = basicOf(v, 'ring');
    if (x >= BigInt(max) + 1n) throw new DecodeError('out-of-range', `${name} value ${x} exceeds ${max}`);
    return Number(x);
  };
  const type = T.ring(BigInt(max) + 1n);
  switch (bits) {
    case 8:
      return make<number>({
        name,
        type,
        minSize: 1,
        write(w, v) {
          if ((v & 0xff) !== v) throw bad(v);
          w.u8(v);
        },
        read: (r) => r.u8(),
        toValue,
        fromValue,
      });
    case 16:
      return make<number>({
        name,
        type,
        minSize: 2,
        write(w, v) {
          if ((v & 0xffff) !== v) throw bad(v);
          w.u16(v);
        },
        read: (r) => r.u16(),
        toValue,
        fromValue,
      });
    case 32:
      return make<number>({
        name,
        type,
        minSize: 4,
        write(w, v) {
          if (v >>> 0 !== v) throw bad(v);
          w.u32(v);
        },
        read: (r) => r.u32(),
        toValue,
        fromValue,
      });
  }
}

const u8Schema = smallUint(8);
const u16Schema = smallUint(16);
const u32Schema = smallUint(32);

const U64_BOUND = 1n << 64n;

const u64Schema = make<bigint>({
  name: 'u64',
  type: T.ring(U64_BOUND),
  minSize: 8,
  write(w, v) {
    if (typeof v !== 'bigint' || BigInt.asUintN(64, v) !== v) {
      throw new EncodeError(`u64 needs a bigint in [0, 2^64), got ${describe(v)}`);
    }
    w.u64(v);
  },
  read: (r) => r.u64(),
  toValue(v) {
    if (typeof v !== 'bigint' || BigInt.asUintN(64, v) !== v) {
      throw new EncodeError(`u64 needs a bigint in [0, 2^64), got ${describe(v)}`);
    }
    return V.ring(v);
  },
  fromValue(v) {
    const x = basicOf(v, 'ring');
    if (x >= U64_BOUND) throw new DecodeError('out-of-range', `u64 value ${x} is not below 2^64`);
    return x;
  },
});

function modular(kind: 'ring' | 'field', n: bigint): Schema<bigint> {
  const type = kind === 'ring' ? T.ring(n) : T.field(n);
  validateType(type);
  const width = numberWidth(n);
  const name = kind === 'ring' ? `ring(${n})` : `field(${n})`;
  const check = (v: bigint) => {
    if (typeof v !== 'bigint' || v < 0n || v >= n)
      throw new EncodeError(`${name} needs a bigint in [0, ${n}), got ${describe(v)}`);
  };
  return make<bigint>({
    name,
    type,
    minSize: width,
    write(w, v) {
      check(v);
      w.uintLE(v, width);
    },
    read(r) {
      const at = r.pos;
      const v = r.uintLE(width);
      if (v >= n) r.fail('out-of-range', `${name} value ${v} is not below ${n}`, at);
      return v;
    },
    toValue(v) {
      check(v);
      return kind === 'ring' ? V.ring(v) : V.field(v);
    },
    fromValue(v) {
      const x = basicOf(v, kind);
      if (x >= n) throw new DecodeError('out-of-range', `${name} value ${x} is not below ${n}`);
      return x;
    },
  });
}

export interface BytesOptions {
  /** exact length in bytes */
  length?: number;
  /** maximum length in bytes */
  max?: number;
}

function bytesSchema(opts: BytesOptions = {}): Schema<Uint8Array> {
  const { length, max } = opts;
  if (length !== undefined && (!Number.isSafeInteger(length) || length < 0)) {
    throw new InvalidTypeError(`bytes length must be a safe non-negative integer, got ${length}`);
  }
  if (max !== undefined && (!Number.isSafeInteger(max) || max < 0)) {
    throw new InvalidTypeError(`bytes max must be a safe non-negative integer, got ${max}`);
  }
  const name = length !== undefined ? `bytes[${length}]` : max !== undefined ? `bytes[<=${max}]` : 'bytes';
  const check = (v: Uint8Array) => {
    if (!(v instanceof Uint8Array)) throw new EncodeError(`${name} needs a Uint8Array, got ${describe(v)}`);
    if (length !== undefined && v.length !== length) throw new EncodeError(`${name} got ${v.length} bytes`);
    if (max !== undefined && v.length > max) throw new EncodeError(`${name} got ${v.length} bytes`);
  };
  const refine = (n: number, at: number) => {
    if (length !== undefined && n !== length) {
      throw new DecodeError('bad-length', `${name} got ${n} bytes`, at);
    }
    if (max !== undefined && n > max) throw new DecodeError('too-long', `${name} got ${n} bytes`, at);
  };
  return make<Uint8Array>({
    name,
    type: T.binary,
    minSize: length === undefined ? 1 : varintLength(length) + length,
    write(w, v) {
      check(v);
      w.blob(v);
    },
    read(r) {
      const at = r.pos;
      const n = r.length();
      refine(n, at);
      return r.take(n);
    },
    toValue(v) {
      check(v);
      return V.binary(v);
    },
    fromValue(v) {
      const b = basicOf(v, 'binary');
      refine(b.length, -1);
      return b;
    },
  });
}

function stringSchema(opts: { max?: number } = {}): Schema<string> {
  const max = opts.max ?? Number.POSITIVE_INFINITY;
  if (opts.max !== undefined && (!Number.isSafeInteger(opts.max) || opts.max < 0)) {
    throw new InvalidTypeError(`string max must be a safe non-negative integer, got ${opts.max}`);
  }
  const name = opts.max === undefined ? 'string' : `string[<=${opts.max}]`;
  const read = (r: Reader) => r.utf8Blob(max);
  return make<string>({
    name,
    type: T.binary,
    minSize: 1,
    write(w, v) {
      if (typeof v !== 'string') throw new EncodeError(`${name} needs a string, got ${describe(v)}`);
      w.utf8Blob(v, max);
    },
    read,
    toValue(v) {
      if (typeof v !== 'string') throw new EncodeError(`${name} needs a string, got ${describe(v)}`);
      return V.binary(contentOf((w) => w.utf8Blob(v, max)));
    },
    fromValue: (v) => readWhole(basicOf(v, 'binary'), read),
  });
}

/** The content of a blob written by `fn` (its bytes without the varint length prefix). */
function contentOf(fn: (w: Writer) => void): Uint8Array {
  const whole = writeToBytes(fn);
  const r = new Reader(whole, DEFAULT_LIMITS);
  const n = r.varint();
  return whole.subarray(r.pos, r.pos + n);
}

/** Reads a BinaryV's bytes as if they were a blob (length prefix added back, so `read` sees a blob). */
function readWhole<T>(content: Uint8Array, read: (r: Reader) => T): T {
  const w = acquireWriter();
  let whole: Uint8Array;
  try {
    w.blob(content);
    whole = w.finish();
  } finally {
    releaseWriter(w);
  }
  const r = new Reader(whole, {
    ...DEFAULT_LIMITS,
    maxLength: Math.max(DEFAULT_LIMITS.maxLength, content.length),
  });
  const v = read(r);
  r.expectEnd('the content');
  return v;
}

const unitSchema = make<null>({
  name: 'unit',
  type: T.unit,
  minSize: 0,
  nullable: true,
  write(_w, v) {
    if (v !== null) throw new EncodeError(`unit needs null, got ${describe(v)}`);
  },
  read(r) {
    r.enter();
    r.leave();
    return null;
  },
  toValue(v) {
    if (v !== null) throw new EncodeError(`unit needs null, got ${describe(v)}`);
    return V.unit;
  },
  fromValue(v) {
    tupleOf(v, 0);
    return null;
  },
});

function funcSchema(from: DataType, to: DataType): Schema<FunctionValue> {
  const type = T.fn(from, to);
  validateType(type);
  const check = (v: FunctionValue) => {
    if (typeof v !== 'object' || v === null)
      throw new EncodeError(`function needs { vm, code }, got ${describe(v)}`);
    if (typeof v.vm !== 'bigint' || v.vm < 0n || v.vm >= VARINT_BIG_BOUND) {
      throw new EncodeError(`function vm id must be a bigint in [0, 2^63), got ${describe(v.vm)}`);
    }
    if (!(v.code instanceof Uint8Array)) throw new EncodeError('function code must be a Uint8Array');
  };
  return make<FunctionValue>({
    name: 'function',
    type,
    minSize: 2,
    write(w, v) {
      check(v);
      w.varintBig(v.vm);
      w.blob(v.code);
    },
    read(r) {
      const vm = r.varintBig();
      const code = r.blob();
      return { vm, code };
    },
    toValue(v) {
      check(v);
      return V.fn(v.vm, v.code);
    },
    fromValue(v) {
      if (typeof v !== 'object' || v === null || v.kind !== 'basic' || v.value?.kind !== 'function') {
        throw mismatch('function', v);
      }
      return { vm: v.value.vm, code: v.value.code };
    },
  });
}

/** A `FunctionV vmId bytes` value at the typed layer. */
export interface FunctionValue {
  vm: bigint;
  code: Uint8Array;
}

/** Natural numbers of any size: BinaryT holding the minimal little-endian magnitude (empty for 0). */
function natSchema(opts: { maxBytes?: number } = {}): Schema<bigint> {
  const maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY;
  const name = 'nat';
  const toBytes = (v: bigint): Uint8Array => {
    if (typeof v !== 'bigint' || v < 0n)
      throw new EncodeError(`nat needs a non-negative bigint, got ${describe(v)}`);
    if (v === 0n) return new Uint8Array(0);
    const hex = v.toString(16);
    const n = Math.ceil(hex.length / 2);
    if (n > maxBytes) throw new EncodeError(`nat of ${n} bytes exceeds the maximum ${maxBytes}`);
    const out = new Uint8Array(n);
    const padded = hex.length % 2 === 1 ? `0${hex}` : hex;
    for (let i = 0; i < n; i++) out[n - 1 - i] = Number.parseInt(padded.slice(2 * i, 2 * i + 2), 16);
    return out;
  };
  const fromBytes = (b: Uint8Array, at: number): bigint => {
    if (b.length > maxBytes)
      throw new DecodeError('too-long', `nat of ${b.length} bytes exceeds ${maxBytes}`, at);
    if (b.length === 0) return 0n;
    if (b[b.length - 1] === 0)
      throw new DecodeError('non-canonical', 'nat has a redundant high zero byte', at);
    let hex = '';
    for (let i = b.length - 1; i >= 0; i--) hex += b[i]!.toString(16).padStart(2, '0');
    return BigInt(`0x${hex}`);
  };
  return make<bigint>({
    name,
    type: T.binary,
    minSize: 1,
    write: (w, v) => w.blob(toBytes(v)),
    read(r) {
      const at = r.pos;
      return fromBytes(r.blob(), at);
    },
    toValue: (v) => V.binary(toBytes(v)),
    fromValue: (v) => fromBytes(basicOf(v, 'binary'), -1),
  });
}

// ---------------------------------------------------------------------------------------------
// composite schemas

function checkKeys(keys: readonly string[], what: string): void {
  for (const k of keys) {
    // Object.keys puts integer-like keys first in numeric order, not declaration order.
    if (/^(0|[1-9][0-9]*)$/.test(k)) {
      throw new InvalidTypeError(`${what} key ${JSON.stringify(k)} looks like an array index; use a name`);
    }
    if (k === '__proto__') throw new InvalidTypeError(`${what} key "__proto__" is not allowed`);
  }
}

type StructOf<F extends Record<string, Schema<unknown>>> = { [K in keyof F]: Infer<F[K]> };

function structSchema<F extends Record<string, Schema<unknown>>>(
  fields: F,
  name?: string,
): Schema<StructOf<F>> {
  const keys = Object.keys(fields);
  checkKeys(keys, 'struct');
  const schemas = keys.map((k) => fields[k]!);
  const n = keys.length;
  const label = name ?? `{${keys.map((k, i) => `${k}: ${schemas[i]!.name}`).join(', ')}}`;
  const minSize = () => schemas.reduce((sum, f) => sum + f.minSize, 0);
  type O = StructOf<F>;
  const checkObject = (v: unknown) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      throw new EncodeError(`${label} needs an object, got ${describe(v)}`);
    }
  };
  return make<O>({
    name: label,
    type: () => T.product(schemas.map((f) => f.type)),
    minSize,
    write(w, v) {
      checkObject(v);
      const o = v as Record<string, unknown>;
      for (let i = 0; i < n; i++) {
        const k = keys[i]!;
        try {
          schemas[i]!.write(w, o[k]);
        } catch (e) {
          withPath(e, `.${k}`);
        }
      }
    },
    read(r) {
      r.enter();
      const o: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const k = keys[i]!;
        try {
          o[k] = schemas[i]!.read(r);
        } catch (e) {
          withPath(e, `.${k}`);
        }
      }
      r.leave();
      return o as O;
    },
    toValue(v) {
      checkObject(v);
      const o = v as Record<string, unknown>;
      const items: DataValue[] = [];
      for (let i = 0; i < n; i++) {
        try {
          items.push(schemas[i]!.toValue(o[keys[i]!]));
        } catch (e) {
          withPath(e, `.${keys[i]}`);
        }
      }
      return V.tuple(items);
    },
    fromValue(v) {
      const items = tupleOf(v, n);
      const o: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        try {
          o[keys[i]!] = schemas[i]!.fromValue(items[i]!);
        } catch (e) {
          withPath(e, `.${keys[i]}`);
        }
      }
      return o as O;
    },
  });
}

type TupleOf<S extends readonly Schema<unknown>[]> = { -readonly [K in keyof S]: Infer<S[K]> };

function tupleSchema<const S extends readonly Schema<unknown>[]>(items: S): Schema<TupleOf<S>> {
  const schemas = [...items];
  const n = schemas.length;
  const label = `[${schemas.map((s) => s.name).join(', ')}]`;
  const minSize = () => schemas.reduce((sum, f) => sum + f.minSize, 0);
  type O = TupleOf<S>;
  const checkArray = (v: unknown) => {
    if (!Array.isArray(v) || v.length !== n) {
      throw new EncodeError(`${label} needs an array of ${n} items, got ${describe(v)}`);
    }
  };
  return make<O>({
    name: label,
    type: () => T.product(schemas.map((f) => f.type)),
    minSize,
    write(w, v) {
      checkArray(v);
      const a = v as unknown[];
      for (let i = 0; i < n; i++) {
        try {
          schemas[i]!.write(w, a[i]);
        } catch (e) {
          withPath(e, `[${i}]`);
        }
      }
    },
    read(r) {
      r.enter();
      const a: unknown[] = [];
      for (let i = 0; i < n; i++) {
        try {
          a.push(schemas[i]!.read(r));
        } catch (e) {
          withPath(e, `[${i}]`);
        }
      }
      r.leave();
      return a as O;
    },
    toValue(v) {
      checkArray(v);
      const a = v as unknown[];
      const out: DataValue[] = [];
      for (let i = 0; i < n; i++) {
        try {
          out.push(schemas[i]!.toValue(a[i]));
        } catch (e) {
          withPath(e, `[${i}]`);
        }
      }
      return V.tuple(out);
    },
    fromValue(v) {
      const vs = tupleOf(v, n);
      const a: unknown[] = [];
      for (let i = 0; i < n; i++) {
        try {
          a.push(schemas[i]!.fromValue(vs[i]!));
        } catch (e) {
          withPath(e, `[${i}]`);
        }
      }
      return a as O;
    },
  });
}

type VariantOf<O extends Record<string, Schema<unknown>>> = {
  [K in keyof O]: { tag: K; value: Infer<O[K]> };
}[keyof O];

function variantSchema<O extends Record<string, Schema<unknown>>>(
  options: O,
  name?: string,
): Schema<VariantOf<O>> {
  const tags = Object.keys(options);
  checkKeys(tags, 'variant');
  const schemas = tags.map((k) => options[k]!);
  const n = tags.length;
  const index = new Map<string, number>(tags.map((t, i) => [t, i]));
  const label = name ?? `<${tags.map((k, i) => `${k}: ${schemas[i]!.name}`).join(' | ')}>`;
  const minSize = () => (n === 0 ? 1 : 1 + Math.min(...schemas.map((f) => f.minSize)));
  type X = VariantOf<O>;
  const indexOf = (v: unknown): number => {
    if (typeof v !== 'object' || v === null)
      throw new EncodeError(`${label} needs { tag, value }, got ${describe(v)}`);
    const tag = (v as { tag?: unknown }).tag;
    const i = typeof tag === 'string' ? index.get(tag) : undefined;
    if (i === undefined) throw new EncodeError(`${label} has no tag ${describe(tag)}`);
    return i;
  };
  return make<X>({
    name: label,
    type: () => T.coproduct(schemas.map((f) => f.type)),
    minSize,
    write(w, v) {
      const i = indexOf(v);
      w.varint(i);
      try {
        schemas[i]!.write(w, (v as { value: unknown }).value);
      } catch (e) {
        withPath(e, `.${tags[i]}`);
      }
    },
    read(r) {
      r.enter();
      const at = r.pos;
      const i = r.varint();
      if (i >= n) r.fail('bad-tag', `${label}: option index ${i} is not below ${n}`, at);
      let value: unknown;
      try {
        value = schemas[i]!.read(r);
      } catch (e) {
        withPath(e, `.${tags[i]}`);
      }
      r.leave();
      return { tag: tags[i]!, value } as X;
    },
    toValue(v) {
      const i = indexOf(v);
      try {
        return V.option(i, schemas[i]!.toValue((v as { value: unknown }).value));
      } catch (e) {
        withPath(e, `.${tags[i]}`);
      }
    },
    fromValue(v) {
      const o = optionOf(v, n);
      try {
        return { tag: tags[o.index]!, value: schemas[o.index]!.fromValue(o.value) } as X;
      } catch (e) {
        withPath(e, `.${tags[o.index]}`);
      }
    },
  });
}

function optionSchema<X>(inner: Schema<X>): Schema<X | null> {
  let nullable: boolean;
  try {
    nullable = inner.nullable;
  } catch {
    nullable = false; // a lazy schema not defined yet; cannot tell
  }
  if (nullable) {
    throw new InvalidTypeError(
      `option(${inner.name}): the inner schema already has null as a value, so None would be ambiguous`,
    );
  }
  const name = `${inner.name}?`;
  return make<X | null>({
    name,
    type: () => T.coproduct([T.unit, inner.type]),
    minSize: 1,
    nullable: true,
    write(w, v) {
      if (v === null) {
        w.u8(0);
        return;
      }
      w.u8(1);
      inner.write(w, v);
    },
    read(r) {
      r.enter();
      const at = r.pos;
      const i = r.varint();
      let v: X | null = null;
      if (i === 1) v = inner.read(r);
      else if (i === 0) {
        r.enter(); // the ProductT [] of None
        r.leave();
      } else r.fail('bad-tag', `${name}: option index ${i} is not below 2`, at);
      r.leave();
      return v;
    },
    toValue: (v) => (v === null ? V.option(0, V.unit) : V.option(1, inner.toValue(v))),
    fromValue(v) {
      const o = optionOf(v, 2);
      if (o.index === 0) {
        tupleOf(o.value, 0);
        return null;
      }
      return inner.fromValue(o.value);
    },
  });
}

export interface ListOptions {
  /** most items accepted on encode and decode */
  max?: number;
}

function checkMax(max: number | undefined, what: string): number {
  if (max === undefined) return MAX_SAFE;
  if (!Number.isSafeInteger(max) || max < 0)
    throw new InvalidTypeError(`${what} max must be a safe non-negative integer`);
  return max;
}

/** Reads the item count of a list / map inside its blob, bounded before anything is allocated. */
function readCount(r: Reader, max: number, minItemSize: number, label: string): number {
  const at = r.pos;
  const count = r.varint();
  if (count > max) r.fail('too-long', `${label} has ${count} items, maximum ${max}`, at);
  if (count > r.limits.maxLength)
    r.fail('too-long', `${label} has ${count} items, limit ${r.limits.maxLength}`, at);
  if (minItemSize > 0) {
    if (count > (r.end - r.pos) / minItemSize) {
      r.fail('truncated', `${label} claims ${count} items but only ${r.end - r.pos} bytes are left`, at);
    }
  } else {
    // items that may take no bytes are not bounded by the input: they share one budget per decode
    r.zeroSizeItems += count;
    if (r.zeroSizeItems > r.limits.maxLength) {
      r.fail('too-long', `more than ${r.limits.maxLength} zero-size items in one input`, at);
    }
  }
  return count;
}

/** Reads a blob's content in place with `body` (the region is narrowed to the blob and must be used up). */
function inBlob<X>(r: Reader, body: (r: Reader) => X): X {
  const n = r.length();
  const end = r.pos + n;
  const outer = r.end;
  r.end = end;
  const v = body(r);
  if (r.pos !== end) r.fail('trailing-bytes', `${end - r.pos} byte(s) left inside a length-prefixed value`);
  r.end = outer;
  return v;
}

function listSchema<X>(item: Schema<X>, opts: ListOptions = {}): Schema<X[]> {
  const max = checkMax(opts.max, 'list');
  const name = `list<${item.name}>`;
  const writeContent = (w: Writer, v: X[]) => {
    if (!Array.isArray(v)) throw new EncodeError(`${name} needs an array, got ${describe(v)}`);
    const n = v.length;
    if (n > max) throw new EncodeError(`${name} has ${n} items, maximum ${max}`);
    w.varint(n);
    for (let i = 0; i < n; i++) {
      try {
        item.write(w, v[i]!);
      } catch (e) {
        withPath(e, `[${i}]`);
      }
    }
  };
  const readContent = (r: Reader): X[] => {
    r.enter();
    const count = readCount(r, max, item.minSize, name);
    const out: X[] = [];
    for (let i = 0; i < count; i++) {
      try {
        out.push(item.read(r));
      } catch (e) {
        withPath(e, `[${i}]`);
      }
    }
    r.leave();
    return out;
  };
  const read = (r: Reader) => inBlob(r, readContent);
  return make<X[]>({
    name,
    type: T.binary,
    minSize: 2,
    write(w, v) {
      const mark = w.beginBlob();
      writeContent(w, v);
      w.endBlob(mark);
    },
    read,
    toValue: (v) => V.binary(writeToBytes((w) => writeContent(w, v))),
    fromValue: (v) => readWhole(basicOf(v, 'binary'), read),
  });
}

function compareRange(b: Uint8Array, s1: number, e1: number, s2: number, e2: number): number {
  const n = Math.min(e1 - s1, e2 - s2);
  for (let i = 0; i < n; i++) {
    const d = b[s1 + i]! - b[s2 + i]!;
    if (d !== 0) return d;
  }
  return e1 - s1 - (e2 - s2);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/**
 * Map<K, V> as BinaryT holding varint(count) ++ (key ++ value)…, entries in strictly ascending
 * order of the keys' encodings (bytewise, shorter first on a common prefix); decode rejects any
 * other order or a repeated key as non-canonical. Keys should be primitives (numbers, bigints,
 * strings) for the decoded Map to be useful for lookups.
 */
function mapSchema<K, X>(key: Schema<K>, value: Schema<X>, opts: ListOptions = {}): Schema<Map<K, X>> {
  const max = checkMax(opts.max, 'map');
  const name = `map<${key.name}, ${value.name}>`;
  const writeContent = (w: Writer, m: Map<K, X>) => {
    if (!(m instanceof Map)) throw new EncodeError(`${name} needs a Map, got ${describe(m)}`);
    if (m.size > max) throw new EncodeError(`${name} has ${m.size} entries, maximum ${max}`);
    const entries: { k: Uint8Array; v: X; key: K }[] = [];
    for (const [k, v] of m) {
      let kb: Uint8Array;
      try {
        kb = encode(key, k);
      } catch (e) {
        withPath(e, `{key ${describe(k)}}`);
      }
      entries.push({ k: kb, v, key: k });
    }
    entries.sort((a, b) => compareBytes(a.k, b.k));
    w.varint(entries.length);
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (i > 0 && compareBytes(entries[i - 1]!.k, e.k) === 0) {
        throw new EncodeError(`${name} has two keys with the same encoding (${describe(e.key)})`);
      }
      w.bytes(e.k);
      try {
        value.write(w, e.v);
      } catch (err) {
        withPath(err, `{${describe(e.key)}}`);
      }
    }
  };
  const readContent = (r: Reader): Map<K, X> => {
    r.enter();
    const count = readCount(r, max, key.minSize + value.minSize, name);
    const m = new Map<K, X>();
    let prevStart = -1;
    let prevEnd = -1;
    for (let i = 0; i < count; i++) {
      const start = r.pos;
      let k: K;
      try {
        k = key.read(r);
      } catch (e) {
        withPath(e, `{#${i}}`);
      }
      const end = r.pos;
      if (prevStart >= 0 && compareRange(r.bytes, prevStart, prevEnd, start, end) >= 0) {
        r.fail('non-canonical', `${name}: keys must be in strictly ascending byte order`, start);
      }
      prevStart = start;
      prevEnd = end;
      try {
        m.set(k, value.read(r));
      } catch (e) {
        withPath(e, `{${describe(k)}}`);
      }
    }
    r.leave();
    return m;
  };
  const read = (r: Reader) => inBlob(r, readContent);
  return make<Map<K, X>>({
    name,
    type: T.binary,
    minSize: 2,
    write(w, v) {
      const mark = w.beginBlob();
      writeContent(w, v);
      w.endBlob(mark);
    },
    read,
    toValue: (v) => V.binary(writeToBytes((w) => writeContent(w, v))),
    fromValue: (v) => readWhole(basicOf(v, 'binary'), read),
  });
}

/** BinaryT holding the canonical encoding of `inner` (e.g. to sign or hash a part separately). */
function embedSchema<X>(inner: Schema<X>): Schema<X> {
  const read = (r: Reader) => inBlob(r, (rr) => inner.read(rr));
  return make<X>({
    name: `embed<${inner.name}>`,
    type: T.binary,
    minSize: 1,
    write(w, v) {
      const mark = w.beginBlob();
      inner.write(w, v);
      w.endBlob(mark);
    },
    read,
    toValue: (v) => V.binary(encode(inner, v)),
    fromValue: (v) => readContent(basicOf(v, 'binary'), inner.read),
  });
}

/** A schema defined later (for recursion, which must go through list / map / embed: types are finite). */
function lazySchema<X>(thunk: () => Schema<X>): Schema<X> {
  let target: Schema<X> | undefined;
  const get = () => {
    if (target === undefined) target = thunk();
    return target;
  };
  const s: Schema<X> = {
    get type() {
      return get().type;
    },
    get name() {
      return target === undefined ? 'lazy' : target.name;
    },
    get minSize() {
      return get().minSize;
    },
    get nullable() {
      return get().nullable;
    },
    write: (w, v) => get().write(w, v),
    read: (r) => get().read(r),
    toValue: (v) => get().toValue(v),
    fromValue: (v) => get().fromValue(v),
  };
  return s;
}

/**
 * A bijective view of `inner` as another TypeScript type: `to` maps values to `inner`'s on encode,
 * `from` maps back on decode and should throw DecodeError for an `inner` value it rejects.
 * `from(to(x))` must equal x and `to` must be injective, or canonicity is lost.
 */
function transformSchema<X, Y>(
  inner: Schema<X>,
  f: { name?: string; to: (y: Y) => X; from: (x: X) => Y },
): Schema<Y> {
  return make<Y>({
    name: f.name ?? inner.name,
    type: () => inner.type,
    minSize: () => inner.minSize,
    write: (w, v) => inner.write(w, f.to(v)),
    read(r) {
      const at = r.pos;
      const x = inner.read(r);
      try {
        return f.from(x);
      } catch (e) {
        if (e instanceof DecodeError) throw e;
        throw new DecodeError('out-of-range', e instanceof Error ? e.message : String(e), at);
      }
    },
    toValue: (v) => inner.toValue(f.to(v)),
    fromValue: (v) => f.from(inner.fromValue(v)),
  });
}

// ---------------------------------------------------------------------------------------------
// the DataType schema: types themselves as data (serialising the type alongside a value gives a
// bijection without fixing the type, seed 003)

let dataTypeCache: Schema<DataType> | undefined;

function dataTypeSchema(): Schema<DataType> {
  if (dataTypeCache !== undefined) return dataTypeCache;
  const self = lazySchema(() => dataTypeSchema());
  const ringN = transformSchema(natSchema(), {
    name: 'ring-order',
    to: (n: bigint) => n,
    from: (n) => {
      if (n < 1n) throw new DecodeError('out-of-range', 'RingT n needs n >= 1');
      return n;
    },
  });
  const fieldN = transformSchema(natSchema(), {
    name: 'field-order',
    to: (n: bigint) => n,
    from: (n) => {
      if (n < 2n) throw new DecodeError('out-of-range', 'FiniteFieldT n needs n >= 2');
      return n;
    },
  });
  const raw = variantSchema(
    {
      boolean: unitSchema,
      ring: ringN,
      field: fieldN,
      binary: unitSchema,
      product: listSchema(self),
      coproduct: listSchema(self),
      function: embedSchema(tupleSchema([self, self])),
    },
    'DataType',
  );
  type Raw = Infer<typeof raw>;
  dataTypeCache = transformSchema(raw, {
    name: 'DataType',
    to(t: DataType): Raw {
      if (typeof t !== 'object' || t === null)
        throw new EncodeError(`DataType needs an object, got ${describe(t)}`);
      switch (t.kind) {
        case 'basic':
          switch (t.basic.kind) {
            case 'boolean':
              return { tag: 'boolean', value: null };
            case 'binary':
              return { tag: 'binary', value: null };
            case 'ring':
              return { tag: 'ring', value: t.basic.n };
            case 'field':
              return { tag: 'field', value: t.basic.n };
          }
          break;
        case 'product':
          return { tag: 'product', value: [...t.items] };
        case 'coproduct':
          return { tag: 'coproduct', value: [...t.options] };
        case 'function':
          return { tag: 'function', value: [t.from, t.to] };
      }
      throw new EncodeError(`not a DataType: ${describe(t)}`);
    },
    from(x: Raw): DataType {
      switch (x.tag) {
        case 'boolean':
          return T.bool;
        case 'binary':
          return T.binary;
        case 'ring':
          return T.ring(x.value);
        case 'field':
          return T.field(x.value);
        case 'product':
          return T.product(x.value);
        case 'coproduct':
          return T.coproduct(x.value);
        case 'function':
          return T.fn(x.value[0], x.value[1]);
      }
    },
  });
  return dataTypeCache;
}

// ---------------------------------------------------------------------------------------------

const ringCache = new Map<string, Schema<bigint>>();

/** Schema builders. */
export const s = {
  bool: (): Schema<boolean> => boolSchema,
  /** RingT 2^8 as a JS number */
  u8: (): Schema<number> => u8Schema,
  /** RingT 2^16 as a JS number */
  u16: (): Schema<number> => u16Schema,
  /** RingT 2^32 as a JS number */
  u32: (): Schema<number> => u32Schema,
  /** RingT 2^64 as a bigint */
  u64: (): Schema<bigint> => u64Schema,
  /** RingT n (values in [0, n)) */
  ring(n: bigint): Schema<bigint> {
    const key = `r${n}`;
    let sch = ringCache.get(key);
    if (sch === undefined) {
      sch = modular('ring', n);
      ringCache.set(key, sch);
    }
    return sch;
  },
  /** FiniteFieldT n (values in [0, n)) */
  field(n: bigint): Schema<bigint> {
    const key = `f${n}`;
    let sch = ringCache.get(key);
    if (sch === undefined) {
      sch = modular('field', n);
      ringCache.set(key, sch);
    }
    return sch;
  },
  /** BinaryT; `length` / `max` are checked on encode and decode */
  bytes: bytesSchema,
  /** BinaryT holding UTF-8 (`max` in bytes); invalid UTF-8 is a DecodeError */
  string: stringSchema,
  /** natural number of any size: BinaryT holding its minimal little-endian bytes */
  nat: natSchema,
  /** ProductT of the fields' types in declaration order */
  struct: structSchema,
  /** ProductT of the items' types */
  tuple: tupleSchema,
  /** CoproductT of the options' types in declaration order; values are `{ tag, value }` */
  variant: variantSchema,
  /** CoproductT [ProductT [], T]; null is None */
  option: optionSchema,
  /** BinaryT holding varint(count) ++ items */
  list: listSchema,
  /** BinaryT holding varint(count) ++ (key ++ value)… in ascending key-byte order */
  map: mapSchema,
  /** ProductT [] */
  unit: (): Schema<null> => unitSchema,
  /** FunctionT from to; values are FunctionV { vm, code } */
  func: funcSchema,
  /** BinaryT holding the encoding of `inner` */
  embed: embedSchema,
  /** deferred schema, for recursion through list / map / embed */
  lazy: lazySchema,
  /** a bijective change of representation */
  transform: transformSchema,
  /** seed-003 DataTypes as values */
  dataType: dataTypeSchema,
} as const;
