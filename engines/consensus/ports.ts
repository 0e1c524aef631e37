/** The consensus engine's port messages. */

import { AppRoot, CommittedBlock } from '../../wire/ledger.ts';
import { NetIn, NetOut, PeerPenalty, TxBatch } from '../../wire/ports.ts';

export { AppRoot, ValidatorUpdate } from '../../wire/ledger.ts';
export { NetIn, NetOut, PeerPenalty, TxBatch };

export const consensusInputs = { net: NetIn, txs: TxBatch, appRoot: AppRoot };
export const consensusOutputs = { net: NetOut, committed: CommittedBlock, penalty: PeerPenalty };
