/**
 * Consensus messages and their wire schemas. Proposals and votes are signed over the canonical
 * encoding of their sign-bytes structs, which include the chain id, so a signature cannot be
 * replayed on another chain or as another kind of message.
 */
import { BLOCK_LIMITS, Block, CommittedBlock, Hash, Signature, Vote } from '../../wire/ledger.ts';
import { type Infer, s, tryDecode } from '../../wire/schema.ts';
import type { ConsensusStep } from '../../wire/signing-guard.ts';

export * from '../../wire/ledger.ts';

/** What a validator signs for a vote. */
export const VoteSignBytes = s.struct({
  domain: s.string({ max: 16 }),
  chainId: s.string({ max: 64 }),
  type: s.u8(),
  height: s.u64(),
  round: s.u32(),
  blockHash: s.option(Hash),
});

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

/** Decode limits for consensus traffic: blocks are larger than the codec's defaults. */
export const CONSENSUS_LIMITS = BLOCK_LIMITS;

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

/** The consensus step a message to sign is for (the key's guard orders them), or undefined. */
export function consensusStepOf(bytes: Uint8Array): ConsensusStep | undefined {
  const vote = tryDecode(VoteSignBytes, bytes);
  if (vote.ok && vote.value.domain === 'fractal/vote') {
    // prevote type 0 -> step 1, precommit type 1 -> step 2
    return { height: vote.value.height, round: vote.value.round, step: vote.value.type + 1 };
  }
  const proposal = tryDecode(ProposalSignBytes, bytes);
  if (proposal.ok && proposal.value.domain === 'fractal/proposal') {
    return { height: proposal.value.height, round: proposal.value.round, step: 0 };
  }
  return undefined;
}
