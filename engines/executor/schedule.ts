/**
 * Scheduling a block from declared constraints: transaction j depends on an earlier i when i may
 * write what j reads or writes, or j may write what i reads. Each transaction goes in the first
 * wave after every transaction it depends on, so the transactions of one wave touch disjoint state
 * and can run concurrently against the state the earlier waves left: the result equals serial
 * execution in block order. (A transaction cannot touch state outside its constraints: it fails.)
 */
import { overlap, type Transaction } from './notes.ts';

export function conflicts(a: Transaction, b: Transaction): boolean {
  return (
    overlap(a.stateWriteConstraints, b.stateReadConstraints) ||
    overlap(a.stateWriteConstraints, b.stateWriteConstraints) ||
    overlap(a.stateReadConstraints, b.stateWriteConstraints)
  );
}

/** Waves of transaction indices; within a wave, indices stay in block order. */
export function waves(txs: readonly Transaction[]): number[][] {
  const waveOf: number[] = [];
  const out: number[][] = [];
  for (let j = 0; j < txs.length; j++) {
    let w = 0;
    for (let i = 0; i < j; i++) if (waveOf[i]! >= w && conflicts(txs[i]!, txs[j]!)) w = waveOf[i]! + 1;
    waveOf.push(w);
    const wave = out[w] ?? [];
    wave.push(j);
    out[w] = wave;
  }
  return out;
}
