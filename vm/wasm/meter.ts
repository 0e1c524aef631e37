/**
 * Load-time checking and gas metering of WebAssembly modules (the binary format of the
 * WebAssembly core specification, §5).
 *
 * `instrument(bytes)` parses every section, checks the module against Fractal's deterministic
 * subset and host interface, and re-emits it with a gas charge at the start of every straight-line
 * run of code: the function entry, the body of every `block` / `loop` / `if` / `else`, and the code
 * after every `end`, `br`, `br_if`, `br_table`, `return` and `unreachable`. Every point where control
 * can enter code (function entry, a `loop` head that a branch jumps back to, the continuation after a
 * block's `end` that a branch jumps forward to, the fall-through of `br_if`) is such a start, so a
 * run is paid for in full before any of it executes: the charge is `i32.const <count>; call $gas`,
 * where `<count>` is the number of instructions in the run (1 gas per instruction) and `$gas` is a
 * function appended to the module that subtracts from an appended mutable i64 global and executes
 * `unreachable` once the global drops below zero. The global is exported as `__fractal_gas` so the
 * host sets the limit before a call and reads what is left after it. Every `call` and
 * `call_indirect` is wrapped in `call $enter` / `call $leave`, which keep a call-depth global and trap
 * past MAX_CALL_DEPTH, so deep recursion fails the same way on every engine instead of at the
 * engine's own (machine-dependent) stack limit.
 *
 * Appending (a type, a function, a global, exports) shifts no existing index, so the original code
 * is copied byte for byte between the inserted charges.
 */
import { ByteReader, nameBytes, section, sleb, uleb, vec, WasmFormatError } from './leb.ts';

export const GAS_EXPORT = '__fractal_gas';
export const START_EXPORT = '__fractal_start';
/** Memory cap in 64 KiB pages (16 MiB): a module's memory maximum is lowered to it. */
export const MAX_PAGES = 256;
/** Deepest wasm call nesting; a call past it traps (deterministically, unlike the engine's own stack limit). */
export const MAX_CALL_DEPTH = 256;
/** Most locals (parameters excluded) one function may declare, so MAX_CALL_DEPTH frames fit the stack. */
export const MAX_LOCALS = 256;

/** The host interface: module "fractal", these names with these signatures (params -> results). */
export const HOST_FUNCTIONS: Readonly<Record<string, { params: number[]; results: number[] }>> = {
  input_len: { params: [], results: [I32()] },
  input_read: { params: [I32(), I32()], results: [I32()] },
  result_write: { params: [I32(), I32()], results: [] },
  multievaluate: { params: [I32(), I32()], results: [I32()] },
  result_read: { params: [I32(), I32()], results: [I32()] },
};
function I32(): number {
  return 0x7f;
}

export class BadCodeError extends Error {
  override readonly name = 'BadCodeError';
}

export interface Instrumented {
  /** the module to compile */
  readonly bytes: Uint8Array;
  /** whether the original had a start function (now exported as START_EXPORT, run by the host) */
  readonly hasStart: boolean;
}

const VALTYPE_OK = new Set([0x7f, 0x7e, 0x70, 0x6f]); // i32 i64 funcref externref

function checkValtype(t: number, where: string): void {
  if (VALTYPE_OK.has(t)) return;
  if (t === 0x7d || t === 0x7c) throw new BadCodeError(`floating-point value type in ${where}`);
  if (t === 0x7b) throw new BadCodeError(`SIMD value type in ${where}`);
  throw new BadCodeError(`unsupported value type 0x${t.toString(16)} in ${where}`);
}

/** What an instruction does to straight-line control flow. */
enum Flow {
  Plain = 0,
  /** ends a straight-line run: block loop if else end br br_if br_table return unreachable */
  Boundary = 1,
}

function isFloatOp(op: number): boolean {
  return (
    op === 0x2a ||
    op === 0x2b ||
    op === 0x38 ||
    op === 0x39 ||
    op === 0x43 ||
    op === 0x44 ||
    (op >= 0x5b && op <= 0x66) ||
    (op >= 0x8b && op <= 0xa6) ||
    (op >= 0xa8 && op <= 0xab) ||
    (op >= 0xae && op <= 0xbf)
  );
}

function blockType(r: ByteReader): void {
  const b = r.bytes[r.pos];
  if (b === 0x40) {
    r.pos++;
    return;
  }
  if (b !== undefined && (b & 0xc0) === 0x40) {
    // a one-byte negative s33: a value type
    r.pos++;
    checkValtype(b, 'a block type');
    return;
  }
  if (r.s33() < 0) throw new BadCodeError('bad block type');
}

/**
 * Reads one instruction (opcode and immediates) and reports whether it ends a straight-line run.
 * Refuses floats, SIMD (0xFD), threads/atomics (0xFE), the 0xFC prefix (saturating float
 * truncation, and bulk memory/table operations whose O(n) work one gas unit would not cover) and
 * anything not in the MVP + sign-extension + reference-types instruction set.
 */
function instruction(r: ByteReader): Flow {
  const at = r.pos;
  const op = r.byte();
  if (isFloatOp(op)) throw new BadCodeError(`floating-point instruction 0x${op.toString(16)} at byte ${at}`);
  switch (op) {
    case 0x00: // unreachable
    case 0x05: // else
    case 0x0b: // end
    case 0x0f: // return
      return Flow.Boundary;
    case 0x02: // block
    case 0x03: // loop
    case 0x04: // if
      blockType(r);
      return Flow.Boundary;
    case 0x0c: // br
    case 0x0d: // br_if
      r.u32();
      return Flow.Boundary;
    case 0x0e: {
      // br_table
      const n = r.u32();
      for (let i = 0; i <= n; i++) r.u32();
      return Flow.Boundary;
    }
    case 0x01: // nop
    case 0x1a: // drop
    case 0x1b: // select
    case 0xd1: // ref.is_null
      return Flow.Plain;
    case 0x10: // call
    case 0x20: // local.get
    case 0x21: // local.set
    case 0x22: // local.tee
    case 0x23: // global.get
    case 0x24: // global.set
    case 0x25: // table.get
    case 0x26: // table.set
    case 0xd2: // ref.func
      r.u32();
      return Flow.Plain;
    case 0x11: // call_indirect typeidx tableidx
      r.u32();
      r.u32();
      return Flow.Plain;
    case 0x1c: {
      // select t*
      const n = r.u32();
      for (let i = 0; i < n; i++) checkValtype(r.byte(), 'select');
      return Flow.Plain;
    }
    case 0x3f: // memory.size
    case 0x40: // memory.grow
      if (r.u32() !== 0) throw new BadCodeError('only memory 0 exists');
      return Flow.Plain;
    case 0x41: // i32.const
      r.skipSigned(32);
      return Flow.Plain;
    case 0x42: // i64.const
      r.skipSigned(64);
      return Flow.Plain;
    case 0xd0: // ref.null t
      checkValtype(r.byte(), 'ref.null');
      return Flow.Plain;
    case 0xfc:
      throw new BadCodeError(`0xFC-prefixed instruction at byte ${at} (float truncation or bulk memory)`);
    case 0xfd:
      throw new BadCodeError(`SIMD instruction at byte ${at}`);
    case 0xfe:
      throw new BadCodeError(`threads/atomics instruction at byte ${at}`);
  }
  if (op >= 0x28 && op <= 0x3e) {
    // loads and stores: memarg
    r.u32();
    r.u32();
    return Flow.Plain;
  }
  // integer comparisons, arithmetic, conversions, sign extension
  if ((op >= 0x45 && op <= 0x5a) || (op >= 0x67 && op <= 0x8a) || op === 0xa7 || op === 0xac || op === 0xad)
    return Flow.Plain;
  if (op >= 0xc0 && op <= 0xc4) return Flow.Plain;
  throw new BadCodeError(`unsupported instruction 0x${op.toString(16)} at byte ${at}`);
}

/** A constant expression (global initialisers): instructions up to the matching `end`. */
function constExpr(r: ByteReader): void {
  for (;;) {
    const op = r.bytes[r.pos];
    instruction(r);
    if (op === 0x0b) return;
  }
}

interface FuncType {
  params: number[];
  results: number[];
}

function sameSig(t: FuncType, want: { params: number[]; results: number[] }): boolean {
  return (
    t.params.length === want.params.length &&
    t.results.length === want.results.length &&
    t.params.every((p, i) => p === want.params[i]) &&
    t.results.every((p, i) => p === want.results[i])
  );
}

interface Section {
  id: number;
  start: number;
  end: number;
}

const ORDER = [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 10, 11];

/**
 * Checks `bytes` and returns the module to compile: with gas metering when `meter` is true, or the
 * same module without it (same checks, same start-function export, same memory cap) for comparisons.
 * Throws BadCodeError (also for malformed bytes).
 */
export function instrument(bytes: Uint8Array, meter = true): Instrumented {
  try {
    return instrumentUnchecked(bytes, meter);
  } catch (e) {
    if (e instanceof BadCodeError) throw e;
    if (e instanceof WasmFormatError) throw new BadCodeError(`malformed module: ${e.message}`);
    throw e;
  }
}

function instrumentUnchecked(bytes: Uint8Array, meter: boolean): Instrumented {
  if (
    bytes.length < 8 ||
    bytes[0] !== 0x00 ||
    bytes[1] !== 0x61 ||
    bytes[2] !== 0x73 ||
    bytes[3] !== 0x6d ||
    bytes[4] !== 0x01 ||
    bytes[5] !== 0x00 ||
    bytes[6] !== 0x00 ||
    bytes[7] !== 0x00
  )
    throw new BadCodeError('not a WebAssembly 1.0 binary');
  const r = new ByteReader(bytes, 8);
  const sections = new Map<number, Section>();
  let last = -1;
  while (!r.done) {
    const id = r.byte();
    const size = r.u32();
    const start = r.pos;
    const end = start + size;
    if (end > bytes.length) throw new BadCodeError('section past the end');
    r.pos = end;
    if (id === 0) continue; // custom sections are dropped
    const rank = ORDER.indexOf(id);
    if (rank < 0) throw new BadCodeError(`unsupported section ${id}`);
    if (rank <= last) throw new BadCodeError(`section ${id} out of order`);
    last = rank;
    sections.set(id, { id, start, end });
  }
  const reader = (id: number): ByteReader | undefined => {
    const s = sections.get(id);
    return s === undefined ? undefined : new ByteReader(bytes, s.start, s.end);
  };
  const rawVecItems = (id: number): { count: number; items: Uint8Array } => {
    const sr = reader(id);
    if (sr === undefined) return { count: 0, items: new Uint8Array(0) };
    const count = sr.u32();
    return { count, items: bytes.subarray(sr.pos, sr.end) };
  };

  // types
  const types: FuncType[] = [];
  const tr = reader(1);
  if (tr !== undefined) {
    const n = tr.u32();
    for (let i = 0; i < n; i++) {
      if (tr.byte() !== 0x60) throw new BadCodeError('only function types are supported');
      const params: number[] = [];
      const results: number[] = [];
      for (let k = tr.u32(); k > 0; k--) params.push(tr.byte());
      for (let k = tr.u32(); k > 0; k--) results.push(tr.byte());
      for (const t of [...params, ...results]) checkValtype(t, `type ${i}`);
      types.push({ params, results });
    }
  }
  const typeOf = (idx: number): FuncType => {
    const t = types[idx];
    if (t === undefined) throw new BadCodeError(`type index ${idx} out of range`);
    return t;
  };

  // imports: functions of module "fractal" only
  const funcTypes: FuncType[] = [];
  let importedFuncs = 0;
  const ir = reader(2);
  if (ir !== undefined) {
    for (let n = ir.u32(); n > 0; n--) {
      const mod = ir.name();
      const field = ir.name();
      const kind = ir.byte();
      if (mod !== 'fractal' || kind !== 0x00)
        throw new BadCodeError(
          `import ${mod}.${field} is outside the host interface (module "fractal" functions)`,
        );
      const want = Object.hasOwn(HOST_FUNCTIONS, field) ? HOST_FUNCTIONS[field] : undefined;
      if (want === undefined) throw new BadCodeError(`unknown host function fractal.${field}`);
      const t = typeOf(ir.u32());
      if (!sameSig(t, want)) throw new BadCodeError(`fractal.${field} imported with the wrong signature`);
      funcTypes.push(t);
      importedFuncs++;
    }
  }

  // functions
  const fr = reader(3);
  let definedFuncs = 0;
  if (fr !== undefined) {
    for (let n = fr.u32(); n > 0; n--) {
      funcTypes.push(typeOf(fr.u32()));
      definedFuncs++;
    }
  }

  // memory: at most one, capped at MAX_PAGES
  let memorySection: number[] | undefined;
  const mr = reader(5);
  if (mr !== undefined) {
    const n = mr.u32();
    if (n > 1) throw new BadCodeError('at most one memory');
    if (n === 1) {
      const flags = mr.byte();
      if (flags === 0x02 || flags === 0x03) throw new BadCodeError('shared memory (threads)');
      if (flags > 0x01) throw new BadCodeError('unsupported memory limits');
      const min = mr.u32();
      const max = flags === 0x01 ? mr.u32() : MAX_PAGES;
      if (min > MAX_PAGES) throw new BadCodeError(`memory of ${min} pages exceeds ${MAX_PAGES}`);
      memorySection = vec([[0x01, ...uleb(min), ...uleb(Math.min(max, MAX_PAGES))]]);
    } else memorySection = vec([]);
  }

  // globals
  let definedGlobals = 0;
  const gr = reader(6);
  if (gr !== undefined) {
    for (let n = gr.u32(); n > 0; n--) {
      checkValtype(gr.byte(), 'a global');
      const mut = gr.byte();
      if (mut > 1) throw new BadCodeError('bad global mutability');
      constExpr(gr);
      definedGlobals++;
    }
  }

  // exports
  const exportsR = reader(7);
  let evaluateOk = false;
  let memoryOk = false;
  if (exportsR !== undefined) {
    for (let n = exportsR.u32(); n > 0; n--) {
      const name = exportsR.name();
      const kind = exportsR.byte();
      const idx = exportsR.u32();
      if (name === GAS_EXPORT || name === START_EXPORT)
        throw new BadCodeError(`export name ${name} is reserved`);
      if (name === 'evaluate') {
        const t = kind === 0x00 ? funcTypes[idx] : undefined;
        if (t === undefined || !sameSig(t, { params: [], results: [0x7f] }))
          throw new BadCodeError('export "evaluate" must be a function () -> i32');
        evaluateOk = true;
      }
      if (name === 'memory' && kind === 0x02) memoryOk = true;
    }
  }
  if (!evaluateOk) throw new BadCodeError('no export "evaluate"');
  if (!memoryOk) throw new BadCodeError('no exported "memory"');

  // start: exported instead, so the host runs it under the gas limit
  let startFunc: number | undefined;
  const sr = reader(8);
  if (sr !== undefined) startFunc = sr.u32();

  // code: check every body; with metering, insert the charges
  const gasFunc = importedFuncs + definedFuncs;
  const gasGlobal = definedGlobals; // no imported globals
  const cr = reader(10);
  const bodies: number[][] = [];
  if (cr !== undefined) {
    const n = cr.u32();
    if (n !== definedFuncs) throw new BadCodeError('function and code sections disagree');
    for (let i = 0; i < n; i++) {
      const size = cr.u32();
      const br = new ByteReader(bytes, cr.pos, cr.pos + size);
      cr.pos += size;
      if (cr.pos > cr.end) throw new BadCodeError('function body past the end');
      bodies.push(body(br, meter, gasFunc));
    }
  } else if (definedFuncs !== 0) throw new BadCodeError('function and code sections disagree');

  // re-emit
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const emitRaw = (id: number) => {
    const s = sections.get(id);
    if (s !== undefined) out.push(...section(id, bytes.subarray(s.start, s.end)));
  };
  const appendVec = (id: number, extra: readonly number[][]) => {
    const { count, items } = rawVecItems(id);
    if (count === 0 && extra.length === 0 && !sections.has(id)) return;
    const content = [...uleb(count + extra.length), ...items];
    for (const e of extra) content.push(...e);
    out.push(...section(id, content));
  };
  const gasType = types.length;
  appendVec(
    1,
    meter
      ? [
          [0x60, 0x01, 0x7f, 0x00],
          [0x60, 0x00, 0x00],
        ]
      : [],
  );
  emitRaw(2);
  appendVec(3, meter ? [uleb(gasType), uleb(gasType + 1), uleb(gasType + 1)] : []);
  emitRaw(4);
  if (memorySection !== undefined) out.push(...section(5, memorySection));
  appendVec(
    6,
    meter
      ? [
          [0x7e, 0x01, 0x42, 0x00, 0x0b],
          [0x7f, 0x01, 0x41, 0x00, 0x0b],
        ]
      : [],
  );
  const extraExports: number[][] = [];
  if (meter) extraExports.push([...nameBytes(GAS_EXPORT), 0x03, ...uleb(gasGlobal)]);
  if (startFunc !== undefined) extraExports.push([...nameBytes(START_EXPORT), 0x00, ...uleb(startFunc)]);
  appendVec(7, extraExports);
  emitRaw(9);
  emitRaw(12);
  if (meter) bodies.push(gasBody(gasGlobal), enterBody(gasGlobal + 1), leaveBody(gasGlobal + 1));
  if (bodies.length > 0) out.push(...section(10, vec(bodies.map((b) => [...uleb(b.length), ...b]))));
  emitRaw(11);
  return { bytes: Uint8Array.from(out), hasStart: startFunc !== undefined };
}

/** `$gas(cost)`: global -= cost; if global < 0 then unreachable. */
function gasBody(g: number): number[] {
  const gi = uleb(g);
  return [
    0x00, // no locals
    0x23,
    ...gi, // global.get
    0x20,
    0x00, // local.get 0
    0xad, // i64.extend_i32_u
    0x7d, // i64.sub
    0x24,
    ...gi, // global.set
    0x23,
    ...gi, // global.get
    0x42,
    0x00, // i64.const 0
    0x53, // i64.lt_s
    0x04,
    0x40,
    0x00,
    0x0b, // if unreachable end
    0x0b,
  ];
}

/** `$enter`: depth += 1; if depth > MAX_CALL_DEPTH then unreachable. */
function enterBody(g: number): number[] {
  const gi = uleb(g);
  return [
    0x00,
    0x23,
    ...gi,
    0x41,
    0x01,
    0x6a,
    0x24,
    ...gi, // depth += 1
    0x23,
    ...gi,
    0x41,
    ...sleb(MAX_CALL_DEPTH),
    0x4b, // depth > MAX (i32.gt_u)
    0x04,
    0x40,
    0x00,
    0x0b,
    0x0b,
  ];
}

/** `$leave`: depth -= 1. */
function leaveBody(g: number): number[] {
  const gi = uleb(g);
  return [0x00, 0x23, ...gi, 0x41, 0x01, 0x6b, 0x24, ...gi, 0x0b];
}

function body(r: ByteReader, meter: boolean, gasFunc: number): number[] {
  const bytes = r.bytes;
  const localsStart = r.pos;
  let locals = 0;
  for (let n = r.u32(); n > 0; n--) {
    const count = r.u32();
    locals += count;
    if (locals > MAX_LOCALS) throw new BadCodeError(`more than ${MAX_LOCALS} locals`);
    checkValtype(r.byte(), 'locals');
  }
  const out: number[] = [];
  for (let i = localsStart; i < r.pos; i++) out.push(bytes[i]!);
  const call = [0x10, ...uleb(gasFunc)];
  const enter = [0x10, ...uleb(gasFunc + 1)];
  const leave = [0x10, ...uleb(gasFunc + 2)];
  let seg: number[] = [];
  let count = 0;
  let depth = 1;
  const flush = () => {
    if (count === 0) return;
    if (meter) out.push(0x41, ...sleb(count), ...call);
    for (const b of seg) out.push(b);
    seg = [];
    count = 0;
  };
  while (!r.done) {
    const at = r.pos;
    const op = bytes[at]!;
    const flow = instruction(r);
    count++;
    const isCall = meter && (op === 0x10 || op === 0x11);
    if (isCall) seg.push(...enter);
    for (let i = at; i < r.pos; i++) seg.push(bytes[i]!);
    if (isCall) seg.push(...leave);
    if (op === 0x02 || op === 0x03 || op === 0x04) depth++;
    else if (op === 0x0b) depth--;
    if (flow === Flow.Boundary) flush();
    if (depth === 0) {
      if (!r.done) throw new BadCodeError('code after the end of a function body');
      break;
    }
  }
  if (depth !== 0) throw new BadCodeError('function body does not end');
  return out;
}
