/**
 * One validator's (or full node's) consensus, around the pure round state machine: decoding and
 * checking what peers send, signing through the WAL guard, building and committing blocks,
 * block sync, evidence and per-peer penalties.
 *
 * `ConsensusState` is immutable data (it lives in an XState context). Each handler returns the next
 * state and the effects for the engine to carry out, in order: messages to send and committed
 * blocks to announce. Its writes (WAL, blocks, roots) go to `env.store`, which the engine hands in
 * as a staged view (machine.ts): a handler reads its own writes, and the engine turns them into
 * one write effect that the runtime lands before any of the messages they guard leave.
 */
import { present } from '../../runtime/assert.ts';
import { fromHex, toHex } from '../../wire/commit.ts';
import { decodeRecord } from '../../wire/records.ts';
import { decode, encode, s, tryDecode } from '../../wire/schema.ts';
import type { Signer, Verifier } from '../../wire/sign.ts';
import { SignRefusedError } from '../../wire/signing-guard.ts';
import {
  blockHash,
  bytesEqual,
  type ChainTip,
  certificateHash,
  checkBlock,
  checkCertificate,
  checkEvidence,
  checkVote,
  evidenceHash,
  nextBlockTime,
  proposalSignBytes,
  type RejectReason,
  txId,
  txIdBytes,
  txsHash,
  validatorsHash,
  voteSignBytes,
  ZERO_HASH,
} from './chain.ts';
import {
  type Block,
  type Certificate,
  CONSENSUS_LIMITS,
  CommittedBlock,
  type ConsensusMessage,
  type Evidence,
  NetEnvelope,
  Proposal,
  type SignedProposalHeader,
  VOTE_PRECOMMIT,
  VOTE_PREVOTE,
  Vote,
} from './messages.ts';
import {
  blockArrived,
  DEFAULT_TIMEOUTS,
  initialRoundState,
  proposerOf,
  type Resume,
  type RoundInput,
  type RoundOutput,
  type RoundState,
  type TimeoutConfig,
  withRoundChanges,
} from './round.ts';
import { step as roundStep } from './round-machine.ts';
import {
  type ConsensusStore,
  KIND_PRECOMMIT,
  KIND_PREVOTE,
  KIND_PROPOSAL,
  type SignedKind,
  type WalEntry,
} from './store.ts';
import {
  applyChanges,
  initialPriorities,
  makeValidatorSet,
  type Priorities,
  powersOf,
  prioritiesForNextHeight,
  sameSet,
  type ValidatorSet,
} from './validators.ts';
import { heldVote, type KeptVote, votesFor } from './votekeeper.ts';

export interface GenesisValidator {
  publicKey: Uint8Array;
  power: number;
}

export interface ConsensusConfig {
  chainId: string;
  validators: readonly GenesisValidator[];
  /** Root of the application state before height 1. */
  genesisAppRoot: Uint8Array;
  timeouts?: TimeoutConfig;
  /** Wait for the application's state root of height h before starting h+1 (true when an app is wired). */
  awaitAppRoot?: boolean;
  /** Broadcast our height this often (ms), so lagging peers notice and sync. */
  statusInterval?: number;
  maxTxsPerBlock?: number;
  /** Most bytes of transactions in one block (default 8 MiB, the mempool's batch). */
  maxBlockTxBytes?: number;
  /** Messages of a round this far above ours are dropped as far-future. */
  maxRoundsAhead?: number;
  /**
   * Tendermint's `timeout_commit`: a proposer builds its round-0 block no sooner than this many ms
   * after the height began, so blocks come at a steady pace (and gather transactions) instead of as
   * fast as votes travel. 0 (the default) proposes at once. Keep it below the propose timeout.
   */
  blockInterval?: number;
}

/** A block holds at most this many transactions by default (the mempool's batch). */
export const DEFAULT_MAX_TXS_PER_BLOCK = 1_000;
/** ... and at most this many bytes of them (the mempool's batch). */
export const DEFAULT_MAX_BLOCK_TX_BYTES = 8 * 1024 * 1024;

export interface Env {
  readonly signer: Signer | undefined;
  readonly verify: Verifier;
  readonly store: ConsensusStore;
  readonly now: number;
}

export interface Penalty {
  peer: string;
  reason: RejectReason;
}

export interface Effects {
  sends: { to: string; bytes: Uint8Array }[];
  committed: CommittedBlock[];
  penalties: Penalty[];
}

export interface ConsensusState {
  readonly chainId: string;
  /** The validator set of this height, and of the previous one (which signed `lastCommit`). */
  readonly validators: ValidatorSet;
  /** The stored record `validators` was decoded from (a height whose record is the same keeps the set). */
  readonly validatorsRecord: Uint8Array;
  readonly previousValidators: ValidatorSet;
  readonly self: number;
  readonly timeouts: TimeoutConfig;
  readonly awaitAppRoot: boolean;
  readonly statusInterval: number;
  readonly maxTxsPerBlock: number;
  readonly maxBlockTxBytes: number;
  readonly maxRoundsAhead: number;
  readonly blockInterval: number;
  readonly height: bigint;
  /**
   * When this height's block interval began (local time): when the height before was decided, so
   * that executing that block overlaps the interval instead of adding to every height; on a
   * (re)start, when the node started.
   */
  readonly heightStartedAt: number;
  readonly round: RoundState;
  readonly priorities: Priorities;
  readonly lastBlockHash: Uint8Array;
  /**
   * The time in the previous block's header (0 before height 1). Block times strictly increase
   * (checkBlock), so light clients of this instance can order headers by time and prove timeouts.
   */
  readonly lastBlockTime: bigint;
  readonly lastCommit: Certificate | null;
  /** Root after height-1; undefined while the app has not reported it. */
  readonly appRoot: Uint8Array | undefined;
  /** Candidate blocks of this height, by hex hash. */
  readonly blocks: Readonly<Record<string, Block>>;
  readonly pendingTxs: readonly Uint8Array[];
  /**
   * Hashes of transactions committed in the last RECENT_HEIGHTS heights, by height: a batch the
   * mempool sent before it saw a commit must not put them into another block.
   */
  readonly recentTxs: ReadonlyMap<string, bigint>;
  readonly evidence: readonly Evidence[];
  /** The signed header of the first proposal seen per round (to prove a proposer equivocated). */
  readonly proposalHeaders: Readonly<Record<number, SignedProposalHeader>>;
  /** Decided at this height, waiting for the app root before moving on. */
  readonly decided: CommittedBlock | null;
  /** When `decided` was decided (local time). */
  readonly decidedAt: number;
  /** Messages for the next height, replayed once we get there (bounded). */
  readonly future: readonly { peer: string; bytes: Uint8Array }[];
  readonly penalties: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly lastSyncRequest: { height: bigint; at: number } | null;
  readonly deadlines: Readonly<Record<string, number>>;
  readonly committedCount: number;
}

/**
 * `s` with `changes` over it: a literal naming every field, then the changes set on it before
 * anyone sees it. V8 copies a spread of this 30-field state (and freezes one) on its slow path,
 * an order of magnitude dearer, and the core makes several per step.
 */
export function withChanges(s: ConsensusState, changes: Partial<ConsensusState>): ConsensusState {
  const copy: ConsensusState = {
    chainId: s.chainId,
    validators: s.validators,
    validatorsRecord: s.validatorsRecord,
    previousValidators: s.previousValidators,
    self: s.self,
    timeouts: s.timeouts,
    awaitAppRoot: s.awaitAppRoot,
    statusInterval: s.statusInterval,
    maxTxsPerBlock: s.maxTxsPerBlock,
    maxBlockTxBytes: s.maxBlockTxBytes,
    maxRoundsAhead: s.maxRoundsAhead,
    blockInterval: s.blockInterval,
    height: s.height,
    heightStartedAt: s.heightStartedAt,
    round: s.round,
    priorities: s.priorities,
    lastBlockHash: s.lastBlockHash,
    lastBlockTime: s.lastBlockTime,
    lastCommit: s.lastCommit,
    appRoot: s.appRoot,
    blocks: s.blocks,
    pendingTxs: s.pendingTxs,
    recentTxs: s.recentTxs,
    evidence: s.evidence,
    proposalHeaders: s.proposalHeaders,
    decided: s.decided,
    decidedAt: s.decidedAt,
    future: s.future,
    penalties: s.penalties,
    lastSyncRequest: s.lastSyncRequest,
    deadlines: s.deadlines,
    committedCount: s.committedCount,
  };
  return Object.assign(copy, changes);
}

export const MAX_FUTURE_MESSAGES = 4096;
const SYNC_RETRY_MS = 200;

function emptyEffects(): Effects {
  return { sends: [], committed: [], penalties: [] };
}

/** Builds the initial state, resuming from storage (committed blocks, roots, WAL) after a restart. */
export function initialState(cfg: ConsensusConfig, env: Env): { state: ConsensusState; effects: Effects } {
  const genesis = makeValidatorSet(
    cfg.validators.map((v) => ({ id: toHex(v.publicKey), publicKey: v.publicKey, power: v.power })),
  );
  if (env.store.validatorsAt(1n) === undefined) env.store.setValidators(1n, encodeSet(genesis));
  const last = env.store.lastHeight();
  const height = last + 1n;
  // proposer priorities carry from height to height and restart when the set changes
  let priorities = initialPriorities(powersOf(genesis));
  let previous = genesis;
  for (let h = 2n; h <= height; h++) {
    const set = setAt(env.store, h);
    priorities = sameSet(set, previous)
      ? prioritiesForNextHeight(powersOf(set), priorities)
      : initialPriorities(powersOf(set));
    previous = set;
  }
  const validatorsRecord = env.store.requireValidatorsAt(height);
  const validators = decodeSet(validatorsRecord);
  const previousValidators = height > 1n ? setAt(env.store, height - 1n) : validators;
  const powers = powersOf(validators);
  const self = selfIndex(validators, env.signer);
  let lastBlockHash = ZERO_HASH;
  let lastBlockTime = 0n;
  let lastCommit: Certificate | null = null;
  if (last > 0n) {
    const stored = decode(CommittedBlock, env.store.committedBlock(last), CONSENSUS_LIMITS);
    lastBlockHash = blockHash(stored.block.header);
    lastBlockTime = stored.block.header.time;
    lastCommit = stored.certificate;
  }
  const awaitAppRoot = cfg.awaitAppRoot ?? false;
  const appRoot =
    last === 0n
      ? cfg.genesisAppRoot
      : (env.store.root(last) ?? (awaitAppRoot ? undefined : cfg.genesisAppRoot));
  const timeouts = cfg.timeouts ?? DEFAULT_TIMEOUTS;
  const base: ConsensusState = {
    chainId: cfg.chainId,
    validators,
    validatorsRecord,
    previousValidators,
    self,
    timeouts,
    awaitAppRoot,
    statusInterval: cfg.statusInterval ?? 250,
    maxTxsPerBlock: cfg.maxTxsPerBlock ?? DEFAULT_MAX_TXS_PER_BLOCK,
    maxBlockTxBytes: cfg.maxBlockTxBytes ?? DEFAULT_MAX_BLOCK_TX_BYTES,
    maxRoundsAhead: cfg.maxRoundsAhead ?? 64,
    blockInterval: cfg.blockInterval ?? 0,
    height,
    heightStartedAt: env.now,
    round: initialRoundState(Number(height), self, powers, priorities, timeouts),
    priorities,
    lastBlockHash,
    lastBlockTime,
    lastCommit,
    appRoot,
    blocks: {},
    pendingTxs: [],
    recentTxs: new Map(),
    evidence: [],
    proposalHeaders: {},
    decided: null,
    decidedAt: env.now,
    future: [],
    penalties: {},
    lastSyncRequest: null,
    deadlines: { status: env.now + (cfg.statusInterval ?? 250) },
    committedCount: 0,
  };
  const effects = emptyEffects();
  if (appRoot === undefined) {
    // we crashed between committing the block and hearing the app's root: hand the app the block
    // again (it is the same block, so applying it is idempotent), then start once the root comes
    effects.committed.push(decode(CommittedBlock, env.store.committedBlock(last), CONSENSUS_LIMITS));
    return { state: base, effects };
  }
  return { state: startHeight(base, env, effects), effects };
}

const ValidatorSetWire = s.list(s.struct({ publicKey: s.bytes({ length: 32 }), power: s.u64() }), {
  max: 10_000,
});

function encodeSet(set: ValidatorSet): Uint8Array {
  return encode(
    ValidatorSetWire,
    set.validators.map((v) => ({ publicKey: v.publicKey, power: BigInt(v.power) })),
  );
}

/** The validator set in force at `height` (stored at the height it took effect). */
function setAt(store: ConsensusStore, height: bigint): ValidatorSet {
  return decodeSet(store.requireValidatorsAt(height));
}

function decodeSet(record: Uint8Array): ValidatorSet {
  const stored = decodeRecord(ValidatorSetWire, record);
  return makeValidatorSet(
    stored.map((v) => ({ id: toHex(v.publicKey), publicKey: v.publicKey, power: Number(v.power) })),
  );
}

function selfIndex(set: ValidatorSet, signer: Signer | undefined): number {
  return signer === undefined ? -1 : (set.index.get(toHex(signer.publicKey)) ?? -1);
}

/** Enters the current height: at round 0, or where the WAL says we were, re-sending what we signed. */
function startHeight(s0: ConsensusState, env: Env, fx: Effects): ConsensusState {
  let s = s0;
  const wal = env.store.wal(s.height);
  const resumeRound = wal.reduce((r, e) => Math.max(r, e.round), 0);
  // what we proposed must be known before the round state machine enters the round: the block,
  // and the proposal itself, so that a proposer restarted between signing and sending re-proposes
  // (and prevotes) the block it signed, not a fresh one the WAL guard would never let out
  for (const e of wal) {
    if (e.kind !== KIND_PROPOSAL) continue;
    const p = decode(Proposal, e.bytes, CONSENSUS_LIMITS);
    const id = toHex(blockHash(p.block.header));
    s = withChanges(s, { blocks: { ...s.blocks, [id]: p.block } });
    s = feed(
      s,
      { kind: 'proposal', round: p.round, value: id, validRound: p.validRound - 1, valid: true },
      env,
      fx,
    );
    // re-sent first: whatever we vote on it next must not reach a peer before the proposal does
    fx.sends.push({ to: '', bytes: envelope(s, { tag: 'proposal', value: p }) });
  }
  const resumed = resumeFromWal(wal, resumeRound);
  // the locked block is known again only if this node proposed it (its WAL holds the proposal)
  const resume =
    resumed === undefined
      ? undefined
      : {
          ...resumed,
          lockedBlockHeld: resumed.lockedValue !== null && s.blocks[resumed.lockedValue] !== undefined,
        };
  s = feed(s, { kind: 'start-height', round: resumeRound, resume }, env, fx);
  for (const e of wal) {
    if (e.kind === KIND_PROPOSAL) continue;
    const vote = decode(Vote, e.bytes, CONSENSUS_LIMITS);
    fx.sends.push({ to: '', bytes: envelope(s, { tag: 'vote', value: vote }) });
    s = feed(s, { kind: 'vote', vote: keptVote(vote) }, env, fx);
  }
  return s;
}

/** What our own signed messages say about where we were: step in the last round, and our lock. */
function resumeFromWal(wal: readonly WalEntry[], round: number): Omit<Resume, 'lockedBlockHeld'> | undefined {
  if (wal.length === 0) return undefined;
  let lockedValue: string | null = null;
  let lockedRound = -1;
  for (const e of wal) {
    if (e.kind !== KIND_PRECOMMIT) continue;
    const v = decode(Vote, e.bytes, CONSENSUS_LIMITS);
    if (v.blockHash !== null && e.round > lockedRound) {
      lockedRound = e.round;
      lockedValue = toHex(v.blockHash);
    }
  }
  const inRound = wal.filter((e) => e.round === round);
  const step = inRound.some((e) => e.kind === KIND_PRECOMMIT)
    ? 'precommit'
    : inRound.some((e) => e.kind === KIND_PREVOTE)
      ? 'prevote'
      : 'propose';
  return { step, lockedValue, lockedRound };
}

function envelope(s: ConsensusState, message: ConsensusMessage): Uint8Array {
  return encode(NetEnvelope, { chainId: s.chainId, message });
}

function keptVote(v: Vote): KeptVote<Vote> {
  return {
    type: v.type === VOTE_PREVOTE ? 'prevote' : 'precommit',
    round: v.round,
    validator: v.validator,
    value: v.blockHash === null ? null : toHex(v.blockHash),
    signed: v,
  };
}

function penalize(s: ConsensusState, fx: Effects, peer: string, reason: RejectReason): ConsensusState {
  fx.penalties.push({ peer, reason });
  const mine = s.penalties[peer] ?? {};
  return withChanges(s, {
    penalties: { ...s.penalties, [peer]: { ...mine, [reason]: (mine[reason] ?? 0) + 1 } },
  });
}

/** Feeds one input to the round state machine and carries out its outputs (recursively). */
function feed(s0: ConsensusState, input: RoundInput, env: Env, fx: Effects): ConsensusState {
  const r = roundStep(s0.round, input);
  let s = withChanges(s0, { round: r.state });
  for (const out of r.outputs) s = carryOut(s, out, env, fx);
  return s;
}

function carryOut(s: ConsensusState, out: RoundOutput, env: Env, fx: Effects): ConsensusState {
  switch (out.kind) {
    case 'get-value': {
      const buildAt = s.heightStartedAt + s.blockInterval;
      if (out.round === 0 && env.now < buildAt) {
        return withChanges(s, {
          deadlines: { ...s.deadlines, [`build/${out.height}/${out.round}`]: buildAt },
        });
      }
      return proposeNewBlock(s, out.round, env, fx);
    }
    case 'propose':
      return sendProposal(s, out.round, out.value, out.validRound, env, fx);
    case 'vote':
      return sendVote(
        s,
        out.type === 'prevote' ? VOTE_PREVOTE : VOTE_PRECOMMIT,
        out.round,
        out.value,
        env,
        fx,
      );
    case 'schedule-timeout':
      return withChanges(s, {
        deadlines: { ...s.deadlines, [`${out.step}/${out.height}/${out.round}`]: env.now + out.duration },
      });
    case 'decide':
      return decide(s, out.round, out.value, env, fx);
    case 'evidence': {
      const first = out.first.signed as Vote;
      const second = out.second.signed as Vote;
      return addEvidence(s, { tag: 'vote', value: { first, second } });
    }
    case 'new-round':
      return s;
  }
}

/** Builds a block from the pending transactions and offers it to the round as this round's value. */
function proposeNewBlock(s: ConsensusState, round: number, env: Env, fx: Effects): ConsensusState {
  const block = buildBlock(s, env);
  const id = toHex(blockHash(block.header));
  const next = withChanges(s, { blocks: { ...s.blocks, [id]: block } });
  return feed(next, { kind: 'propose-value', round, value: id }, env, fx);
}

/** Keeps one piece of evidence per offence (offender, height, round, kind). */
function addEvidence(s: ConsensusState, e: Evidence): ConsensusState {
  const key = (x: Evidence) =>
    x.tag === 'vote'
      ? `v/${x.value.first.validator}/${x.value.first.height}/${x.value.first.round}/${x.value.first.type}`
      : `p/${x.value.first.proposer}/${x.value.first.height}/${x.value.first.round}`;
  const k = key(e);
  return s.evidence.some((x) => key(x) === k) ? s : withChanges(s, { evidence: [...s.evidence, e] });
}

function evidenceSignature(e: Evidence): Uint8Array {
  return e.value.first.signature;
}

/**
 * The block this node proposes: the mempool's batch in its order, within the block limits, without
 * a transaction an earlier block carried (after a restart the mempool may have been handed one).
 */
function buildBlock(s: ConsensusState, env: Env): Block {
  const txs: Uint8Array[] = [];
  const seen = new Set<string>();
  let bytes = 0;
  for (const tx of s.pendingTxs) {
    if (txs.length >= s.maxTxsPerBlock) break;
    const id = txId(tx);
    if (seen.has(id) || bytes + tx.length > s.maxBlockTxBytes || env.store.isCommittedTx(txIdBytes(tx)))
      continue;
    seen.add(id);
    txs.push(tx);
    bytes += tx.length;
  }
  // evidence is checked against the set that signed it, which the next block knows as its previous set
  const evidence = s.evidence.filter((e) => e.value.first.height === s.height - 1n).slice(0, 100);
  const proposer = present(s.validators.validators[s.self], `validator ${s.self}, the proposer building`);
  return {
    header: {
      chainId: s.chainId,
      height: s.height,
      // later than the previous block's, whatever this node's clock says (checkBlock refuses less)
      time: nextBlockTime(s.lastBlockTime, env.now),
      proposer: proposer.publicKey,
      lastBlockHash: s.lastBlockHash,
      txsHash: txsHash(txs),
      appRoot: s.appRoot ?? ZERO_HASH,
      lastCommitHash: certificateHash(s.lastCommit),
      evidenceHash: evidenceHash(evidence),
      validatorsHash: validatorsHash(s.validators),
    },
    txs: [...txs],
    lastCommit: s.lastCommit,
    evidence: [...evidence],
  };
}

/**
 * Signs through the WAL guard: what was signed for this step before is re-sent, nothing new is
 * signed. Undefined: no key, or the key's own guard refused, as it signed this step or a later one
 * in writes this store does not hold (a lost WAL); the node then takes no part in this step.
 */
function signOnce(
  env: Env,
  height: bigint,
  round: number,
  kind: SignedKind,
  make: () => Uint8Array,
): Uint8Array | undefined {
  const earlier = env.store.signed(height, round, kind);
  if (earlier !== undefined) return earlier;
  if (env.signer === undefined) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = make();
  } catch (e) {
    if (e instanceof SignRefusedError) return undefined;
    throw e;
  }
  env.store.logSigned(height, round, kind, bytes);
  return bytes;
}

function sendProposal(
  s: ConsensusState,
  round: number,
  value: string,
  validRound: number,
  env: Env,
  fx: Effects,
): ConsensusState {
  const block = s.blocks[value];
  const signer = env.signer;
  if (block === undefined || signer === undefined) return s;
  const hash = blockHash(block.header);
  // the proposal signed now, as built (one the WAL held before is decoded from it)
  let made: Proposal | undefined;
  const bytes = signOnce(env, s.height, round, KIND_PROPOSAL, () => {
    const vr = validRound + 1;
    const signature = signer.sign(
      proposalSignBytes(s.chainId, { height: s.height, round, validRound: vr, blockHash: hash }),
    );
    made = { height: s.height, round, validRound: vr, block, proposer: s.self, signature };
    return encode(Proposal, made);
  });
  if (bytes === undefined) return s;
  const proposal = made ?? decode(Proposal, bytes, CONSENSUS_LIMITS);
  fx.sends.push({ to: '', bytes: envelope(s, { tag: 'proposal', value: proposal }) });
  return s;
}

function sendVote(
  s: ConsensusState,
  type: number,
  round: number,
  value: string | null,
  env: Env,
  fx: Effects,
): ConsensusState {
  const signer = env.signer;
  if (signer === undefined || s.self < 0) return s;
  // a value is its block's hash in hex (blocks are kept by it): no need to hash the header again
  const blockHashBytes = value === null ? null : fromHex(value);
  const kind = type === VOTE_PREVOTE ? KIND_PREVOTE : KIND_PRECOMMIT;
  // the vote signed now, as built (one the WAL held before is decoded from it)
  let made: Vote | undefined;
  const bytes = signOnce(env, s.height, round, kind, () => {
    const signature = signer.sign(
      voteSignBytes(s.chainId, { type, height: s.height, round, blockHash: blockHashBytes }),
    );
    made = { type, height: s.height, round, blockHash: blockHashBytes, validator: s.self, signature };
    return encode(Vote, made);
  });
  if (bytes === undefined) return s;
  const vote = made ?? decode(Vote, bytes, CONSENSUS_LIMITS);
  fx.sends.push({ to: '', bytes: envelope(s, { tag: 'vote', value: vote }) });
  // our own vote counts like anyone's (if the WAL held a different one, that one is what counts)
  return feed(s, { kind: 'vote', vote: keptVote(vote) }, env, fx);
}

function decide(s: ConsensusState, round: number, value: string, env: Env, fx: Effects): ConsensusState {
  // line 49 decides only on a proposal it has, and every proposal seen has its block here
  const block = present(s.blocks[value], `the block ${value.slice(0, 16)} of the decided proposal`);
  const precommits = votesFor<Vote>(s.round.votes, round, 'precommit', value);
  const certificate: Certificate = {
    height: s.height,
    round,
    blockHash: fromHex(value),
    signatures: precommits.map((v) => ({ validator: v.validator, signature: v.signed.signature })),
  };
  return commitBlock(s, { block, certificate }, env, fx);
}

function commitBlock(s: ConsensusState, committed: CommittedBlock, env: Env, fx: Effects): ConsensusState {
  env.store.commit(s.height, encode(CommittedBlock, committed), committed.block.txs.map(txIdBytes));
  fx.committed.push(committed);
  const next = withChanges(s, {
    decided: committed,
    decidedAt: env.now,
    committedCount: s.committedCount + 1,
  });
  return maybeAdvance(next, env, fx);
}

/** Moves to the next height once the block is decided and (if awaited) the app has its root. */
function maybeAdvance(s: ConsensusState, env: Env, fx: Effects): ConsensusState {
  if (s.decided === null) return s;
  let root: Uint8Array | undefined = s.appRoot;
  if (s.awaitAppRoot) {
    root = env.store.root(s.height);
    if (root === undefined) return s;
  }
  const committed = s.decided;
  const included = new Set(committed.block.txs.map(txId));
  const recentTxs = new Map<string, bigint>();
  for (const [k, at] of s.recentTxs) if (at + RECENT_HEIGHTS > s.height) recentTxs.set(k, at);
  for (const k of included) recentTxs.set(k, s.height);
  const height = s.height + 1n;
  const validatorsRecord = env.store.requireValidatorsAt(height);
  // most heights keep the set: the same record keeps the same set (no decoding, the same key objects)
  const validators = bytesEqual(validatorsRecord, s.validatorsRecord)
    ? s.validators
    : decodeSet(validatorsRecord);
  const powers = powersOf(validators);
  const kept = validators === s.validators;
  const priorities =
    kept || sameSet(validators, s.validators)
      ? prioritiesForNextHeight(powers, s.priorities)
      : initialPriorities(powers);
  const self = kept ? s.self : selfIndex(validators, env.signer);
  const deadlines: Record<string, number> = {};
  for (const [k, v] of Object.entries(s.deadlines))
    if (!/^(propose|prevote|precommit|build)\//.test(k)) deadlines[k] = v;
  let next = withChanges(s, {
    height,
    heightStartedAt: s.decidedAt,
    validators,
    validatorsRecord,
    previousValidators: s.validators,
    self,
    priorities,
    round: initialRoundState(Number(height), self, powers, priorities, s.timeouts),
    // the certificate names the block's hash (decide builds it from the block's id; a synced block's
    // certificate was checked against the hash of its header): no need to hash the header again
    lastBlockHash: committed.certificate.blockHash,
    lastBlockTime: committed.block.header.time,
    lastCommit: committed.certificate,
    appRoot: root,
    blocks: {},
    proposalHeaders: {},
    pendingTxs: s.pendingTxs.filter((t) => !included.has(txId(t))),
    recentTxs,
    evidence: s.evidence.filter(
      (e) =>
        e.value.first.height >= s.height &&
        !committed.block.evidence.some((x) => bytesEqual(evidenceSignature(x), evidenceSignature(e))),
    ),
    decided: null,
    deadlines,
  });
  next = startHeight(next, env, fx);
  // replay what arrived early for this height
  const replay = next.future;
  next = withChanges(next, { future: [] });
  for (const m of replay) next = onNet(next, m.peer, m.bytes, env, fx);
  return next;
}

/** A message from a peer. */
export function onNet(
  s0: ConsensusState,
  peer: string,
  bytes: Uint8Array,
  env: Env,
  fx: Effects,
): ConsensusState {
  const decoded = tryDecode(NetEnvelope, bytes, CONSENSUS_LIMITS);
  if (!decoded.ok) return penalize(s0, fx, peer, 'undecodable');
  const { chainId, message } = decoded.value;
  if (chainId !== s0.chainId) return penalize(s0, fx, peer, 'wrong-chain');
  switch (message.tag) {
    case 'vote':
      return onVote(s0, peer, bytes, message.value, env, fx);
    case 'proposal':
      return onProposal(s0, peer, bytes, message.value, env, fx);
    case 'status':
      return message.value.height > s0.height ? requestSync(s0, peer, env, fx) : s0;
    case 'syncRequest': {
      const stored = env.store.block(message.value.height);
      if (stored !== undefined) {
        fx.sends.push({
          to: peer,
          bytes: envelope(s0, {
            tag: 'syncResponse',
            value: decode(CommittedBlock, stored, CONSENSUS_LIMITS),
          }),
        });
      }
      return s0;
    }
    case 'syncResponse':
      return onSyncResponse(s0, peer, message.value, env, fx);
  }
}

/** Where a message of `height` goes: handled now, kept for the next height, or dropped. */
function placeByHeight(
  s: ConsensusState,
  peer: string,
  bytes: Uint8Array,
  height: bigint,
  env: Env,
  fx: Effects,
): ConsensusState | 'now' {
  if (height === s.height && s.decided === null) return 'now';
  if (height < s.height || (height === s.height && s.decided !== null)) return s; // old news
  if (height === s.height + 1n || (height === s.height && s.decided !== null)) {
    const next =
      s.future.length < MAX_FUTURE_MESSAGES ? withChanges(s, { future: [...s.future, { peer, bytes }] }) : s;
    return requestSync(next, peer, env, fx);
  }
  return requestSync(penalize(s, fx, peer, 'far-future-height'), peer, env, fx);
}

function requestSync(s: ConsensusState, peer: string, env: Env, fx: Effects): ConsensusState {
  const last = s.lastSyncRequest;
  if (last !== null && last.height === s.height && env.now - last.at < SYNC_RETRY_MS) return s;
  fx.sends.push({ to: peer, bytes: envelope(s, { tag: 'syncRequest', value: { height: s.height } }) });
  return withChanges(s, { lastSyncRequest: { height: s.height, at: env.now } });
}

function onVote(
  s: ConsensusState,
  peer: string,
  bytes: Uint8Array,
  vote: Vote,
  env: Env,
  fx: Effects,
): ConsensusState {
  const placed = placeByHeight(s, peer, bytes, vote.height, env, fx);
  if (placed !== 'now') return placed;
  if (vote.round > s.round.round + s.maxRoundsAhead) return penalize(s, fx, peer, 'far-future-round');
  const kept = keptVote(vote);
  // gossip re-sends votes: one byte for byte like a vote already counted (its signature checked
  // then) changes nothing, so it is not checked and counted again
  const held = heldVote<Vote>(s.round.votes, kept.round, kept.type, kept.validator, kept.value);
  const known = held !== undefined && held.signed.type === vote.type;
  if (known && bytesEqual(held.signed.signature, vote.signature)) return s;
  const bad = checkVote(vote, s.validators, s.chainId, env.verify);
  if (bad !== null) return penalize(s, fx, peer, bad);
  return feed(s, { kind: 'vote', vote: kept }, env, fx);
}

function onProposal(
  s0: ConsensusState,
  peer: string,
  bytes: Uint8Array,
  p: Proposal,
  env: Env,
  fx: Effects,
): ConsensusState {
  const placed = placeByHeight(s0, peer, bytes, p.height, env, fx);
  if (placed !== 'now') return placed;
  let s = s0;
  if (p.round > s.round.round + s.maxRoundsAhead) return penalize(s, fx, peer, 'far-future-round');
  if (p.proposer !== proposerOf(s.round, p.round)) return penalize(s, fx, peer, 'not-proposer');
  const validator = s.validators.validators[p.proposer]!;
  const hash = blockHash(p.block.header);
  const signed = proposalSignBytes(s.chainId, {
    height: p.height,
    round: p.round,
    validRound: p.validRound,
    blockHash: hash,
  });
  const header: SignedProposalHeader = {
    height: p.height,
    round: p.round,
    validRound: p.validRound,
    blockHash: hash,
    proposer: p.proposer,
    signature: p.signature,
  };
  const earlier = s.proposalHeaders[p.round];
  // a re-sent proposal byte for byte like the one this round took (its block valid and kept)
  // changes nothing: its signature and block are not checked again
  if (
    earlier !== undefined &&
    s.round.proposals[p.round] !== undefined &&
    s.blocks[toHex(hash)] !== undefined &&
    earlier.validRound === p.validRound &&
    bytesEqual(earlier.blockHash, hash) &&
    bytesEqual(earlier.signature, p.signature)
  )
    return s;
  if (!env.verify(validator.publicKey, signed, p.signature)) return penalize(s, fx, peer, 'bad-signature');
  if (earlier === undefined)
    s = withChanges(s, { proposalHeaders: { ...s.proposalHeaders, [p.round]: header } });
  else if (!bytesEqual(earlier.blockHash, hash) || earlier.validRound !== p.validRound) {
    s = addEvidence(s, { tag: 'proposal', value: { first: earlier, second: header } });
  }
  if (s.appRoot === undefined) return s;
  const invalid = checkBlock(p.block, tipOf(s, env), env.verify);
  if (invalid !== null) s = penalize(s, fx, peer, invalid);
  const id = toHex(hash);
  if (invalid === null)
    s = withChanges(s, { blocks: { ...s.blocks, [id]: p.block }, round: blockArrived(s.round, id) });
  return feed(
    s,
    { kind: 'proposal', round: p.round, value: id, validRound: p.validRound - 1, valid: invalid === null },
    env,
    fx,
  );
}

/** What a block of the current height must extend. */
function tipOf(s: ConsensusState, env: Env): ChainTip {
  return {
    chainId: s.chainId,
    height: s.height,
    lastBlockHash: s.lastBlockHash,
    lastBlockTime: s.lastBlockTime,
    appRoot: s.appRoot,
    validators: s.validators,
    previousValidators: s.previousValidators,
    maxTxs: s.maxTxsPerBlock,
    maxTxBytes: s.maxBlockTxBytes,
    isCommittedTx: (id) => env.store.isCommittedTx(id),
  };
}

function onSyncResponse(
  s: ConsensusState,
  peer: string,
  c: CommittedBlock,
  env: Env,
  fx: Effects,
): ConsensusState {
  if (c.block.header.height !== s.height || s.decided !== null || s.appRoot === undefined) return s;
  const hash = blockHash(c.block.header);
  const certBad = checkCertificate(c.certificate, s.height, hash, s.validators, s.chainId, env.verify);
  if (certBad !== null) return penalize(s, fx, peer, certBad);
  const blockBad = checkBlock(c.block, tipOf(s, env), env.verify);
  if (blockBad !== null) return penalize(s, fx, peer, blockBad);
  const next = commitBlock(
    withChanges(s, { round: withRoundChanges(s.round, { step: 'commit' }) }),
    c,
    env,
    fx,
  );
  // keep pulling while the peer is ahead
  return next.height > s.height
    ? requestSync(withChanges(next, { lastSyncRequest: null }), peer, env, fx)
    : next;
}

/** A deadline fired. */
export function onTimeout(s: ConsensusState, name: string, env: Env, fx: Effects): ConsensusState {
  const { [name]: _fired, ...deadlines } = s.deadlines;
  const cleared = withChanges(s, { deadlines });
  if (name === 'status') {
    fx.sends.push({ to: '', bytes: envelope(s, { tag: 'status', value: { height: s.height } }) });
    resendRecent(s, env, fx);
    return withChanges(cleared, { deadlines: { ...deadlines, status: env.now + s.statusInterval } });
  }
  const m = /^(propose|prevote|precommit|build)\/(\d+)\/(\d+)$/.exec(name);
  if (m === null) return cleared;
  if (m[1] === 'build') {
    // the block interval has passed: build the round-0 block now (if still proposing it)
    if (BigInt(m[2]!) !== s.height || s.decided !== null) return cleared;
    return proposeNewBlock(cleared, Number(m[3]), env, fx);
  }
  return feed(
    cleared,
    { kind: 'timeout', step: m[1] as 'propose', height: Number(m[2]), round: Number(m[3]) },
    env,
    fx,
  );
}

/**
 * Gossip's "eventually delivered": re-sends what we signed in the current and previous round of
 * this height (the WAL holds the exact bytes), so lost votes and proposals are made good; and the
 * proof of our valid value (the 2f+1 prevotes of its round, signed by their validators), without
 * which a peer that missed that round could never accept the value's re-proposal (line 28); and
 * likewise the proof of the current round's re-proposal when we hold it, for its proposer and
 * the others who lost it in a restart.
 */
function resendRecent(s: ConsensusState, env: Env, fx: Effects): void {
  if (s.decided !== null) return;
  const r = s.round;
  if (r.validRound >= 0 && r.validValue !== null) {
    for (const v of votesFor<Vote>(r.votes, r.validRound, 'prevote', r.validValue)) {
      fx.sends.push({ to: '', bytes: envelope(s, { tag: 'vote', value: v.signed }) });
    }
  }
  // the proof the current round's re-proposal needs, when we hold it and it is not our own valid
  // value: its proposer may have restarted without it (only its own votes are in its WAL)
  const p = r.proposals[r.round];
  if (p !== undefined && p.validRound >= 0 && !(p.validRound === r.validRound && p.value === r.validValue)) {
    for (const v of votesFor<Vote>(r.votes, p.validRound, 'prevote', p.value)) {
      fx.sends.push({ to: '', bytes: envelope(s, { tag: 'vote', value: v.signed }) });
    }
  }
  for (const e of env.store.wal(s.height)) {
    if (e.round + 1 < s.round.round) continue;
    const message: ConsensusMessage =
      e.kind === KIND_PROPOSAL
        ? { tag: 'proposal', value: decode(Proposal, e.bytes, CONSENSUS_LIMITS) }
        : { tag: 'vote', value: decode(Vote, e.bytes, CONSENSUS_LIMITS) };
    fx.sends.push({ to: '', bytes: envelope(s, message) });
  }
}

/** The mempool's current batch: what we would propose. */
export function onTxs(s: ConsensusState, txs: readonly Uint8Array[]): ConsensusState {
  return withChanges(s, { pendingTxs: txs.filter((t) => !s.recentTxs.has(txId(t))) });
}

/** How many heights a committed transaction is kept out of new proposals. */
export const RECENT_HEIGHTS = 16n;

/** The application's state root after `height`. */
export function onAppRoot(
  s: ConsensusState,
  height: bigint,
  root: Uint8Array,
  updates: readonly { publicKey: Uint8Array; power: bigint }[],
  env: Env,
  fx: Effects,
): ConsensusState {
  env.store.setRoot(height, root);
  if (updates.length > 0) {
    // decided at `height`, in force from `height + 2`; re-applying the same updates is idempotent
    const base = setAt(env.store, height + 1n);
    const next = applyChanges(
      base,
      updates.map((u) => ({
        publicKey: u.publicKey,
        power: u.power > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(u.power),
      })),
    );
    if (!sameSet(next, base)) env.store.setValidators(height + 2n, encodeSet(next));
  }
  if (s.round.round < 0 && s.appRoot === undefined && height === s.height - 1n) {
    return startHeight(withChanges(s, { appRoot: root }), env, fx);
  }
  return maybeAdvance(s, env, fx);
}

export { checkEvidence, emptyEffects };
