/**
 * The ICS-20 predicates (README.md, "Token transfer"):
 *
 *   ics20-voucher@1  application predicate of an instance's vouchers; config = VoucherConfig
 *                    {chainId}. Every voucher note is well formed (a value naming its origin, a
 *                    positive amount, a provenance), and voucher supply changes only as the
 *                    transaction's transfer messages require (mint on receive, burn on a send
 *                    home, mint back on a refund).
 *   ics20-escrow@1   owner predicate of one channel's escrow; config = EscrowConfig {chainId,
 *                    port, channel}. Escrow changes only as the transfer messages require.
 *
 * Both read the messages from the transaction's SignedPayload and refuse messages without the IBC
 * host's notes in the transaction: then the host predicate runs, and it is what checks that the
 * messages are real (proofs, clients) and that every account they name is paid exactly.
 */
import type { Note } from '../../engines/executor/notes.ts';
import type { NativeDefinition, NativeRegistry } from '../../vm/native.ts';
import { tryDecode } from '../../wire/schema.ts';
import { bytesEqual } from '../../wire/types.ts';
import { declaredViewOf, verdict } from '../token/predicates.ts';
import {
  actualEffects,
  ESCROW_NAME,
  EscrowConfig,
  ICS20_VERSION,
  requiredEffects,
  unrequestedMovement,
  VOUCHER_NAME,
  VoucherConfig,
  VoucherValue,
  voucherPredicate,
} from './accounting.ts';
import { hostMessagesOf, ibcHostPredicate, transferChannels } from './host.ts';
import { readsOf } from './versions.ts';

/** Why the transaction's transfer notes break the ICS-20 rules of instance `chainId`, or undefined. */
export function transferNotesProblem(
  chainId: string,
  tx: { inputs: readonly Note[]; outputs: readonly Note[]; payload: Uint8Array },
  escrow?: { port: string; channel: string },
): string | undefined {
  const host = ibcHostPredicate(chainId).commitment;
  const msgs = hostMessagesOf(tx.payload) ?? [];
  const ibcMsgs = msgs.flatMap((m) => (m.tag === 'ibc' ? [m.value] : []));
  const notes = [...tx.inputs, ...tx.outputs];
  if (msgs.length > 0 && !notes.some((n) => bytesEqual(n.application, host)))
    return "IBC messages without the host's notes";
  const voucher = voucherPredicate(chainId).commitment;
  for (const n of notes) {
    if (!bytesEqual(n.application, voucher)) continue;
    const v = tryDecode(VoucherValue, n.value);
    if (!v.ok || v.value.amount === 0n) return 'a voucher note with a malformed value';
    if (n.provenance.length === 0) return 'a voucher without provenance';
  }
  const reads = readsOf(
    host,
    tx.inputs.filter((n) => bytesEqual(n.application, host)),
  );
  if (typeof reads === 'string') return reads;
  const required = requiredEffects({ commitment: host, chainId }, (path) => reads.get(path)?.value, ibcMsgs);
  if (typeof required === 'string') return required;
  const channels = transferChannels(msgs);
  if (escrow !== undefined) channels.push(escrow);
  return unrequestedMovement(required, actualEffects(chainId, tx.inputs, tx.outputs, channels));
}

export const ICS20_VOUCHER: NativeDefinition = {
  name: VOUCHER_NAME,
  version: ICS20_VERSION,
  baseGas: 500,
  perByteGas: 1,
  takesConfig: true,
  run(args, config) {
    const cfg = tryDecode(VoucherConfig, config);
    if (!cfg.ok) return verdict(false);
    const view = declaredViewOf(args);
    if (view === undefined) return verdict(false);
    const problem = transferNotesProblem(cfg.value.chainId, {
      inputs: view.inputs,
      outputs: view.outputs,
      payload: view.declared.payload,
    });
    return verdict(problem === undefined);
  },
};

export const ICS20_ESCROW: NativeDefinition = {
  name: ESCROW_NAME,
  version: ICS20_VERSION,
  baseGas: 500,
  perByteGas: 1,
  takesConfig: true,
  run(args, config) {
    const cfg = tryDecode(EscrowConfig, config);
    if (!cfg.ok) return verdict(false);
    const view = declaredViewOf(args);
    if (view === undefined) return verdict(false);
    const problem = transferNotesProblem(
      cfg.value.chainId,
      { inputs: view.inputs, outputs: view.outputs, payload: view.declared.payload },
      { port: cfg.value.port, channel: cfg.value.channel },
    );
    return verdict(problem === undefined);
  },
};

/** Adds ics20-voucher@1 and ics20-escrow@1 to a registry (and returns it). */
export function ics20Natives(registry: NativeRegistry): NativeRegistry {
  return registry.register(ICS20_VOUCHER).register(ICS20_ESCROW);
}
