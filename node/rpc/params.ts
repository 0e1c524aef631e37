/**
 * A small parameter-validation kit. Every validator either returns the typed value or throws
 * `RpcError(INVALID_PARAMS, '<path>: <what is wrong>')`, so the caller learns which field to fix.
 */
import { invalidParams } from './errors.ts';

/** Validates one value found at `path` (e.g. `tx.fee`, `keys[2]`). */
export type Validator<T> = (v: unknown, path: string) => T;

/** Validates a whole `params` member; `path` is only passed when nested inside another validator. */
export type ParamsValidator<T> = (raw: unknown, path?: string) => T;

/** The field validators of `p.object`, one per key of T. */
export type Shape<T> = { [K in keyof T]: Validator<T[K]> };

export const U64_MAX = (1n << 64n) - 1n;

const HEX_DIGITS = /^[0-9a-fA-F]*$/;
const DECIMAL = /^[0-9]+$/;

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** A value quoted for an error message, cut short so a huge input does not make a huge message. */
function quote(s: string, max = 40): string {
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function joinPath(base: string | undefined, key: string): string {
  return base === undefined ? key : `${base}.${key}`;
}

function object<T>(shape: Shape<T>): ParamsValidator<T> {
  const keys = Object.keys(shape) as (keyof T & string)[];
  return (raw, path) => {
    const where = path ?? 'params';
    const out = {} as T;
    if (Array.isArray(raw)) {
      if (raw.length > keys.length) {
        throw invalidParams(
          where,
          `expected at most ${keys.length} positional params (${keys.join(', ')}), got ${raw.length}`,
        );
      }
      keys.forEach((key, i) => {
        out[key] = shape[key](raw[i], joinPath(path, key));
      });
      return out;
    }
    // An absent `params` is an empty object, so an all-optional shape needs no params at all.
    const obj = raw === undefined ? {} : raw;
    if (!isPlainObject(obj)) {
      throw invalidParams(where, `expected an object (by name) or an array (by position), got ${kind(raw)}`);
    }
    for (const k of Object.keys(obj)) {
      if (!Object.hasOwn(shape, k)) {
        throw invalidParams(where, `unknown field ${quote(k)} (expected: ${keys.join(', ') || 'none'})`);
      }
    }
    for (const key of keys) {
      out[key] = shape[key](Object.hasOwn(obj, key) ? obj[key] : undefined, joinPath(path, key));
    }
    return out;
  };
}

function required(v: unknown, path: string, expected: string): void {
  if (v === undefined) throw invalidParams(path, `required (${expected})`);
}

function hex(opts: { bytes?: number; maxBytes?: number } = {}): Validator<Uint8Array> {
  const expected =
    opts.bytes !== undefined ? `hex string of ${opts.bytes} bytes` : 'hex string (0x prefix optional)';
  return (v, path) => {
    required(v, path, expected);
    if (typeof v !== 'string') throw invalidParams(path, `expected a ${expected}, got ${kind(v)}`);
    const digits = v.startsWith('0x') || v.startsWith('0X') ? v.slice(2) : v;
    if (opts.maxBytes !== undefined && digits.length > opts.maxBytes * 2) {
      throw invalidParams(
        path,
        `at most ${opts.maxBytes} bytes allowed, got ${Math.ceil(digits.length / 2)}`,
      );
    }
    if (!HEX_DIGITS.test(digits)) {
      const at = digits.search(/[^0-9a-fA-F]/);
      throw invalidParams(path, `not a hex digit ${quote(digits.charAt(at))} at index ${at}`);
    }
    if (digits.length % 2 !== 0) throw invalidParams(path, `odd number of hex digits (${digits.length})`);
    const n = digits.length / 2;
    if (opts.bytes !== undefined && n !== opts.bytes) {
      throw invalidParams(path, `expected ${opts.bytes} bytes, got ${n}`);
    }
    return new Uint8Array(Buffer.from(digits, 'hex'));
  };
}

function u64(): Validator<bigint> {
  const expected = 'u64 as a decimal string or a safe integer';
  return (v, path) => {
    required(v, path, expected);
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) throw invalidParams(path, `must be an integer, got ${v}`);
      if (v < 0) throw invalidParams(path, `must be non-negative, got ${v}`);
      if (!Number.isSafeInteger(v)) {
        throw invalidParams(path, 'number above 2^53-1 loses precision; pass it as a decimal string');
      }
      return BigInt(v);
    }
    if (typeof v === 'string') {
      if (v.startsWith('-')) throw invalidParams(path, `must be non-negative, got ${quote(v)}`);
      if (!DECIMAL.test(v)) throw invalidParams(path, `expected a decimal string of digits, got ${quote(v)}`);
      if (v.length > 1 && v.startsWith('0')) throw invalidParams(path, `leading zeros in ${quote(v)}`);
      if (v.length > 20 || BigInt(v) > U64_MAX) {
        throw invalidParams(path, `exceeds the u64 maximum ${U64_MAX}, got ${quote(v)}`);
      }
      return BigInt(v);
    }
    throw invalidParams(path, `expected a ${expected}, got ${kind(v)}`);
  };
}

function int(opts: { min?: number; max?: number } = {}): Validator<number> {
  return (v, path) => {
    required(v, path, 'integer');
    if (typeof v !== 'number') throw invalidParams(path, `expected an integer, got ${kind(v)}`);
    if (!Number.isSafeInteger(v)) throw invalidParams(path, `expected a safe integer, got ${v}`);
    if (opts.min !== undefined && v < opts.min) throw invalidParams(path, `must be >= ${opts.min}, got ${v}`);
    if (opts.max !== undefined && v > opts.max) throw invalidParams(path, `must be <= ${opts.max}, got ${v}`);
    return v;
  };
}

function string<const E extends string = string>(
  opts: { max?: number; enum?: readonly E[] } = {},
): Validator<string extends E ? string : E> {
  type Out = string extends E ? string : E;
  return (v, path) => {
    required(v, path, opts.enum ? `one of ${opts.enum.join(', ')}` : 'string');
    if (typeof v !== 'string') throw invalidParams(path, `expected a string, got ${kind(v)}`);
    if (opts.max !== undefined && v.length > opts.max) {
      throw invalidParams(path, `at most ${opts.max} characters allowed, got ${v.length}`);
    }
    if (opts.enum && !(opts.enum as readonly string[]).includes(v)) {
      throw invalidParams(path, `must be one of ${opts.enum.join(', ')}, got ${quote(v)}`);
    }
    return v as Out;
  };
}

function bool(): Validator<boolean> {
  return (v, path) => {
    required(v, path, 'boolean');
    if (typeof v !== 'boolean') throw invalidParams(path, `expected a boolean, got ${kind(v)}`);
    return v;
  };
}

/** Absent (missing, or JSON null) → undefined; anything else goes to `inner`. */
function optional<T>(inner: Validator<T>): Validator<T | undefined> {
  return (v, path) => (v === undefined || v === null ? undefined : inner(v, path));
}

function array<T>(inner: Validator<T>, opts: { max?: number } = {}): Validator<T[]> {
  return (v, path) => {
    required(v, path, 'array');
    if (!Array.isArray(v)) throw invalidParams(path, `expected an array, got ${kind(v)}`);
    if (opts.max !== undefined && v.length > opts.max) {
      throw invalidParams(path, `at most ${opts.max} items allowed, got ${v.length}`);
    }
    return v.map((item, i) => inner(item, `${path}[${i}]`));
  };
}

/** A method without params: accepts an absent `params`, null, `[]` and `{}`. */
function none(): ParamsValidator<undefined> {
  return (raw, path) => {
    if (raw === undefined || raw === null) return undefined;
    if (Array.isArray(raw) && raw.length === 0) return undefined;
    if (isPlainObject(raw) && Object.keys(raw).length === 0) return undefined;
    throw invalidParams(path ?? 'params', 'this method takes no params');
  };
}

export const p = { object, hex, u64, int, string, bool, optional, array, none } as const;
