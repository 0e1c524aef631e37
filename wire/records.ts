/**
 * The node's own stored records (blocks, receipts, index entries, validator sets): encoded and
 * decoded under one set of limits, so that whatever the node writes it can read back.
 *
 * The codec's default limits (4 MiB, 100 000 items or bytes per collection) are for untrusted
 * input of ordinary size. A record made from the largest block consensus accepts is larger: a
 * block's receipts list alone is a blob of up to ~18 MB. A record is still only as trusted as the
 * disk it lies on, so the limits stay finite (a corrupt length cannot make a decoder allocate
 * without bound) and a corrupt record is a typed `DecodeError`, never a wrong value.
 */
import { type DecodeLimits, EncodeError } from './errors.ts';
import { decode, encode, type Schema } from './schema.ts';

/** Large enough for any record derived from a block within `BLOCK_LIMITS` (wire/ledger.ts). */
export const RECORD_LIMITS: DecodeLimits = Object.freeze({
  maxBytes: 64 * 1024 * 1024,
  maxLength: 64 * 1024 * 1024,
  maxDepth: 64,
});

/**
 * The canonical bytes of a record; refuses (EncodeError) one that `decodeRecord` could not read
 * back, so an unreadable record is never written.
 */
export function encodeRecord<T>(schema: Schema<T>, value: T): Uint8Array {
  const bytes = encode(schema, value);
  if (bytes.length > RECORD_LIMITS.maxBytes) {
    throw new EncodeError(
      `a record of ${bytes.length} bytes exceeds the ${RECORD_LIMITS.maxBytes}-byte limit`,
    );
  }
  return bytes;
}

/** Decodes a stored record; throws DecodeError (and nothing else) when it is corrupt. */
export function decodeRecord<T>(schema: Schema<T>, bytes: Uint8Array): T {
  return decode(schema, bytes, RECORD_LIMITS);
}
