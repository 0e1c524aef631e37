import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../props/config.ts';
import { sha256 } from '../wire/commit.ts';
import { VM_NATIVE, VM_WASM } from '../wire/multiformat.ts';
import { type DataValue, V, valueEquals } from '../wire/types.ts';
import { decodeArgs, decodeValue, encodeArgs, encodedArgsLength, encodeValue } from './abi.ts';
import { DEFAULT_MAX_DEPTH, multievaluate } from './multievaluate.ts';
import {
  ALWAYS_ACCEPT,
  builtinNatives,
  CALL,
  type NativeDefinition,
  nativeCode,
  nativeFunction,
  nativeId,
  nativeVm,
} from './native.ts';
import { transparentFunction, transparentProofVm } from './provable.ts';
import { createVmTable } from './table.ts';
import type { VirtualMachine } from './types.ts';
import { evaluateModule, HOST_IMPORTS, I32, i32c, OP } from './wasm/test-asm.ts';
import { wasmVm } from './wasm/vm.ts';

const accept = nativeFunction('always-accept', '1');
const reject = nativeFunction('always-reject', '1');
const call = nativeFunction('call', '1');
const argsLen = (args: DataValue[]) => encodeArgs(args).length;

/** wasm: forwards its input [f, ...args] to fractal.multievaluate and returns the nested result (or false on an error code). */
const forwarder = evaluateModule(
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
    ...i32c(0),
    OP.localGet,
    0,
    OP.call,
    3,
    OP.localTee,
    1,
    ...i32c(0),
    OP.i32LtS,
    OP.if,
    OP.void,
    ...i32c(0),
    OP.return,
    OP.end,
    ...i32c(0),
    OP.localGet,
    1,
    OP.call,
    4,
    OP.drop,
    ...i32c(0),
    OP.localGet,
    1,
    OP.call,
    2,
    ...i32c(1),
  ],
  [I32, I32],
  HOST_IMPORTS,
);
const fwd = V.fn(VM_WASM, forwarder);
const yes = V.fn(VM_WASM, evaluateModule(i32c(1))); // gas 2
const loopForever = V.fn(VM_WASM, evaluateModule([OP.loop, OP.void, OP.br, 0, OP.end, ...i32c(1)]));

describe('native VM', () => {
  it('names natives by sha256(name@version) and charges base + per byte before running', () => {
    expect(nativeId('always-accept', '1')).toEqual(sha256(new TextEncoder().encode('always-accept@1')));
    const args = [V.ring(7), V.binary(new Uint8Array(10))];
    const cost = ALWAYS_ACCEPT.baseGas + ALWAYS_ACCEPT.perByteGas * argsLen(args);
    expect(multievaluate(accept, args, 1000)).toEqual({ ok: true, value: V.bool(true), gasUsed: cost });
    expect(multievaluate(reject, args, 1000)).toEqual({ ok: true, value: V.bool(false), gasUsed: cost });
    expect(multievaluate(accept, args, cost - 1)).toMatchObject({
      ok: false,
      error: { code: 'out-of-gas' },
      gasUsed: cost - 1,
    });
  });

  it('rejects unknown ids, short code and unexpected config as bad-code; encode inverts decode', () => {
    const vm = nativeVm();
    expect(vm.decode(new Uint8Array(5))).toMatchObject({ ok: false, error: { code: 'bad-code' } });
    expect(vm.decode(nativeCode('nope', '1'))).toMatchObject({ ok: false, error: { code: 'bad-code' } });
    expect(vm.decode(nativeCode('always-accept', '1', new Uint8Array([1])))).toMatchObject({ ok: false });
    const d = vm.decode(nativeCode('call', '1'));
    expect(d.ok && vm.encode(d.fn)).toEqual(nativeCode('call', '1'));
    expect(() => builtinNatives().register(CALL)).toThrow(/already/);
  });

  it('a registered native with config runs', () => {
    const lenIs: NativeDefinition = {
      name: 'arg-count-is',
      version: '1',
      baseGas: 5,
      perByteGas: 0,
      takesConfig: true,
      run: (args, config) => ({ ok: true, value: V.bool(args.length === (config[0] ?? 0)), gasUsed: 0 }),
    };
    const table = createVmTable([nativeVm(builtinNatives().register(lenIs)) as VirtualMachine<never>]);
    const f = nativeFunction('arg-count-is', '1', new Uint8Array([2]));
    expect(multievaluate(f, [V.unit, V.unit], 100, { table })).toEqual({
      ok: true,
      value: V.bool(true),
      gasUsed: 5,
    });
    expect(multievaluate(f, [V.unit], 100, { table })).toEqual({
      ok: true,
      value: V.bool(false),
      gasUsed: 5,
    });
  });
});

describe('multievaluate', () => {
  it('fails without running on non-functions, unknown VMs and bad code', () => {
    expect(multievaluate(V.bool(true), [], 100)).toMatchObject({
      ok: false,
      error: { code: 'not-a-function' },
      gasUsed: 0,
    });
    expect(multievaluate(V.fn(99n, new Uint8Array()), [], 100)).toMatchObject({
      ok: false,
      error: { code: 'unknown-vm' },
      gasUsed: 0,
    });
    expect(multievaluate(V.fn(VM_WASM, new Uint8Array([0])), [], 100)).toMatchObject({
      error: { code: 'bad-code' },
    });
    expect(multievaluate(accept, [], -1)).toMatchObject({ error: { code: 'bad-args' } });
  });

  it('native -> native recursion sums gas', () => {
    const inner = [V.ring(1)];
    const outerArgs = [accept, ...inner];
    const expected = CALL.baseGas + argsLen(outerArgs) + ALWAYS_ACCEPT.baseGas + argsLen(inner);
    expect(multievaluate(call, outerArgs, 10_000)).toEqual({
      ok: true,
      value: V.bool(true),
      gasUsed: expected,
    });
  });

  it('native -> wasm recursion sums gas', () => {
    const direct = multievaluate(yes, [], 100);
    expect(direct).toEqual({ ok: true, value: V.bool(true), gasUsed: 2 });
    const r = multievaluate(call, [yes], 10_000);
    expect(r).toEqual({ ok: true, value: V.bool(true), gasUsed: CALL.baseGas + argsLen([yes]) + 2 });
  });

  it('wasm -> native recursion through fractal.multievaluate sums gas', () => {
    const own = multievaluate(fwd, [yes], 100_000); // wasm -> wasm
    expect(own.ok && own.value).toEqual(V.bool(true));
    const viaNative = multievaluate(fwd, [reject, V.ring(3)], 100_000);
    expect(viaNative.ok && viaNative.value).toEqual(V.bool(false));
    const nativeGas = 10 + argsLen([V.ring(3)]);
    const viaAccept = multievaluate(fwd, [accept, V.ring(3)], 100_000);
    expect(viaAccept.ok && viaAccept.value).toEqual(V.bool(true));
    // the forwarder's own gas does not depend on what it calls except through the nested gas and result size
    expect(viaAccept.gasUsed).toBe(viaNative.gasUsed);
    expect(viaAccept.gasUsed).toBeGreaterThan(nativeGas);
    // wasm -> native -> wasm
    const deep = multievaluate(fwd, [call, yes], 100_000);
    expect(deep.ok && deep.value).toEqual(V.bool(true));
    expect(deep.gasUsed).toBeGreaterThan(own.gasUsed + CALL.baseGas + argsLen([yes]));
    // exactly: the forwarder's own gas plus the nested call's, whatever the callee
    const fwdOwn = viaAccept.gasUsed - nativeGas;
    const viaReject = multievaluate(fwd, [reject, V.ring(3)], 100_000);
    expect(viaReject.gasUsed - nativeGas).toBe(fwdOwn);
  });

  it("a nested call cannot exceed the caller's remaining gas", () => {
    const r = multievaluate(call, [loopForever], 5_000);
    expect(r).toMatchObject({ ok: false, error: { code: 'out-of-gas' }, gasUsed: 5_000 });
    const w = multievaluate(fwd, [loopForever], 5_000);
    expect(w).toMatchObject({ ok: false, error: { code: 'out-of-gas' }, gasUsed: 5_000 });
    const n = multievaluate(fwd, [call, loopForever], 5_000);
    expect(n).toMatchObject({ ok: false, error: { code: 'out-of-gas' }, gasUsed: 5_000 });
  });

  it('stops nesting past the depth limit', () => {
    const chain = (k: number): DataValue[] => [...new Array<DataValue>(k - 1).fill(call), accept];
    // k calls put always-accept at depth k
    expect(multievaluate(call, chain(DEFAULT_MAX_DEPTH), 1_000_000)).toMatchObject({
      ok: true,
      value: V.bool(true),
    });
    const tooDeep = multievaluate(call, chain(DEFAULT_MAX_DEPTH + 1), 1_000_000);
    expect(tooDeep).toMatchObject({ ok: false, error: { code: 'too-deep' } });
    expect(multievaluate(call, chain(3), 1_000_000, { maxDepth: 2 })).toMatchObject({
      error: { code: 'too-deep' },
    });
    // a wasm caller sees the error as a code and rejects
    const viaWasm = multievaluate(fwd, [call, ...chain(DEFAULT_MAX_DEPTH)], 1_000_000);
    expect(viaWasm).toMatchObject({ ok: true, value: V.bool(false) });
  });

  it('gas is deterministic over random call trees of natives and wasm', () => {
    const leaf = fc.constantFrom(accept, reject, yes);
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(call, fwd), { maxLength: 6 }),
        leaf,
        fc.array(fc.integer({ min: 0, max: 255 }).map(V.ring), { maxLength: 3 }),
        (prefix, end, data) => {
          const [head, ...rest] = [...prefix, end];
          const a = multievaluate(head!, [...rest, ...data], 1_000_000);
          const b = multievaluate(head!, [...rest, ...data], 1_000_000);
          expect(b).toEqual(a);
          expect(a.ok).toBe(true);
          expect(run(a.gasUsed)).toEqual(a);
          function run(limit: number) {
            return multievaluate(head!, [...rest, ...data], limit);
          }
          if (a.gasUsed > 0)
            expect(multievaluate(head!, [...rest, ...data], a.gasUsed - 1)).toMatchObject({
              ok: false,
              gasUsed: a.gasUsed - 1,
            });
        },
      ),
      propParams('vm.multievaluate gas-deterministic', 100),
    );
  });

  it('the ARGS length of values measured before (or decoded) is the length of their encoding', () => {
    const value: fc.Arbitrary<DataValue> = fc.letrec<{ v: DataValue }>((tie) => ({
      v: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.boolean().map(V.bool),
        fc.bigInt({ min: 0n, max: 2n ** 70n }).map(V.ring),
        fc.uint8Array({ maxLength: 300 }).map(V.binary),
        fc.uint8Array({ maxLength: 40 }).map((code) => V.fn(1n, code)),
        fc.array(tie('v'), { maxLength: 140 }).map(V.tuple),
        fc.tuple(fc.nat({ max: 300 }), tie('v')).map(([i, v]) => V.option(i, v)),
      ),
    })).v;
    fc.assert(
      fc.property(fc.array(value, { maxLength: 5 }), (args) => {
        const expected = encodeArgs(args).length;
        expect(encodedArgsLength(args)).toBe(expected);
        // measured again (from the memo), and for values that came out of a decode
        expect(encodedArgsLength(args)).toBe(expected);
        expect(encodedArgsLength(args.map((a) => decodeValue(encodeValue(a))))).toBe(expected);
      }),
      propParams('vm.abi encodedArgsLength', 200),
    );
  });

  it('ARGS round-trips', () => {
    const args = [V.ring(1), V.tuple([V.bool(false), V.option(2, V.field(9))]), accept];
    expect(decodeArgs(encodeArgs(args)).every((x, i) => valueEquals(x, args[i]!))).toBe(true);
    expect(VM_NATIVE).toBe(1n);
  });
});

describe('transparent provable VM', () => {
  // preimage@1: accepts [public, private] iff sha256(private) = public
  const preimage: NativeDefinition = {
    name: 'preimage',
    version: '1',
    baseGas: 50,
    perByteGas: 1,
    run([pub, priv]) {
      const bin = (v: DataValue | undefined) =>
        v?.kind === 'basic' && v.value.kind === 'binary' ? v.value.value : undefined;
      const p = bin(pub);
      const s = bin(priv);
      return {
        ok: true,
        value: V.bool(p !== undefined && s !== undefined && valueEquals(V.binary(sha256(s)), V.binary(p))),
        gasUsed: 0,
      };
    },
  };
  const table = new Map<bigint, VirtualMachine>();
  const tp = transparentProofVm({ table });
  for (const vm of [nativeVm(builtinNatives().register(preimage)), wasmVm, tp])
    table.set(vm.id, vm as VirtualMachine);
  const secret = new TextEncoder().encode('open sesame');
  const pub = V.binary(sha256(secret));
  const f = transparentFunction(nativeFunction('preimage', '1'));
  const decoded = tp.decode(
    f.kind === 'basic' && f.value.kind === 'function' ? f.value.code : new Uint8Array(),
  );
  if (!decoded.ok) throw new Error('decode');

  it('proves and verifies a true statement; evaluation goes through multievaluate', () => {
    const p = tp.prove(decoded.fn, pub, V.binary(secret), 10_000);
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    expect(tp.verify(decoded.fn, pub, p.proof, 10_000)).toBe(true);
    expect(multievaluate(f, [pub, V.binary(secret)], 10_000, { table })).toMatchObject({
      ok: true,
      value: V.bool(true),
    });
  });

  it('refuses to prove a false statement and rejects tampered proofs', () => {
    expect(tp.prove(decoded.fn, pub, V.binary(new Uint8Array([1])), 10_000)).toMatchObject({ ok: false });
    const p = tp.prove(decoded.fn, pub, V.binary(secret), 10_000);
    if (!p.ok) throw new Error('prove');
    const other = V.binary(sha256(new Uint8Array([9])));
    expect(tp.verify(decoded.fn, other, p.proof, 10_000)).toBe(false); // another public input
    for (let i = 0; i < p.proof.length; i++) {
      const t = p.proof.slice();
      t[i]! ^= 0x01;
      expect(tp.verify(decoded.fn, pub, t, 10_000)).toBe(false);
    }
    expect(tp.verify(decoded.fn, pub, p.proof.subarray(0, 5), 10_000)).toBe(false);
    expect(tp.verify(decoded.fn, pub, p.proof, 10)).toBe(false); // not enough gas to re-evaluate
  });
});
