/** Test helpers for the shared chain schemas (imported by tests only). */
import type { CommittedBlock } from './ledger.ts';

/**
 * A committed block with the given height and transactions and zero hashes and no signatures: what
 * engines downstream of consensus (mempool, decryptor) need, without running consensus.
 */
export function bareCommittedBlock(chainId: string, height: bigint, txs: Uint8Array[]): CommittedBlock {
  const z = new Uint8Array(32);
  return {
    block: {
      header: {
        chainId,
        height,
        time: 0n,
        proposer: z,
        lastBlockHash: z,
        txsHash: z,
        appRoot: z,
        lastCommitHash: z,
        evidenceHash: z,
        validatorsHash: z,
      },
      txs,
      lastCommit: null,
      evidence: [],
    },
    certificate: { height, round: 0, blockHash: z, signatures: [] },
  };
}
