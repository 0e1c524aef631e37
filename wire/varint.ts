/**
 * Unsigned LEB128 varints, minimal encoding only (the multiformats unsigned-varint convention):
 * 7 bits per byte, least significant group first, high bit set on every byte but the last, and no
 * redundant trailing zero group. Numbers go up to 2^53 - 1, bigints up to 2^63 - 1 (9 bytes).
 */
import { MAX_SAFE, MAX_VARINT_BYTES, Reader, VARINT_BIG_BOUND, varintLength, Writer } from './buffer.ts';
import { DEFAULT_LIMITS, EncodeError } from './errors.ts';

export { MAX_VARINT_BYTES, varintLength };

/** The varint bytes of a safe non-negative integer. */
export function encodeVarint(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new EncodeError(`varint needs a safe non-negative integer, got ${n}`);
  const w = new Writer(MAX_VARINT_BYTES);
  w.varint(n);
  return w.finish();
}

/** The varint bytes of a bigint in [0, 2^63). */
export function encodeVarintBig(n: bigint): Uint8Array {
  if (typeof n !== 'bigint' || n < 0n || n >= VARINT_BIG_BOUND) {
    throw new EncodeError(`varint needs a bigint in [0, 2^63), got ${String(n)}`);
  }
  const w = new Writer(MAX_VARINT_BYTES);
  w.varintBig(n);
  return w.finish();
}

export interface VarintRead<N> {
  readonly value: N;
  /** number of bytes the varint took */
  readonly length: number;
}

/** Reads a varint at `offset`; throws DecodeError (truncated / non-canonical / out-of-range). */
export function decodeVarint(bytes: Uint8Array, offset = 0): VarintRead<number> {
  const r = new Reader(bytes, DEFAULT_LIMITS, offset);
  const value = r.varint();
  return { value, length: r.pos - offset };
}

/** Reads a varint of up to 9 bytes at `offset` as a bigint; throws DecodeError. */
export function decodeVarintBig(bytes: Uint8Array, offset = 0): VarintRead<bigint> {
  const r = new Reader(bytes, DEFAULT_LIMITS, offset);
  const value = r.varintBig();
  return { value, length: r.pos - offset };
}

export { MAX_SAFE as MAX_VARINT_NUMBER };
