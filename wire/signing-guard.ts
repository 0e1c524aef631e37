/**
 * The double-sign guard of a validator key (CometBFT's `priv_validator_state`): the last consensus
 * step it signed, kept beside the key and not in the node's database, so that a lost or emptied
 * database can never make the key sign twice for one step. Pure decisions here; the node keeps
 * the state in a file (node/signing-state.ts).
 *
 * Steps are ordered by (height, round, step), step 0 proposal < 1 prevote < 2 precommit, which
 * is the order a validator signs in. A request below the last signed step is refused; at the
 * last step itself only the very same bytes are signed again (the same signature, as after a
 * crash between signing and sending); above it, the step is recorded before the signature leaves.
 */

export interface ConsensusStep {
  readonly height: bigint;
  readonly round: number;
  /** 0 proposal, 1 prevote, 2 precommit */
  readonly step: number;
}

export interface LastSigned extends ConsensusStep {
  /** hex sha256 of the bytes signed at that step */
  readonly signBytes: string;
  /** hex of the signature made */
  readonly signature: string;
}

/** A signer refused to sign: it already signed this step or a later one. */
export class SignRefusedError extends Error {
  override readonly name = 'SignRefusedError';
}

/** Negative when `a` comes before `b`. */
export function compareSteps(a: ConsensusStep, b: ConsensusStep): number {
  if (a.height !== b.height) return a.height < b.height ? -1 : 1;
  if (a.round !== b.round) return a.round - b.round;
  return a.step - b.step;
}

export type SignDecision =
  | { readonly kind: 'sign' }
  | { readonly kind: 'same'; readonly signature: string }
  | { readonly kind: 'refuse'; readonly why: string };

/** What the guard does with a request to sign `signBytes` (hex sha256) at `step`. */
export function decideSign(
  last: LastSigned | undefined,
  step: ConsensusStep,
  signBytes: string,
): SignDecision {
  if (last === undefined) return { kind: 'sign' };
  const order = compareSteps(step, last);
  if (order > 0) return { kind: 'sign' };
  const at = `${last.height}/${last.round}/${last.step}`;
  if (order < 0)
    return {
      kind: 'refuse',
      why: `asked for ${step.height}/${step.round}/${step.step}, below ${at} already signed`,
    };
  if (signBytes === last.signBytes) return { kind: 'same', signature: last.signature };
  return { kind: 'refuse', why: `asked to sign other bytes at ${at}, which is signed already` };
}
