/**
 * The honest-conduct oracle: every vote and proposal an honest validator signs must be justified
 * by messages that had been sent (by anyone, validly signed) before it, under the rules of
 * Algorithm 1 of "The latest gossip on BFT consensus" (line numbers below are its). This is the
 * check the Tendermint accountability work makes of a suspected validator, made here of every
 * honest one all the time: a bug that acts on a forged signature, a proposal's unbacked valid
 * round, a forgotten lock or a vote without its polka shows at the first vote it causes, long
 * before it forks the chain (which needs an unlucky schedule to follow).
 *
 * It is written apart from engines/consensus: its own records of what was sent, its own
 * signature checks and its own quorum arithmetic (quorum.ts). It only ever asks whether a
 * justification *exists* among everything sent so far, a superset of what the signer received,
 * so it never blames an honest node for what it could have seen; it may miss a bug that a
 * justification seen elsewhere hides, never the reverse.
 */
import { blockHash, proposalSignBytes, voteSignBytes } from '../engines/consensus/chain.ts';
import {
  CONSENSUS_LIMITS,
  NetEnvelope,
  type Proposal,
  VOTE_PRECOMMIT,
  type Vote,
} from '../engines/consensus/messages.ts';
import { toHex } from '../wire/commit.ts';
import { tryDecode } from '../wire/schema.ts';
import type { Verifier } from '../wire/sign.ts';
import { exceedsTwoThirds, type PoweredSet } from './quorum.ts';

/** Strictly more than a third: the round-skip threshold (line 55), as 3 * power > total. */
export function exceedsOneThird(power: bigint, total: bigint): boolean {
  return 3n * power > total;
}

const NIL = 'nil';

function decodeEnvelope(bytes: Uint8Array): NetEnvelope | undefined {
  const env = tryDecode(NetEnvelope, bytes, CONSENSUS_LIMITS);
  return env.ok ? env.value : undefined;
}

interface Signed {
  kind: 'prevote' | 'precommit' | 'proposal';
  height: bigint;
  round: number;
  /** hex block hash, or 'nil' */
  value: string;
  /** the proposal's valid round (-1 for none); -1 for votes */
  validRound: number;
  validator: number;
  signature: string;
}

/** Power per validator index that sent a given kind of message. */
type Senders = Map<number, number>;

export interface ConductOptions {
  chainId: string;
  verify: Verifier;
  /** The validator set in force at a height. */
  setAt: (height: bigint) => PoweredSet;
  /** Decodes a frame (undefined: not one); the codec's tryDecode when absent. */
  decode?: (bytes: Uint8Array) => NetEnvelope | undefined;
}

export class ConductOracle {
  /** every valid signature seen, so re-sent and relayed messages are recorded once */
  private readonly seen = new Set<string>();
  /** prevotes and precommits by `${kind}/${height}/${round}/${value}` */
  private readonly votes = new Map<string, Senders>();
  /** any vote or proposal in a round, by `${height}/${round}` (the skip rule) */
  private readonly spoke = new Map<string, Senders>();
  /** proposals by `${height}/${round}` */
  private readonly proposals = new Map<string, { value: string; validRound: number }[]>();
  /** what each validator signed: `${height}/${validator}` -> its messages in order */
  private readonly own = new Map<string, Signed[]>();

  constructor(private readonly o: ConductOptions) {}

  /** Frames parsed already, by bytes object (a frame is checked as it leaves, then recorded). */
  private readonly parsed = new WeakMap<Uint8Array, Signed | null>();

  /** Decodes a consensus frame into a validly signed vote or proposal, or undefined. */
  parse(bytes: Uint8Array): Signed | undefined {
    const known = this.parsed.get(bytes);
    if (known !== undefined) return known ?? undefined;
    const m = this.parseFresh(bytes);
    this.parsed.set(bytes, m ?? null);
    return m;
  }

  private parseFresh(bytes: Uint8Array): Signed | undefined {
    const env = this.o.decode !== undefined ? this.o.decode(bytes) : decodeEnvelope(bytes);
    if (env === undefined || env.chainId !== this.o.chainId) return undefined;
    const m = env.message;
    if (m.tag === 'vote') return this.parseVote(m.value);
    if (m.tag === 'proposal') return this.parseProposal(m.value);
    return undefined;
  }

  private parseVote(v: Vote): Signed | undefined {
    const validator = this.o.setAt(v.height).validators[v.validator];
    if (validator === undefined) return undefined;
    if (!this.o.verify(validator.publicKey, voteSignBytes(this.o.chainId, v), v.signature)) return undefined;
    return {
      kind: v.type === VOTE_PRECOMMIT ? 'precommit' : 'prevote',
      height: v.height,
      round: v.round,
      value: v.blockHash === null ? NIL : toHex(v.blockHash),
      validRound: -1,
      validator: v.validator,
      signature: toHex(v.signature),
    };
  }

  private parseProposal(p: Proposal): Signed | undefined {
    const validator = this.o.setAt(p.height).validators[p.proposer];
    if (validator === undefined) return undefined;
    const hash = blockHash(p.block.header);
    const signed = proposalSignBytes(this.o.chainId, { ...p, blockHash: hash });
    if (!this.o.verify(validator.publicKey, signed, p.signature)) return undefined;
    return {
      kind: 'proposal',
      height: p.height,
      round: p.round,
      value: toHex(hash),
      // on the wire the valid round is shifted by one so that "none" is 0
      validRound: p.validRound - 1,
      validator: p.proposer,
      signature: toHex(p.signature),
    };
  }

  /** Records a frame that went onto the network (from any node, honest or not). */
  record(bytes: Uint8Array): void {
    const m = this.parse(bytes);
    if (m !== undefined) this.add(m);
  }

  private add(m: Signed): void {
    if (this.seen.has(m.signature)) return;
    this.seen.add(m.signature);
    const power = this.o.setAt(m.height).validators[m.validator]!.power;
    const spokeKey = `${m.height}/${m.round}`;
    const spoke = this.spoke.get(spokeKey) ?? new Map<number, number>();
    spoke.set(m.validator, power);
    this.spoke.set(spokeKey, spoke);
    if (m.kind === 'proposal') {
      const list = this.proposals.get(spokeKey) ?? [];
      list.push({ value: m.value, validRound: m.validRound });
      this.proposals.set(spokeKey, list);
    } else {
      const key = `${m.kind}/${m.height}/${m.round}/${m.value}`;
      const senders = this.votes.get(key) ?? new Map<number, number>();
      senders.set(m.validator, power);
      this.votes.set(key, senders);
    }
    const ownKey = `${m.height}/${m.validator}`;
    const own = this.own.get(ownKey) ?? [];
    own.push(m);
    this.own.set(ownKey, own);
  }

  private total(height: bigint): bigint {
    let t = 0n;
    for (const v of this.o.setAt(height).validators) t += BigInt(v.power);
    return t;
  }

  private powerOf(senders: Senders | undefined): bigint {
    let p = 0n;
    for (const w of senders?.values() ?? []) p += BigInt(w);
    return p;
  }

  /** 2f+1 prevotes for `value` in `round` were sent (a polka). */
  private polka(height: bigint, round: number, value: string): boolean {
    return exceedsTwoThirds(
      this.powerOf(this.votes.get(`prevote/${height}/${round}/${value}`)),
      this.total(height),
    );
  }

  /** 2f+1 precommits of any value in `round` were sent (line 47: the precommit timeout). */
  private anyPrecommitQuorum(height: bigint, round: number): boolean {
    const senders = new Map<number, number>();
    for (const [key, s] of this.votes) {
      if (!key.startsWith(`precommit/${height}/${round}/`)) continue;
      for (const [v, w] of s) senders.set(v, w);
    }
    return exceedsTwoThirds(this.powerOf(senders), this.total(height));
  }

  /**
   * Checks a frame an honest node is about to send; records it when it is the node's own
   * signature (`validator` is the node's index in the set of that height). Returns what rule the
   * message breaks, or undefined. Relayed messages (others' signatures) are only recorded.
   */
  checkHonest(bytes: Uint8Array, validatorOf: (height: bigint) => number): string | undefined {
    const m = this.parse(bytes);
    if (m === undefined) return undefined;
    if (this.seen.has(m.signature) || m.validator !== validatorOf(m.height)) {
      this.add(m);
      return undefined;
    }
    const why = this.unjustified(m);
    this.add(m);
    return why;
  }

  private unjustified(m: Signed): string | undefined {
    const own = this.own.get(`${m.height}/${m.validator}`) ?? [];
    const at = `height ${m.height} round ${m.round}`;
    const short = m.value.slice(0, 8);
    // entering a round: only the precommit timeout of the round before (line 65, armed by 2f+1
    // precommits there, line 47) or f+1 power speaking in it (line 55) move a validator on; once
    // in a round (its earlier message there was judged), or resumed there after a restart, it stays
    if (m.round > 0 && !own.some((x) => x.round >= m.round)) {
      const skip = exceedsOneThird(
        this.powerOf(this.spoke.get(`${m.height}/${m.round}`)),
        this.total(m.height),
      );
      if (!skip && !this.anyPrecommitQuorum(m.height, m.round - 1)) {
        return `signed a ${m.kind} at ${at}, a round it entered without 2f+1 precommits in round ${m.round - 1} and without f+1 power in it (lines 55, 65)`;
      }
    }
    if (m.value === NIL) return undefined;
    if (m.kind === 'precommit') {
      // line 36: a precommit for a value needs its polka in the same round
      return this.polka(m.height, m.round, m.value)
        ? undefined
        : `precommitted ${short} at ${at} without 2f+1 prevotes for it (line 36)`;
    }
    if (m.kind === 'proposal') {
      // line 16: a re-proposed valid value carries the round of its polka
      if (m.validRound < 0 || this.polka(m.height, m.validRound, m.value)) return undefined;
      return `proposed ${short} at ${at} with valid round ${m.validRound}, which has no polka for it (line 16)`;
    }
    // a prevote for a value: lines 22 and 28, against the lock its own precommits imply
    let lockRound = -1;
    let lockValue = NIL;
    for (const x of own) {
      if (x.kind === 'precommit' && x.value !== NIL && x.round < m.round && x.round > lockRound) {
        lockRound = x.round;
        lockValue = x.value;
      }
    }
    const candidates = this.proposals.get(`${m.height}/${m.round}`) ?? [];
    const justified = candidates.some((p) => {
      if (p.value !== m.value) return false;
      if (p.validRound < 0) return lockRound < 0 || lockValue === m.value; // line 22
      return (
        p.validRound < m.round &&
        this.polka(m.height, p.validRound, m.value) &&
        (lockRound <= p.validRound || lockValue === m.value)
      ); // line 28
    });
    if (justified) return undefined;
    const lock = lockRound < 0 ? 'no lock' : `locked on ${lockValue.slice(0, 8)} in round ${lockRound}`;
    const seen =
      candidates.length === 0
        ? 'no validly signed proposal'
        : candidates.map((p) => `${p.value.slice(0, 8)} (valid round ${p.validRound})`).join(', ');
    return `prevoted ${short} at ${at} (${lock}; proposals sent: ${seen}) which lines 22 and 28 do not allow`;
  }
}
