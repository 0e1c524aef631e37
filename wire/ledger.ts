/**
 * The chain's shared message schemas: what consensus, the executor, the relay and clients
 * exchange about blocks. They live here, not in one engine, because engines meet only through
 * messages and never import each other.
 */
import { sha256 } from './commit.ts';
import { Charge } from './fees.ts';
import { encode, type Infer, s } from './schema.ts';

export const Hash = s.bytes({ length: 32 });
export const PublicKey = s.bytes({ length: 32 });
export const Signature = s.bytes({ length: 64 });

export const MAX_TXS_PER_BLOCK = 10_000;
export const MAX_TX_BYTES = 64 * 1024;
export const MAX_VALIDATORS = 1_000;
export const MAX_EVIDENCE = 100;

/**
 * Decode limits for blocks and what carries them (consensus traffic, block sync, stored blocks):
 * a block is larger than the codec's defaults allow.
 */
export const BLOCK_LIMITS = Object.freeze({
  maxBytes: 32 * 1024 * 1024,
  maxLength: 32 * 1024 * 1024,
  maxDepth: 32,
});

export const VOTE_PREVOTE = 0;
export const VOTE_PRECOMMIT = 1;

export const Vote = s.struct({
  type: s.u8(),
  height: s.u64(),
  round: s.u32(),
  /** null = nil */
  blockHash: s.option(Hash),
  validator: s.u16(),
  signature: Signature,
});
export type Vote = Infer<typeof Vote>;

export const CommitSig = s.struct({ validator: s.u16(), signature: Signature });
export type CommitSig = Infer<typeof CommitSig>;

/** 2f+1 precommits for one block: the proof that a height is decided. */
export const Certificate = s.struct({
  height: s.u64(),
  round: s.u32(),
  blockHash: Hash,
  signatures: s.list(CommitSig, { max: MAX_VALIDATORS }),
});
export type Certificate = Infer<typeof Certificate>;

/** Two different signed votes by one validator for the same height, round and type. */
export const DuplicateVoteEvidence = s.struct({ first: Vote, second: Vote });
export type DuplicateVoteEvidence = Infer<typeof DuplicateVoteEvidence>;

/** A proposal without its block: what the proposer signed, enough to prove equivocation. */
export const SignedProposalHeader = s.struct({
  height: s.u64(),
  round: s.u32(),
  validRound: s.u32(),
  blockHash: Hash,
  proposer: s.u16(),
  signature: Signature,
});
export type SignedProposalHeader = Infer<typeof SignedProposalHeader>;

/** Two different signed proposals by one proposer for the same height and round. */
export const DuplicateProposalEvidence = s.struct({
  first: SignedProposalHeader,
  second: SignedProposalHeader,
});
export type DuplicateProposalEvidence = Infer<typeof DuplicateProposalEvidence>;

export const Evidence = s.variant({ vote: DuplicateVoteEvidence, proposal: DuplicateProposalEvidence });
export type Evidence = Infer<typeof Evidence>;

export const BlockHeader = s.struct({
  chainId: s.string({ max: 64 }),
  height: s.u64(),
  /** The proposer's local time (ms); informative only. */
  time: s.u64(),
  proposer: PublicKey,
  lastBlockHash: Hash,
  /** sha256 of the encoded transactions list. */
  txsHash: Hash,
  /** The application state root after executing the previous block. */
  appRoot: Hash,
  lastCommitHash: Hash,
  evidenceHash: Hash,
  validatorsHash: Hash,
});
export type BlockHeader = Infer<typeof BlockHeader>;

export const Block = s.struct({
  header: BlockHeader,
  txs: s.list(s.bytes({ max: MAX_TX_BYTES }), { max: MAX_TXS_PER_BLOCK }),
  /** The previous block's commit certificate (none for height 1). */
  lastCommit: s.option(Certificate),
  evidence: s.list(Evidence, { max: MAX_EVIDENCE }),
});
export type Block = Infer<typeof Block>;

/** A committed block with its certificate: what block sync serves. */
export const CommittedBlock = s.struct({ block: Block, certificate: Certificate });
export type CommittedBlock = Infer<typeof CommittedBlock>;

/** A change of one validator's power (0 removes it), decided by the application. */
export const ValidatorUpdate = s.struct({ publicKey: s.bytes({ length: 32 }), power: s.u64() });
export type ValidatorUpdate = Infer<typeof ValidatorUpdate>;

/**
 * The application's state root after executing a height, and the validator updates that height
 * decided; they take effect two heights later (height + 2), as in CometBFT, so the set of the next
 * height is always known before it starts.
 */
export const AppRoot = s.struct({
  height: s.u64(),
  root: Hash,
  validatorUpdates: s.list(ValidatorUpdate, { max: 1_000 }),
});
export type AppRoot = Infer<typeof AppRoot>;

/** A block's identity: sha256 of its header's canonical encoding. */
export function blockHash(header: BlockHeader): Uint8Array {
  return sha256(encode(BlockHeader, header));
}

/**
 * One transaction as the executor receives it: which envelope it came from, and either the
 * executor transaction's bytes or why it was discarded before execution (a ciphertext that did
 * not decrypt, a malformed plaintext). Discarded entries still get a receipt, in order.
 */
export const OrderedTx = s.struct({
  envelope: Hash,
  /** the height whose block carried the envelope (earlier than `OrderedBlock.height` for decrypted txs) */
  includedAt: s.u64(),
  encrypted: s.bool(),
  tx: s.variant({ ok: s.bytes({ max: MAX_TX_BYTES }), discarded: s.string({ max: 256 }) }),
});
export type OrderedTx = Infer<typeof OrderedTx>;

/**
 * What the decryptor hands the executor for a committed height: the fee charges of the block's
 * envelopes, and the transactions that became executable at that height, in execution order (the
 * encrypted transactions decrypted at this height in their committed order, then this block's
 * plain transactions in block order).
 */
export const OrderedBlock = s.struct({
  height: s.u64(),
  blockHash: Hash,
  /** the block's proposer: it is credited with the fees the block's envelopes pay */
  proposer: PublicKey,
  /** the fee charges of the block's envelopes, in block order, paid before any of `txs` runs */
  charges: s.list(Charge, { max: MAX_TXS_PER_BLOCK }),
  txs: s.list(OrderedTx, { max: 2 * MAX_TXS_PER_BLOCK }),
});
export type OrderedBlock = Infer<typeof OrderedBlock>;
