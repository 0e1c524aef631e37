/**
 * The native VM (multiformat 0x01): built-in predicates written in TypeScript, like Namada's native
 * validity predicates. A native function is named by content: its FunctionV code bytes are
 *
 *   sha256(utf8(name + "@" + version)) (32 bytes) ++ config bytes (any length, possibly empty)
 *
 * The hash picks the implementation from a registry; the config bytes are handed to it as they are
 * (a native that takes no config rejects non-empty config as bad-code). Gas is declared, not
 * measured: `baseGas + perByteGas * |ARGS encoding of the arguments|` is charged before running
 * (out-of-gas if the limit is below it), plus whatever nested multievaluate calls use.
 */
import { sha256, toHex } from '../wire/commit.ts';
import { VM_NATIVE } from '../wire/multiformat.ts';
import { type DataValue, V } from '../wire/types.ts';
import { encodedArgsLength } from './abi.ts';
import type { EvalResult, VirtualMachine, VmContext, VmError } from './types.ts';

export interface NativeDefinition {
  readonly name: string;
  readonly version: string;
  /** charged before running */
  readonly baseGas: number;
  /** charged before running, per byte of the arguments' ARGS encoding */
  readonly perByteGas: number;
  /** whether config bytes after the hash are allowed */
  readonly takesConfig?: boolean;
  /**
   * Runs with `gasLeft` after the fixed charge; returns the value (or error) and the gas it used
   * beyond the fixed charge (its nested calls).
   */
  run(args: readonly DataValue[], config: Uint8Array, ctx: VmContext, gasLeft: number): EvalResult;
}

export interface NativeFunction {
  readonly definition: NativeDefinition;
  readonly config: Uint8Array;
}

export const NATIVE_HASH_BYTES = 32;

/** The 32-byte identity of a native: sha256(name@version). */
export function nativeId(name: string, version: string): Uint8Array {
  return sha256(new TextEncoder().encode(`${name}@${version}`));
}

/** The FunctionV code bytes of a native: its identity followed by config bytes. */
export function nativeCode(
  name: string,
  version: string,
  config: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const id = nativeId(name, version);
  const out = new Uint8Array(id.length + config.length);
  out.set(id, 0);
  out.set(config, id.length);
  return out;
}

/** The FunctionV of a native. */
export function nativeFunction(name: string, version: string, config?: Uint8Array): DataValue {
  return V.fn(VM_NATIVE, nativeCode(name, version, config));
}

export class NativeRegistry {
  private readonly byId = new Map<string, NativeDefinition>();

  /** Adds a native; throws if one with the same name@version is registered. */
  register(def: NativeDefinition): this {
    const key = toHex(nativeId(def.name, def.version));
    if (this.byId.has(key)) throw new Error(`native ${def.name}@${def.version} is already registered`);
    if (
      !Number.isSafeInteger(def.baseGas) ||
      def.baseGas < 0 ||
      !Number.isSafeInteger(def.perByteGas) ||
      def.perByteGas < 0
    )
      throw new Error(`native ${def.name}@${def.version}: gas costs must be non-negative integers`);
    this.byId.set(key, def);
    return this;
  }

  lookup(id: Uint8Array): NativeDefinition | undefined {
    return this.byId.get(toHex(id));
  }

  get size(): number {
    return this.byId.size;
  }
}

function error(code: VmError['code'], message: string): VmError {
  return { code, message };
}

export const ALWAYS_ACCEPT: NativeDefinition = {
  name: 'always-accept',
  version: '1',
  baseGas: 10,
  perByteGas: 1,
  run: () => ({ ok: true, value: V.bool(true), gasUsed: 0 }),
};

export const ALWAYS_REJECT: NativeDefinition = {
  name: 'always-reject',
  version: '1',
  baseGas: 10,
  perByteGas: 1,
  run: () => ({ ok: true, value: V.bool(false), gasUsed: 0 }),
};

/** `call [f, a1, …, an]` = multievaluate f [a1, …, an]: recursion through the context. */
export const CALL: NativeDefinition = {
  name: 'call',
  version: '1',
  baseGas: 20,
  perByteGas: 1,
  run(args, _config, ctx, gasLeft) {
    const [fn, ...rest] = args;
    if (fn === undefined) return { ok: false, error: error('bad-args', 'call needs a function'), gasUsed: 0 };
    return ctx.multievaluate(fn, rest, gasLeft);
  },
};

/** A registry holding the built-ins always-accept@1, always-reject@1 and call@1. */
export function builtinNatives(): NativeRegistry {
  return new NativeRegistry().register(ALWAYS_ACCEPT).register(ALWAYS_REJECT).register(CALL);
}

/** The native VM over a registry. */
export function nativeVm(registry: NativeRegistry = builtinNatives()): VirtualMachine<NativeFunction> {
  return {
    id: VM_NATIVE,
    name: 'native',
    decode(code) {
      if (code.length < NATIVE_HASH_BYTES)
        return {
          ok: false,
          error: error('bad-code', `native code is ${code.length} bytes, needs a 32-byte id`),
        };
      const definition = registry.lookup(code.subarray(0, NATIVE_HASH_BYTES));
      if (definition === undefined) return { ok: false, error: error('bad-code', 'no native with that id') };
      const config = code.slice(NATIVE_HASH_BYTES);
      if (config.length > 0 && definition.takesConfig !== true)
        return {
          ok: false,
          error: error('bad-code', `${definition.name}@${definition.version} takes no config`),
        };
      return { ok: true, fn: { definition, config } };
    },
    encode: (fn) => nativeCode(fn.definition.name, fn.definition.version, fn.config),
    evaluate(fn, args, gasLimit, ctx) {
      const def = fn.definition;
      const cost = def.baseGas + def.perByteGas * encodedArgsLength(args);
      if (cost > gasLimit)
        return {
          ok: false,
          error: error('out-of-gas', `${def.name} costs ${cost} > ${gasLimit}`),
          gasUsed: gasLimit,
        };
      let r: EvalResult;
      try {
        r = def.run(args, fn.config, ctx, gasLimit - cost);
      } catch (e) {
        return { ok: false, error: error('trap', e instanceof Error ? e.message : String(e)), gasUsed: cost };
      }
      const gasUsed = cost + r.gasUsed;
      if (gasUsed > gasLimit)
        return {
          ok: false,
          error: error('out-of-gas', `${def.name} exceeded ${gasLimit}`),
          gasUsed: gasLimit,
        };
      return { ...r, gasUsed };
    },
  };
}
