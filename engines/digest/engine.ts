/**
 * The digest engine: the smallest real application. It folds each committed block into a state
 * root, root(h) = sha256(root(h-1) || blockHash(h)), where root(h-1) is the `appRoot` the block's
 * header already carries, so the engine needs no state of its own and survives any restart.
 * Consensus uses it to agree on an application state before the executor (issue 4) replaces it.
 *
 * It also knows one kind of transaction, so validator set changes can be exercised end to end:
 * `valset` ++ publicKey (32 bytes) ++ power (u64, big-endian) sets that validator's power
 * (0 removes it); consensus applies the change two heights later.
 */
import { assign, enqueueActions, setup } from 'xstate';
import {
  defineEngine,
  type EngineEmitted,
  type EngineEvent,
  type EngineInput,
} from '../../runtime/engine.ts';
import { sha256, toHex } from '../../wire/commit.ts';
import { AppRoot, blockHash, CommittedBlock } from '../../wire/ledger.ts';

const inputs = { committed: CommittedBlock };
const outputs = { appRoot: AppRoot };

const VALSET_MAGIC = new TextEncoder().encode('valset');
const VALSET_TX_BYTES = VALSET_MAGIC.length + 32 + 8;

/** Builds the transaction that sets a validator's power. */
export function valsetTx(publicKey: Uint8Array, power: number): Uint8Array {
  const tx = new Uint8Array(VALSET_TX_BYTES);
  tx.set(VALSET_MAGIC, 0);
  tx.set(publicKey, VALSET_MAGIC.length);
  new DataView(tx.buffer).setBigUint64(VALSET_MAGIC.length + 32, BigInt(power));
  return tx;
}

/** The validator updates a block's transactions ask for (the last one per key wins). */
export function validatorUpdatesOf(txs: readonly Uint8Array[]): { publicKey: Uint8Array; power: bigint }[] {
  const byKey = new Map<string, { publicKey: Uint8Array; power: bigint }>();
  for (const tx of txs) {
    if (tx.length !== VALSET_TX_BYTES || !VALSET_MAGIC.every((b, i) => tx[i] === b)) continue;
    const publicKey = tx.slice(VALSET_MAGIC.length, VALSET_MAGIC.length + 32);
    const power = new DataView(tx.buffer, tx.byteOffset, tx.byteLength).getBigUint64(
      VALSET_MAGIC.length + 32,
    );
    byKey.set(toHex(publicKey), { publicKey, power });
  }
  return [...byKey.values()];
}

export function digestRoot(previousRoot: Uint8Array, hash: Uint8Array): Uint8Array {
  const joined = new Uint8Array(64);
  joined.set(previousRoot, 0);
  joined.set(hash, 32);
  return sha256(joined);
}

const machine = setup({
  types: {} as {
    context: { applied: number };
    events: EngineEvent<typeof inputs>;
    emitted: EngineEmitted<typeof outputs>;
    input: EngineInput<undefined>;
  },
  actions: {
    apply: enqueueActions(({ event, enqueue }) => {
      if (event.type !== 'committed') return;
      const header = event.msg.block.header;
      enqueue.emit({
        type: 'appRoot',
        msg: {
          height: header.height,
          root: digestRoot(header.appRoot, blockHash(header)),
          validatorUpdates: validatorUpdatesOf(event.msg.block.txs),
        },
      });
    }),
    count: assign(({ context }) => ({ applied: context.applied + 1 })),
  },
}).createMachine({
  id: 'digest',
  context: { applied: 0 },
  initial: 'applying',
  states: {
    applying: { on: { committed: { actions: ['apply', 'count'] } } },
  },
});

export const digestEngine = defineEngine<typeof inputs, typeof outputs, undefined>({
  name: 'digest',
  inputs,
  outputs,
  machine,
});
