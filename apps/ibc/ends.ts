/**
 * ICS-03 connection ends and ICS-04 channel ends: the values kept at `connections/{id}` and
 * `channelEnds/ports/{port}/channels/{id}`, and the sequence counters.
 */
import { decode, encode, type Infer, s, tryDecode } from '../../wire/schema.ts';
import { IDENTIFIER_LENGTH } from './paths.ts';

/** ICS-03 / ICS-04 handshake states (numbers as on the wire). */
export const STATE = Object.freeze({ init: 1, tryOpen: 2, open: 3, closed: 4 });
export type EndState = (typeof STATE)[keyof typeof STATE];

/** ICS-04 channel ordering. */
export const ORDERING = Object.freeze({ unordered: 0, ordered: 1 });
export type Ordering = (typeof ORDERING)[keyof typeof ORDERING];

/** The only connection version this implementation speaks (ICS-03 version negotiation picks it). */
export const CONNECTION_VERSION = 'fractal-ibc-1';

/**
 * ICS-03 `ConnectionEnd`. `counterpartyPrefix` identifies where the counterparty keeps its IBC
 * paths: in a Fractal instance, the commitment of its IBC host application, whose notes hold them
 * (README.md, "State as notes"); proofs of its paths are checked under it. An empty
 * `counterpartyConnectionId` is "not known yet" (INIT).
 */
export const ConnectionEnd = s.struct({
  state: s.u8(),
  clientId: s.string({ max: IDENTIFIER_LENGTH.client.max }),
  counterpartyClientId: s.string({ max: IDENTIFIER_LENGTH.client.max }),
  counterpartyConnectionId: s.string({ max: IDENTIFIER_LENGTH.connection.max }),
  counterpartyPrefix: s.bytes({ max: 256 }),
  version: s.string({ max: 64 }),
});
export type ConnectionEnd = Infer<typeof ConnectionEnd>;

/** ICS-04 `ChannelEnd`; an empty `counterpartyChannel` is "not known yet" (INIT). */
export const ChannelEnd = s.struct({
  state: s.u8(),
  ordering: s.u8(),
  counterpartyPort: s.string({ max: IDENTIFIER_LENGTH.port.max }),
  counterpartyChannel: s.string({ max: IDENTIFIER_LENGTH.channel.max }),
  connection: s.string({ max: IDENTIFIER_LENGTH.connection.max }),
  version: s.string({ max: 64 }),
});
export type ChannelEnd = Infer<typeof ChannelEnd>;

const Sequence = s.u64();

export const encodeConnection = (c: ConnectionEnd): Uint8Array => encode(ConnectionEnd, c);
export const encodeChannel = (c: ChannelEnd): Uint8Array => encode(ChannelEnd, c);
export const encodeSequence = (n: bigint): Uint8Array => encode(Sequence, n);

/** A stored value read back; undefined when absent or not a value of the schema (never throws). */
export function readConnection(raw: Uint8Array | undefined): ConnectionEnd | undefined {
  const r = raw === undefined ? undefined : tryDecode(ConnectionEnd, raw);
  return r?.ok ? r.value : undefined;
}

export function readChannel(raw: Uint8Array | undefined): ChannelEnd | undefined {
  const r = raw === undefined ? undefined : tryDecode(ChannelEnd, raw);
  return r?.ok ? r.value : undefined;
}

export function readSequence(raw: Uint8Array | undefined): bigint | undefined {
  const r = raw === undefined ? undefined : tryDecode(Sequence, raw);
  return r?.ok ? r.value : undefined;
}

/** Decodes a counter that must be there (host state the handlers themselves wrote). */
export function sequenceOf(raw: Uint8Array): bigint {
  return decode(Sequence, raw);
}
