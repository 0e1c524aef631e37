/**
 * Fixtures the executor's engine tests share: notes of an application that accepts everything,
 * transactions through the declared-inputs/outputs natives, and ordered blocks.
 */
import { EngineGraph } from '../../runtime/graph.ts';
import { LiveScheduler } from '../../runtime/scheduler.ts';
import type { Storage } from '../../storage/types.ts';
import { ALWAYS_ACCEPT } from '../../vm/native.ts';
import type { OrderedBlock } from '../../wire/ledger.ts';
import { encode } from '../../wire/schema.ts';
import { DECLARED_INPUTS, DECLARED_OUTPUTS, Declared, nativeFn } from './natives.ts';
import { type Note, noteKey, Transaction } from './notes.ts';
import type { BlockReceipts } from './ports.ts';
import { addShardedExecutor, type ShardedExecutorOptions } from './sharded.ts';

/** The predicate that accepts every transaction (register it to get the application's id). */
export const ACCEPT = nativeFn(ALWAYS_ACCEPT.name, ALWAYS_ACCEPT.version);
const LOOKUP = nativeFn(DECLARED_INPUTS.name, DECLARED_INPUTS.version);
const CALC = nativeFn(DECLARED_OUTPUTS.name, DECLARED_OUTPUTS.version);

/** Note `k` of `application` (also its owner): key and value the one byte k. */
export function acceptedNote(application: Uint8Array, k: number): Note {
  return { provenance: [], application, owner: application, key: Uint8Array.of(k), value: Uint8Array.of(k) };
}

/** A transaction that spends `inputs` and creates `outputs`, as its extradata declares. */
export function declaredTx(inputs: Note[], outputs: Note[]): Uint8Array {
  return encode(Transaction, {
    stateReadConstraints: inputs.map(noteKey),
    stateWriteConstraints: [...inputs, ...outputs].map(noteKey),
    lookupCode: LOOKUP,
    calculationCode: CALC,
    extradata: encode(Declared, { inputs: inputs.map(noteKey), outputs, payload: new Uint8Array(0) }),
  });
}

/** A block at `height`; a string is an entry that did not decrypt. */
export function orderedBlock(height: bigint, txs: (Uint8Array | string)[]): OrderedBlock {
  return {
    height,
    blockHash: new Uint8Array(32).fill(Number(height)),
    proposer: new Uint8Array(32),
    charges: [],
    txs: txs.map((t, i) => ({
      envelope: new Uint8Array(32).fill(i),
      includedAt: height,
      encrypted: typeof t === 'string',
      tx: typeof t === 'string' ? { tag: 'discarded' as const, value: t } : { tag: 'ok' as const, value: t },
    })),
  };
}

/**
 * `ordered` run and sealed by a sharded executor's engine graph on a live scheduler over `storage`:
 * what a node's executor seals, for comparing with the serial function path.
 */
export async function sealedByShards(
  storage: Storage,
  ordered: OrderedBlock,
  opts: ShardedExecutorOptions,
): Promise<BlockReceipts> {
  const g = new EngineGraph({ node: 'live', scheduler: new LiveScheduler(), storage });
  const ex = addShardedExecutor(g, 'executor', opts);
  const sealed = new Promise<BlockReceipts>((resolve) => g.observe(ex.out.receipts).subscribe(resolve));
  g.start();
  g.send(ex.in.ordered, ordered);
  try {
    return await sealed;
  } finally {
    g.stop();
  }
}
