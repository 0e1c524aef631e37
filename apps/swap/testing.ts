/**
 * Fixtures the swap's settlement tests share: a registry with the token's natives and swap-owner,
 * two tokens holding three assets X, Y (token A) and Z (token B), users and a solver, stores of
 * swap-owner notes, intents over them, and balances.
 */
import { type BlockResult, executeSerial } from '../../engines/executor/block.ts';
import { DECLARED_INPUTS, DECLARED_OUTPUTS } from '../../engines/executor/natives.ts';
import { type Note, noteKey, type Transaction } from '../../engines/executor/notes.ts';
import type { Multievaluate } from '../../engines/executor/phases.ts';
import { NoteStore } from '../../engines/executor/state.ts';
import { MemoryStorage } from '../../storage/memory.ts';
import { multievaluate } from '../../vm/multievaluate.ts';
import { builtinNatives, nativeVm } from '../../vm/native.ts';
import { createVmTable } from '../../vm/table.ts';
import type { VirtualMachine } from '../../vm/types.ts';
import { sha256 } from '../../wire/commit.ts';
import { type KeyPair, keyPairFromSeed } from '../../wire/sign.ts';
import { bytesEqual } from '../../wire/types.ts';
import { defineToken, registerTokenCode, type Token } from '../token/client.ts';
import { tokenValueOf } from '../token/format.ts';
import { tokenNatives } from '../token/predicates.ts';
import { type AssetRef, assetKey, type SignedSwapIntent, signIntent } from './format.ts';
import { noteAssetKey, swapNatives, swapOwnerCommitment, swapOwnerPredicate } from './predicate.ts';
import { swapNote } from './settlement.ts';

const registry = swapNatives(
  tokenNatives(builtinNatives().register(DECLARED_INPUTS).register(DECLARED_OUTPUTS)),
);
const table = createVmTable([nativeVm(registry) as VirtualMachine<never>]);
export const mev: Multievaluate = (fn, args, gas) => multievaluate(fn, args, gas, { table });
export const GAS = 10_000_000;

const label = (s: string) => sha256(new TextEncoder().encode(s));
export const keyPair = (name: string): KeyPair => keyPairFromSeed(label(name));

export const authorityA = keyPair('authority A');
export const authorityB = keyPair('authority B');
export const tokenA = defineToken(authorityA.publicKey);
export const tokenB = defineToken(authorityB.publicKey);
const ref = (token: Token, n: number): AssetRef => ({
  provenance: [],
  application: token.application,
  asset: new Uint8Array(32).fill(n),
});
export const X = ref(tokenA, 1);
export const Y = ref(tokenA, 2);
export const Z = ref(tokenB, 3);
export const ASSETS: readonly AssetRef[] = [X, Y, Z];

export const users: readonly KeyPair[] = Array.from({ length: 8 }, (_, i) => keyPair(`user ${i}`));
export const solver = keyPair('solver');

/** A swap-owner note of `owner` holding `amount` of `asset`, its key from `name`. */
export function held(owner: KeyPair, asset: AssetRef, amount: bigint, name: string): Note {
  return swapNote(owner.publicKey, asset, amount, label(name));
}

/** A store holding `notes`, with the tokens' and every user's and the solver's predicate code. */
export function storeWith(notes: readonly Note[]): NoteStore {
  const store = new NoteStore(new MemoryStorage());
  for (const t of [tokenA, tokenB])
    registerTokenCode(
      store,
      t,
      [...users, solver].map((u) => u.publicKey),
    );
  for (const u of [...users, solver]) store.registerCode(swapOwnerPredicate(u.publicKey).fn);
  store.putNotes(notes.map((note) => ({ key: noteKey(note), note })));
  return store;
}

/**
 * Runs `txs` as one block at `height`; returns the receipts and the notes after it (the store is
 * left as it was).
 */
export function run(
  store: NoteStore,
  txs: readonly Transaction[],
  height = 0n,
): { result: BlockResult; after: Note[] } {
  const result = executeSerial(txs, store, mev, GAS, height);
  const copy = (store.storage as MemoryStorage).clone();
  copy.batch(NoteStore.ops(result.writes));
  return { result, after: [...new NoteStore(copy).notes()].map(([, n]) => n) };
}

/** What `owner` holds of `asset` in swap-owner notes. */
export function balance(notes: Iterable<Note>, owner: KeyPair, asset: AssetRef): bigint {
  const oc = swapOwnerCommitment(owner.publicKey);
  const k = assetKey(asset);
  let total = 0n;
  for (const n of notes) {
    const v = tokenValueOf(n.value);
    if (v !== undefined && bytesEqual(n.owner, oc) && noteAssetKey(n, v.asset) === k) total += v.amount;
  }
  return total;
}

/** The total of `asset` in any notes (conservation: a settlement never changes it). */
export function supply(notes: Iterable<Note>, asset: AssetRef): bigint {
  const k = assetKey(asset);
  let total = 0n;
  for (const n of notes) {
    const v = tokenValueOf(n.value);
    if (v !== undefined && noteAssetKey(n, v.asset) === k) total += v.amount;
  }
  return total;
}

export interface IntentSpec {
  readonly give: readonly [AssetRef, bigint];
  readonly want: readonly [AssetRef, bigint];
  readonly partial?: boolean;
  readonly nonce?: number;
  /** the routing reward and the entry node (rewards.ts) */
  readonly routeFee?: bigint;
  readonly entry?: Uint8Array;
  /** the last height it may settle at (default 1,000) */
  readonly expires?: bigint;
}

/** `owner`'s signed intent offering `notes`. */
export function intentOf(owner: KeyPair, notes: readonly Note[], spec: IntentSpec): SignedSwapIntent {
  return signIntent(
    {
      owner: owner.publicKey,
      give: { of: spec.give[0], amount: spec.give[1] },
      want: { of: spec.want[0], amount: spec.want[1] },
      partial: spec.partial ?? false,
      expires: spec.expires ?? 1_000n,
      inputs: notes.map((n) => n.key),
      nonce: new Uint8Array(32).fill(spec.nonce ?? 0),
      routeFee: spec.routeFee ?? 0n,
      entry: spec.entry ?? new Uint8Array(0),
    },
    owner.secretKey,
  );
}
