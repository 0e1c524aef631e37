import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../../../props/config.ts';
import { compilePredicate, outputPath } from '../../../scripts/build-wasm.ts';
import { multievaluate } from '../../../vm/multievaluate.ts';
import { decodeWasm, evaluateUnmetered } from '../../../vm/wasm/vm.ts';
import { VM_WASM } from '../../../wire/multiformat.ts';
import { type DataValue, V } from '../../../wire/types.ts';

const SOURCE = 'apps/token/vp/amount-cap.as';
const code = new Uint8Array(readFileSync(outputPath(SOURCE)));
const fn = V.fn(VM_WASM, code);
const CAP = 1_000_000n;

function expected(args: DataValue[]): boolean {
  return (
    args.length > 0 &&
    args.every(
      (a) => a.kind === 'basic' && a.value.kind === 'ring' && a.value.value > 0n && a.value.value <= CAP,
    )
  );
}

describe('apps/token/vp amount-cap (AssemblyScript)', () => {
  it('the committed build is what the build script produces, and the metered loader accepts it', async () => {
    expect(join(outputPath(SOURCE))).toMatch(/apps\/token\/vp\/build\/amount-cap\.wasm$/);
    const rebuilt = await compilePredicate(SOURCE);
    expect(Buffer.from(rebuilt).equals(Buffer.from(code))).toBe(true);
    expect(decodeWasm(code).ok).toBe(true);
  });

  it('accepts and rejects the right inputs', () => {
    const cases: [DataValue[], boolean][] = [
      [[V.ring(5)], true],
      [[V.ring(1), V.ring(1_000_000)], true],
      [[], false],
      [[V.ring(0)], false],
      [[V.ring(1_000_001)], false],
      [[V.ring(2n ** 64n)], false],
      [[V.bool(true)], false],
      [[V.ring(5), V.binary(new Uint8Array([1]))], false],
      [[V.field(5)], false],
    ];
    for (const [args, want] of cases) {
      const r = multievaluate(fn, args, 100_000);
      expect(
        r.ok && r.value,
        JSON.stringify(args, (_k, v) => (typeof v === 'bigint' ? `${v}` : v)),
      ).toEqual(V.bool(want));
      expect(r.gasUsed).toBeGreaterThan(0);
    }
  });

  it('agrees with its specification, metered and unmetered, with deterministic gas', () => {
    const arg = fc.oneof(
      fc.bigInt({ min: 0n, max: 2n ** 24n }).map(V.ring),
      fc.bigInt({ min: 0n, max: 2n ** 70n }).map(V.ring),
      fc.boolean().map(V.bool),
      fc.uint8Array({ maxLength: 4 }).map(V.binary),
    );
    fc.assert(
      fc.property(fc.array(arg, { maxLength: 6 }), (args) => {
        const r = multievaluate(fn, args, 1_000_000);
        expect(r.ok && r.value).toEqual(V.bool(expected(args)));
        const u = evaluateUnmetered(code, args);
        expect(u.ok && u.value).toEqual(V.bool(expected(args)));
        expect(multievaluate(fn, args, 1_000_000)).toEqual(r);
        expect(multievaluate(fn, args, r.gasUsed - 1)).toMatchObject({
          ok: false,
          error: { code: 'out-of-gas' },
        });
      }),
      propParams('apps.token amount-cap', 200),
    );
  });
});
