/**
 * The envelope layer's state: fee accounts and used nonces. The executor keeps it (it charges each
 * committed envelope's fee in committed order, as a wrapper transaction does in Namada); the
 * mempool reads it, to admit only envelopes whose payer can pay and whose nonce is unused. It is
 * shared here, like the message schemas, because engines never import each other.
 *
 * Layout in the node's storage (big-endian numbers):
 *
 *   x/h                                  the last executed height (u64)
 *   x/fee/<payer:32>                     the payer's fee balance (u64); absent = 0
 *   x/nonce/<payer:32><nonce:8>          the expiry height of the committed envelope that used
 *                                        (payer, nonce), kept until that height has passed
 *   x/nonce-by-expiry/<expiry:8><payer:32><nonce:8>   the same records in expiry order (pruning)
 *   x/unpaid/<envelope hash>             an encrypted envelope whose fee could not be paid when its
 *                                        block committed: it is refused when it is decrypted
 *
 * Fee balances are also leaves of the state tree, at `feeLeafKey(payer)`, so the state root
 * commits to them and nodes that disagree on a balance disagree on the root. A note's key starts
 * with the varint count of its provenance (at most 32), so no note key starts with 0xff.
 */
import { concatBytes as join, readU64be as readU64, u64be as u64Bytes } from './bytes.ts';
import { type Infer, s } from './schema.ts';

const enc = new TextEncoder();

export const EXECUTED_HEIGHT_KEY = enc.encode('x/h');
const FEE = enc.encode('x/fee/');
const NONCE = enc.encode('x/nonce/');
const NONCE_BY_EXPIRY = enc.encode('x/nonce-by-expiry/');
const UNPAID = enc.encode('x/unpaid/');
const FEE_LEAF = Uint8Array.of(0xff, ...enc.encode('fee/'));

export const PAYER_BYTES = 32;
/** Every fee account holds at most this (the genesis total is checked against it). */
export const MAX_FEE_BALANCE = 2n ** 64n - 1n;

/**
 * One committed envelope's charge, in block order: the decryptor lists one for every envelope of a
 * committed block that passed its envelope checks (instance, expiry, replay, signature).
 */
export const Charge = s.struct({
  envelope: s.bytes({ length: 32 }),
  payer: s.bytes({ length: PAYER_BYTES }),
  nonce: s.u64(),
  fee: s.u64(),
  expiry: s.u64(),
});
export type Charge = Infer<typeof Charge>;

/** A genesis fee account. */
export interface FeeAccount {
  readonly publicKey: Uint8Array;
  readonly balance: bigint;
}

export const feeKey = (payer: Uint8Array): Uint8Array => join(FEE, payer);
export const feeLeafKey = (payer: Uint8Array): Uint8Array => join(FEE_LEAF, payer);
export const nonceKey = (payer: Uint8Array, nonce: bigint): Uint8Array => join(NONCE, payer, u64Bytes(nonce));
export const nonceExpiryKey = (expiry: bigint, payer: Uint8Array, nonce: bigint): Uint8Array =>
  join(NONCE_BY_EXPIRY, u64Bytes(expiry), payer, u64Bytes(nonce));
export const unpaidKey = (envelope: Uint8Array): Uint8Array => join(UNPAID, envelope);
export const NONCE_BY_EXPIRY_PREFIX = NONCE_BY_EXPIRY;

/** Parses an `x/nonce-by-expiry/` key back into what it indexes. */
export function parseNonceExpiryKey(key: Uint8Array): { expiry: bigint; payer: Uint8Array; nonce: bigint } {
  const at = NONCE_BY_EXPIRY.length;
  if (key.length !== at + 8 + PAYER_BYTES + 8) throw new RangeError('not a nonce-by-expiry key');
  return {
    expiry: readU64(key, at),
    payer: key.slice(at + 8, at + 8 + PAYER_BYTES),
    nonce: readU64(key, at + 8 + PAYER_BYTES),
  };
}

/** Anything with point reads: the node's storage, or a view of it. */
export interface PointReader {
  read(key: Uint8Array): Uint8Array | undefined;
}

/** What admission needs to know of the ledger, read from the executor's records. */
export interface FeeLedgerView {
  /** the payer's fee balance as of the last executed height */
  feeBalance(payer: Uint8Array): bigint;
  /** the expiry of the committed envelope that used (payer, nonce), if one did and it is remembered */
  nonceUsedUntil(payer: Uint8Array, nonce: bigint): bigint | undefined;
  executedHeight(): bigint;
}

export function feeLedgerView(store: PointReader): FeeLedgerView {
  return {
    feeBalance: (payer) => {
      const raw = store.read(feeKey(payer));
      return raw === undefined ? 0n : readU64(raw);
    },
    nonceUsedUntil: (payer, nonce) => {
      const raw = store.read(nonceKey(payer, nonce));
      return raw === undefined ? undefined : readU64(raw);
    },
    executedHeight: () => {
      const raw = store.read(EXECUTED_HEIGHT_KEY);
      return raw === undefined ? 0n : readU64(raw);
    },
  };
}
