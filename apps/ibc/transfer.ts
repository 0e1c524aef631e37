/**
 * ICS-20 fungible token transfer over seed-002 provenance: the packet data, and which way a
 * transfer goes at each end (README.md, "Token transfer").
 *
 * A note's provenance lists the instances it came through, most recent first. Each entry names
 * the instance and the local port and channel it arrived on (`a@transfer/channel-0` on B for a
 * note that came from A over B's channel-0): two clients may claim one chain id, and a note that
 * came over a channel to an impostor must not pass for one that came from the real instance, so
 * the channel is part of the asset. A->B->C gives `["b@…", "a@…"]` on C.
 *
 * Sending a note whose newest entry is this channel's counterparty, arrived over this very
 * channel, returns it home: it is burnt here and released from escrow there. Anything else is
 * escrowed here and minted there with one more entry. So A->B->A returns the original asset, and
 * A->B->C->A by another route is a different asset, as its provenance says.
 */
import { type Infer, s, tryDecode } from '../../wire/schema.ts';

/** The port ICS-20 binds to. */
export const TRANSFER_PORT = 'transfer';
/** The channel version ICS-20 negotiates. */
export const TRANSFER_VERSION = 'ics20-1';
/** Most provenance entries a note may carry (the executor's Note allows 32). */
export const MAX_HOPS = 16;
/** Most bytes of one provenance entry (the executor's Note allows 64). */
export const MAX_ENTRY_BYTES = 64;

/**
 * ICS-20 `FungibleTokenPacketData`, with the asset named the seed-002 way: the token application
 * it was issued under at home, the asset within it, and its provenance on the sender.
 */
export const TransferData = s.struct({
  origin: s.bytes({ length: 32 }),
  asset: s.bytes({ length: 32 }),
  provenance: s.list(s.string({ max: MAX_ENTRY_BYTES }), { max: MAX_HOPS }),
  amount: s.u64(),
  /** the sender's public key (hex): who is refunded */
  sender: s.bytes({ length: 32 }),
  /** the receiver's public key on the destination */
  receiver: s.bytes({ length: 32 }),
  memo: s.string({ max: 256 }),
});
export type TransferData = Infer<typeof TransferData>;

/** The provenance entry a note gets on arriving at `port/channel` from instance `chainId`. */
export function provenanceEntry(chainId: string, port: string, channel: string): string {
  return `${chainId}@${port}/${channel}`;
}

/** What sending a note of `provenance` over `port/channel` to instance `counterpartyChainId` does here. */
export function sendKind(
  provenance: readonly string[],
  counterpartyChainId: string,
  port: string,
  channel: string,
): 'escrow' | 'burn' {
  return provenance[0] === provenanceEntry(counterpartyChainId, port, channel) ? 'burn' : 'escrow';
}

/** What receiving does: release from escrow the asset with the remaining provenance, or mint a voucher. */
export type ReceiveKind =
  | { readonly kind: 'release'; readonly provenance: readonly string[] }
  | { readonly kind: 'mint'; readonly provenance: readonly string[] };

/**
 * On the receiver (instance `ownChainId`, packet arriving at `destPort/destChannel` from
 * `sourcePort/sourceChannel` of `counterpartyChainId`): the asset is coming home when its newest
 * entry is this instance over the packet's source channel, as the sender named it.
 */
export function receiveKind(
  data: { readonly provenance: readonly string[] },
  ownChainId: string,
  counterpartyChainId: string,
  packet: { sourcePort: string; sourceChannel: string; destinationPort: string; destinationChannel: string },
): ReceiveKind | undefined {
  const head = data.provenance[0];
  if (head !== undefined && head === provenanceEntry(ownChainId, packet.sourcePort, packet.sourceChannel))
    return { kind: 'release', provenance: data.provenance.slice(1) };
  if (data.provenance.length >= MAX_HOPS) return undefined;
  const entry = provenanceEntry(counterpartyChainId, packet.destinationPort, packet.destinationChannel);
  if (new TextEncoder().encode(entry).length > MAX_ENTRY_BYTES) return undefined;
  return { kind: 'mint', provenance: [entry, ...data.provenance] };
}

/** Packet data read back; undefined when it is not transfer data or moves nothing. */
export function transferDataOf(bytes: Uint8Array): TransferData | undefined {
  const r = tryDecode(TransferData, bytes);
  return r.ok && r.value.amount > 0n ? r.value : undefined;
}
