/**
 * A tiny WebAssembly assembler for tests: each function is given as its signature, its extra locals
 * and its instruction bytes (without the final `end`, which is appended).
 */
import { nameBytes, section, uleb, vec } from './leb.ts';

export const I32 = 0x7f;
export const I64 = 0x7e;
export const F32 = 0x7d;
export const F64 = 0x7c;

/** Opcodes used by the tests. */
export const OP = {
  unreachable: 0x00,
  nop: 0x01,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  return: 0x0f,
  call: 0x10,
  drop: 0x1a,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Const: 0x41,
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32LtS: 0x48,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32And: 0x71,
  i32Or: 0x72,
  i32Xor: 0x73,
  i32Shl: 0x74,
  i32ShrS: 0x75,
  i32ShrU: 0x76,
  void: 0x40,
} as const;

export interface AsmImport {
  module: string;
  name: string;
  params: number[];
  results: number[];
}

export interface AsmFunc {
  params: number[];
  results: number[];
  /** extra locals, one value type each */
  locals?: number[];
  code: number[];
  /** export under this name */
  export?: string;
}

export interface AsmModule {
  imports?: AsmImport[];
  funcs: AsmFunc[];
  /** memory pages (exported as "memory"); default 1; null for no memory */
  memory?: number | null;
  /** index of a start function */
  start?: number;
}

/** The standard host imports, in this order: input_len 0, input_read 1, result_write 2, multievaluate 3, result_read 4. */
export const HOST_IMPORTS: AsmImport[] = [
  { module: 'fractal', name: 'input_len', params: [], results: [I32] },
  { module: 'fractal', name: 'input_read', params: [I32, I32], results: [I32] },
  { module: 'fractal', name: 'result_write', params: [I32, I32], results: [] },
  { module: 'fractal', name: 'multievaluate', params: [I32, I32], results: [I32] },
  { module: 'fractal', name: 'result_read', params: [I32, I32], results: [I32] },
];

export function assemble(m: AsmModule): Uint8Array {
  const imports = m.imports ?? [];
  const types: number[][] = [];
  const sig = (p: number[], r: number[]) => {
    types.push([0x60, ...vec(p.map((x) => [x])), ...vec(r.map((x) => [x]))]);
    return types.length - 1;
  };
  const importEntries = imports.map((im) => [
    ...nameBytes(im.module),
    ...nameBytes(im.name),
    0x00,
    ...uleb(sig(im.params, im.results)),
  ]);
  const funcTypes = m.funcs.map((f) => uleb(sig(f.params, f.results)));
  const exports: number[][] = [];
  m.funcs.forEach((f, i) => {
    if (f.export !== undefined) exports.push([...nameBytes(f.export), 0x00, ...uleb(imports.length + i)]);
  });
  const memory = m.memory === undefined ? 1 : m.memory;
  if (memory !== null) exports.push([...nameBytes('memory'), 0x02, 0x00]);
  const bodies = m.funcs.map((f) => {
    const locals = (f.locals ?? []).map((t) => [0x01, t]);
    const b = [...vec(locals), ...f.code, OP.end];
    return [...uleb(b.length), ...b];
  });
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  out.push(...section(1, vec(types)));
  if (importEntries.length > 0) out.push(...section(2, vec(importEntries)));
  out.push(...section(3, vec(funcTypes)));
  if (memory !== null) out.push(...section(5, vec([[0x00, ...uleb(memory)]])));
  out.push(...section(7, vec(exports)));
  if (m.start !== undefined) out.push(...section(8, uleb(m.start)));
  out.push(...section(10, vec(bodies)));
  return Uint8Array.from(out);
}

/** `i32.const n` */
export function i32c(n: number): number[] {
  const out: number[] = [OP.i32Const];
  let v = BigInt(n | 0);
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    const sign = (b & 0x40) !== 0;
    if ((v === 0n && !sign) || (v === -1n && sign)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

/** A module whose `evaluate` is `code` (no host imports unless given). */
export function evaluateModule(code: number[], locals: number[] = [], imports: AsmImport[] = []): Uint8Array {
  return assemble({ imports, funcs: [{ params: [], results: [I32], locals, code, export: 'evaluate' }] });
}
