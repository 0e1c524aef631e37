/**
 * The simulator's own quorum arithmetic, written apart from engines/consensus (`quorum`,
 * `checkCertificate`) so that a wrong threshold there is caught by the invariant checker instead
 * of being shared with it. Exact integer comparisons on bigints, no division or rounding.
 */
import { voteSignBytes } from '../engines/consensus/chain.ts';
import { type Certificate, VOTE_PRECOMMIT } from '../engines/consensus/messages.ts';
import { toHex } from '../wire/commit.ts';
import type { Verifier } from '../wire/sign.ts';

/** Whether `power` is strictly more than two thirds of `total`: 3 * power > 2 * total. */
export function exceedsTwoThirds(power: bigint, total: bigint): boolean {
  return 3n * power > 2n * total;
}

/** The oracle's view of a validator set: the position of each validator and its power. */
export interface PoweredSet {
  readonly validators: readonly { readonly publicKey: Uint8Array; readonly power: number }[];
}

/**
 * Whether `cert` proves `hash` at `height` under `set`: every entry a valid precommit signature
 * of a distinct validator of the set, for that height, the certificate's round and `hash`, and
 * together strictly more than two thirds of the set's power (summed here, not taken from the set).
 */
export function certifies(
  cert: Certificate,
  height: bigint,
  hash: Uint8Array,
  set: PoweredSet,
  chainId: string,
  verify: Verifier,
): boolean {
  if (cert.height !== height || toHex(cert.blockHash) !== toHex(hash)) return false;
  const message = voteSignBytes(chainId, {
    type: VOTE_PRECOMMIT,
    height,
    round: cert.round,
    blockHash: hash,
  });
  const signers = new Set<number>();
  let signed = 0n;
  for (const entry of cert.signatures) {
    const validator = set.validators[entry.validator];
    if (validator === undefined || signers.has(entry.validator)) return false;
    if (!verify(validator.publicKey, message, entry.signature)) return false;
    signers.add(entry.validator);
    signed += BigInt(validator.power);
  }
  let total = 0n;
  for (const v of set.validators) total += BigInt(v.power);
  return exceedsTwoThirds(signed, total);
}
