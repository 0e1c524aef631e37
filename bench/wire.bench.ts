/**
 * wire codec throughput: encode + decode of a consensus vote and of a ~1 KiB transaction through
 * the typed schema path, against cbor-x `encode` / `decode` of the equivalent plain JS object in the
 * same run. ratio = ours / cbor-x (>= 1 means the canonical codec is at least as fast).
 */
import { decode as cborDecode, encode as cborEncode } from 'cbor-x';
import { decode, encode, type Infer, type Schema, s } from '../wire/schema.ts';
import { measure, report } from './report.ts';

export const Vote = s.struct({
  type: s.u8(),
  height: s.u64(),
  round: s.u32(),
  blockHash: s.bytes({ length: 32 }),
  validator: s.u16(),
  signature: s.bytes({ length: 64 }),
});

export const Tx = s.struct({
  nonce: s.u64(),
  fee: s.u64(),
  sender: s.bytes({ length: 32 }),
  kind: s.u8(),
  payload: s.bytes({ max: 4096 }),
});

function filled(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const vote: Infer<typeof Vote> = {
  type: 2,
  height: 1_234_567n,
  round: 3,
  blockHash: filled(32, 1),
  validator: 17,
  signature: filled(64, 2),
};

const tx: Infer<typeof Tx> = {
  nonce: 42n,
  fee: 1_000n,
  sender: filled(32, 3),
  kind: 1,
  payload: filled(1024, 4),
};

let sink = 0;

function ours<T>(schema: Schema<T>, value: T, batch: number): () => number {
  return () => {
    for (let i = 0; i < batch; i++) {
      const bytes = encode(schema, value);
      const back = decode(schema, bytes);
      sink += bytes.length + (back === value ? 1 : 0);
    }
    return batch;
  };
}

function cbor(value: unknown, batch: number): () => number {
  return () => {
    for (let i = 0; i < batch; i++) {
      const bytes = cborEncode(value);
      const back = cborDecode(bytes);
      sink += bytes.length + (back === value ? 1 : 0);
    }
    return batch;
  };
}

function compare(name: string, oursFn: () => number, peerFn: () => number, rounds = 3): void {
  // interleave rounds so drift (thermal, GC) hits both sides alike; keep each side's best
  let a = 0;
  let b = 0;
  for (let r = 0; r < rounds; r++) {
    a = Math.max(a, measure(oursFn, 400));
    b = Math.max(b, measure(peerFn, 400));
  }
  report({ name, value: a, unit: 'ops/s', ratio: a / b, vs: 'cbor-x' });
}

export default async function main(): Promise<void> {
  compare('wire.codec.vote', ours(Vote, vote, 1000), cbor(vote, 1000));
  compare('wire.codec.tx1k', ours(Tx, tx, 200), cbor(tx, 200));
  if (sink === -1) console.log(sink);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
