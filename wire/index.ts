/** The wire layer: seed-003 types and values, the canonical codec, typed schemas, multiformats, hashes, signatures. */

export { Reader, Writer } from './buffer.ts';
export { type DecodeResult, deserialise, readValue, serialise, tryDeserialise, writeValue } from './codec.ts';
export { commitment, commitTyped, fromHex, sha256, toHex } from './commit.ts';
export {
  DEFAULT_LIMITS,
  DecodeError,
  type DecodeErrorCode,
  type DecodeLimits,
  EncodeError,
  InvalidTypeError,
} from './errors.ts';
export {
  ENCODING_SCHEMES,
  type EncodingSchemeImpl,
  encodingScheme,
  type MultiformatEntry,
  multidecode,
  multidecodeTyped,
  multiencode,
  multiencodeTyped,
  type Preferences,
  SCHEME_CANONICAL,
  tryMultidecode,
  tryMultidecodeTyped,
  VIRTUAL_MACHINES,
  VM_NATIVE,
  VM_TRANSPARENT_PROOF,
  VM_WASM,
  virtualMachine,
} from './multiformat.ts';
export {
  type BytesOptions,
  decode,
  encode,
  type FunctionValue,
  type Infer,
  type ListOptions,
  type Schema,
  s,
  tryDecode,
} from './schema.ts';
export {
  createSigner,
  generateKeyPair,
  type KeyPair,
  keyPairFromSeed,
  noblePublicKey,
  nobleSign,
  nobleVerifier,
  nobleVerify,
  nodeVerifier,
  PUBLIC_KEY_BYTES,
  SECRET_KEY_BYTES,
  SIGNATURE_BYTES,
  type Signer,
  sign,
  type Verifier,
  verify,
} from './sign.ts';
export {
  type BasicType,
  type BasicValue,
  bytesEqual,
  type DataType,
  type DataValue,
  isInhabited,
  numberWidth,
  showType,
  showValue,
  T,
  typecheck,
  typeEquals,
  V,
  VM_ID_BOUND,
  validateType,
  valueEquals,
} from './types.ts';
export {
  decodeVarint,
  decodeVarintBig,
  encodeVarint,
  encodeVarintBig,
  MAX_VARINT_BYTES,
  MAX_VARINT_NUMBER,
  type VarintRead,
  varintLength,
} from './varint.ts';
