/**
 * The double-sign guard of a simulated validator key: wire/signing-guard.ts's decision over the
 * last consensus step the key signed, kept beside the key and not in the node's storage, as a
 * live node keeps it in its fsynced signing-state file (node/signing-state.ts). It survives the
 * node's crashes and storage faults (the simulated node's signer outlives its restarts), so a node
 * whose storage lost acknowledged writes, WAL entries included, still never signs a step twice:
 * it is refused (SignRefusedError, consensus then sends nothing for that step) or handed the very
 * signature it made before.
 */
import { consensusStepOf } from '../engines/consensus/messages.ts';
import type { Signer } from '../wire/sign.ts';
import { guardSigner, type LastSigned } from '../wire/signing-guard.ts';

/** `inner` behind the guard; `refusals` counts what it refused. */
export function guardedSigner(
  inner: Signer,
): Signer & { refusals(): number; last(): LastSigned | undefined } {
  let last: LastSigned | undefined;
  let refusals = 0;
  const signer = guardSigner(inner, consensusStepOf, {
    last: () => last,
    remember: (next) => {
      last = next;
    },
    refused: () => {
      refusals++;
    },
  });
  return {
    publicKey: signer.publicKey,
    sign: (msg) => signer.sign(msg),
    settle: (landed) => signer.settle?.(landed),
    refusals: () => refusals,
    last: () => last,
  };
}
