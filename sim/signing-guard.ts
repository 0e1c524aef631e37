/**
 * The double-sign guard of a simulated validator key: wire/signing-guard.ts's decision over the
 * last consensus step the key signed, kept beside the key and not in the node's storage, as a
 * live node keeps it in its fsynced signing-state file (node/signing-state.ts). It survives the
 * node's crashes and storage faults (the simulated node's signer outlives its restarts), so a node
 * whose storage lost acknowledged writes, WAL entries included, still never signs a step twice:
 * it is refused (SignRefusedError, consensus then sends nothing for that step) or handed the very
 * signature it made before.
 */
import { ProposalSignBytes, VoteSignBytes } from '../engines/consensus/messages.ts';
import { sha256, toHex } from '../wire/commit.ts';
import { tryDecode } from '../wire/schema.ts';
import type { Signer } from '../wire/sign.ts';
import { type ConsensusStep, decideSign, type LastSigned, SignRefusedError } from '../wire/signing-guard.ts';

/** The consensus step a message to sign is for, or undefined when it is not a vote or proposal. */
export function signedStepOf(bytes: Uint8Array): ConsensusStep | undefined {
  const vote = tryDecode(VoteSignBytes, bytes);
  if (vote.ok && vote.value.domain === 'fractal/vote')
    return { height: vote.value.height, round: vote.value.round, step: vote.value.type + 1 };
  const proposal = tryDecode(ProposalSignBytes, bytes);
  if (proposal.ok && proposal.value.domain === 'fractal/proposal')
    return { height: proposal.value.height, round: proposal.value.round, step: 0 };
  return undefined;
}

/** `inner` behind the guard; `refusals` counts what it refused. */
export function guardedSigner(
  inner: Signer,
): Signer & { refusals(): number; last(): LastSigned | undefined } {
  let last: LastSigned | undefined;
  let refusals = 0;
  return {
    publicKey: inner.publicKey,
    refusals: () => refusals,
    last: () => last,
    sign(msg: Uint8Array): Uint8Array {
      const step = signedStepOf(msg);
      if (step === undefined) return inner.sign(msg);
      const signBytes = toHex(sha256(msg));
      const decision = decideSign(last, step, signBytes);
      if (decision.kind === 'refuse') {
        refusals++;
        throw new SignRefusedError(decision.why);
      }
      if (decision.kind === 'same') return Uint8Array.from(Buffer.from(decision.signature, 'hex'));
      const signature = inner.sign(msg);
      last = { ...step, signBytes, signature: toHex(signature) };
      return signature;
    },
  };
}
