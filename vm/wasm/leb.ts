/** LEB128 reading and writing for the WebAssembly binary format (spec §5.2.2). */

export class WasmFormatError extends Error {
  override readonly name = 'WasmFormatError';
}

export class ByteReader {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    readonly end = bytes.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  byte(): number {
    if (this.pos >= this.end) throw new WasmFormatError(`unexpected end at byte ${this.pos}`);
    return this.bytes[this.pos++]!;
  }

  /** unsigned LEB128 of at most 32 bits */
  u32(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (result > 0xffffffff) throw new WasmFormatError(`u32 out of range at byte ${this.pos}`);
        return result;
      }
      shift += 7;
    }
    throw new WasmFormatError(`u32 too long at byte ${this.pos}`);
  }

  /** skips a signed LEB128 of at most `bits` bits */
  skipSigned(bits: number): void {
    const max = Math.ceil(bits / 7);
    for (let i = 0; i < max; i++) if ((this.byte() & 0x80) === 0) return;
    throw new WasmFormatError(`s${bits} too long at byte ${this.pos}`);
  }

  /** signed LEB128 up to 33 bits (block types), as a number */
  s33(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) {
        if (b & 0x40) result -= 2 ** shift;
        return result;
      }
    }
    throw new WasmFormatError(`s33 too long at byte ${this.pos}`);
  }

  name(): string {
    const n = this.u32();
    if (this.pos + n > this.end) throw new WasmFormatError('name past the end');
    const s = new TextDecoder('utf-8', { fatal: true }).decode(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
}

export function uleb(n: number): number[] {
  const out: number[] = [];
  let v = n;
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

export function sleb(n: number | bigint): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    const signBit = (b & 0x40) !== 0;
    if ((v === 0n && !signBit) || (v === -1n && signBit)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

export function nameBytes(s: string): number[] {
  const b = new TextEncoder().encode(s);
  return [...uleb(b.length), ...b];
}

/** A vector: uleb(count) ++ the items' bytes. */
export function vec(items: readonly (readonly number[] | Uint8Array)[]): number[] {
  const out = uleb(items.length);
  for (const it of items) for (const b of it) out.push(b);
  return out;
}

export function section(id: number, content: readonly number[] | Uint8Array): number[] {
  return [id, ...uleb(content.length), ...content];
}
