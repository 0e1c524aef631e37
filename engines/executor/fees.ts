/**
 * Fees, charged as a wrapper transaction is in Namada: every envelope a committed block carries
 * pays its fee when that block executes, before any transaction of the block runs, whether or not
 * its inner transaction is then accepted. The block's proposer is credited with what was paid, so
 * the fee supply is conserved. An envelope whose payer cannot pay is not executed: a plain one is
 * refused in this block (phase 'fee'); an encrypted one is marked and refused when it is
 * decrypted, later. Either way its nonce counts as used, so it cannot be replayed to be paid for.
 *
 * Pure except for reads: `chargeBlock` reads balances and marks through a `PointReader` and
 * returns what sealing the block writes (wire/fees.ts has the layout).
 */
import type { MerkleChange } from '../../storage/merkle.ts';
import { u64be } from '../../storage/prefix.ts';
import type { BatchOp } from '../../storage/types.ts';
import { toHex } from '../../wire/commit.ts';
import {
  type Charge,
  type FeeAccount,
  feeKey,
  feeLeafKey,
  feeLedgerView,
  MAX_FEE_BALANCE,
  nonceExpiryKey,
  nonceKey,
  type PointReader,
  parseNonceExpiryKey,
  unpaidKey,
} from '../../wire/fees.ts';
import type { OrderedBlock } from '../../wire/ledger.ts';
import type { Receipt } from './phases.ts';

/** What charging one block's envelopes decided. Plain data, never mutated. */
export interface BlockFees {
  /** every account whose balance changed, with its balance after the block's charges */
  readonly balances: readonly { readonly payer: Uint8Array; readonly balance: bigint }[];
  /** envelopes of this block (hex) whose fee was not paid, with the receipt they get */
  readonly unpaid: ReadonlyMap<string, Receipt>;
  /** this block's charges (their nonces are recorded until expiry) */
  readonly charges: readonly Charge[];
  /** entries of this block decrypted from earlier blocks that were not paid for, with their receipt */
  readonly unpaidEarlier: ReadonlyMap<string, Receipt>;
  /** unpaid encrypted envelopes of this block, to be refused when they are decrypted */
  readonly marks: readonly Uint8Array[];
  /** the marks of `unpaidEarlier`, cleared now */
  readonly cleared: readonly Uint8Array[];
}

export const NO_FEES: BlockFees = Object.freeze({
  balances: [],
  unpaid: new Map(),
  charges: [],
  unpaidEarlier: new Map(),
  marks: [],
  cleared: [],
});

function unpaidReceipt(fee: bigint, balance: bigint): Receipt {
  return {
    accepted: false,
    phase: 'fee',
    reason: `the payer could not pay the fee of ${fee} when its block committed (balance ${balance})`,
    gasUsed: 0,
  };
}

const EARLIER_UNPAID: Receipt = Object.freeze({
  accepted: false,
  phase: 'fee',
  reason: 'the payer could not pay the fee when its block committed',
  gasUsed: 0,
});

/**
 * Charges the fees of `block`'s charges in block order against the balances in `store`, then
 * credits the proposer with the total; and finds the block's decrypted entries whose fee was not
 * paid when they were included.
 */
export function chargeBlock(store: PointReader, block: OrderedBlock): BlockFees {
  if (block.charges.length === 0 && !block.txs.some((t) => t.encrypted)) return NO_FEES;
  const view = feeLedgerView(store);
  const balances = new Map<string, { payer: Uint8Array; before: bigint; balance: bigint }>();
  const balanceOf = (payer: Uint8Array) => {
    const id = toHex(payer);
    let b = balances.get(id);
    if (b === undefined) {
      const before = view.feeBalance(payer);
      b = { payer, before, balance: before };
      balances.set(id, b);
    }
    return b;
  };
  const unpaid = new Map<string, Receipt>();
  let paid = 0n;
  for (const c of block.charges) {
    if (c.fee === 0n) continue;
    const account = balanceOf(c.payer);
    if (account.balance >= c.fee) {
      account.balance -= c.fee;
      paid += c.fee;
    } else unpaid.set(toHex(c.envelope), unpaidReceipt(c.fee, account.balance));
  }
  if (paid > 0n) {
    const proposer = balanceOf(block.proposer);
    // the total supply fits a u64 (genesis is checked), so no balance can exceed it
    if (proposer.balance + paid > MAX_FEE_BALANCE) throw new RangeError('fee balance above the fee supply');
    proposer.balance += paid;
  }
  const unpaidEarlier = new Map<string, Receipt>();
  const cleared: Uint8Array[] = [];
  const executedHere = new Set<string>();
  for (const t of block.txs) {
    if (t.includedAt === block.height) executedHere.add(toHex(t.envelope));
    else if (t.encrypted && store.read(unpaidKey(t.envelope)) !== undefined) {
      unpaidEarlier.set(toHex(t.envelope), EARLIER_UNPAID);
      cleared.push(t.envelope);
    }
  }
  const marks = block.charges
    .filter((c) => unpaid.has(toHex(c.envelope)) && !executedHere.has(toHex(c.envelope)))
    .map((c) => c.envelope);
  const changed = [...balances.values()]
    .filter((b) => b.balance !== b.before)
    .map(({ payer, balance }) => ({ payer, balance }));
  return { balances: changed, unpaid, charges: block.charges, unpaidEarlier, marks, cleared };
}

/** The receipt an entry gets instead of executing, when its fee was not paid. */
export function feeRefusal(
  fees: BlockFees,
  envelopeHex: string,
  includedAt: bigint,
  height: bigint,
): Receipt | undefined {
  return includedAt === height ? fees.unpaid.get(envelopeHex) : fees.unpaidEarlier.get(envelopeHex);
}

/**
 * What sealing height `height` writes for its fees: balances (records and state-tree leaves), nonce
 * records, marks for unpaid encrypted envelopes still to be decrypted and the removal of marks used
 * now, and the pruning of the nonce records listed in `expired` (nonce-by-expiry keys).
 */
export function feeWrites(
  fees: BlockFees,
  height: bigint,
  expired: readonly Uint8Array[],
): { ops: BatchOp[]; leaves: MerkleChange[] } {
  const ops: BatchOp[] = [];
  const leaves: MerkleChange[] = [];
  for (const { payer, balance } of fees.balances) {
    const value = balance === 0n ? null : u64be(balance);
    ops.push(value === null ? { op: 'del', key: feeKey(payer) } : { op: 'put', key: feeKey(payer), value });
    leaves.push({ key: feeLeafKey(payer), value });
  }
  for (const key of expired) {
    const { payer, nonce } = parseNonceExpiryKey(key);
    ops.push({ op: 'del', key });
    ops.push({ op: 'del', key: nonceKey(payer, nonce) });
  }
  for (const c of fees.charges) {
    // kept until the envelope's expiry: a later copy is a replay (and after it, expired anyway)
    if (c.expiry <= height) continue;
    ops.push({ op: 'put', key: nonceKey(c.payer, c.nonce), value: u64be(c.expiry) });
    ops.push({ op: 'put', key: nonceExpiryKey(c.expiry, c.payer, c.nonce), value: new Uint8Array(0) });
  }
  for (const envelope of fees.marks)
    ops.push({ op: 'put', key: unpaidKey(envelope), value: Uint8Array.of(1) });
  for (const envelope of fees.cleared) ops.push({ op: 'del', key: unpaidKey(envelope) });
  return { ops, leaves };
}

/** The genesis fee accounts as records and state-tree leaves. */
export function genesisFeeWrites(accounts: readonly FeeAccount[]): {
  ops: BatchOp[];
  leaves: MerkleChange[];
} {
  const ops: BatchOp[] = [];
  const leaves: MerkleChange[] = [];
  let total = 0n;
  for (const a of accounts) {
    total += a.balance;
    if (a.balance <= 0n) continue;
    ops.push({ op: 'put', key: feeKey(a.publicKey), value: u64be(a.balance) });
    leaves.push({ key: feeLeafKey(a.publicKey), value: u64be(a.balance) });
  }
  if (total > MAX_FEE_BALANCE) throw new RangeError(`genesis fee balances total ${total}, above 2^64 - 1`);
  return { ops, leaves };
}
