export { ARGS, decodeArgs, decodeValue, encodeArgs, encodeValue, VALUE, VALUE_TAG } from './abi.ts';
export {
  DEFAULT_MAX_DEPTH,
  type MultievaluateOptions,
  multievaluate,
  multievaluateIn,
  type VmTable,
} from './multievaluate.ts';
export {
  ALWAYS_ACCEPT,
  ALWAYS_REJECT,
  builtinNatives,
  CALL,
  NATIVE_HASH_BYTES,
  type NativeDefinition,
  type NativeFunction,
  NativeRegistry,
  nativeCode,
  nativeFunction,
  nativeId,
  nativeVm,
} from './native.ts';
export {
  type ProvableVm,
  type ProveResult,
  type TransparentFunction,
  type TransparentProofOptions,
  transparentFunction,
  transparentProofVm,
} from './provable.ts';
export { createVmTable, defaultVmTable } from './table.ts';
export type { EvalResult, VirtualMachine, VmContext, VmError, VmErrorCode } from './types.ts';
export {
  BadCodeError,
  GAS_EXPORT,
  HOST_FUNCTIONS,
  instrument,
  MAX_CALL_DEPTH,
  MAX_LOCALS,
  MAX_PAGES,
} from './wasm/meter.ts';
export {
  decodeWasm,
  evaluateUnmetered,
  evaluateWasm,
  HOST_CALL_GAS,
  NESTED_ERROR_CODES,
  prepareUnmetered,
  type WasmFunction,
  wasmVm,
} from './wasm/vm.ts';
