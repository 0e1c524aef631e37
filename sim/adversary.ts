/**
 * Byzantine validators that lie, within what their keys allow, for the simulated cluster. Each
 * behaviour rewrites what a Byzantine node's own (honest) consensus engine sends, or adds to it;
 * the engine's state, read from its snapshot, tells the liar where the protocol stands. Named
 * after the attacks they mount:
 *
 * - `lie-valid-round`: as proposer of a round > 0, re-proposes an old value (a block seen earlier
 *   at this height) claiming a valid round that had no polka for it, and prevotes it.
 * - `forge`: proposals and votes in other validators' slots with signatures that do not verify
 *   (for the current and the next round, for real and for made-up blocks), votes of its own for
 *   values that do not exist, and claims of rounds ahead (two, and far) and heights far ahead.
 * - `forge-sync`: block sync answers (asked for, and pushed to everyone when it commits) whose
 *   commit certificate is one signature short of a quorum, forged, or for another block, whose
 *   block is truncated; its proposals carry a last commit one signature short.
 * - `amnesia`: forgets its lock: every nil prevote becomes a prevote for the round's proposal.
 * - `coalition`: all Byzantine validators split the honest ones into the same two sides; one side
 *   gets their true messages, the other an alternative block from a Byzantine proposer and
 *   votes for it (or nil), signed with their own keys: equivocation towards chosen subsets, in
 *   concert. Below a third of the power it must fail; above it, it can fork the chain.
 */
import {
  blockHash,
  certificateHash,
  evidenceHash,
  nextBlockTime,
  proposalSignBytes,
  txsHash,
  validatorsHash,
  voteSignBytes,
  ZERO_HASH,
} from '../engines/consensus/chain.ts';
import {
  type Block,
  type Certificate,
  CONSENSUS_LIMITS,
  type CommittedBlock,
  type ConsensusMessage,
  NetEnvelope,
  type Proposal,
  VOTE_PRECOMMIT,
  VOTE_PREVOTE,
  type Vote,
} from '../engines/consensus/messages.ts';
import type { ConsensusState } from '../engines/consensus/node.ts';
import { proposerOf } from '../engines/consensus/round.ts';
import type { ValidatorSet } from '../engines/consensus/validators.ts';
import type { Random } from '../runtime/random.ts';
import { toHex } from '../wire/commit.ts';
import { encode, tryDecode } from '../wire/schema.ts';
import type { Signer } from '../wire/sign.ts';

export type LyingBehaviour = 'lie-valid-round' | 'forge' | 'forge-sync' | 'amnesia' | 'coalition';

export const LYING_BEHAVIOURS: readonly LyingBehaviour[] = [
  'lie-valid-round',
  'forge',
  'forge-sync',
  'amnesia',
  'coalition',
];

/** A Byzantine node as the adversary sees it. */
export interface Liar {
  readonly id: string;
  /** hex public key */
  readonly key: string;
  readonly signer: Signer;
}

/** What the adversary may use of the simulation: the network, the sets, its nodes' engine states. */
export interface AdversaryHost {
  readonly chainId: string;
  readonly random: Random;
  now(): number;
  /** Every other node on the network. */
  peers(self: string): readonly string[];
  /** Honest validator node ids (the coalition splits them). */
  honestValidators(): readonly string[];
  setAt(height: bigint): ValidatorSet;
  /** The liar's own consensus engine state, while it runs. */
  stateOf(liar: Liar): ConsensusState | undefined;
  /** Sends a consensus frame from the liar ('' = every peer). */
  send(liar: Liar, to: string, bytes: Uint8Array, lamport: number): void;
}

const FAR = 1_000;

export class Adversary {
  /** (height/round) pairs already attacked, per liar and kind, so each lie is told once */
  private readonly done = new Set<string>();
  /** The value a liar pushed in a round (lie-valid-round, coalition's alternative): `${h}/${r}` */
  private readonly pushed = new Map<string, { value: Uint8Array }>();
  /** The coalition's second side: honest nodes that get the alternative messages. */
  private sideB: Set<string> | undefined;
  /** The coalition's alternative block per `${h}/${r}`, shared by all its members. */
  private readonly alternatives = new Map<string, Block>();

  /** How many lies of each kind were told (a property over a behaviour that never lies proves nothing). */
  readonly lies: Record<string, number> = {};

  constructor(
    private readonly host: AdversaryHost,
    readonly behaviour: LyingBehaviour,
  ) {}

  private tell<T>(kind: string, lie: T): T {
    this.lies[kind] = (this.lies[kind] ?? 0) + 1;
    return lie;
  }

  /** The liar's engine sent `bytes` to `to` ('' = everyone); the adversary sends its version. */
  outbound(liar: Liar, to: string, bytes: Uint8Array, lamport: number): void {
    const env = tryDecode(NetEnvelope, bytes, CONSENSUS_LIMITS);
    if (!env.ok) {
      this.host.send(liar, to, bytes, lamport);
      return;
    }
    const m = env.value.message;
    let instead: Uint8Array | undefined;
    switch (this.behaviour) {
      case 'lie-valid-round':
        instead = this.lieValidRound(liar, m);
        break;
      case 'forge':
        this.host.send(liar, to, bytes, lamport);
        this.forge(liar, lamport);
        return;
      case 'forge-sync':
        instead = this.forgeSync(liar, m);
        break;
      case 'amnesia':
        instead = this.amnesia(liar, m);
        break;
      case 'coalition':
        this.coalition(liar, to, m, bytes, lamport);
        return;
    }
    this.host.send(liar, to, instead ?? bytes, lamport);
  }

  /** The liar committed a block: `forge-sync` pushes it to everyone with a short certificate. */
  committed(liar: Liar, c: CommittedBlock): void {
    if (this.behaviour !== 'forge-sync') return;
    const set = this.host.setAt(c.block.header.height);
    const short = { ...c, certificate: shortCertificate(c.certificate, set) };
    this.host.send(liar, '', this.tell('sync-push', this.envelope({ tag: 'syncResponse', value: short })), 0);
  }

  private envelope(message: ConsensusMessage): Uint8Array {
    return encode(NetEnvelope, { chainId: this.host.chainId, message });
  }

  private own(liar: Liar, height: bigint, index: number): boolean {
    return this.host.setAt(height).validators[index]?.id === liar.key;
  }

  private once(tag: string): boolean {
    if (this.done.has(tag)) return false;
    this.done.add(tag);
    return true;
  }

  private signProposal(liar: Liar, p: Omit<Proposal, 'signature'>): Uint8Array {
    const signature = liar.signer.sign(
      proposalSignBytes(this.host.chainId, {
        height: p.height,
        round: p.round,
        validRound: p.validRound,
        blockHash: blockHash(p.block.header),
      }),
    );
    return this.envelope({ tag: 'proposal', value: { ...p, signature } });
  }

  /** `v` for `value` instead, signed with the liar's own key. */
  private signedVote(liar: Liar, v: Vote, value: Uint8Array | null): Vote {
    const vote = { ...v, blockHash: value };
    return { ...vote, signature: liar.signer.sign(voteSignBytes(this.host.chainId, vote)) };
  }

  private signVote(liar: Liar, v: Vote, value: Uint8Array | null): Uint8Array {
    return this.envelope({ tag: 'vote', value: this.signedVote(liar, v, value) });
  }

  // --- lie-valid-round -------------------------------------------------------------------------

  private lieValidRound(liar: Liar, m: ConsensusMessage): Uint8Array | undefined {
    if (m.tag === 'proposal' && m.value.round > 0 && this.own(liar, m.value.height, m.value.proposer)) {
      const p = m.value;
      const s = this.host.stateOf(liar);
      // an old value: a block of this height other than the one the engine proposes, if it has one
      const mine = toHex(blockHash(p.block.header));
      const old = Object.entries(s?.blocks ?? {}).find(([id]) => id !== mine)?.[1] ?? p.block;
      const validRound = this.host.random.int(p.round); // claimed: a round in [0, r), with no polka for it
      this.pushed.set(`${liar.key}/${p.height}/${p.round}`, { value: blockHash(old.header) });
      return this.tell(
        'false-valid-round',
        this.signProposal(liar, { ...p, block: old, validRound: validRound + 1 }),
      );
    }
    if (
      m.tag === 'vote' &&
      m.value.type === VOTE_PREVOTE &&
      this.own(liar, m.value.height, m.value.validator)
    ) {
      const lie = this.pushed.get(`${liar.key}/${m.value.height}/${m.value.round}`);
      if (lie !== undefined) return this.signVote(liar, m.value, lie.value);
    }
    return undefined;
  }

  // --- forge -----------------------------------------------------------------------------------

  /** A well-formed block for the liar's current height that nobody proposed. */
  private madeUpBlock(s: ConsensusState, proposer: Uint8Array): Block {
    const txs = [this.host.random.bytes(16)];
    return {
      header: {
        chainId: s.chainId,
        height: s.height,
        time: nextBlockTime(s.lastBlockTime, this.host.now()),
        proposer,
        lastBlockHash: s.lastBlockHash,
        txsHash: txsHash(txs),
        appRoot: s.appRoot ?? ZERO_HASH,
        lastCommitHash: certificateHash(s.lastCommit),
        evidenceHash: evidenceHash([]),
        validatorsHash: validatorsHash(s.validators),
      },
      txs,
      lastCommit: s.lastCommit,
      evidence: [],
    };
  }

  private forge(liar: Liar, lamport: number): void {
    const s = this.host.stateOf(liar);
    if (s === undefined || s.round.round < 0 || s.decided !== null) return;
    const set = s.validators;
    const others = set.validators.map((_, i) => i).filter((i) => i !== s.self);
    const bad = () => this.host.random.bytes(64);
    const vote = (type: number, round: number, hash: Uint8Array | null, validator: number): Vote => ({
      type,
      height: s.height,
      round,
      blockHash: hash,
      validator,
      signature: bad(),
    });
    const broadcast = (message: ConsensusMessage) =>
      this.host.send(liar, '', this.tell(`forged-${message.tag}`, this.envelope(message)), lamport);
    for (const round of [s.round.round, s.round.round + 1]) {
      // a made-up block proposed in the proposer's slot, and everyone's votes for it, all unsigned
      const proposer = proposerOf(s.round, round);
      if (proposer !== s.self && this.once(`forge/${liar.key}/${s.height}/${round}`)) {
        const block = this.madeUpBlock(s, set.validators[proposer]!.publicKey);
        const hash = blockHash(block.header);
        broadcast({
          tag: 'proposal',
          value: { height: s.height, round, validRound: 0, block, proposer, signature: bad() },
        });
        for (const i of others) {
          broadcast({ tag: 'vote', value: vote(VOTE_PREVOTE, round, hash, i) });
          broadcast({ tag: 'vote', value: vote(VOTE_PRECOMMIT, round, hash, i) });
        }
      }
    }
    const r = s.round.round;
    const real = s.round.proposals[r];
    if (real !== undefined && this.once(`phantom/${liar.key}/${s.height}/${r}`)) {
      // the real proposal's value, with everyone's precommits for it forged
      const hash = hexToBytes(real.value);
      for (const i of others) broadcast({ tag: 'vote', value: vote(VOTE_PRECOMMIT, r, hash, i) });
      // its own, validly signed votes for a value that does not exist
      const nothing = this.host.random.bytes(32);
      const mine = vote(VOTE_PREVOTE, r, nothing, s.self);
      broadcast({ tag: 'vote', value: this.signedVote(liar, mine, nothing) });
      broadcast({ tag: 'vote', value: this.signedVote(liar, { ...mine, type: VOTE_PRECOMMIT }, nothing) });
      // and claims ahead: a vote two rounds on (alone it must not move anyone: the skip rule
      // needs f+1 power), one many rounds on, one many heights on, a status far ahead
      broadcast({ tag: 'vote', value: this.signedVote(liar, { ...mine, round: r + 2 }, null) });
      broadcast({ tag: 'vote', value: this.signedVote(liar, { ...mine, round: r + FAR }, null) });
      broadcast({
        tag: 'vote',
        value: this.signedVote(liar, { ...mine, height: s.height + BigInt(FAR) }, null),
      });
      broadcast({ tag: 'status', value: { height: s.height + BigInt(FAR) } });
    }
  }

  // --- forge-sync ------------------------------------------------------------------------------

  private forgeSync(liar: Liar, m: ConsensusMessage): Uint8Array | undefined {
    if (m.tag === 'syncResponse') {
      const c = m.value;
      const set = this.host.setAt(c.block.header.height);
      const rnd = this.host.random;
      const variant = rnd.int(4);
      let bent: CommittedBlock;
      if (variant === 0) bent = { ...c, certificate: shortCertificate(c.certificate, set) };
      else if (variant === 1) {
        // a forged certificate: every signature replaced
        const signatures = c.certificate.signatures.map((x) => ({ ...x, signature: rnd.bytes(64) }));
        bent = { ...c, certificate: { ...c.certificate, signatures } };
      } else if (variant === 2) {
        // another block (one more transaction, its hash fixed) under the real block's certificate
        const txs = [...c.block.txs, rnd.bytes(8)];
        bent = { ...c, block: { ...c.block, header: { ...c.block.header, txsHash: txsHash(txs) }, txs } };
      } else {
        // a truncated block: its last transaction dropped, the header left as it was
        bent = { ...c, block: { ...c.block, txs: c.block.txs.slice(0, -1) } };
      }
      return this.tell('sync-forgery', this.envelope({ tag: 'syncResponse', value: bent }));
    }
    if (m.tag === 'proposal' && this.own(liar, m.value.height, m.value.proposer)) {
      const p = m.value;
      if (p.block.lastCommit === null) return undefined;
      const lastCommit = shortCertificate(p.block.lastCommit, this.host.setAt(p.height - 1n));
      const header = { ...p.block.header, lastCommitHash: certificateHash(lastCommit) };
      return this.tell(
        'short-last-commit',
        this.signProposal(liar, { ...p, block: { ...p.block, header, lastCommit } }),
      );
    }
    return undefined;
  }

  // --- amnesia ---------------------------------------------------------------------------------

  private amnesia(liar: Liar, m: ConsensusMessage): Uint8Array | undefined {
    if (m.tag !== 'vote' || m.value.type !== VOTE_PREVOTE || m.value.blockHash !== null) return undefined;
    if (!this.own(liar, m.value.height, m.value.validator)) return undefined;
    const s = this.host.stateOf(liar);
    const proposal = s?.height === m.value.height ? s.round.proposals[m.value.round] : undefined;
    if (proposal === undefined || !proposal.valid) return undefined;
    return this.tell('amnesia', this.signVote(liar, m.value, hexToBytes(proposal.value)));
  }

  // --- coalition -------------------------------------------------------------------------------

  private side(): Set<string> {
    if (this.sideB === undefined) {
      // halves as even as they can be (the split most likely to give each side a quorum with
      // the coalition's votes), drawn by the seed
      const honest = [...this.host.honestValidators()];
      for (let i = honest.length - 1; i > 0; i--) {
        const j = this.host.random.int(i + 1);
        [honest[i], honest[j]] = [honest[j]!, honest[i]!];
      }
      this.sideB = new Set(honest.filter((_, i) => i % 2 === 1));
    }
    return this.sideB;
  }

  private coalition(liar: Liar, to: string, m: ConsensusMessage, bytes: Uint8Array, lamport: number): void {
    const alternative = this.alternative(liar, m);
    if (alternative === undefined) {
      this.host.send(liar, to, bytes, lamport);
      return;
    }
    const sideB = this.side();
    const targets = to === '' ? this.host.peers(liar.id) : [to];
    this.tell(`alternative-${m.tag}`, alternative);
    for (const peer of targets) this.host.send(liar, peer, sideB.has(peer) ? alternative : bytes, lamport);
  }

  /** What side B gets instead of one of the liar's own messages, if anything. */
  private alternative(liar: Liar, m: ConsensusMessage): Uint8Array | undefined {
    if (m.tag === 'proposal' && this.own(liar, m.value.height, m.value.proposer)) {
      const p = m.value;
      const key = `${p.height}/${p.round}`;
      let block = this.alternatives.get(key);
      if (block === undefined) {
        const txs = [...p.block.txs, this.host.random.bytes(8)];
        block = { ...p.block, header: { ...p.block.header, txsHash: txsHash(txs) }, txs };
        this.alternatives.set(key, block);
      }
      // a fresh value (no valid round), so side B's unlocked validators may prevote it at once
      return this.signProposal(liar, { ...p, block, validRound: 0 });
    }
    if (m.tag === 'vote' && this.own(liar, m.value.height, m.value.validator)) {
      const v = m.value;
      // side A is told the truth; what the liars precommit there first is the value A decides
      if (v.type === VOTE_PRECOMMIT && v.blockHash !== null && !this.sideA.has(`${v.height}`)) {
        this.sideA.set(`${v.height}`, toHex(v.blockHash));
      }
      const alt = this.alternatives.get(`${v.height}/${v.round}`);
      if (alt !== undefined) return this.signVote(liar, v, blockHash(alt.header));
      // side B is helped to decide anything else: a later round's proposal that is not A's value
      const s = this.host.stateOf(liar);
      const proposed = s?.height === v.height ? s.round.proposals[v.round]?.value : undefined;
      const other = v.round > 0 && proposed !== undefined && proposed !== this.sideA.get(`${v.height}`);
      return this.signVote(liar, v, other ? hexToBytes(proposed) : null);
    }
    return undefined;
  }

  /** The value side A is deciding, per height (what the liars first precommitted there). */
  private readonly sideA = new Map<string, string>();
}

/**
 * The certificate with signatures dropped, smallest power first, until one more would make a
 * quorum again: one signature short of 2/3 of the power.
 */
export function shortCertificate(cert: Certificate, set: ValidatorSet): Certificate {
  const powerOf = (i: number) => set.validators[i]?.power ?? 0;
  const kept = [...cert.signatures].sort((a, b) => powerOf(b.validator) - powerOf(a.validator));
  const total = set.totalPower;
  const sum = () => kept.reduce((a, x) => a + powerOf(x.validator), 0);
  // drop the lightest while the rest still exceed 2/3, then one more
  while (kept.length > 0 && 3 * (sum() - powerOf(kept.at(-1)!.validator)) > 2 * total) kept.pop();
  kept.pop();
  return { ...cert, signatures: kept.sort((a, b) => a.validator - b.validator) };
}

function hexToBytes(h: string): Uint8Array {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}
