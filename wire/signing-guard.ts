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

import { sha256, toHex } from './commit.ts';
import type { Signer } from './sign.ts';

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

/** Where a guard keeps the last step its key signed (a file beside the key, or a simulated one). */
export interface SigningState {
  last(): LastSigned | undefined;
  /** Makes `next` the last signed step, durably, before its signature is handed out. */
  remember(next: LastSigned): void;
  /** Told of every refusal (for counting); the refusal itself is thrown. */
  refused?(why: string): void;
}

/**
 * `inner` behind the guard: `stepOf` names the consensus step a message is for (undefined: not a
 * consensus message, signed as it is), and `state` holds the last signed step.
 *
 * The step is remembered when the engine step that signed it settles (`settle(true)`: its writes,
 * the WAL entry of the signature among them, landed, and its messages are about to leave), not
 * when it is signed: a step that fails (a full disk, a thrown error) sent nothing, and leaves the
 * guard where it was, so its retry may sign the same steps again. Remembering at signing time put
 * the guard ahead of the WAL whenever a step failed, and the retry was refused: a lone validator
 * never signed at that height again. Until it settles, what the step signed counts as signed.
 */
export function guardSigner(
  inner: Signer,
  stepOf: (msg: Uint8Array) => ConsensusStep | undefined,
  state: SigningState,
): Signer {
  /** what the step being taken signed, in order (the last is the furthest step) */
  let pending: LastSigned[] = [];
  return {
    publicKey: inner.publicKey,
    sign(msg: Uint8Array): Uint8Array {
      const step = stepOf(msg);
      if (step === undefined) return inner.sign(msg);
      const signBytes = toHex(sha256(msg));
      const decision = decideSign(pending.at(-1) ?? state.last(), step, signBytes);
      if (decision.kind === 'refuse') {
        state.refused?.(decision.why);
        throw new SignRefusedError(decision.why);
      }
      if (decision.kind === 'same') return Uint8Array.from(Buffer.from(decision.signature, 'hex'));
      const signature = inner.sign(msg);
      pending.push({ ...step, signBytes, signature: toHex(signature) });
      return signature;
    },
    settle(landed: boolean): void {
      const signed = pending;
      pending = [];
      if (landed) for (const next of signed) state.remember(next);
    },
  };
}
