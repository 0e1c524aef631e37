/**
 * ICS-24 host requirements: identifiers and the paths under which IBC state is kept and proven.
 *
 * A path is the UTF-8 string ICS-24 names (`commitments/ports/{port}/channels/{channel}/sequences/
 * {sequence}` and so on). In a Fractal instance each path's value is held by a note of the IBC
 * application (README.md, "State as notes"); the counterparty proves it against this instance's
 * state root through the key of that note.
 */

/** A refusal of an identifier: which rule it broke. */
export type IdentifierError = { readonly ok: false; readonly reason: string };

/**
 * ICS-24 "Paths, identifiers, separators": identifiers are ASCII alphanumerics or one of
 * `.`, `_`, `+`, `-`, `#`, `[`, `]`, `<`, `>`; never `/` (the separator).
 */
const ALLOWED = /^[A-Za-z0-9._+\-#[\]<>]+$/;

/** ICS-24 length bounds per identifier kind (inclusive). */
export const IDENTIFIER_LENGTH = Object.freeze({
  client: { min: 9, max: 64 },
  connection: { min: 10, max: 64 },
  channel: { min: 8, max: 64 },
  port: { min: 2, max: 128 },
});

export type IdentifierKind = keyof typeof IDENTIFIER_LENGTH;

/** Why `id` is not a valid identifier of `kind`, or undefined when it is. */
export function identifierProblem(kind: IdentifierKind, id: string): string | undefined {
  const { min, max } = IDENTIFIER_LENGTH[kind];
  if (typeof id !== 'string') return `${kind} identifier must be a string`;
  if (id.length < min || id.length > max)
    return `${kind} identifier must be ${min}..${max} characters, got ${id.length}`;
  if (!ALLOWED.test(id))
    return `${kind} identifier ${JSON.stringify(id)} has a character ICS-24 does not allow`;
  return undefined;
}

/** `channel-{n}`, `connection-{n}`: the identifiers a host hands out, from a counter. */
export const channelId = (n: bigint): string => `channel-${n}`;
export const connectionId = (n: bigint): string => `connection-${n}`;

// ICS-24 "Path-space": the paths this implementation keeps. Sequences are decimal.
export const clientStatePath = (client: string): string => `clients/${client}/clientState`;
export const connectionPath = (connection: string): string => `connections/${connection}`;
export const channelPath = (port: string, channel: string): string =>
  `channelEnds/ports/${port}/channels/${channel}`;
export const nextSequenceSendPath = (port: string, channel: string): string =>
  `nextSequenceSend/ports/${port}/channels/${channel}`;
export const nextSequenceRecvPath = (port: string, channel: string): string =>
  `nextSequenceRecv/ports/${port}/channels/${channel}`;
export const nextSequenceAckPath = (port: string, channel: string): string =>
  `nextSequenceAck/ports/${port}/channels/${channel}`;
export const commitmentPath = (port: string, channel: string, sequence: bigint): string =>
  `commitments/ports/${port}/channels/${channel}/sequences/${sequence}`;
export const receiptPath = (port: string, channel: string, sequence: bigint): string =>
  `receipts/ports/${port}/channels/${channel}/sequences/${sequence}`;
export const ackPath = (port: string, channel: string, sequence: bigint): string =>
  `acks/ports/${port}/channels/${channel}/sequences/${sequence}`;
/** Not an ICS-24 path: the host's counters of channel and connection identifiers. */
export const channelCounterPath = 'host/nextChannel';
export const connectionCounterPath = 'host/nextConnection';
