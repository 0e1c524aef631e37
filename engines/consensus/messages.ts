/**
 * Consensus messages and their wire schemas. Proposals and votes are signed over the canonical
 * encoding of their sign-bytes structs, which include the chain id, so a signature cannot be
 * replayed on another chain or as another kind of message.
 */
import { type Infer, s } from '../../wire/schema.ts';

export const Hash = s.bytes({ length: 32 });
export const PublicKey = s.bytes({ length: 32 });
export const Signature = s.bytes({ length: 64 });

export const MAX_TXS_PER_BLOCK = 10_000;
export const MAX_TX_BYTES = 64 * 1024;
export const MAX_VALIDATORS = 1_000;
export const MAX_EVIDENCE = 100;

export const VOTE_PREVOTE = 0;
export const VOTE_PRECOMMIT = 1;

/** What a validator signs for a vote. */
export const VoteSignBytes = s.struct({
  domain: s.string({ max: 16 }),
  chainId: s.string({ max: 64 }),
  type: s.u8(),
  height: s.u64(),
  round: s.u32(),
  blockHash: s.option(Hash),
});

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

export const ProposalSignBytes = s.struct({
  domain: s.string({ max: 16 }),
  chainId: s.string({ max: 64 }),
  height: s.u64(),
  round: s.u32(),
  /** validRound + 1 (0 = none), so it stays unsigned */
  validRound: s.u32(),
  blockHash: Hash,
});

export const Proposal = s.struct({
  height: s.u64(),
  round: s.u32(),
  validRound: s.u32(),
  block: Block,
  proposer: s.u16(),
  signature: Signature,
});
export type Proposal = Infer<typeof Proposal>;

/** A committed block with its certificate: what block sync serves. */
export const CommittedBlock = s.struct({ block: Block, certificate: Certificate });
export type CommittedBlock = Infer<typeof CommittedBlock>;

/** Decode limits for consensus traffic: blocks are larger than the codec's defaults. */
export const CONSENSUS_LIMITS = { maxBytes: 32 * 1024 * 1024, maxLength: 32 * 1024 * 1024, maxDepth: 32 };

/** Everything consensus nodes say to each other. */
export const ConsensusMessage = s.variant({
  proposal: Proposal,
  vote: Vote,
  /** "I am at this height": lets peers notice they are behind. */
  status: s.struct({ height: s.u64() }),
  syncRequest: s.struct({ height: s.u64() }),
  syncResponse: CommittedBlock,
});
export type ConsensusMessage = Infer<typeof ConsensusMessage>;

/** What travels on the network: the chain id in the clear, so a peer of another chain is told apart. */
export const NetEnvelope = s.struct({ chainId: s.string({ max: 64 }), message: ConsensusMessage });
export type NetEnvelope = Infer<typeof NetEnvelope>;
