/**
 * Pure chain rules: hashes, what gets signed, and the validity of blocks, votes, certificates and
 * evidence. Every check returns a typed reason instead of throwing, so bad input from a peer is
 * counted and dropped and never reaches the round state machine.
 */
import { sha256, toHex } from '../../wire/commit.ts';
import { encode, s } from '../../wire/schema.ts';
import type { Verifier } from '../../wire/sign.ts';
import { bytesEqual } from '../../wire/types.ts';
import {
  type Block,
  Certificate,
  type DuplicateVoteEvidence,
  type Evidence,
  Evidence as EvidenceSchema,
  ProposalSignBytes,
  type SignedProposalHeader,
  VOTE_PRECOMMIT,
  VOTE_PREVOTE,
  type Vote,
  VoteSignBytes,
} from './messages.ts';
import { quorum, type ValidatorSet } from './validators.ts';

export const ZERO_HASH: Uint8Array = new Uint8Array(32);

export type RejectReason =
  | 'undecodable'
  | 'wrong-chain'
  | 'unknown-validator'
  | 'bad-signature'
  | 'bad-vote-type'
  | 'far-future-height'
  | 'far-future-round'
  | 'not-proposer'
  | 'bad-block'
  | 'bad-block-time'
  | 'oversize-block'
  | 'repeated-tx'
  | 'bad-certificate'
  | 'bad-evidence';

const TxList = s.list(s.bytes());
const EvidenceList = s.list(EvidenceSchema);

export { blockHash } from '../../wire/ledger.ts';
export { bytesEqual };

/** A proposer's block time: its clock, but always after the previous block's time. */
export function nextBlockTime(lastBlockTime: bigint, now: number): bigint {
  const clock = BigInt(Math.max(0, Math.floor(now)));
  return clock > lastBlockTime ? clock : lastBlockTime + 1n;
}

export function txsHash(txs: readonly Uint8Array[]): Uint8Array {
  return sha256(encode(TxList, [...txs]));
}

export function evidenceHash(evidence: readonly Evidence[]): Uint8Array {
  return sha256(encode(EvidenceList, [...evidence]));
}

export function certificateHash(cert: Certificate | null): Uint8Array {
  return cert === null ? ZERO_HASH : sha256(encode(Certificate, cert));
}

const ValidatorsHashInput = s.list(s.struct({ key: s.bytes({ length: 32 }), power: s.u64() }));
/**
 * Each set's hash, computed once: a set is immutable and kept from height to height, and every
 * proposal built or checked hashes it. The hash handed out is shared: nobody writes into it.
 */
const hashOfSet = new WeakMap<ValidatorSet, Uint8Array>();

/** Commits to the validator set: ids (public keys) and powers in index order. */
export function validatorsHash(set: ValidatorSet): Uint8Array {
  const known = hashOfSet.get(set);
  if (known !== undefined) return known;
  const parts = set.validators.map((v) => ({ key: v.publicKey, power: BigInt(v.power) }));
  const hash = sha256(encode(ValidatorsHashInput, parts));
  hashOfSet.set(set, hash);
  return hash;
}

export function voteSignBytes(
  chainId: string,
  v: { type: number; height: bigint; round: number; blockHash: Uint8Array | null },
): Uint8Array {
  return encode(VoteSignBytes, {
    domain: 'fractal/vote',
    chainId,
    type: v.type,
    height: v.height,
    round: v.round,
    blockHash: v.blockHash,
  });
}

export function proposalSignBytes(
  chainId: string,
  p: { height: bigint; round: number; validRound: number; blockHash: Uint8Array },
): Uint8Array {
  return encode(ProposalSignBytes, {
    domain: 'fractal/proposal',
    chainId,
    height: p.height,
    round: p.round,
    validRound: p.validRound,
    blockHash: p.blockHash,
  });
}

/** Checks a vote's validator and signature (the height and round are the caller's business). */
export function checkVote(
  vote: Vote,
  set: ValidatorSet,
  chainId: string,
  verify: Verifier,
): RejectReason | null {
  if (vote.type !== VOTE_PREVOTE && vote.type !== VOTE_PRECOMMIT) return 'bad-vote-type';
  const validator = set.validators[vote.validator];
  if (validator === undefined) return 'unknown-validator';
  return verify(validator.publicKey, voteSignBytes(chainId, vote), vote.signature) ? null : 'bad-signature';
}

/** A certificate is valid for (height, blockHash) if distinct validators with 2f+1 power signed precommits. */
export function checkCertificate(
  cert: Certificate,
  height: bigint,
  hash: Uint8Array,
  set: ValidatorSet,
  chainId: string,
  verify: Verifier,
): RejectReason | null {
  if (cert.height !== height || !bytesEqual(cert.blockHash, hash)) return 'bad-certificate';
  const seen = new Set<number>();
  let power = 0;
  for (const sig of cert.signatures) {
    const validator = set.validators[sig.validator];
    if (validator === undefined || seen.has(sig.validator)) return 'bad-certificate';
    seen.add(sig.validator);
    const bytes = voteSignBytes(chainId, {
      type: VOTE_PRECOMMIT,
      height,
      round: cert.round,
      blockHash: hash,
    });
    if (!verify(validator.publicKey, bytes, sig.signature)) return 'bad-certificate';
    power += validator.power;
  }
  return power >= quorum(set.totalPower) ? null : 'bad-certificate';
}

/** Evidence of either kind: two validly signed, conflicting messages from one validator. */
export function checkEvidence(
  e: Evidence,
  set: ValidatorSet,
  chainId: string,
  verify: Verifier,
): RejectReason | null {
  return e.tag === 'vote'
    ? checkVoteEvidence(e.value, set, chainId, verify)
    : checkProposalEvidence(e.value, set, chainId, verify);
}

function checkProposalHeader(
  p: SignedProposalHeader,
  set: ValidatorSet,
  chainId: string,
  verify: Verifier,
): boolean {
  const validator = set.validators[p.proposer];
  return validator !== undefined && verify(validator.publicKey, proposalSignBytes(chainId, p), p.signature);
}

/** Two validly signed proposals by one proposer for one height and round, for different blocks. */
export function checkProposalEvidence(
  e: { first: SignedProposalHeader; second: SignedProposalHeader },
  set: ValidatorSet,
  chainId: string,
  verify: Verifier,
): RejectReason | null {
  const a = e.first;
  const b = e.second;
  if (a.proposer !== b.proposer || a.height !== b.height || a.round !== b.round) return 'bad-evidence';
  if (bytesEqual(a.blockHash, b.blockHash) && a.validRound === b.validRound) return 'bad-evidence';
  if (!checkProposalHeader(a, set, chainId, verify) || !checkProposalHeader(b, set, chainId, verify))
    return 'bad-evidence';
  return null;
}

/** Two validly signed, different votes by one validator for one height, round and type. */
export function checkVoteEvidence(
  e: DuplicateVoteEvidence,
  set: ValidatorSet,
  chainId: string,
  verify: Verifier,
): RejectReason | null {
  const a = e.first;
  const b = e.second;
  if (a.validator !== b.validator || a.height !== b.height || a.round !== b.round || a.type !== b.type) {
    return 'bad-evidence';
  }
  if (optionalBytesEqual(a.blockHash, b.blockHash)) return 'bad-evidence';
  if (checkVote(a, set, chainId, verify) !== null || checkVote(b, set, chainId, verify) !== null)
    return 'bad-evidence';
  return null;
}

export interface ChainTip {
  chainId: string;
  /** The height this block must have. */
  height: bigint;
  lastBlockHash: Uint8Array;
  /** The previous block's header time (ms); 0 before height 1. */
  lastBlockTime: bigint;
  /** The app root after the previous block, when known. */
  appRoot: Uint8Array | undefined;
  validators: ValidatorSet;
  /** The validator set of the previous height (signs the previous block's certificate). */
  previousValidators: ValidatorSet;
  /** Most transactions in one block, and most bytes of them. */
  maxTxs: number;
  maxTxBytes: number;
  /** Whether an earlier block carried the transaction with this sha256. */
  isCommittedTx: (txId: Uint8Array) => boolean;
}

/**
 * valid(v) of the algorithm: is this block a well-formed successor of the tip? The header's
 * proposer need only be a validator: a value locked in one round is re-proposed unchanged by the
 * proposer of a later round (the round's proposer is checked on the signed proposal instead).
 * Its transactions fit the block limits, and none is carried twice, in it or by an earlier block:
 * a committed envelope replayed to a restarted node's mempool never reaches a second block.
 */
export function checkBlock(block: Block, tip: ChainTip, verify: Verifier): RejectReason | null {
  const h = block.header;
  if (h.chainId !== tip.chainId) return 'wrong-chain';
  if (h.height !== tip.height) return 'bad-block';
  if (!bytesEqual(h.lastBlockHash, tip.lastBlockHash)) return 'bad-block';
  // block times strictly increase: headers are ordered by time as by height (light clients freeze
  // on a header that breaks this, and packet timeouts by time rely on it)
  if (tip.height > 1n && h.time <= tip.lastBlockTime) return 'bad-block-time';
  if (tip.appRoot !== undefined && !bytesEqual(h.appRoot, tip.appRoot)) return 'bad-block';
  if (!tip.validators.index.has(toHex(h.proposer))) return 'bad-block';
  if (!bytesEqual(h.txsHash, txsHash(block.txs))) return 'bad-block';
  const txProblem = checkTxs(block.txs, tip);
  if (txProblem !== null) return txProblem;
  if (!bytesEqual(h.evidenceHash, evidenceHash(block.evidence))) return 'bad-block';
  if (!bytesEqual(h.validatorsHash, validatorsHash(tip.validators))) return 'bad-block';
  if (!bytesEqual(h.lastCommitHash, certificateHash(block.lastCommit))) return 'bad-block';
  if (tip.height === 1n) {
    if (block.lastCommit !== null) return 'bad-block';
  } else {
    if (block.lastCommit === null) return 'bad-block';
    const certOk = checkCertificate(
      block.lastCommit,
      tip.height - 1n,
      tip.lastBlockHash,
      tip.previousValidators,
      tip.chainId,
      verify,
    );
    if (certOk !== null) return certOk;
  }
  for (const e of block.evidence) {
    if (e.value.first.height !== tip.height - 1n) return 'bad-evidence';
    if (checkEvidence(e, tip.previousValidators, tip.chainId, verify) !== null) return 'bad-evidence';
  }
  return null;
}

function checkTxs(txs: readonly Uint8Array[], tip: ChainTip): RejectReason | null {
  if (txs.length > tip.maxTxs) return 'oversize-block';
  let bytes = 0;
  for (const tx of txs) bytes += tx.length;
  if (bytes > tip.maxTxBytes) return 'oversize-block';
  const seen = new Set<string>();
  for (const tx of txs) {
    const id = txId(tx);
    if (seen.has(id)) return 'repeated-tx';
    seen.add(id);
    if (tip.isCommittedTx(txIdBytes(tx))) return 'repeated-tx';
  }
  return null;
}

/**
 * A transaction's sha256, remembered per byte array: the mempool re-sends its batch (up to a
 * block's worth of the same arrays) whenever the pool changes, and blocks are checked by several
 * rules. Transactions are never mutated, and the memo is a pure function of the bytes, so this
 * changes nothing but the cost.
 */
const txHashes = new WeakMap<Uint8Array, Uint8Array>();
export function txIdBytes(tx: Uint8Array): Uint8Array {
  let id = txHashes.get(tx);
  if (id === undefined) {
    id = sha256(tx);
    txHashes.set(tx, id);
  }
  return id;
}

const txHexes = new WeakMap<Uint8Array, string>();
/** Hex of `txIdBytes(tx)`, memoised the same way. */
export function txId(tx: Uint8Array): string {
  let id = txHexes.get(tx);
  if (id === undefined) {
    id = toHex(txIdBytes(tx));
    txHexes.set(tx, id);
  }
  return id;
}

function optionalBytesEqual(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return bytesEqual(a, b);
}
