/**
 * The transport's own messages after a handshake, on its control channel: liveness pings and peer
 * exchange. The live transport and the simulator's sessions carry them alike (wire/ schema codec).
 */
import { encode, type Infer, s, tryDecode } from '../wire/schema.ts';

/** The channel the transport keeps for itself (ping, peer exchange). */
export const CONTROL_CHANNEL = 255;
/** Application channels are 0..MAX_APP_CHANNEL. */
export const MAX_APP_CHANNEL = 254;
export const MAX_PEX_ENTRIES = 64;

export const PeerAddress = s.struct({ address: s.string({ max: 256 }), publicKey: s.bytes({ length: 32 }) });
export type PeerAddress = Infer<typeof PeerAddress>;

/** Messages on the control channel. */
export const Control = s.variant({
  ping: s.u32(),
  pong: s.u32(),
  /** listen addresses of peers the sender is connected to */
  peers: s.list(PeerAddress, { max: MAX_PEX_ENTRIES }),
});
export type Control = Infer<typeof Control>;

/** Decodes a control message; undefined when it does not decode. */
export function decodeControl(bytes: Uint8Array): Control | undefined {
  const r = tryDecode(Control, bytes);
  return r.ok ? r.value : undefined;
}

export function encodeControl(msg: Control): Uint8Array {
  return encode(Control, msg);
}
