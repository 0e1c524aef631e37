/**
 * The executor's port messages: the external ports (ordered blocks in; state roots and receipts
 * out), shared by the serial engine and the sharded executor, and the sharded executor's
 * internal messages between its coordinator, its shards and its predicate runner.
 */
import { AppRoot, MAX_TXS_PER_BLOCK, OrderedBlock } from '../../wire/ledger.ts';
import { type Infer, s } from '../../wire/schema.ts';
import { FunctionV, Note } from './notes.ts';

export const ReceiptWire = s.struct({
  accepted: s.bool(),
  phase: s.string({ max: 16 }),
  reason: s.string({ max: 512 }),
  predicate: s.option(s.string({ max: 64 })),
  note: s.option(s.string({ max: 8192 })),
  gasUsed: s.u64(),
});
export type ReceiptWire = Infer<typeof ReceiptWire>;

/** Every transaction's receipt of one executed height, in block order. */
export const BlockReceipts = s.struct({
  height: s.u64(),
  root: s.bytes({ length: 32 }),
  /** one per entry of the ordered block (at most twice a block's transactions) */
  receipts: s.list(ReceiptWire, { max: 2 * MAX_TXS_PER_BLOCK }),
});
export type BlockReceipts = Infer<typeof BlockReceipts>;

export const executorInputs = { ordered: OrderedBlock };
export const executorOutputs = { appRoot: AppRoot, receipts: BlockReceipts };

// ------------------------------------------------------------------------------------------------
// Sharded executor: coordinator <-> shards

/** Keys (and notes) one round of one block may carry to one shard: every transaction's inputs or outputs. */
const MAX_KEYS = 2 * MAX_TXS_PER_BLOCK * 1024;
const Key = s.bytes({ max: 4096 });

/**
 * Coordinator -> one shard, on one FIFO port per shard (so a shard sees a block's rounds in the
 * order they were sent; a re-sent request precedes every later round):
 * - `read`: the note and spent flag of each key (lookup's inputs, commit's outputs), as of the
 *   block's earlier waves;
 * - `apply`: one wave's accepted writes to the shard's keys (consumed notes join the spent set,
 *   created notes appear), applied once per (height, round) however often it is sent;
 * - `sealed`: the coordinator sealed the height atomically; the shard drops its block view.
 */
export const ShardRequest = s.variant({
  read: s.struct({ height: s.u64(), round: s.u32(), keys: s.list(Key, { max: MAX_KEYS }) }),
  apply: s.struct({
    height: s.u64(),
    round: s.u32(),
    consume: s.list(Key, { max: MAX_KEYS }),
    create: s.list(s.struct({ key: Key, note: Note }), { max: MAX_KEYS }),
  }),
  sealed: s.struct({ height: s.u64() }),
});
export type ShardRequest = Infer<typeof ShardRequest>;

/** A key's note, if any, and whether it is spent (false where it holds a note: a note is consumed by deleting it). */
export const ShardEntry = s.struct({ key: Key, note: s.option(Note), spent: s.bool() });
export type ShardEntry = Infer<typeof ShardEntry>;

/** One shard -> the coordinator: the answer to a `read` or the acknowledgement of an `apply`. */
export const ShardReply = s.variant({
  read: s.struct({
    shard: s.u16(),
    height: s.u64(),
    round: s.u32(),
    entries: s.list(ShardEntry, { max: MAX_KEYS }),
  }),
  applied: s.struct({ shard: s.u16(), height: s.u64(), round: s.u32() }),
});
export type ShardReply = Infer<typeof ShardReply>;

// ------------------------------------------------------------------------------------------------
// Sharded executor: coordinator <-> predicate runner (worker threads live, in process in simulation)

/** One predicate evaluation: the predicate's code on the transaction's view, with a gas limit. */
export const PredicateCall = s.struct({
  fn: FunctionV,
  inputs: s.list(Note, { max: 1024 }),
  outputs: s.list(Note, { max: 1024 }),
  extradata: s.bytes({ max: 256 * 1024 }),
  gasLimit: s.u64(),
});
export type PredicateCall = Infer<typeof PredicateCall>;

/** Every predicate of one wave, in job order. */
export const PredicateBatch = s.struct({
  height: s.u64(),
  round: s.u32(),
  calls: s.list(PredicateCall, { max: MAX_KEYS }),
});
export type PredicateBatch = Infer<typeof PredicateBatch>;

/** What validity needs of an evaluation: accepted (returned true), rejected (anything else), or failed. */
export const PredicateOutcome = s.struct({
  gasUsed: s.u64(),
  outcome: s.variant({
    accepted: s.unit(),
    rejected: s.unit(),
    failed: s.struct({ code: s.string({ max: 64 }), message: s.string({ max: 64 * 1024 }) }),
  }),
});
export type PredicateOutcome = Infer<typeof PredicateOutcome>;

export const PredicateResults = s.struct({
  height: s.u64(),
  round: s.u32(),
  results: s.list(PredicateOutcome, { max: MAX_KEYS }),
});
export type PredicateResults = Infer<typeof PredicateResults>;

export const shardInputs = { request: ShardRequest };
export const shardOutputs = { reply: ShardReply };

/** The coordinator's ports: the executor's external ones, one request port per shard, replies, predicates. */
export const coordinatorInputs = { ...executorInputs, replies: ShardReply, verdicts: PredicateResults };
export type CoordinatorInputs = typeof coordinatorInputs;
export type CoordinatorOutputs = typeof executorOutputs & { predicates: typeof PredicateBatch } & {
  [K in `shard${number}`]: typeof ShardRequest;
};

export function coordinatorOutputs(shards: number): CoordinatorOutputs {
  const out: Record<string, unknown> = { ...executorOutputs, predicates: PredicateBatch };
  for (let i = 0; i < shards; i++) out[`shard${i}`] = ShardRequest;
  return out as CoordinatorOutputs;
}
