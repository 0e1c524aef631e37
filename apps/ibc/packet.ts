/**
 * ICS-04 packets: what a packet is, the commitment the sender stores for it, acknowledgements and
 * their commitment, and when a packet has timed out.
 */
import { sha256 } from '../../wire/commit.ts';
import { encode, type Infer, s } from '../../wire/schema.ts';
import { IDENTIFIER_LENGTH } from './paths.ts';

/** Most bytes of a packet's application data (a limit on everything). */
export const MAX_PACKET_DATA = 16 * 1024;
/** Most bytes of an acknowledgement's result or error. */
export const MAX_ACK_BYTES = 1024;

const PortId = s.string({ max: IDENTIFIER_LENGTH.port.max });
const ChannelIdWire = s.string({ max: IDENTIFIER_LENGTH.channel.max });

/**
 * ICS-04 `Packet`. Timeouts are on the receiving instance: `timeoutHeight` its block height,
 * `timeoutTimestamp` its block time in ms; 0 means none, and at least one must be set.
 */
export const Packet = s.struct({
  sequence: s.u64(),
  sourcePort: PortId,
  sourceChannel: ChannelIdWire,
  destinationPort: PortId,
  destinationChannel: ChannelIdWire,
  data: s.bytes({ max: MAX_PACKET_DATA }),
  timeoutHeight: s.u64(),
  timeoutTimestamp: s.u64(),
});
export type Packet = Infer<typeof Packet>;

/** ICS-04 acknowledgement: the application's result, or why it refused the packet. */
export const Acknowledgement = s.variant({
  result: s.bytes({ max: MAX_ACK_BYTES }),
  error: s.string({ max: MAX_ACK_BYTES }),
});
export type Acknowledgement = Infer<typeof Acknowledgement>;

function u64be(out: Uint8Array, at: number, v: bigint): void {
  new DataView(out.buffer, out.byteOffset, out.byteLength).setBigUint64(at, v);
}

/**
 * The packet commitment (ICS-04 `commitPacket`): sha256 of a fixed-length preimage, the timeout
 * height (8 bytes, big-endian), the timeout timestamp (8 bytes) and sha256 of the data. Fixed
 * lengths leave no two packets with different (timeouts, data) one preimage. The sequence, ports
 * and channels are in the path the commitment is stored at.
 */
export function packetCommitment(p: Pick<Packet, 'timeoutHeight' | 'timeoutTimestamp' | 'data'>): Uint8Array {
  const pre = new Uint8Array(48);
  u64be(pre, 0, p.timeoutHeight);
  u64be(pre, 8, p.timeoutTimestamp);
  pre.set(sha256(p.data), 16);
  return sha256(pre);
}

/** The acknowledgement commitment: sha256 of the acknowledgement's canonical encoding. */
export function ackCommitment(ack: Acknowledgement): Uint8Array {
  return sha256(encode(Acknowledgement, ack));
}

/** A receipt's value (unordered channels): that the packet was received, nothing more. */
export const RECEIPT = Uint8Array.of(1);

/**
 * Whether the packet can no longer be received by an instance at `height` with block time `time`
 * (ICS-04 `recvPacket`: the receiver refuses once either timeout is reached).
 */
export function timedOut(
  p: Pick<Packet, 'timeoutHeight' | 'timeoutTimestamp'>,
  height: bigint,
  time: bigint,
): boolean {
  return (
    (p.timeoutHeight !== 0n && height >= p.timeoutHeight) ||
    (p.timeoutTimestamp !== 0n && time >= p.timeoutTimestamp)
  );
}

/**
 * Whether the receiver's state proven at a consensus state of `proofHeight` (whose root is the
 * state after height `proofHeight - 1`, README.md "Proof heights") and time `proofTime` shows the
 * packet can never be received: every block that could still have received it is in that state.
 * Receipts are written only by blocks at heights below `timeoutHeight`, so the state after
 * `proofHeight - 1` holds them all when `proofHeight >= timeoutHeight`; by time, every later block
 * has a time past `proofTime` (block times strictly increase), so `proofTime >= timeoutTimestamp`.
 */
export function timeoutProven(
  p: Pick<Packet, 'timeoutHeight' | 'timeoutTimestamp'>,
  proofHeight: bigint,
  proofTime: bigint,
): boolean {
  return timedOut(p, proofHeight, proofTime);
}
