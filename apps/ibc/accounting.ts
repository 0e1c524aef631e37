/**
 * ICS-20 accounting (README.md, "Token transfer"): what a transaction's transfer messages require
 * of its token notes, and whether its notes do exactly that.
 *
 * Required effects, from the messages on the `transfer` port:
 * - send: the sender pays `amount` of the asset; it goes into the channel's escrow, or is burnt
 *   when it returns home (voucher supply falls);
 * - receive with a success acknowledgement: the receiver is paid `amount`, released from the
 *   destination channel's escrow, or minted as a voucher (voucher supply rises);
 * - an error acknowledgement or a timeout: the send undone, the sender paid back.
 *
 * Actual effects, from the notes: per asset, what each owner's notes gained (created minus
 * consumed), what each channel's escrow gained, and how the voucher supply changed. An asset is
 * its application, provenance, origin application and asset id: a native token note is its own
 * origin; a voucher note names its origin in its value.
 *
 * The host predicate requires the actual effects to be exactly the required ones on every account a
 * message names; the voucher predicate, that voucher supply changes only as required; the escrow
 * predicate, that escrow changes only as required.
 */
import { nativeFn, predicateCommitment } from '../../engines/executor/natives.ts';
import type { Note } from '../../engines/executor/notes.ts';
import { toHex } from '../../wire/commit.ts';
import { encode, type FunctionValue, type Infer, s, tryDecode } from '../../wire/schema.ts';
import { ownerCommitment } from '../token/client.ts';
import { tokenValueOf } from '../token/format.ts';
import { Client } from './client.ts';
import { readChannel, readConnection } from './ends.ts';
import type { IbcMsg } from './handlers.ts';
import type { Acknowledgement, Packet } from './packet.ts';
import { channelPath, clientStatePath, connectionPath } from './paths.ts';
import { receiveKind, sendKind, TRANSFER_PORT, type TransferData, transferDataOf } from './transfer.ts';

/** A host path's value as the transaction read it. */
type Get = (path: string) => Uint8Array | undefined;

export const VOUCHER_NAME = 'ics20-voucher';
export const ESCROW_NAME = 'ics20-escrow';
export const ICS20_VERSION = '1';

/** The voucher application of instance `chainId` (whose IBC host is `ibcHostPredicate(chainId)`). */
export const VoucherConfig = s.struct({ chainId: s.string({ max: 64 }) });
/** The escrow owner of one channel of that instance's host. */
export const EscrowConfig = s.struct({
  chainId: s.string({ max: 64 }),
  port: s.string({ max: 128 }),
  channel: s.string({ max: 64 }),
});

/** A voucher note's value: the asset as its home instance issued it, and the amount. */
export const VoucherValue = s.struct({
  origin: s.bytes({ length: 32 }),
  asset: s.bytes({ length: 32 }),
  amount: s.u64(),
});
export type VoucherValue = Infer<typeof VoucherValue>;

export function voucherPredicate(chainId: string): { fn: FunctionValue; commitment: Uint8Array } {
  const fn = nativeFn(VOUCHER_NAME, ICS20_VERSION, encode(VoucherConfig, { chainId }));
  return { fn, commitment: predicateCommitment(fn) };
}

export function escrowPredicate(
  chainId: string,
  port: string,
  channel: string,
): { fn: FunctionValue; commitment: Uint8Array } {
  const fn = nativeFn(ESCROW_NAME, ICS20_VERSION, encode(EscrowConfig, { chainId, port, channel }));
  return { fn, commitment: predicateCommitment(fn) };
}

/** An asset as the accounting names it. */
export interface Asset {
  readonly application: Uint8Array;
  readonly provenance: readonly string[];
  readonly origin: Uint8Array;
  readonly asset: Uint8Array;
}

const assetId = (a: Asset): string =>
  `${toHex(a.application)}|${a.provenance.join('|')}|${toHex(a.origin)}|${toHex(a.asset)}`;

/** The asset a note of `provenance` (as strings) of this transfer is, on the instance with voucher application `voucher`. */
function localAsset(
  voucher: Uint8Array,
  data: Pick<TransferData, 'origin' | 'asset'>,
  provenance: readonly string[],
): Asset {
  return provenance.length === 0
    ? { application: data.origin, provenance: [], origin: data.origin, asset: data.asset }
    : { application: voucher, provenance, origin: data.origin, asset: data.asset };
}

/** Signed amounts by key. */
export type Ledger = Map<string, bigint>;

export interface Effects {
  /** `${owner hex}#${asset}`: what the owner's notes gain */
  readonly accounts: Ledger;
  /** `${port}/${channel}#${asset}`: what the channel's escrow gains */
  readonly escrow: Ledger;
  /** asset: how voucher supply changes */
  readonly supply: Ledger;
}

const empty = (): Effects => ({ accounts: new Map(), escrow: new Map(), supply: new Map() });

function add(l: Ledger, key: string, amount: bigint): void {
  const v = (l.get(key) ?? 0n) + amount;
  if (v === 0n) l.delete(key);
  else l.set(key, v);
}

/** The chain id of the counterparty behind a channel, from the host notes the transaction read. */
function counterpartyChainId(get: Get, port: string, channel: string): string | undefined {
  const ch = readChannel(get(channelPath(port, channel)));
  if (ch === undefined) return undefined;
  const conn = readConnection(get(connectionPath(ch.connection)));
  if (conn === undefined) return undefined;
  const raw = get(clientStatePath(conn.clientId));
  const client = raw === undefined ? undefined : tryDecode(Client, raw);
  return client?.ok ? client.value.state.chainId : undefined;
}

/** The acknowledgement the transfer module writes for a received packet (host and accounting agree). */
export function transferAcknowledgement(packet: Packet, ownChainId: string, get: Get): Acknowledgement {
  const data = transferDataOf(packet.data);
  if (data === undefined) return { tag: 'error', value: 'not ICS-20 transfer data' };
  const cp = counterpartyChainId(get, packet.destinationPort, packet.destinationChannel);
  if (cp === undefined) return { tag: 'error', value: 'unknown channel' };
  if (receiveKind(data, ownChainId, cp, packet) === undefined)
    return { tag: 'error', value: 'provenance too long' };
  return { tag: 'result', value: Uint8Array.of(1) };
}

/**
 * What the transaction's transfer messages require, or why they cannot be accounted for. `get`
 * reads the host notes the transaction consumed (channel ends, connections and clients name the
 * counterparty's chain id).
 */
export function requiredEffects(
  host: { commitment: Uint8Array; chainId: string },
  get: Get,
  msgs: readonly IbcMsg[],
): Effects | string {
  const voucher = voucherPredicate(host.chainId).commitment;
  const fx = empty();
  const pay = (owner: Uint8Array, asset: Asset, amount: bigint) =>
    add(fx.accounts, `${toHex(owner)}#${assetId(asset)}`, amount);
  // a send, forwards (+1) or undone (-1)
  const send = (port: string, channel: string, data: TransferData, sign: 1n | -1n): string | undefined => {
    const cp = counterpartyChainId(get, port, channel);
    if (cp === undefined) return `channel ${port}/${channel} has no known counterparty`;
    const asset = localAsset(voucher, data, data.provenance);
    pay(ownerCommitment(data.sender), asset, -sign * data.amount);
    if (sendKind(data.provenance, cp, port, channel) === 'escrow')
      add(fx.escrow, `${port}/${channel}#${assetId(asset)}`, sign * data.amount);
    else add(fx.supply, assetId(asset), -sign * data.amount);
    return undefined;
  };
  for (const msg of msgs) {
    if (msg.tag === 'sendPacket' && msg.value.port === TRANSFER_PORT) {
      const data = transferDataOf(msg.value.data);
      if (data === undefined) return 'a transfer packet must carry transfer data';
      const problem = send(msg.value.port, msg.value.channel, data, 1n);
      if (problem !== undefined) return problem;
    } else if (msg.tag === 'recvPacket' && msg.value.packet.destinationPort === TRANSFER_PORT) {
      const p = msg.value.packet;
      const data = transferDataOf(p.data);
      if (data === undefined) continue; // acknowledged with an error: nothing moves
      const cp = counterpartyChainId(get, p.destinationPort, p.destinationChannel);
      if (cp === undefined) continue;
      const kind = receiveKind(data, host.chainId, cp, p);
      if (kind === undefined) continue;
      const asset = localAsset(voucher, data, kind.provenance);
      pay(ownerCommitment(data.receiver), asset, data.amount);
      if (kind.kind === 'release')
        add(fx.escrow, `${p.destinationPort}/${p.destinationChannel}#${assetId(asset)}`, -data.amount);
      else add(fx.supply, assetId(asset), data.amount);
    } else if (
      (msg.tag === 'timeoutPacket' ||
        (msg.tag === 'acknowledgePacket' && msg.value.acknowledgement.tag === 'error')) &&
      msg.value.packet.sourcePort === TRANSFER_PORT
    ) {
      const p = msg.value.packet;
      const data = transferDataOf(p.data);
      if (data === undefined) continue; // never sent by this module: nothing to refund
      const problem = send(p.sourcePort, p.sourceChannel, data, -1n);
      if (problem !== undefined) return problem;
    }
  }
  return fx;
}

/** The asset and amount a note of a transfer is, or undefined for a note no transfer moves. */
function noteAsset(voucher: Uint8Array, n: Note): { asset: Asset; amount: bigint } | undefined {
  const provenance = n.provenance.map((p) => new TextDecoder().decode(p));
  if (toHex(n.application) === toHex(voucher)) {
    const v = tryDecode(VoucherValue, n.value);
    if (!v.ok || v.value.amount === 0n) return undefined;
    return {
      asset: { application: voucher, provenance, origin: v.value.origin, asset: v.value.asset },
      amount: v.value.amount,
    };
  }
  const t = tokenValueOf(n.value);
  if (t === undefined) return undefined;
  return {
    asset: { application: n.application, provenance, origin: n.application, asset: t.asset },
    amount: t.amount,
  };
}

/**
 * What the notes do, counted only on the accounts and escrows `required` names, and on voucher
 * supply and escrow of every channel in `channels` (so a movement nobody asked for shows).
 */
export function actualEffects(
  chainId: string,
  inputs: readonly Note[],
  outputs: readonly Note[],
  channels: readonly { port: string; channel: string }[],
): Effects {
  const voucher = voucherPredicate(chainId).commitment;
  const escrowOf = new Map(
    channels.map((c) => [
      toHex(escrowPredicate(chainId, c.port, c.channel).commitment),
      `${c.port}/${c.channel}`,
    ]),
  );
  const fx = empty();
  const count = (n: Note, sign: bigint) => {
    const a = noteAsset(voucher, n);
    if (a === undefined) return;
    const id = assetId(a.asset);
    const escrow = escrowOf.get(toHex(n.owner));
    if (escrow !== undefined) add(fx.escrow, `${escrow}#${id}`, sign * a.amount);
    else add(fx.accounts, `${toHex(n.owner)}#${id}`, sign * a.amount);
    if (toHex(n.application) === toHex(voucher)) add(fx.supply, id, sign * a.amount);
  };
  for (const n of inputs) count(n, -1n);
  for (const n of outputs) count(n, 1n);
  return fx;
}

/** Why the actual effects differ from the required ones on what `required` names, or undefined. */
export function accountsMismatch(required: Effects, actual: Effects): string | undefined {
  for (const [k, v] of required.accounts)
    if ((actual.accounts.get(k) ?? 0n) !== v)
      return `account ${k.slice(0, 16)}… changes by ${actual.accounts.get(k) ?? 0n}, not ${v}`;
  for (const [k, v] of required.escrow)
    if ((actual.escrow.get(k) ?? 0n) !== v)
      return `escrow ${k.split('#')[0]} changes by ${actual.escrow.get(k) ?? 0n}, not ${v}`;
  for (const [k, v] of required.supply)
    if ((actual.supply.get(k) ?? 0n) !== v)
      return `voucher supply changes by ${actual.supply.get(k) ?? 0n}, not ${v}`;
  return undefined;
}

/** Why voucher supply or escrow moves where nothing required it, or undefined. */
export function unrequestedMovement(required: Effects, actual: Effects): string | undefined {
  for (const [k, v] of actual.supply)
    if ((required.supply.get(k) ?? 0n) !== v) return 'voucher supply changes without a transfer';
  for (const [k, v] of actual.escrow)
    if ((required.escrow.get(k) ?? 0n) !== v) return `escrow ${k.split('#')[0]} moves without a transfer`;
  return undefined;
}
