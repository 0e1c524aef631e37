import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../props/config.ts';
import { serialise } from './codec.ts';
import { fromHex, toHex } from './commit.ts';
import { DecodeError, EncodeError } from './errors.ts';
import {
  ENCODING_SCHEMES,
  encodingScheme,
  multidecode,
  multidecodeTyped,
  multiencode,
  multiencodeTyped,
  tryMultidecode,
  tryMultidecodeTyped,
  VIRTUAL_MACHINES,
  VM_NATIVE,
  VM_TRANSPARENT_PROOF,
  VM_WASM,
  virtualMachine,
} from './multiformat.ts';
import { s } from './schema.ts';
import { deepEqual, schemaValueArb, typedValueArb } from './test-arbitraries.ts';
import { T, V, valueEquals } from './types.ts';

describe('multiformat tables', () => {
  it('publish the reserved codes (append-only: changing these breaks every stored byte)', () => {
    expect(ENCODING_SCHEMES.map((e) => [e.code, e.name])).toEqual([[0x01, 'fractal-canonical-v1']]);
    expect(VIRTUAL_MACHINES.map((e) => [e.code, e.name])).toEqual([
      [0x01, 'native'],
      [0x02, 'wasm'],
      [0x03, 'transparent-proof'],
    ]);
    expect([VM_NATIVE, VM_WASM, VM_TRANSPARENT_PROOF]).toEqual([1n, 2n, 3n]);
  });

  it('have unique codes and names, none of them 0, and cannot be edited', () => {
    for (const table of [ENCODING_SCHEMES, VIRTUAL_MACHINES]) {
      expect(new Set(table.map((e) => e.code)).size).toBe(table.length);
      expect(new Set(table.map((e) => e.name)).size).toBe(table.length);
      expect(table.every((e) => Number.isSafeInteger(e.code) && e.code > 0)).toBe(true);
      expect(Object.isFrozen(table) && table.every((e) => Object.isFrozen(e))).toBe(true);
    }
  });

  it('look entries up by code or name', () => {
    expect(encodingScheme(1)?.name).toBe('fractal-canonical-v1');
    expect(encodingScheme('fractal-canonical-v1')?.code).toBe(1);
    expect(encodingScheme(99)).toBeUndefined();
    expect(virtualMachine(2n)?.name).toBe('wasm');
    expect(virtualMachine('transparent-proof')?.code).toBe(3);
    expect(virtualMachine(0)).toBeUndefined();
  });
});

describe('multiencode / multidecode', () => {
  it('prefixes the scheme code as a varint', () => {
    expect(toHex(multiencode(T.bool, V.bool(true)))).toBe('0101');
    expect(toHex(multiencode(T.binary, V.binary(fromHex('cafe'))))).toBe('0102cafe');
    expect(toHex(multiencode(T.bool, V.bool(true), { scheme: 'fractal-canonical-v1' }))).toBe('0101');
    expect(valueEquals(multidecode(fromHex('0101'), T.bool), V.bool(true))).toBe(true);
    expect(toHex(multiencodeTyped(s.u16(), 0x1234))).toBe('013412');
    expect(multidecodeTyped(s.u16(), fromHex('013412'))).toBe(0x1234);
  });

  it('refuses an unknown scheme with a typed error', () => {
    for (const h of ['0201', '00', 'ff01', '8001']) {
      const r = tryMultidecode(fromHex(h), T.bool);
      expect(r.ok).toBe(false);
      expect(!r.ok && r.error.code).toBe('unknown-code');
      const t = tryMultidecodeTyped(s.bool(), fromHex(h));
      expect(!t.ok && t.error.code).toBe('unknown-code');
    }
    expect(() => multiencode(T.bool, V.bool(true), { scheme: 7 })).toThrow(EncodeError);
    expect(() => multiencode(T.bool, V.bool(true), { scheme: 'cbor' })).toThrow(EncodeError);
  });

  it('rejects a non-minimal or missing code, and bad payloads', () => {
    expect(() => multidecode(fromHex('810001'), T.bool)).toThrow(DecodeError);
    expect(!tryMultidecode(fromHex('810001'), T.bool).ok).toBe(true);
    const codes = ['', '8100', '01', '0102', '010100'].map((h) => {
      const r = tryMultidecode(fromHex(h), T.bool);
      return r.ok ? 'ok' : r.error.code;
    });
    expect(codes).toEqual(['truncated', 'non-canonical', 'truncated', 'out-of-range', 'trailing-bytes']);
    expect(!tryMultidecode(fromHex('0101'), T.bool, { maxBytes: 1 }).ok).toBe(true);
  });

  it('round-trips generated values, typed and untyped paths agreeing', () => {
    fc.assert(
      fc.property(typedValueArb(3), ({ type, value }) => {
        const bytes = multiencode(type, value);
        expect(toHex(bytes)).toBe(`01${toHex(serialise(type, value))}`);
        expect(valueEquals(multidecode(bytes, type), value)).toBe(true);
      }),
      propParams('wire.multiformat.roundtrip', 200),
    );
    fc.assert(
      fc.property(schemaValueArb(2), ({ schema, value }) => {
        const bytes = multiencodeTyped(schema, value);
        expect(toHex(bytes)).toBe(toHex(multiencode(schema.type, schema.toValue(value))));
        expect(deepEqual(multidecodeTyped(schema, bytes), value)).toBe(true);
      }),
      propParams('wire.multiformat.typed', 200),
    );
  });
});
