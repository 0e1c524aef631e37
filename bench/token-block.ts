/**
 * The token block the executor benchmarks run: n users each holding one minted note, and a block of
 * n conflict-free signed transfers, one per user, on a ledger over the given storage.
 */
import {
  defineToken,
  mintTx,
  registerTokenCode,
  signTx,
  type Token,
  transferTx,
} from '../apps/token/index.ts';
import { nodeMultievaluate } from '../assembly/vm.ts';
import { type BlockResult, executeSerial } from '../engines/executor/block.ts';
import { Ledger } from '../engines/executor/ledger.ts';
import type { Transaction } from '../engines/executor/notes.ts';
import type { Storage } from '../storage/types.ts';
import { sha256 } from '../wire/commit.ts';
import { keyPairFromSeed } from '../wire/sign.ts';

/** Gas per transaction in the benchmarks. */
export const GAS = 10_000_000;
const GOLD = new Uint8Array(32).fill(3);
const seed = (label: string) => sha256(new TextEncoder().encode(label));
const authority = seed('bench authority');
const token: Token = defineToken(keyPairFromSeed(authority).publicKey);

/** n users each holding one note, and a block of n conflict-free signed transfers. */
export function prepare(storage: Storage, n: number): { ledger: Ledger; txs: Transaction[] } {
  const users = Array.from({ length: n }, (_, i) => seed(`bench user ${i}`));
  const pks = users.map((u) => keyPairFromSeed(u).publicKey);
  const ledger = new Ledger(storage);
  registerTokenCode(ledger.notes, token, pks);
  // a transaction creates at most 1024 notes: mint in chunks
  const mints: Transaction[] = [];
  for (let i = 0; i < n; i += 500) {
    const chunk = pks.slice(i, i + 500).map((owner) => ({ owner, asset: GOLD, amount: 10n }));
    mints.push(signTx(mintTx(token, chunk, Uint8Array.of(1, i >> 8, i & 0xff)), [authority]));
  }
  const minted = executeSerial(mints, ledger.notes, nodeMultievaluate, GAS * 100);
  const refused = minted.receipts.find((r) => !r.accepted);
  if (refused !== undefined) throw new Error(`bench mint rejected: ${refused.reason}`);
  ledger.seal(1n, minted.receipts, minted.writes);
  const notes = minted.writes.flatMap((w) => w.create.map((c) => c.note));
  const txs = notes.map((note, i) =>
    signTx(
      transferTx(token, [note], [{ owner: pks[(i + 1) % n]!, asset: GOLD, amount: 10n }], Uint8Array.of(2)),
      [users[i]!],
    ),
  );
  return { ledger, txs };
}

/** Runs the block's transfers and seals them, timed; every transfer must be accepted. */
export function runBlock(
  ledger: Ledger,
  txs: Transaction[],
): { seconds: number; writes: BlockResult['writes'] } {
  const t0 = performance.now();
  const result = executeSerial(txs, ledger.notes, nodeMultievaluate, GAS);
  const sealed = ledger.seal(2n, result.receipts, result.writes);
  const seconds = (performance.now() - t0) / 1000;
  const accepted = sealed.receipts.filter((r) => r.accepted).length;
  if (accepted !== txs.length)
    throw new Error(`bench transfers rejected: ${txs.length - accepted} of ${txs.length}`);
  return { seconds, writes: result.writes };
}
