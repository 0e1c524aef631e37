/**
 * Byte-level writer and reader used by both the generic codec and the compiled schemas.
 *
 * `Writer` is a growable buffer meant to be reused (see `acquireWriter`); `Reader` walks an input
 * with every bound checked before anything is allocated, and reports problems as `DecodeError`.
 */
import { DecodeError, type DecodeErrorCode, type DecodeLimits, EncodeError } from './errors.ts';

/** Largest varint-encoded length / count: JavaScript's safe integers. */
export const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** Varints are at most 9 bytes (the multiformats unsigned-varint bound): 63 bits of payload. */
export const MAX_VARINT_BYTES = 9;
/** Exclusive bound of a bigint varint: 2^63. */
export const VARINT_BIG_BOUND = 1n << 63n;

const TWO_32 = 0x1_0000_0000;
const MASK_64 = (1n << 64n) - 1n;

/** Number of bytes of the minimal unsigned LEB128 encoding of `n` (a safe non-negative integer). */
export function varintLength(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x20_0000) return 3;
  if (n < 0x1000_0000) return 4;
  let len = 4;
  let v = Math.floor(n / 0x1000_0000);
  while (v > 0) {
    len++;
    v = Math.floor(v / 128);
  }
  return len;
}

const INITIAL_SIZE = 256;
/** Writers that grew beyond this are shrunk back after use, so one huge message does not pin memory. */
const RETAIN_LIMIT = 1 << 20;

export class Writer {
  buf: Uint8Array;
  view: DataView;
  pos = 0;

  constructor(size = INITIAL_SIZE) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  private grow(n: number): void {
    const size = Math.max(this.buf.length * 2, this.pos + n);
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    if (this.pos + 1 > this.buf.length) this.grow(1);
    this.buf[this.pos++] = v;
  }

  u16(v: number): void {
    if (this.pos + 2 > this.buf.length) this.grow(2);
    const b = this.buf;
    const p = this.pos;
    b[p] = v;
    b[p + 1] = v >>> 8;
    this.pos = p + 2;
  }

  u32(v: number): void {
    if (this.pos + 4 > this.buf.length) this.grow(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }

  u64(v: bigint): void {
    if (this.pos + 8 > this.buf.length) this.grow(8);
    this.view.setBigUint64(this.pos, v, true);
    this.pos += 8;
  }

  /** `v` as exactly `width` bytes little-endian; the caller guarantees v < 2^(8·width). */
  uintLE(v: bigint, width: number): void {
    this.ensure(width);
    let p = this.pos;
    let rest = width;
    while (rest >= 8) {
      this.view.setBigUint64(p, v & MASK_64, true);
      v >>= 64n;
      p += 8;
      rest -= 8;
    }
    if (rest > 0) {
      let low = Number(v); // < 2^56 here, exact
      for (let i = 0; i < rest; i++) {
        this.buf[p++] = low % 256;
        low = Math.floor(low / 256);
      }
    }
    this.pos = p;
  }

  /** Minimal unsigned LEB128 of a safe non-negative integer. */
  varint(n: number): void {
    if (this.pos + MAX_VARINT_BYTES > this.buf.length) this.grow(MAX_VARINT_BYTES);
    const b = this.buf;
    let p = this.pos;
    if (n < 0x80) {
      b[p] = n;
      this.pos = p + 1;
      return;
    }
    while (n >= TWO_32) {
      b[p++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    while (n >= 0x80) {
      b[p++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    b[p++] = n;
    this.pos = p;
  }

  /** Minimal unsigned LEB128 of a bigint in [0, 2^63). */
  varintBig(n: bigint): void {
    if (n <= BigInt(MAX_SAFE)) {
      this.varint(Number(n));
      return;
    }
    this.ensure(MAX_VARINT_BYTES);
    while (n >= 0x80n) {
      this.buf[this.pos++] = Number(n & 0x7fn) | 0x80;
      n >>= 7n;
    }
    this.buf[this.pos++] = Number(n);
  }

  bytes(src: Uint8Array): void {
    const n = src.length;
    if (this.pos + n > this.buf.length) this.grow(n);
    if (n <= 64) {
      const b = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) b[p++] = src[i]!;
      this.pos = p;
    } else {
      this.buf.set(src, this.pos);
      this.pos += n;
    }
  }

  /** varint(length) ++ bytes: a `BinaryT` value. */
  blob(src: Uint8Array): void {
    this.varint(src.length);
    this.bytes(src);
  }

  /**
   * Starts a length-prefixed blob whose length is not known yet: reserves one byte for the varint
   * length and returns a mark for `endBlob`, which fixes the length up (shifting the content when
   * the length needs more than one byte).
   */
  beginBlob(): number {
    this.u8(0);
    return this.pos - 1;
  }

  endBlob(mark: number): void {
    const len = this.pos - mark - 1;
    if (len < 0x80) {
      this.buf[mark] = len;
      return;
    }
    const k = varintLength(len);
    this.ensure(k - 1);
    this.buf.copyWithin(mark + k, mark + 1, this.pos);
    const end = this.pos + k - 1;
    this.pos = mark;
    this.varint(len);
    this.pos = end;
  }

  /** UTF-8 of a well-formed string as a blob; a lone surrogate is an EncodeError. */
  utf8Blob(s: string, max: number): void {
    const n = s.length;
    if (n <= 64) {
      // Short strings: encode by hand straight into the buffer (most are ASCII).
      this.ensure(1 + 3 * n);
      const b = this.buf;
      const mark = this.pos;
      let p = mark + 1;
      for (let i = 0; i < n; i++) {
        let c = s.charCodeAt(i);
        if (c < 0x80) {
          b[p++] = c;
        } else if (c < 0x800) {
          b[p++] = 0xc0 | (c >> 6);
          b[p++] = 0x80 | (c & 0x3f);
        } else if (c < 0xd800 || c > 0xdfff) {
          b[p++] = 0xe0 | (c >> 12);
          b[p++] = 0x80 | ((c >> 6) & 0x3f);
          b[p++] = 0x80 | (c & 0x3f);
        } else {
          const d = i + 1 < n ? s.charCodeAt(i + 1) : 0;
          if (c > 0xdbff || d < 0xdc00 || d > 0xdfff) {
            throw new EncodeError(`string has a lone surrogate at index ${i}`);
          }
          i++;
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          b[p++] = 0xf0 | (c >> 18);
          b[p++] = 0x80 | ((c >> 12) & 0x3f);
          b[p++] = 0x80 | ((c >> 6) & 0x3f);
          b[p++] = 0x80 | (c & 0x3f);
        }
      }
      const len = p - mark - 1;
      if (len > max) throw new EncodeError(`string is ${len} UTF-8 bytes, more than the maximum ${max}`);
      this.pos = p;
      if (len < 0x80) b[mark] = len;
      else this.endBlob(mark);
      return;
    }
    if (LONE_SURROGATE.test(s)) throw new EncodeError('string has a lone surrogate');
    const mark = this.beginBlob();
    this.ensure(3 * n);
    const { written } = textEncoder.encodeInto(s, this.buf.subarray(this.pos));
    if (written > max)
      throw new EncodeError(`string is ${written} UTF-8 bytes, more than the maximum ${max}`);
    this.pos += written;
    this.endBlob(mark);
  }

  /** A copy of what was written (pooled when mid-sized, see `copyOut`). */
  finish(): Uint8Array {
    return copyOut(this.buf, 0, this.pos);
  }
}

// Copies handed out by the codec (encode results, decoded byte fields) of 65 bytes to 4 KiB are
// carved from shared 8 KiB slabs, as Node does for small Buffers: allocating a fresh off-heap
// ArrayBuffer for each would cost more than the whole encode. Such a copy is a view (`byteOffset`
// may be non-zero, `buffer` is the slab); `.slice()` it to hold a compact copy for a long time.
// Copies of up to 64 bytes are their own (on-heap) arrays; larger than 4 KiB get their own buffer.
const SLAB_SIZE = 8192;
const POOL_MAX = SLAB_SIZE >>> 1;
const SMALL = 64;
let slab = new Uint8Array(SLAB_SIZE);
let slabPos = 0;

/**
 * `n` fresh zero bytes that nothing else writes to: from a shared slab when 65 bytes to 4 KiB (see
 * above), else an array of their own. For bytes built once and never changed (codec copies, Merkle
 * node records).
 */
export function pooledBytes(n: number): Uint8Array {
  if (n <= SMALL || n > POOL_MAX) return new Uint8Array(n);
  if (slabPos + n > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE);
    slabPos = 0;
  }
  const at = slabPos;
  slabPos = (at + n + 7) & ~7; // keep 8-byte alignment for the next one
  return slab.subarray(at, at + n);
}

/** A copy of `src[start, end)` that nothing else writes to. */
export function copyOut(src: Uint8Array, start: number, end: number): Uint8Array {
  const n = end - start;
  if (n <= SMALL) {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = src[start + i]!;
    return out;
  }
  if (n > POOL_MAX) return src.slice(start, end);
  const out = pooledBytes(n);
  out.set(src.subarray(start, end));
  return out;
}

const LONE_SURROGATE = /\p{Cs}/u;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const writerPool: Writer[] = [];
let writersInUse = 0;

/** A writer reset to position 0; nesting-safe (a nested caller gets another writer). Pair with `releaseWriter`. */
export function acquireWriter(): Writer {
  let w = writerPool[writersInUse];
  if (w === undefined) {
    w = new Writer();
    writerPool[writersInUse] = w;
  }
  writersInUse++;
  w.pos = 0;
  return w;
}

export function releaseWriter(w: Writer): void {
  writersInUse--;
  if (w.buf.length > RETAIN_LIMIT) writerPool[writersInUse] = new Writer();
}

/** Runs `fn` on a pooled writer and returns a copy of the bytes it wrote. */
export function writeToBytes(fn: (w: Writer) => void): Uint8Array {
  const w = acquireWriter();
  try {
    fn(w);
    return w.finish();
  } finally {
    releaseWriter(w);
  }
}

export class Reader {
  readonly bytes: Uint8Array;
  pos: number;
  /** end of the current region: the input, or the blob being read */
  end: number;
  depth = 0;
  /** items of lists whose items may be empty, counted across the whole input (see `maxLength`) */
  zeroSizeItems = 0;
  readonly limits: DecodeLimits;
  private dv: DataView | undefined;

  constructor(bytes: Uint8Array, limits: DecodeLimits, pos = 0, end = bytes.length) {
    this.bytes = bytes;
    this.limits = limits;
    this.pos = pos;
    this.end = end;
  }

  get view(): DataView {
    if (this.dv === undefined)
      this.dv = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.length);
    return this.dv;
  }

  fail(code: DecodeErrorCode, detail: string, at = this.pos): never {
    throw new DecodeError(code, detail, at);
  }

  truncated(n: number): never {
    this.fail('truncated', `need ${n} more byte(s), have ${this.end - this.pos}`);
  }

  /** Enters one nesting level (product, coproduct, list). */
  enter(): void {
    if (++this.depth > this.limits.maxDepth)
      this.fail('too-deep', `nesting deeper than ${this.limits.maxDepth}`);
  }

  leave(): void {
    this.depth--;
  }

  u8(): number {
    if (this.pos >= this.end) this.truncated(1);
    return this.bytes[this.pos++]!;
  }

  bool(): boolean {
    if (this.pos >= this.end) this.truncated(1);
    const b = this.bytes[this.pos]!;
    if (b > 1) this.fail('out-of-range', `boolean byte must be 0x00 or 0x01, got 0x${hex2(b)}`);
    this.pos++;
    return b === 1;
  }

  u16(): number {
    const p = this.pos;
    if (this.end - p < 2) this.truncated(2);
    const b = this.bytes;
    this.pos = p + 2;
    return b[p]! | (b[p + 1]! << 8);
  }

  u32(): number {
    const p = this.pos;
    if (this.end - p < 4) this.truncated(4);
    const b = this.bytes;
    this.pos = p + 4;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16)) + b[p + 3]! * 0x100_0000;
  }

  u64(): bigint {
    const p = this.pos;
    if (this.end - p < 8) this.truncated(8);
    this.pos = p + 8;
    return this.view.getBigUint64(p, true);
  }

  /** An unsigned little-endian integer of exactly `width` bytes. */
  uintLE(width: number): bigint {
    const start = this.pos;
    if (this.end - start < width) this.truncated(width);
    this.pos = start + width;
    let v = 0n;
    let i = width;
    while (i >= 8) {
      i -= 8;
      v = (v << 64n) | this.view.getBigUint64(start + i, true);
    }
    const b = this.bytes;
    while (i > 0) {
      i--;
      v = (v << 8n) | BigInt(b[start + i]!);
    }
    return v;
  }

  /** A minimal unsigned LEB128 varint up to 2^53 - 1. */
  varint(): number {
    const b = this.bytes;
    const start = this.pos;
    let p = start;
    const end = this.end;
    if (p >= end) this.truncated(1);
    let byte = b[p++]!;
    if (byte < 0x80) {
      this.pos = p;
      return byte;
    }
    let result = byte & 0x7f;
    let mul = 0x80;
    for (;;) {
      if (p >= end) this.fail('truncated', 'varint runs past the end of the input', start);
      byte = b[p++]!;
      result += (byte & 0x7f) * mul;
      if (byte < 0x80) break;
      if (p - start >= 8) this.fail('out-of-range', 'varint exceeds 2^53 - 1', start);
      mul *= 0x80;
    }
    if (byte === 0) this.fail('non-canonical', 'varint has a redundant trailing zero byte', start);
    if (result > MAX_SAFE) this.fail('out-of-range', 'varint exceeds 2^53 - 1', start);
    this.pos = p;
    return result;
  }

  /** A minimal unsigned LEB128 varint up to 2^63 - 1 (at most 9 bytes), as a bigint. */
  varintBig(): bigint {
    const b = this.bytes;
    const start = this.pos;
    let p = start;
    let result = 0n;
    let shift = 0n;
    let byte: number;
    for (;;) {
      if (p >= this.end) this.fail('truncated', 'varint runs past the end of the input', start);
      if (p - start >= MAX_VARINT_BYTES) this.fail('out-of-range', 'varint longer than 9 bytes', start);
      byte = b[p++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) break;
      shift += 7n;
    }
    if (byte === 0 && p - start > 1)
      this.fail('non-canonical', 'varint has a redundant trailing zero byte', start);
    this.pos = p;
    return result;
  }

  /**
   * A varint length of a collection about to be read: at most `limits.maxLength` and (because
   * every byte of it must be present) at most the bytes left in the current region.
   */
  length(): number {
    const at = this.pos;
    const n = this.varint();
    if (n > this.limits.maxLength)
      this.fail('too-long', `length ${n} exceeds the limit ${this.limits.maxLength}`, at);
    if (n > this.end - this.pos)
      this.fail('truncated', `length ${n} exceeds the ${this.end - this.pos} bytes left`, at);
    return n;
  }

  /** A copy of the next `n` bytes (bounds already checked by `length`, checked again here). */
  take(n: number): Uint8Array {
    const p = this.pos;
    if (this.end - p < n) this.truncated(n);
    this.pos = p + n;
    return copyOut(this.bytes, p, p + n);
  }

  /** varint length ++ bytes: a `BinaryT` value (copied). */
  blob(): Uint8Array {
    return this.take(this.length());
  }

  /**
   * varint length ++ UTF-8 (strict: no overlongs, surrogates or values past U+10FFFF, and a BOM
   * is kept as U+FEFF), at most `max` bytes.
   */
  utf8Blob(max: number): string {
    const at = this.pos;
    const n = this.length();
    if (n > max) this.fail('too-long', `string of ${n} bytes exceeds its maximum ${max}`, at);
    const p = this.pos;
    const b = this.bytes;
    this.pos = p + n;
    if (n <= 32) {
      let ascii = true;
      for (let i = 0; i < n; i++) {
        if (b[p + i]! >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii) {
        let s = '';
        for (let i = 0; i < n; i++) s += String.fromCharCode(b[p + i]!);
        return s;
      }
    }
    try {
      return textDecoder.decode(b.subarray(p, p + n));
    } catch {
      this.fail('bad-utf8', 'string is not valid UTF-8', p);
    }
  }

  /** Fails unless the current region has been consumed exactly. */
  expectEnd(what: string): void {
    if (this.pos !== this.end)
      this.fail('trailing-bytes', `${this.end - this.pos} byte(s) left after ${what}`);
  }
}

function hex2(b: number): string {
  return b.toString(16).padStart(2, '0');
}
