/**
 * The solver engine's port messages. The intents come from the gossip engine (its `intents` and
 * `gone` outputs) and the chain's progress from the ledger, as shared wire types (wire/intent.ts).
 */
import { DeliveredIntent, IntentsGone, SpentNotes } from '../../wire/intent.ts';
import { Hash } from '../../wire/ledger.ts';
import { type Infer, s } from '../../wire/schema.ts';

export { DeliveredIntent, IntentsGone, SpentNotes };

/** Bytes of a solution's transaction the port admits. */
export const MAX_SOLUTION_BYTES = 1 << 20;

/**
 * A batch's solution: the settlement transaction the application's solver built (its encoding;
 * the node wraps it in an envelope, encrypts it to the epoch key and submits it) and the intents
 * it uses.
 */
export const Solution = s.struct({
  batch: s.u64(),
  height: s.u64(),
  tx: s.bytes({ max: MAX_SOLUTION_BYTES }),
  intents: s.list(Hash, { max: 1 << 16 }),
});
export type Solution = Infer<typeof Solution>;

export const solverInputs = {
  /** a live intent the node's filter wants (from gossip) */
  intents: DeliveredIntent,
  /** intents that left the gossip pool (spent, expired, evicted) */
  gone: IntentsGone,
  /** the chain's height and the notes spent there */
  chain: SpentNotes,
};

export const solverOutputs = {
  solution: Solution,
};
