// A validity predicate in AssemblyScript, compiled to WebAssembly by `npm run build:wasm` and run
// through Fractal's gas-metered WebAssembly VM (vm/wasm/). It sees its arguments through the host
// ABI of vm/README.md: one canonical encoding of the argument list (vm/abi.ts `ARGS`).
//
// Accepts iff there is at least one argument and every argument is a RingV amount with
// 0 < amount <= 1_000_000 (a per-transfer cap); anything else, malformed input included, rejects.
// Integers only: no floats anywhere (the metered loader refuses float instructions).

@external('fractal', 'input_len')
declare function input_len(): i32;

@external('fractal', 'input_read')
declare function input_read(ptr: usize, len: i32): i32;

const CAP: u64 = 1_000_000;
// DataValue variant tags of vm/abi.ts (declaration order)
const TAG_RING: u32 = 1;

let base: usize = 0;
let pos: i32 = 0;
let end: i32 = 0;
let bad: bool = false;

function byte(): u32 {
  if (pos >= end) {
    bad = true;
    return 0;
  }
  const b = <u32>load<u8>(base + <usize>pos);
  pos++;
  return b;
}

// minimal unsigned LEB128 of at most 4 bytes (values < 2^28 are enough here)
function varint(): u32 {
  let result: u32 = 0;
  let shift: u32 = 0;
  for (let i = 0; i < 4; i++) {
    const b = byte();
    if (bad) return 0;
    result |= (b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      if (i > 0 && b == 0) bad = true; // non-minimal
      return result;
    }
    shift += 7;
  }
  bad = true;
  return 0;
}

export function evaluate(): i32 {
  const len = input_len();
  if (len <= 0) return 0;
  base = heap.alloc(<usize>len);
  input_read(base, len);
  pos = 0;
  end = len;
  bad = false;
  // ARGS = BinaryT blob: varint(blob length) ++ varint(count) ++ items
  const blobLen = varint();
  if (bad || <i32>blobLen != end - pos) return 0;
  const count = varint();
  if (bad || count == 0) return 0;
  for (let i: u32 = 0; i < count; i++) {
    const tag = varint();
    if (bad || tag != TAG_RING) return 0;
    // a nat: BinaryT holding the minimal little-endian magnitude
    const n = varint();
    if (bad || n == 0 || n > 3) return 0; // zero, or more than 3 bytes (> 0xffffff)
    let amount: u64 = 0;
    for (let k: u32 = 0; k < n; k++) {
      const b = byte();
      if (bad) return 0;
      if (k == n - 1 && b == 0) return 0; // non-minimal
      amount |= (<u64>b) << (<u64>(8 * k));
    }
    if (amount > CAP) return 0;
  }
  return pos == end ? 1 : 0;
}
