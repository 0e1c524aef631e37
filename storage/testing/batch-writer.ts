/**
 * Child process for storage/durability.test.ts:
 *   node --import tsx storage/testing/batch-writer.ts <db path> <keys per batch>
 * Resumes after the batch recorded under HEAD, then loops forever over batches b = head+1, ...;
 * batch b, in one atomic `Storage.batch`:
 *   - puts K keys  0x62 ++ BE32(b) ++ BE32(i)  with values  BE32(b) ++ BE32(i) ++ 92 filler bytes,
 *   - deletes the K keys of batch b-2,
 *   - sets HEAD (0x68) to BE32(b).
 * So after any crash exactly batches HEAD-1 and HEAD are present, each with all K keys.
 * Prints `begin b` before and `commit b` after each batch (stdout to a pipe is synchronous).
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteStorage } from '../sqlite.ts';
import type { BatchOp } from '../types.ts';

export const HEAD = Uint8Array.of(0x68);
export const BATCH_TAG = 0x62;

export function batchKey(b: number, i: number): Uint8Array {
  const k = new Uint8Array(9);
  const dv = new DataView(k.buffer);
  k[0] = BATCH_TAG;
  dv.setUint32(1, b);
  dv.setUint32(5, i);
  return k;
}

export function batchValue(b: number, i: number): Uint8Array {
  const v = new Uint8Array(100);
  const dv = new DataView(v.buffer);
  dv.setUint32(0, b);
  dv.setUint32(4, i);
  v.fill((b * 31 + i) & 0xff, 8);
  return v;
}

export function readHead(s: SqliteStorage): number | undefined {
  const h = s.read(HEAD);
  return h === undefined ? undefined : new DataView(h.buffer, h.byteOffset, h.byteLength).getUint32(0);
}

function main(): void {
  const [path, kArg] = process.argv.slice(2);
  if (path === undefined || kArg === undefined)
    throw new Error('usage: batch-writer.ts <db> <keys per batch>');
  const k = Number(kArg);
  const s = SqliteStorage.open(path);
  const head = readHead(s);
  process.stdout.write(`ready ${head ?? -1}\n`);
  for (let b = head === undefined ? 0 : head + 1; ; b++) {
    const ops: BatchOp[] = [];
    for (let i = 0; i < k; i++) ops.push({ op: 'put', key: batchKey(b, i), value: batchValue(b, i) });
    if (b >= 2) for (let i = 0; i < k; i++) ops.push({ op: 'del', key: batchKey(b - 2, i) });
    const hv = new Uint8Array(4);
    new DataView(hv.buffer).setUint32(0, b);
    ops.push({ op: 'put', key: HEAD, value: hv });
    process.stdout.write(`begin ${b}\n`);
    s.batch(ops);
    process.stdout.write(`commit ${b}\n`);
  }
}

// run only as a script, not when the test imports the helpers above
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) main();
