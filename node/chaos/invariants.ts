/**
 * What the chaos harness checks once the network has healed and settled, as pure functions over
 * what it read from the nodes (so each can be shown to flag a planted violation):
 *
 *   agreement     every node has the same block hash at every height
 *   state roots   every node has the same state root after every height
 *   exactly once  every admitted transfer is in exactly one block (no block carries an envelope
 *                 another block carried), and every node has its receipt
 *   first receipt the receipt every node answers is the same, is for the first inclusion, and is
 *                 what was announced when the envelope was first executed (never overwritten)
 *   supply        the demo token held by the clients is what was minted (on every node)
 *   fees          the fee balances of the genesis fee accounts and the validators sum to the
 *                 genesis total (on every node)
 *   no double sign no validator signed two different messages at one (height, round, step), and
 *                 no committed block carries equivocation evidence
 */
import type { SigningLogEntry } from '../signing-state.ts';

export interface Violation {
  readonly invariant: string;
  readonly detail: string;
}

export interface BlockView {
  readonly hash: string;
  /** hex sha256 of each envelope the block carries, in order */
  readonly txs: readonly string[];
  /** pieces of equivocation evidence it carries */
  readonly evidence: number;
}

/** What one node answered for heights 1..: its blocks and the state root after each height. */
export interface ChainView {
  readonly node: string;
  readonly blocks: ReadonlyMap<number, BlockView>;
  readonly roots: ReadonlyMap<number, string>;
}

const short = (h: string) => h.slice(0, 12);

/**
 * Agreement and state roots over heights 1..blocksUpTo (1..rootsUpTo for roots) on every view, and
 * envelopes carried twice across the chain; returns the violations and the height each envelope
 * was first included at (from the first view: with agreement every view has the same blocks).
 */
export function checkChain(
  views: readonly ChainView[],
  blocksUpTo: number,
  rootsUpTo: number,
): { violations: Violation[]; firstInclusion: Map<string, number> } {
  const violations: Violation[] = [];
  for (let h = 1; h <= blocksUpTo; h++) {
    const hashes = views.map((v) => v.blocks.get(h)?.hash);
    for (const [i, x] of hashes.entries()) {
      if (x === undefined)
        violations.push({
          invariant: 'agreement',
          detail: `${views[i]!.node} has no readable block at height ${h}`,
        });
    }
    const known = hashes.filter((x): x is string => x !== undefined);
    if (new Set(known).size > 1) {
      violations.push({
        invariant: 'agreement',
        detail: `fork at height ${h}: ${views.map((v, i) => `${v.node}=${short(hashes[i] ?? '?')}`).join(' ')}`,
      });
    }
  }
  for (let h = 1; h <= rootsUpTo; h++) {
    const roots = views.map((v) => v.roots.get(h));
    for (const [i, x] of roots.entries()) {
      if (x === undefined)
        violations.push({
          invariant: 'state roots',
          detail: `${views[i]!.node} has no state root for height ${h}`,
        });
    }
    const known = roots.filter((x): x is string => x !== undefined);
    if (new Set(known).size > 1) {
      violations.push({
        invariant: 'state roots',
        detail: `roots differ after height ${h}: ${views.map((v, i) => `${v.node}=${short(roots[i] ?? '?')}`).join(' ')}`,
      });
    }
  }
  const firstInclusion = new Map<string, number>();
  const reference = views[0];
  for (let h = 1; reference !== undefined && h <= blocksUpTo; h++) {
    const block = reference.blocks.get(h);
    if (block === undefined) continue;
    if (block.evidence > 0) {
      violations.push({
        invariant: 'no double sign',
        detail: `the block at height ${h} carries ${block.evidence} piece(s) of equivocation evidence`,
      });
    }
    for (const tx of block.txs) {
      const first = firstInclusion.get(tx);
      if (first === undefined) firstInclusion.set(tx, h);
      else
        violations.push({
          invariant: 'exactly once',
          detail: `envelope ${short(tx)} is carried by the blocks at heights ${first} and ${h}`,
        });
    }
  }
  return { violations, firstInclusion };
}

/** A receipt as the RPC `receipt` method (or the receipts subscription) gives it. */
export interface ReceiptView {
  /** the height it was executed at */
  readonly height: string;
  /** the height its envelope was included at (the subscription does not say) */
  readonly includedAt?: string;
  readonly accepted: boolean;
  readonly phase: string;
  readonly reason: string;
}

const outcome = (r: ReceiptView) =>
  `h${r.height}${r.includedAt === undefined ? '' : `/in${r.includedAt}`} ${r.accepted ? 'accepted' : 'refused'} ${r.phase}${r.reason === '' ? '' : `: ${r.reason}`}`;

const sameOutcome = (a: ReceiptView, b: ReceiptView) =>
  a.height === b.height && a.accepted === b.accepted && a.phase === b.phase && a.reason === b.reason;

export interface ReceiptCheckInput {
  /** envelopes some node admitted: each must have been executed */
  readonly admitted: Iterable<string>;
  /** envelopes whose fate is unknown (the node went away before answering): checked if included */
  readonly unknown?: Iterable<string>;
  readonly firstInclusion: ReadonlyMap<string, number>;
  /** the first receipt announced for each envelope, by whichever node announced it first */
  readonly firstSeen: ReadonlyMap<string, ReceiptView>;
  /** per node: the receipt it answers for each envelope checked (absent: it has none) */
  readonly receipts: ReadonlyMap<string, ReadonlyMap<string, ReceiptView>>;
}

/** Exactly once and first receipt (see the module comment). */
export function checkReceipts(o: ReceiptCheckInput): Violation[] {
  const violations: Violation[] = [];
  const check = (hash: string, mustBeIncluded: boolean) => {
    const included = o.firstInclusion.get(hash);
    if (included === undefined) {
      if (mustBeIncluded)
        violations.push({
          invariant: 'exactly once',
          detail: `admitted envelope ${short(hash)} was never included in a block`,
        });
      return;
    }
    const answers: [string, ReceiptView][] = [];
    for (const [node, receipts] of o.receipts) {
      const r = receipts.get(hash);
      if (r === undefined)
        violations.push({
          invariant: 'exactly once',
          detail: `${node} has no receipt for ${short(hash)}, included at height ${included}`,
        });
      else answers.push([node, r]);
    }
    const [first] = answers;
    if (first === undefined) return;
    if (answers.some(([, r]) => !sameOutcome(r, first[1]) || r.includedAt !== first[1].includedAt)) {
      violations.push({
        invariant: 'first receipt',
        detail: `nodes answer different receipts for ${short(hash)}: ${answers.map(([n, r]) => `${n} ${outcome(r)}`).join('; ')}`,
      });
    }
    for (const [node, r] of answers) {
      if (r.includedAt !== undefined && r.includedAt !== String(included)) {
        violations.push({
          invariant: 'first receipt',
          detail: `${node}'s receipt for ${short(hash)} is for an inclusion at ${r.includedAt}, but it was first included at ${included}`,
        });
      }
    }
    const seen = o.firstSeen.get(hash);
    if (seen !== undefined) {
      for (const [node, r] of answers) {
        if (!sameOutcome(r, seen)) {
          violations.push({
            invariant: 'first receipt',
            detail: `${node}'s receipt for ${short(hash)} was overwritten: first announced ${outcome(seen)}, now ${outcome(r)}`,
          });
        }
      }
    }
  };
  for (const h of o.admitted) check(h, true);
  for (const h of o.unknown ?? []) check(h, false);
  return violations;
}

/** Supply: on every node the clients hold what was minted. */
export function checkSupply(minted: bigint, totals: ReadonlyMap<string, bigint>): Violation[] {
  return [...totals]
    .filter(([, t]) => t !== minted)
    .map(([node, t]) => ({
      invariant: 'supply',
      detail: `${node}: the clients hold ${t} of the demo token, but ${minted} was minted (${t > minted ? '+' : ''}${t - minted})`,
    }));
}

/** Fees: on every node the fee balances sum to the genesis total. */
export function checkFees(genesisTotal: bigint, totals: ReadonlyMap<string, bigint>): Violation[] {
  return [...totals]
    .filter(([, t]) => t !== genesisTotal)
    .map(([node, t]) => ({
      invariant: 'fees',
      detail: `${node}: fee balances sum to ${t}, the genesis gave ${genesisTotal} (${t > genesisTotal ? '+' : ''}${t - genesisTotal})`,
    }));
}

/** No double sign: per validator, no (height, round, step) with two different sign bytes. */
export function checkSigningLogs(logs: ReadonlyMap<string, readonly SigningLogEntry[]>): Violation[] {
  const violations: Violation[] = [];
  const steps = ['proposal', 'prevote', 'precommit'];
  for (const [validator, entries] of logs) {
    const signed = new Map<string, string>();
    for (const e of entries) {
      const at = `${e.height}/${e.round}/${e.step}`;
      const before = signed.get(at);
      if (before === undefined) signed.set(at, e.signBytes);
      else if (before !== e.signBytes) {
        violations.push({
          invariant: 'no double sign',
          detail: `${validator} signed two different ${steps[e.step] ?? `step ${e.step}`}s at height ${e.height} round ${e.round} (${short(before)} and ${short(e.signBytes)})`,
        });
        signed.set(at, e.signBytes);
      }
    }
  }
  return violations;
}
