/** The executor engine's port messages. */
import { AppRoot, CommittedBlock } from '../../wire/ledger.ts';
import { type Infer, s } from '../../wire/schema.ts';

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
  receipts: s.list(ReceiptWire),
});
export type BlockReceipts = Infer<typeof BlockReceipts>;

export const executorInputs = { committed: CommittedBlock };
export const executorOutputs = { appRoot: AppRoot, receipts: BlockReceipts };
