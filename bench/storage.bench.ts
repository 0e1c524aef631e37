/**
 * Storage batch throughput: writes per second through `SqliteStorage.batch` (batches of 1000
 * puts, 32-byte keys, 100-byte values, WAL + synchronous=FULL, temp-file database) against raw
 * better-sqlite3 prepared INSERTs in one transaction per batch into an identical table and the
 * same pragmas, in the same run, on the same pre-generated data. ratio = ours / raw (goal >= 0.8),
 * the median over interleaved rounds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStorage } from '../storage/sqlite.ts';
import type { BatchOp } from '../storage/types.ts';
import { report } from './report.ts';

const BATCH = 1000;
const KEY_BYTES = 32;
const VALUE_BYTES = 100;
const WARMUP_BATCHES = 20;
const ROUNDS = 8;
const BATCHES_PER_ROUND = 25;

/** Deterministic pseudo-random batches (xorshift32), so both sides write identical data. */
function makeBatches(count: number, seed: number): BatchOp[][] {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  const fill = (n: number) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const r = next();
      b[i] = r;
      if (i + 1 < n) b[i + 1] = r >>> 8;
      if (i + 2 < n) b[i + 2] = r >>> 16;
      if (i + 3 < n) b[i + 3] = r >>> 24;
    }
    return b;
  };
  const out: BatchOp[][] = [];
  for (let j = 0; j < count; j++) {
    const ops: BatchOp[] = new Array(BATCH);
    for (let i = 0; i < BATCH; i++) ops[i] = { op: 'put', key: fill(KEY_BYTES), value: fill(VALUE_BYTES) };
    out.push(ops);
  }
  return out;
}

function timeBatches(batches: BatchOp[][], from: number, to: number, run: (ops: BatchOp[]) => void): number {
  const start = performance.now();
  for (let i = from; i < to; i++) run(batches[i]!);
  return performance.now() - start;
}

export default async function storageBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fractal-bench-storage-'));
  try {
    const total = WARMUP_BATCHES + ROUNDS * BATCHES_PER_ROUND;
    const batches = makeBatches(total, 0x5eed);

    const ours = SqliteStorage.open(join(dir, 'ours.sqlite'));
    const oursRun = (ops: BatchOp[]) => ours.batch(ops);

    const db = new Database(join(dir, 'raw.sqlite'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID');
    const insert = db.prepare('INSERT INTO kv (k, v) VALUES (?, ?)');
    const rawRun = db.transaction((ops: BatchOp[]) => {
      for (const op of ops) if (op.op === 'put') insert.run(op.key, op.value);
    });

    timeBatches(batches, 0, WARMUP_BATCHES, oursRun);
    timeBatches(batches, 0, WARMUP_BATCHES, rawRun);
    // interleave rounds so drift (page cache, table growth, CPU frequency) hits both sides alike
    // the ratio is the median of the per-round ratios: robust to an fsync stall in one round
    let oursMs = 0;
    const ratios: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const from = WARMUP_BATCHES + r * BATCHES_PER_ROUND;
      const to = from + BATCHES_PER_ROUND;
      let o: number;
      let w: number;
      if (r % 2 === 0) {
        o = timeBatches(batches, from, to, oursRun);
        w = timeBatches(batches, from, to, rawRun);
      } else {
        w = timeBatches(batches, from, to, rawRun);
        o = timeBatches(batches, from, to, oursRun);
      }
      oursMs += o;
      ratios.push(w / o); // (ours writes/s) / (raw writes/s) for the same rows
    }
    ratios.sort((a, b) => a - b);
    const mid = ratios.length >> 1;
    const ratio = ratios.length % 2 === 1 ? ratios[mid]! : (ratios[mid - 1]! + ratios[mid]!) / 2;
    const oursRate = (ROUNDS * BATCHES_PER_ROUND * BATCH * 1000) / oursMs;

    // sanity: both sides hold the same rows
    const rawCount = db.prepare('SELECT count(*) FROM kv').pluck().get() as number;
    let oursCount = 0;
    for (const _ of ours.scan(new Uint8Array(0))) oursCount++;
    ours.close();
    db.close();
    if (rawCount !== oursCount || rawCount !== total * BATCH) {
      throw new Error(
        `storage bench: row counts differ (ours ${oursCount}, raw ${rawCount}, expected ${total * BATCH})`,
      );
    }

    report({
      name: 'storage.batch',
      value: oursRate,
      unit: 'writes/s',
      ratio,
      vs: 'raw-better-sqlite3-prepared-insert-txn',
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
