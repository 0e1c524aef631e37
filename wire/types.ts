/**
 * Seed 003's data types and data values, exactly:
 *
 *   BasicType := BooleanT | RingT Nat | FiniteFieldT Nat | BinaryT
 *   DataType  := BasicT BasicType | ProductT [DataType] | CoproductT [DataType] | FunctionT DataType DataType
 *   BasicValue := BooleanV Boolean | RingV Nat | FiniteFieldV Nat | BinaryV Bytestring | FunctionV Nat Bytestring
 *   DataValue := BasicV BasicValue | TupleV [DataValue] | OptionV Nat DataValue
 *
 * plus `typecheck`, `validateType`, constructors (`T`, `V`), structural equality and printing.
 */
import { VARINT_BIG_BOUND } from './buffer.ts';
import { InvalidTypeError } from './errors.ts';

export type BasicType =
  | { readonly kind: 'boolean' }
  | { readonly kind: 'ring'; readonly n: bigint }
  | { readonly kind: 'field'; readonly n: bigint }
  | { readonly kind: 'binary' };

export type DataType =
  | { readonly kind: 'basic'; readonly basic: BasicType }
  | { readonly kind: 'product'; readonly items: readonly DataType[] }
  | { readonly kind: 'coproduct'; readonly options: readonly DataType[] }
  | { readonly kind: 'function'; readonly from: DataType; readonly to: DataType };

export type BasicValue =
  | { readonly kind: 'boolean'; readonly value: boolean }
  | { readonly kind: 'ring'; readonly value: bigint }
  | { readonly kind: 'field'; readonly value: bigint }
  | { readonly kind: 'binary'; readonly value: Uint8Array }
  | { readonly kind: 'function'; readonly vm: bigint; readonly code: Uint8Array };

export type DataValue =
  | { readonly kind: 'basic'; readonly value: BasicValue }
  | { readonly kind: 'tuple'; readonly items: readonly DataValue[] }
  | { readonly kind: 'option'; readonly index: number; readonly value: DataValue };

/** Exclusive upper bound of a `FunctionV` VM id: ids are varints of at most 9 bytes. */
export const VM_ID_BOUND = VARINT_BIG_BOUND;

const BOOLEAN_T: BasicType = Object.freeze({ kind: 'boolean' });
const BINARY_T: BasicType = Object.freeze({ kind: 'binary' });

/** Type constructors. */
export const T = {
  basic: (basic: BasicType): DataType => ({ kind: 'basic', basic }),
  bool: Object.freeze({ kind: 'basic', basic: BOOLEAN_T }) as DataType,
  ring: (n: bigint | number): DataType => ({ kind: 'basic', basic: { kind: 'ring', n: BigInt(n) } }),
  field: (n: bigint | number): DataType => ({ kind: 'basic', basic: { kind: 'field', n: BigInt(n) } }),
  binary: Object.freeze({ kind: 'basic', basic: BINARY_T }) as DataType,
  product: (items: readonly DataType[]): DataType => ({ kind: 'product', items }),
  coproduct: (options: readonly DataType[]): DataType => ({ kind: 'coproduct', options }),
  fn: (from: DataType, to: DataType): DataType => ({ kind: 'function', from, to }),
  /** `ProductT []`, the type with one value. */
  unit: Object.freeze({ kind: 'product', items: Object.freeze([]) }) as DataType,
} as const;

/** Value constructors. */
export const V = {
  basic: (value: BasicValue): DataValue => ({ kind: 'basic', value }),
  bool: (b: boolean): DataValue => ({ kind: 'basic', value: { kind: 'boolean', value: b } }),
  ring: (x: bigint | number): DataValue => ({ kind: 'basic', value: { kind: 'ring', value: BigInt(x) } }),
  field: (x: bigint | number): DataValue => ({ kind: 'basic', value: { kind: 'field', value: BigInt(x) } }),
  binary: (bytes: Uint8Array): DataValue => ({ kind: 'basic', value: { kind: 'binary', value: bytes } }),
  fn: (vm: bigint | number, code: Uint8Array): DataValue => ({
    kind: 'basic',
    value: { kind: 'function', vm: BigInt(vm), code },
  }),
  tuple: (items: readonly DataValue[]): DataValue => ({ kind: 'tuple', items }),
  option: (index: number, value: DataValue): DataValue => ({ kind: 'option', index, value }),
  /** `TupleV []`, the value of `ProductT []`. */
  unit: Object.freeze({ kind: 'tuple', items: Object.freeze([]) }) as DataValue,
} as const;

/**
 * Whether `value` inhabits `type`. Ring values lie in [0, n), field values in [0, n) with n >= 2,
 * tuples match products item by item, options pick an existing coproduct index, and any
 * `FunctionV` with a VM id in [0, 2^63) inhabits any `FunctionT` (checking a function's own type
 * needs the VM; seed 003 leaves that out for now). Never throws.
 */
export function typecheck(value: DataValue, type: DataType): boolean {
  if (typeof value !== 'object' || value === null || typeof type !== 'object' || type === null) return false;
  switch (type.kind) {
    case 'basic':
      return value.kind === 'basic' && checkBasic(value.value, type.basic);
    case 'function': {
      if (value.kind !== 'basic') return false;
      const v = value.value;
      return (
        typeof v === 'object' &&
        v !== null &&
        v.kind === 'function' &&
        typeof v.vm === 'bigint' &&
        v.vm >= 0n &&
        v.vm < VM_ID_BOUND &&
        v.code instanceof Uint8Array
      );
    }
    case 'product': {
      if (value.kind !== 'tuple' || !Array.isArray(value.items) || !Array.isArray(type.items)) return false;
      const n = type.items.length;
      if (value.items.length !== n) return false;
      for (let i = 0; i < n; i++) if (!typecheck(value.items[i]!, type.items[i]!)) return false;
      return true;
    }
    case 'coproduct': {
      if (value.kind !== 'option' || !Array.isArray(type.options)) return false;
      const i = value.index;
      if (!Number.isInteger(i) || i < 0 || i >= type.options.length) return false;
      return typecheck(value.value, type.options[i]!);
    }
    default:
      return false;
  }
}

function checkBasic(v: BasicValue, t: BasicType): boolean {
  if (typeof v !== 'object' || v === null || typeof t !== 'object' || t === null) return false;
  switch (t.kind) {
    case 'boolean':
      return v.kind === 'boolean' && typeof v.value === 'boolean';
    case 'ring':
      return (
        v.kind === 'ring' &&
        typeof v.value === 'bigint' &&
        typeof t.n === 'bigint' &&
        v.value >= 0n &&
        v.value < t.n
      );
    case 'field':
      return (
        v.kind === 'field' &&
        typeof v.value === 'bigint' &&
        typeof t.n === 'bigint' &&
        t.n >= 2n &&
        v.value >= 0n &&
        v.value < t.n
      );
    case 'binary':
      return v.kind === 'binary' && v.value instanceof Uint8Array;
    default:
      return false;
  }
}

const validated = new WeakSet<object>();

/**
 * Throws `InvalidTypeError` unless `type` is well formed: known kinds, `RingT n` with n >= 1,
 * `FiniteFieldT n` with n >= 2, arrays of items / options. (Whether n is a prime power is not
 * checked: that would need primality testing of arbitrary bigints; n only fixes the value range
 * and byte width here, field arithmetic belongs to the VMs.) Validated type objects are remembered.
 */
export function validateType(type: DataType, path = ''): void {
  if (typeof type !== 'object' || type === null) throw new InvalidTypeError('type must be an object', path);
  if (validated.has(type)) return;
  switch (type.kind) {
    case 'basic': {
      const b = type.basic;
      if (typeof b !== 'object' || b === null)
        throw new InvalidTypeError('basic type must be an object', path);
      switch (b.kind) {
        case 'boolean':
        case 'binary':
          break;
        case 'ring':
          if (typeof b.n !== 'bigint' || b.n < 1n)
            throw new InvalidTypeError(`RingT n needs n >= 1, got ${String(b.n)}`, path);
          break;
        case 'field':
          if (typeof b.n !== 'bigint' || b.n < 2n) {
            throw new InvalidTypeError(`FiniteFieldT n needs n >= 2, got ${String(b.n)}`, path);
          }
          break;
        default:
          throw new InvalidTypeError(
            `unknown basic type kind ${JSON.stringify((b as { kind: unknown }).kind)}`,
            path,
          );
      }
      break;
    }
    case 'product':
      if (!Array.isArray(type.items)) throw new InvalidTypeError('ProductT needs an array of items', path);
      for (let i = 0; i < type.items.length; i++) validateType(type.items[i]!, `${path}[${i}]`);
      break;
    case 'coproduct':
      if (!Array.isArray(type.options))
        throw new InvalidTypeError('CoproductT needs an array of options', path);
      for (let i = 0; i < type.options.length; i++) validateType(type.options[i]!, `${path}<${i}>`);
      break;
    case 'function':
      validateType(type.from, `${path}.from`);
      validateType(type.to, `${path}.to`);
      break;
    default:
      throw new InvalidTypeError(
        `unknown type kind ${JSON.stringify((type as { kind: unknown }).kind)}`,
        path,
      );
  }
  validated.add(type);
}

const widths = new WeakMap<BasicType, number>();

/** Bytes of a `RingT n` / `FiniteFieldT n` value: ceil(bitlen(n - 1) / 8), 0 when n = 1. */
export function numberWidth(n: bigint): number {
  const m = n - 1n;
  if (m <= 0n) return 0;
  if (m < 0x1_0000_0000n) {
    const x = Number(m);
    return x < 0x100 ? 1 : x < 0x1_0000 ? 2 : x < 0x100_0000 ? 3 : 4;
  }
  return Math.ceil(m.toString(16).length / 2);
}

/** `numberWidth` of a ring / field type, cached per type object. */
export function basicWidth(t: BasicType & { n: bigint }): number {
  let w = widths.get(t);
  if (w === undefined) {
    w = numberWidth(t.n);
    widths.set(t, w);
  }
  return w;
}

/** Whether a type has at least one value (an empty coproduct has none; products of it neither). */
export function isInhabited(type: DataType): boolean {
  switch (type.kind) {
    case 'basic':
    case 'function':
      return true;
    case 'product':
      return type.items.every(isInhabited);
    case 'coproduct':
      return type.options.some(isInhabited);
  }
}

/** Structural equality of types. */
export function typeEquals(a: DataType, b: DataType): boolean {
  if (a === b) return true;
  switch (a.kind) {
    case 'basic': {
      if (b.kind !== 'basic' || a.basic.kind !== b.basic.kind) return false;
      const x = a.basic;
      const y = b.basic;
      return (x.kind !== 'ring' && x.kind !== 'field') || x.n === (y as { n: bigint }).n;
    }
    case 'product':
      return b.kind === 'product' && listEquals(a.items, b.items, typeEquals);
    case 'coproduct':
      return b.kind === 'coproduct' && listEquals(a.options, b.options, typeEquals);
    case 'function':
      return b.kind === 'function' && typeEquals(a.from, b.from) && typeEquals(a.to, b.to);
  }
}

/** Structural equality of values (bytes compared by content). */
export function valueEquals(a: DataValue, b: DataValue): boolean {
  if (a === b) return true;
  switch (a.kind) {
    case 'basic': {
      if (b.kind !== 'basic') return false;
      const x = a.value;
      const y = b.value;
      if (x.kind !== y.kind) return false;
      switch (x.kind) {
        case 'binary':
          return bytesEqual(x.value, (y as { value: Uint8Array }).value);
        case 'function': {
          const f = y as { vm: bigint; code: Uint8Array };
          return x.vm === f.vm && bytesEqual(x.code, f.code);
        }
        default:
          return x.value === (y as { value: unknown }).value;
      }
    }
    case 'tuple':
      return b.kind === 'tuple' && listEquals(a.items, b.items, valueEquals);
    case 'option':
      return b.kind === 'option' && a.index === b.index && valueEquals(a.value, b.value);
  }
}

function listEquals<X>(a: readonly X[], b: readonly X[], eq: (x: X, y: X) => boolean): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!eq(a[i]!, b[i]!)) return false;
  return true;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Seed-003 notation, e.g. `ProductT [RingT 256, CoproductT [ProductT [], BinaryT]]`. */
export function showType(t: DataType): string {
  switch (t.kind) {
    case 'basic':
      switch (t.basic.kind) {
        case 'boolean':
          return 'BooleanT';
        case 'ring':
          return `RingT ${t.basic.n}`;
        case 'field':
          return `FiniteFieldT ${t.basic.n}`;
        case 'binary':
          return 'BinaryT';
      }
      break;
    case 'product':
      return `ProductT [${t.items.map(showType).join(', ')}]`;
    case 'coproduct':
      return `CoproductT [${t.options.map(showType).join(', ')}]`;
    case 'function':
      return `FunctionT (${showType(t.from)}) (${showType(t.to)})`;
  }
}

/** Seed-003 notation for values; bytes in hex. */
export function showValue(v: DataValue): string {
  switch (v.kind) {
    case 'basic': {
      const b = v.value;
      switch (b.kind) {
        case 'boolean':
          return `BooleanV ${b.value}`;
        case 'ring':
          return `RingV ${b.value}`;
        case 'field':
          return `FiniteFieldV ${b.value}`;
        case 'binary':
          return `BinaryV 0x${hex(b.value)}`;
        case 'function':
          return `FunctionV ${b.vm} 0x${hex(b.code)}`;
      }
      break;
    }
    case 'tuple':
      return `TupleV [${v.items.map(showValue).join(', ')}]`;
    case 'option':
      return `OptionV ${v.index} (${showValue(v.value)})`;
  }
}

function hex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}
