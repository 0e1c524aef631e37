import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../../props/config.ts';
import { VM_WASM } from '../../wire/multiformat.ts';
import { type DataValue, V } from '../../wire/types.ts';
import { multievaluate } from '../multievaluate.ts';
import type { EvalResult } from '../types.ts';
import { instrument, MAX_CALL_DEPTH, MAX_LOCALS } from './meter.ts';
import { assemble, evaluateModule, F32, F64, HOST_IMPORTS, I32, I64, i32c, OP } from './test-asm.ts';
import { decodeWasm, evaluateUnmetered } from './vm.ts';

const run = (code: Uint8Array, args: DataValue[] = [], gas = 1_000_000): EvalResult =>
  multievaluate(V.fn(VM_WASM, code), args, gas);

function badCode(code: Uint8Array): string {
  const d = decodeWasm(code);
  expect(d.ok).toBe(false);
  if (d.ok) return '';
  expect(d.error.code).toBe('bad-code');
  return d.error.message;
}

describe('wasm VM: metering', () => {
  it('charges the instruction count of each straight-line run before it runs', () => {
    // i32.const 1, end: one run of 2 instructions
    expect(run(evaluateModule(i32c(1)))).toEqual({ ok: true, value: V.bool(true), gasUsed: 2 });
    // block (i32.const 0) end: runs [block]=1, [i32.const 0, end]=2, [end of function]=1
    const m = evaluateModule([OP.block, OP.void, OP.end, ...i32c(0)]);
    expect(run(m)).toEqual({ ok: true, value: V.bool(false), gasUsed: 4 });
  });

  it('stops a runaway loop at the limit with out-of-gas and gasUsed = limit', () => {
    const forever = evaluateModule([OP.loop, OP.void, OP.br, 0, OP.end, ...i32c(1)]);
    for (const limit of [0, 1, 7, 1000, 100_000]) {
      const r = run(forever, [], limit);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('out-of-gas');
      expect(r.gasUsed).toBe(limit);
    }
  });

  it('stops runaway recursion: out-of-gas, or a deterministic trap at the call-depth limit', () => {
    const rec = assemble({
      funcs: [{ params: [], results: [I32], code: [OP.call, 0], export: 'evaluate' }],
    });
    expect(run(rec, [], 100)).toMatchObject({ ok: false, error: { code: 'out-of-gas' }, gasUsed: 100 });
    const deep = run(rec, [], 1_000_000);
    expect(deep).toMatchObject({ ok: false, error: { code: 'trap' } });
    // each level charges [call, end] = 2 before calling; the 257th call traps in $enter
    expect(deep.gasUsed).toBe(2 * (MAX_CALL_DEPTH + 1));
    expect(run(rec, [], 1_000_000)).toEqual(deep);
  });

  it('rejects functions with too many locals', () => {
    expect(badCode(evaluateModule(i32c(1), new Array(MAX_LOCALS + 1).fill(I32)))).toMatch(/locals/);
  });

  it('a trap reports trap and the gas spent so far', () => {
    const r = run(evaluateModule([OP.unreachable]));
    expect(r).toMatchObject({ ok: false, error: { code: 'trap' }, gasUsed: 1 });
    const oob = run(evaluateModule([...i32c(1 << 20), 0x28, 0x02, 0x00]), []);
    expect(oob).toMatchObject({ ok: false, error: { code: 'trap' } });
  });

  it('runs an exported start function under the limit before evaluate', () => {
    const m = assemble({
      funcs: [
        { params: [], results: [I32], code: i32c(1), export: 'evaluate' },
        { params: [], results: [], code: [OP.loop, OP.void, OP.br, 0, OP.end] },
      ],
      start: 1,
    });
    expect(run(m, [], 500)).toMatchObject({ ok: false, error: { code: 'out-of-gas' }, gasUsed: 500 });
    const ok = assemble({
      funcs: [
        { params: [], results: [I32], code: i32c(1), export: 'evaluate' },
        { params: [], results: [], code: [OP.nop] },
      ],
      start: 1,
    });
    expect(run(ok)).toEqual({ ok: true, value: V.bool(true), gasUsed: 4 });
  });
});

describe('wasm VM: load-time checks', () => {
  it('rejects float instructions and types', () => {
    expect(badCode(evaluateModule([0x43, 0, 0, 0, 0, OP.drop, ...i32c(1)]))).toMatch(/floating-point/);
    expect(badCode(evaluateModule(i32c(1), [F64]))).toMatch(/floating-point/);
    const sig = assemble({
      funcs: [
        { params: [], results: [I32], code: i32c(1), export: 'evaluate' },
        { params: [F32], results: [], code: [] },
      ],
    });
    expect(badCode(sig)).toMatch(/floating-point/);
    // f32.convert_i32_s on an integer
    expect(badCode(evaluateModule([...i32c(1), 0xb2, 0xbc]))).toMatch(/floating-point/);
  });

  it('rejects atomics, SIMD and the 0xFC prefix', () => {
    expect(badCode(evaluateModule([...i32c(0), 0xfe, 0x10, 0x02, 0x00]))).toMatch(/atomics/);
    expect(badCode(evaluateModule([0xfd, 0x0c, ...new Array(16).fill(0), OP.drop, ...i32c(1)]))).toMatch(
      /SIMD/,
    );
    expect(
      badCode(evaluateModule([...i32c(0), ...i32c(0), ...i32c(0), 0xfc, 0x0b, 0x00, ...i32c(1)])),
    ).toMatch(/0xFC/);
  });

  it('rejects imports outside the host interface and host imports with the wrong signature', () => {
    const env = evaluateModule(i32c(1), [], [{ module: 'env', name: 'abort', params: [], results: [] }]);
    expect(badCode(env)).toMatch(/outside the host interface/);
    const unknown = evaluateModule(
      i32c(1),
      [],
      [{ module: 'fractal', name: 'clock', params: [], results: [I64] }],
    );
    expect(badCode(unknown)).toMatch(/unknown host function/);
    const wrong = evaluateModule(
      i32c(1),
      [],
      [{ module: 'fractal', name: 'input_len', params: [], results: [I64] }],
    );
    expect(badCode(wrong)).toMatch(/wrong signature/);
  });

  it('rejects modules without evaluate () -> i32 or memory, and garbage', () => {
    expect(
      badCode(
        assemble({
          funcs: [{ params: [], results: [I32], code: i32c(1), export: 'evaluate' }],
          memory: null,
        }),
      ),
    ).toMatch(/memory/);
    expect(
      badCode(assemble({ funcs: [{ params: [], results: [I64], code: [0x42, 0], export: 'evaluate' }] })),
    ).toMatch(/evaluate/);
    expect(badCode(new Uint8Array([1, 2, 3]))).toMatch(/WebAssembly/);
    const m = evaluateModule(i32c(1));
    expect(badCode(m.subarray(0, m.length - 3))).toMatch(/malformed|past the end|end/);
  });

  it('caps the memory maximum', () => {
    const grow = evaluateModule([...i32c(1000), 0x40, 0x00, ...i32c(-1), OP.i32Eq]);
    // memory.grow past the 256-page cap fails with -1
    expect(run(grow)).toMatchObject({ ok: true, value: V.bool(true) });
  });

  it('an unmetered instrumentation is a valid module without the gas export', () => {
    const m = evaluateModule(i32c(1));
    expect(instrument(m, false).bytes.length).toBeLessThan(instrument(m, true).bytes.length);
  });
});

// ---- small generated programs: metering changes neither the result nor, for a fixed program, the gas

type Expr =
  | { k: 'const'; v: number }
  | { k: 'bin'; op: keyof typeof BIN; a: Expr; b: Expr }
  | { k: 'if'; c: Expr; a: Expr; b: Expr }
  | { k: 'brif'; c: Expr; a: Expr; b: Expr }
  | { k: 'loop'; n: number; body: Expr };

const BIN = {
  add: [OP.i32Add, (a: number, b: number) => (a + b) | 0],
  sub: [OP.i32Sub, (a: number, b: number) => (a - b) | 0],
  mul: [OP.i32Mul, (a: number, b: number) => Math.imul(a, b)],
  and: [OP.i32And, (a: number, b: number) => a & b],
  or: [OP.i32Or, (a: number, b: number) => a | b],
  xor: [OP.i32Xor, (a: number, b: number) => a ^ b],
  shl: [OP.i32Shl, (a: number, b: number) => a << (b & 31)],
  shrS: [OP.i32ShrS, (a: number, b: number) => a >> (b & 31)],
  shrU: [OP.i32ShrU, (a: number, b: number) => (a >>> (b & 31)) | 0],
} as const;

const exprArb: fc.Arbitrary<Expr> = fc.letrec<{ e: Expr }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ k: fc.constant('const' as const), v: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) }),
    fc.record({
      k: fc.constant('bin' as const),
      op: fc.constantFrom(...(Object.keys(BIN) as (keyof typeof BIN)[])),
      a: tie('e'),
      b: tie('e'),
    }),
    fc.record({ k: fc.constant('if' as const), c: tie('e'), a: tie('e'), b: tie('e') }),
    fc.record({ k: fc.constant('brif' as const), c: tie('e'), a: tie('e'), b: tie('e') }),
    fc.record({ k: fc.constant('loop' as const), n: fc.integer({ min: 1, max: 5 }), body: tie('e') }),
  ),
})).e;

function evalExpr(e: Expr): number {
  switch (e.k) {
    case 'const':
      return e.v;
    case 'bin':
      return BIN[e.op][1](evalExpr(e.a), evalExpr(e.b));
    case 'if':
    case 'brif':
      return evalExpr(e.c) !== 0 ? evalExpr(e.a) : evalExpr(e.b);
    case 'loop':
      return Math.imul(e.n, evalExpr(e.body));
  }
}

function compile(e: Expr, locals: { n: number }): number[] {
  switch (e.k) {
    case 'const':
      return i32c(e.v);
    case 'bin':
      return [...compile(e.a, locals), ...compile(e.b, locals), BIN[e.op][0]];
    case 'if':
      return [
        ...compile(e.c, locals),
        OP.if,
        I32,
        ...compile(e.a, locals),
        OP.else,
        ...compile(e.b, locals),
        OP.end,
      ];
    case 'brif':
      // block (result i32) a; c; br_if 0; drop; b end
      return [
        OP.block,
        I32,
        ...compile(e.a, locals),
        ...compile(e.c, locals),
        OP.brIf,
        0,
        OP.drop,
        ...compile(e.b, locals),
        OP.end,
      ];
    case 'loop': {
      const acc = locals.n++;
      const i = locals.n++;
      return [
        ...i32c(0),
        OP.localSet,
        acc,
        ...i32c(e.n),
        OP.localSet,
        i,
        OP.loop,
        OP.void,
        OP.localGet,
        acc,
        ...compile(e.body, locals),
        OP.i32Add,
        OP.localSet,
        acc,
        OP.localGet,
        i,
        ...i32c(1),
        OP.i32Sub,
        OP.localTee,
        i,
        OP.brIf,
        0,
        OP.end,
        OP.localGet,
        acc,
      ];
    }
  }
}

function program(e: Expr): Uint8Array {
  const locals = { n: 0 };
  const code = compile(e, locals);
  return evaluateModule([...code, ...i32c(evalExpr(e)), OP.i32Eq], new Array(locals.n).fill(I32));
}

describe('wasm VM: properties', () => {
  it('metered and unmetered runs agree with the reference semantics', () => {
    fc.assert(
      fc.property(exprArb, (e) => {
        const m = program(e);
        const metered = run(m, [], 10_000_000);
        const plain = evaluateUnmetered(m, []);
        expect(metered.ok && metered.value).toEqual(V.bool(true));
        expect(plain.ok && plain.value).toEqual(V.bool(true));
      }),
      propParams('vm.wasm metering-transparent', 200),
    );
  });

  it('gas is deterministic and the limit is exact', () => {
    fc.assert(
      fc.property(
        exprArb,
        fc.array(fc.integer({ min: 0, max: 1000 }).map(V.ring), { maxLength: 3 }),
        (e, args) => {
          const m = program(e);
          const a = run(m, args);
          const b = run(m.slice(), args); // a different array with the same bytes (cache by hash)
          expect(a.ok).toBe(true);
          expect(b).toEqual(a);
          const exact = run(m, args, a.gasUsed);
          expect(exact).toEqual(a);
          if (a.gasUsed > 0) {
            expect(run(m, args, a.gasUsed - 1)).toMatchObject({
              ok: false,
              error: { code: 'out-of-gas' },
              gasUsed: a.gasUsed - 1,
            });
          }
        },
      ),
      propParams('vm.wasm gas-deterministic', 100),
    );
  });
});

describe('wasm VM: host interface', () => {
  it('input_len/input_read see the ARGS encoding; result_write sets the result', () => {
    // copies the input to memory and returns it as the result: the result is then the input's ARGS blob?
    // No: result_write takes a VALUE encoding, so echo args [x] back as x by skipping the blob header.
    const echo = evaluateModule(
      [
        OP.call,
        0,
        OP.localSet,
        0,
        ...i32c(0),
        OP.localGet,
        0,
        OP.call,
        1,
        OP.drop,
        // ARGS = varint(blob) varint(count=1) VALUE: with a 1-byte blob length, VALUE starts at 2
        ...i32c(2),
        OP.localGet,
        0,
        ...i32c(2),
        OP.i32Sub,
        OP.call,
        2,
        ...i32c(7),
      ],
      [I32],
      HOST_IMPORTS,
    );
    const x = V.tuple([V.ring(5), V.binary(new Uint8Array([1, 2, 3]))]);
    const r = run(echo, [x]);
    expect(r).toMatchObject({ ok: true, value: x });
    const bad = run(evaluateModule([...i32c(0), ...i32c(3), OP.call, 2, ...i32c(1)], [], HOST_IMPORTS));
    expect(bad).toMatchObject({ ok: false, error: { code: 'trap' } });
    const oob = run(evaluateModule([...i32c(65536), ...i32c(1), OP.call, 1], [], HOST_IMPORTS), [
      V.bool(true),
    ]);
    expect(oob).toMatchObject({ ok: false, error: { code: 'trap' } });
  });
});
