/**
 * Commitments (seed 003, "Usage"): sha256 over the multiencoded value. Since multiencode is
 * injective, equal commitments imply equal values (under the usual hash assumptions).
 */
import { createHash, hash as oneShotHash } from 'node:crypto';
import { DecodeError } from './errors.ts';
import { multiencode, multiencodeTyped, type Preferences } from './multiformat.ts';
import type { Schema } from './schema.ts';
import type { DataType, DataValue } from './types.ts';

const hasOneShot = typeof oneShotHash === 'function';

/** SHA-256 (node:crypto; the one-shot `hash` where the runtime has it, which skips a Hash object). */
export function sha256(bytes: Uint8Array): Uint8Array {
  const b = hasOneShot ? oneShotHash('sha256', bytes, 'buffer') : createHash('sha256').update(bytes).digest();
  return new Uint8Array(b.buffer, b.byteOffset, b.length).slice();
}

/** sha256(multiencode(type, value)); throws EncodeError when the value does not typecheck. */
export function commitment(type: DataType, value: DataValue, prefs?: Preferences): Uint8Array {
  return sha256(multiencode(type, value, prefs));
}

/** sha256(multiencodeTyped(schema, value)); equals `commitment(schema.type, schema.toValue(value))`. */
export function commitTyped<T>(schema: Schema<T>, value: T, prefs?: Preferences): Uint8Array {
  return sha256(multiencodeTyped(schema, value, prefs));
}

/** Scratch for short conversions: a Buffer of its own, so no caller's array needs one. */
const HEX_SCRATCH = Buffer.allocUnsafeSlow(64);

/** Lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  // short arrays (hashes, keys) through the scratch: `bytes.buffer` would give a fresh small array
  // an off-heap buffer of its own, which costs more than the whole conversion
  if (bytes.length <= HEX_SCRATCH.length) {
    HEX_SCRATCH.set(bytes);
    return HEX_SCRATCH.toString('hex', 0, bytes.length);
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/** Bytes of an even-length hex string (either case); anything else is DecodeError `bad-hex`. */
export function fromHex(hex: string): Uint8Array {
  if (typeof hex !== 'string') throw new DecodeError('bad-hex', `hex must be a string, got ${typeof hex}`);
  if (!HEX.test(hex)) {
    const bad = hex.search(/[^0-9a-fA-F]/);
    throw new DecodeError(
      'bad-hex',
      bad >= 0 ? `not a hex digit at index ${bad}` : `odd number of hex digits (${hex.length})`,
    );
  }
  return new Uint8Array(Buffer.from(hex, 'hex'));
}
