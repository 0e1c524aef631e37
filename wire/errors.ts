/**
 * Typed errors of the wire layer.
 *
 * Decoding untrusted bytes only ever throws `DecodeError` (never a RangeError, TypeError, …);
 * encoding a value that does not fit its type throws `EncodeError`; a malformed type definition
 * (e.g. `RingT 0`) throws `InvalidTypeError` — that is a programming error, not bad input.
 */

export type DecodeErrorCode =
  /** the input ended before the value did */
  | 'truncated'
  /** the value ended before the input did (top level, or inside a length-prefixed blob) */
  | 'trailing-bytes'
  /** a varint with redundant bytes, an unsorted / duplicate map key, … */
  | 'non-canonical'
  /** a number outside its ring / field / varint range, a boolean byte other than 0x00 / 0x01 */
  | 'out-of-range'
  /** the whole input is larger than `limits.maxBytes` */
  | 'too-large'
  /** nesting deeper than `limits.maxDepth` */
  | 'too-deep'
  /** a collection (bytes, list items) longer than `limits.maxLength` or the schema's `max` */
  | 'too-long'
  /** a fixed-length `bytes` field of another length */
  | 'bad-length'
  /** a coproduct index not smaller than the number of options */
  | 'bad-tag'
  /** a string field that is not valid UTF-8 */
  | 'bad-utf8'
  /** hex text with a non-hex character or odd length */
  | 'bad-hex'
  /** a multiformat code not in the table */
  | 'unknown-code'
  /** a DataValue whose shape does not match the schema (`Schema.fromValue`) */
  | 'type-mismatch'
  /** an unexpected exception while decoding, wrapped so that decode never throws anything else */
  | 'internal';

export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  readonly code: DecodeErrorCode;
  /** the problem, without code, path and offset (those are in `message` too) */
  readonly detail: string;
  /** byte offset in the input where the problem was noticed (-1 when not applicable) */
  readonly offset: number;
  #path: string;

  constructor(code: DecodeErrorCode, detail: string, offset = -1, path = '', options?: { cause?: unknown }) {
    super(decodeMessage(code, detail, offset, path), options);
    this.code = code;
    this.detail = detail;
    this.offset = offset;
    this.#path = path;
  }

  /** where in the value the problem is, e.g. `.votes[3].signature` (printed after `$`, the root) */
  get path(): string {
    return this.#path;
  }

  set path(p: string) {
    this.#path = p;
    this.message = decodeMessage(this.code, this.detail, this.offset, p);
  }
}

function decodeMessage(code: DecodeErrorCode, detail: string, offset: number, path: string): string {
  const at = offset >= 0 ? ` (byte ${offset})` : '';
  return `${code} at $${path}${at}: ${detail}`;
}

export class EncodeError extends Error {
  override readonly name = 'EncodeError';
  readonly detail: string;
  #path: string;

  constructor(detail: string, path = '') {
    super(`at $${path}: ${detail}`);
    this.detail = detail;
    this.#path = path;
  }

  /** where in the value the problem is, e.g. `.height` (printed after `$`, the root) */
  get path(): string {
    return this.#path;
  }

  set path(p: string) {
    this.#path = p;
    this.message = `at $${p}: ${this.detail}`;
  }
}

/** A malformed `DataType` or schema definition (a bug in the caller, not bad input). */
export class InvalidTypeError extends Error {
  override readonly name = 'InvalidTypeError';
  readonly path: string;

  constructor(detail: string, path = '') {
    super(path === '' ? detail : `at $${path}: ${detail}`);
    this.path = path;
  }
}

/** Bounds on what a decoder will accept, so that hostile bytes cannot make it allocate without bound. */
export interface DecodeLimits {
  /** largest accepted input, in bytes (default 4 MiB) */
  readonly maxBytes: number;
  /** deepest nesting of product / coproduct / list levels (default 64) */
  readonly maxDepth: number;
  /** most items or bytes in one collection: a binary value, a string, a list (default 100 000) */
  readonly maxLength: number;
}

export const DEFAULT_LIMITS: DecodeLimits = Object.freeze({
  maxBytes: 4 * 1024 * 1024,
  maxDepth: 64,
  maxLength: 100_000,
});

/** Fills in defaults; returns the shared default object when nothing is overridden. */
export function resolveLimits(limits?: Partial<DecodeLimits>): DecodeLimits {
  if (limits === undefined) return DEFAULT_LIMITS;
  return {
    maxBytes: limits.maxBytes ?? DEFAULT_LIMITS.maxBytes,
    maxDepth: limits.maxDepth ?? DEFAULT_LIMITS.maxDepth,
    maxLength: limits.maxLength ?? DEFAULT_LIMITS.maxLength,
  };
}

/** Prefixes a path segment onto an error thrown from a nested decode / encode and rethrows it. */
export function withPath(err: unknown, segment: string): never {
  if (err instanceof DecodeError || err instanceof EncodeError) err.path = segment + err.path;
  throw err;
}

/**
 * Turns anything thrown while decoding into a DecodeError: decode's contract is that it throws
 * nothing else (a stack overflow from a pathological recursive schema becomes `too-deep`).
 */
export function asDecodeError(err: unknown): DecodeError {
  if (err instanceof DecodeError) return err;
  if (err instanceof RangeError && /call stack/i.test(err.message)) {
    return new DecodeError('too-deep', 'nesting exhausted the call stack', -1, '', { cause: err });
  }
  const text = err instanceof Error ? err.message : String(err);
  return new DecodeError('internal', `unexpected ${errName(err)}: ${text}`, -1, '', { cause: err });
}

function errName(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}
