/** The validation kit: typed values out, RpcError(INVALID_PARAMS, '<path>: <what>') for bad input. */
import { describe, expect, it } from 'vitest';
import { ERR, RpcError } from './errors.ts';
import { bytesToHex, stringifyStrict, toJsonSafe } from './json.ts';
import { p, U64_MAX } from './params.ts';

/** The message of the INVALID_PARAMS error `f` throws. */
function fails(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RpcError);
    expect((e as RpcError).code).toBe(ERR.INVALID_PARAMS);
    return (e as RpcError).message;
  }
  throw new Error('expected an INVALID_PARAMS error');
}

describe('p.hex', () => {
  const h32 = p.hex({ bytes: 32 });
  it('accepts with or without 0x, either case', () => {
    expect(h32(`0x${'ab'.repeat(32)}`, 'h')).toEqual(new Uint8Array(32).fill(0xab));
    expect(h32('AB'.repeat(32), 'h')).toEqual(new Uint8Array(32).fill(0xab));
    expect(p.hex()('0x', 'h')).toEqual(new Uint8Array(0));
  });
  it('rejects the wrong length, odd digits, non-hex and non-strings', () => {
    expect(fails(() => h32('ab'.repeat(31), 'hash'))).toBe('hash: expected 32 bytes, got 31');
    expect(fails(() => h32('abc', 'hash'))).toBe('hash: odd number of hex digits (3)');
    expect(fails(() => h32(`0x${'zz'.repeat(32)}`, 'hash'))).toBe('hash: not a hex digit "z" at index 0');
    expect(fails(() => h32('0x0x00', 'hash'))).toMatch(/^hash: not a hex digit "x"/);
    expect(fails(() => h32(42, 'hash'))).toBe('hash: expected a hex string of 32 bytes, got number');
    expect(fails(() => h32(undefined, 'hash'))).toBe('hash: required (hex string of 32 bytes)');
    expect(fails(() => p.hex({ maxBytes: 2 })('010203', 'd'))).toBe('d: at most 2 bytes allowed, got 3');
  });
});

describe('p.u64', () => {
  const u = p.u64();
  it('accepts decimal strings and safe integers', () => {
    expect(u('0', 'n')).toBe(0n);
    expect(u(42, 'n')).toBe(42n);
    expect(u('18446744073709551615', 'n')).toBe(U64_MAX);
    expect(u(Number.MAX_SAFE_INTEGER, 'n')).toBe(BigInt(Number.MAX_SAFE_INTEGER));
  });
  it('rejects negatives, overflow, fractions, unsafe numbers and junk', () => {
    expect(fails(() => u(-1, 'n'))).toBe('n: must be non-negative, got -1');
    expect(fails(() => u('-1', 'n'))).toBe('n: must be non-negative, got "-1"');
    expect(fails(() => u('18446744073709551616', 'n'))).toMatch(
      /^n: exceeds the u64 maximum 18446744073709551615/,
    );
    expect(fails(() => u('1'.repeat(400), 'n'))).toMatch(/^n: exceeds the u64 maximum/);
    expect(fails(() => u(1.5, 'n'))).toBe('n: must be an integer, got 1.5');
    expect(fails(() => u(2 ** 60, 'n'))).toMatch(/^n: number above 2\^53-1 loses precision/);
    expect(fails(() => u('0x10', 'n'))).toMatch(/^n: expected a decimal string of digits/);
    expect(fails(() => u('', 'n'))).toMatch(/^n: expected a decimal string of digits/);
    expect(fails(() => u('007', 'n'))).toBe('n: leading zeros in "007"');
    expect(fails(() => u(true, 'n'))).toMatch(/^n: expected a u64 .*, got boolean$/);
    expect(fails(() => u(undefined, 'n'))).toMatch(/^n: required/);
  });
});

describe('p.int, p.string, p.bool, p.array, p.optional', () => {
  it('int checks type, safety and bounds', () => {
    const i = p.int({ min: 1, max: 5 });
    expect(i(3, 'x')).toBe(3);
    expect(fails(() => i(0, 'x'))).toBe('x: must be >= 1, got 0');
    expect(fails(() => i(6, 'x'))).toBe('x: must be <= 5, got 6');
    expect(fails(() => i('3', 'x'))).toBe('x: expected an integer, got string');
    expect(fails(() => i(2.5, 'x'))).toBe('x: expected a safe integer, got 2.5');
  });
  it('string checks length and enum', () => {
    const mode = p.string({ enum: ['a', 'b'] });
    const m: 'a' | 'b' = mode('a', 'm'); // the enum narrows the type
    expect(m).toBe('a');
    expect(fails(() => mode('c', 'm'))).toBe('m: must be one of a, b, got "c"');
    expect(fails(() => p.string({ max: 3 })('abcd', 's'))).toBe('s: at most 3 characters allowed, got 4');
    expect(fails(() => p.string()(null, 's'))).toBe('s: expected a string, got null');
  });
  it('bool, array and optional', () => {
    expect(p.bool()(false, 'b')).toBe(false);
    expect(fails(() => p.bool()('true', 'b'))).toBe('b: expected a boolean, got string');
    const arr = p.array(p.u64(), { max: 2 });
    expect(arr(['1', 2], 'xs')).toEqual([1n, 2n]);
    expect(fails(() => arr(['1', -2], 'xs'))).toBe('xs[1]: must be non-negative, got -2');
    expect(fails(() => arr([1, 2, 3], 'xs'))).toBe('xs: at most 2 items allowed, got 3');
    expect(fails(() => arr({}, 'xs'))).toBe('xs: expected an array, got object');
    const opt = p.optional(p.int());
    expect(opt(undefined, 'o')).toBeUndefined();
    expect(opt(null, 'o')).toBeUndefined();
    expect(opt(7, 'o')).toBe(7);
    expect(fails(() => opt('7', 'o'))).toBe('o: expected an integer, got string');
  });
});

describe('p.object and p.none', () => {
  const shape = p.object({ height: p.u64(), full: p.optional(p.bool()) });
  it('takes params by name or by position', () => {
    expect(shape({ height: '5' })).toEqual({ height: 5n, full: undefined });
    expect(shape({ height: 5, full: true })).toEqual({ height: 5n, full: true });
    expect(shape([5])).toEqual({ height: 5n, full: undefined });
    expect(shape([5, false])).toEqual({ height: 5n, full: false });
  });
  it('names the missing, bad or unknown field', () => {
    expect(fails(() => shape({}))).toBe('height: required (u64 as a decimal string or a safe integer)');
    expect(fails(() => shape(undefined))).toMatch(/^height: required/);
    expect(fails(() => shape([]))).toMatch(/^height: required/);
    expect(fails(() => shape({ height: 1, extra: 2 }))).toBe(
      'params: unknown field "extra" (expected: height, full)',
    );
    expect(fails(() => shape([1, true, 3]))).toBe(
      'params: expected at most 2 positional params (height, full), got 3',
    );
    expect(fails(() => shape('5'))).toBe(
      'params: expected an object (by name) or an array (by position), got string',
    );
    expect(fails(() => shape({ height: 1, full: 'yes' }))).toBe('full: expected a boolean, got string');
  });
  it('ignores inherited properties and treats __proto__ as an unknown field', () => {
    const raw = JSON.parse('{"height":1,"__proto__":{"full":true}}');
    expect(fails(() => shape(raw))).toMatch(/^params: unknown field "__proto__"/);
  });
  it('nests with dotted paths', () => {
    const tx = p.object({ tx: p.object({ fee: p.u64(), to: p.hex({ bytes: 2 }) }) });
    expect(tx({ tx: { fee: '1', to: '0x0102' } })).toEqual({ tx: { fee: 1n, to: new Uint8Array([1, 2]) } });
    expect(fails(() => tx({ tx: { fee: '1', to: '01' } }))).toBe('tx.to: expected 2 bytes, got 1');
    expect(fails(() => tx({ tx: 3 }))).toMatch(/^tx: expected an object/);
  });
  it('none accepts nothing, [] and {}', () => {
    const none = p.none();
    for (const v of [undefined, null, [], {}]) expect(none(v)).toBeUndefined();
    expect(fails(() => none([1]))).toBe('params: this method takes no params');
    expect(fails(() => none({ a: 1 }))).toBe('params: this method takes no params');
  });
});

describe('JSON helpers', () => {
  it('toJsonSafe converts bytes, bigints, maps, sets and drops undefined fields', () => {
    const v = {
      h: 1n,
      b: new Uint8Array([0, 255]),
      m: new Map([['k', 2n]]),
      mk: new Map([[1, 'x']]),
      s: new Set([1]),
      u: undefined,
      a: [undefined, 1],
    };
    expect(toJsonSafe(v)).toEqual({
      h: '1',
      b: '0x00ff',
      m: { k: '2' },
      mk: [[1, 'x']],
      s: [1],
      a: [null, 1],
    });
    expect(bytesToHex(new Uint8Array([0xde, 0xad]).subarray(1))).toBe('0xad');
    const cyc: Record<string, unknown> = {};
    cyc.self = cyc;
    expect(() => toJsonSafe(cyc)).toThrow(/cycle/);
    expect(() => toJsonSafe(Number.NaN)).toThrow(/non-finite/);
  });
  it('stringifyStrict refuses values JSON would mangle', () => {
    expect(stringifyStrict({ a: [1, 'x'] })).toBe('{"a":[1,"x"]}');
    expect(stringifyStrict(undefined)).toBe('null');
    expect(() => stringifyStrict({ a: 1n })).toThrow(TypeError);
    expect(() => stringifyStrict({ a: new Uint8Array(1) })).toThrow(/typed array/);
    expect(() => stringifyStrict(new Map())).toThrow(/Map/);
  });
});
