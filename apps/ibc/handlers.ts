/**
 * The IBC host's handlers (ICS-03 connection handshake, ICS-04 channel handshake and packet flow)
 * as pure functions: a message and a read-only view of the host's paths in, the paths to write
 * (or delete) and the events out, or a typed refusal. Proofs of the counterparty's state are
 * checked through `Counterparty`, which the caller builds from its light clients and Merkle
 * proofs; these rules never see how.
 *
 * `applyMessages` runs a list of messages over one view, each seeing the writes of those before
 * it, and fails as a whole (as a transaction of several messages does in ibc-go). A message that
 * repeats what already happened (a packet received, acknowledged or timed out before) is a
 * no-op with a `redundant` event, decided before any proof is checked: a second relay delivering
 * the same packet costs nothing but its fee.
 */
import { type Infer, s } from '../../wire/schema.ts';
import { bytesEqual } from '../../wire/types.ts';
import {
  type ChannelEnd,
  CONNECTION_VERSION,
  type ConnectionEnd,
  encodeChannel,
  encodeConnection,
  encodeSequence,
  ORDERING,
  readChannel,
  readConnection,
  readSequence,
  STATE,
} from './ends.ts';
import {
  Acknowledgement,
  ackCommitment,
  MAX_PACKET_DATA,
  Packet,
  packetCommitment,
  RECEIPT,
  timedOut,
  timeoutProven,
} from './packet.ts';
import {
  ackPath,
  channelCounterPath,
  channelId,
  channelPath,
  commitmentPath,
  connectionCounterPath,
  connectionId,
  connectionPath,
  IDENTIFIER_LENGTH,
  identifierProblem,
  nextSequenceAckPath,
  nextSequenceRecvPath,
  nextSequenceSendPath,
  receiptPath,
} from './paths.ts';

/** What a handler may read of its own host. */
export interface HostView {
  /** the height of the block executing the message */
  readonly height: bigint;
  /** that block's time (ms): block times strictly increase */
  readonly time: bigint;
  /** what the counterparty's proofs of this host's paths are checked under (ConnectionEnd.counterpartyPrefix) */
  readonly prefix: Uint8Array;
  get(path: string): Uint8Array | undefined;
}

/** Where a proof is checked: through which client, under which prefix. */
export interface ProofTarget {
  readonly clientId: string;
  readonly counterpartyPrefix: Uint8Array;
}

/** The counterparty as this host's light clients know it. */
export interface Counterparty {
  /** the client's latest height and time; undefined when no such client (or it is frozen) */
  latest(clientId: string): { height: bigint; time: bigint } | undefined;
  /** the time of the client's consensus state at `proofHeight`; undefined when it has none (or is frozen) */
  consensusTime(clientId: string, proofHeight: bigint): bigint | undefined;
  /** why `proof` does not show `value` at `path` in the counterparty's state at `proofHeight`; undefined if it does */
  membership(
    at: ProofTarget,
    proofHeight: bigint,
    path: string,
    value: Uint8Array,
    proof: Uint8Array,
  ): string | undefined;
  /** why `proof` does not show `path` absent there; undefined if it does */
  absence(at: ProofTarget, proofHeight: bigint, path: string, proof: Uint8Array): string | undefined;
}

/** The application bound to a port (ICS-26): what it acknowledges a received packet with. */
export interface PortModule {
  /** `host`: the receiving host's paths, as the message sees them */
  onRecv(packet: Packet, host: HostView): Acknowledgement;
}

const Str = (max: number) => s.string({ max });
const PortId = Str(IDENTIFIER_LENGTH.port.max);
const ChannelId = Str(IDENTIFIER_LENGTH.channel.max);
const ConnectionIdWire = Str(IDENTIFIER_LENGTH.connection.max);
const ClientId = Str(IDENTIFIER_LENGTH.client.max);
const Proof = s.bytes({ max: 16 * 1024 });

/** The messages a transaction of the IBC application carries (ICS-03, ICS-04). */
export const IbcMsg = s.variant({
  connOpenInit: s.struct({
    clientId: ClientId,
    counterpartyClientId: ClientId,
    counterpartyPrefix: s.bytes({ max: 256 }),
  }),
  connOpenTry: s.struct({
    clientId: ClientId,
    counterpartyClientId: ClientId,
    counterpartyConnectionId: ConnectionIdWire,
    counterpartyPrefix: s.bytes({ max: 256 }),
    proofInit: Proof,
    proofHeight: s.u64(),
  }),
  connOpenAck: s.struct({
    connectionId: ConnectionIdWire,
    counterpartyConnectionId: ConnectionIdWire,
    proofTry: Proof,
    proofHeight: s.u64(),
  }),
  connOpenConfirm: s.struct({ connectionId: ConnectionIdWire, proofAck: Proof, proofHeight: s.u64() }),
  chanOpenInit: s.struct({
    port: PortId,
    connectionId: ConnectionIdWire,
    counterpartyPort: PortId,
    ordering: s.u8(),
    version: Str(64),
  }),
  chanOpenTry: s.struct({
    port: PortId,
    connectionId: ConnectionIdWire,
    counterpartyPort: PortId,
    counterpartyChannel: ChannelId,
    ordering: s.u8(),
    version: Str(64),
    proofInit: Proof,
    proofHeight: s.u64(),
  }),
  chanOpenAck: s.struct({
    port: PortId,
    channel: ChannelId,
    counterpartyChannel: ChannelId,
    proofTry: Proof,
    proofHeight: s.u64(),
  }),
  chanOpenConfirm: s.struct({ port: PortId, channel: ChannelId, proofAck: Proof, proofHeight: s.u64() }),
  sendPacket: s.struct({
    port: PortId,
    channel: ChannelId,
    data: s.bytes({ max: MAX_PACKET_DATA }),
    timeoutHeight: s.u64(),
    timeoutTimestamp: s.u64(),
  }),
  recvPacket: s.struct({ packet: Packet, proof: Proof, proofHeight: s.u64() }),
  acknowledgePacket: s.struct({
    packet: Packet,
    acknowledgement: Acknowledgement,
    proof: Proof,
    proofHeight: s.u64(),
  }),
  timeoutPacket: s.struct({ packet: Packet, nextSequenceRecv: s.u64(), proof: Proof, proofHeight: s.u64() }),
});
export type IbcMsg = Infer<typeof IbcMsg>;

/** What a handler reports, for relays, indexers and the visualiser. */
export type IbcEvent =
  | { readonly kind: 'connection'; readonly connectionId: string; readonly state: number }
  | { readonly kind: 'channel'; readonly port: string; readonly channel: string; readonly state: number }
  | { readonly kind: 'send'; readonly packet: Packet }
  | { readonly kind: 'recv'; readonly packet: Packet; readonly acknowledgement: Acknowledgement }
  | { readonly kind: 'ack'; readonly packet: Packet; readonly acknowledgement: Acknowledgement }
  | { readonly kind: 'timeout'; readonly packet: Packet }
  | { readonly kind: 'redundant'; readonly message: IbcMsg['tag']; readonly sequence: bigint };

/** Why a message was refused: one of these, and a line for people. */
export type IbcRefusal =
  | 'bad-identifier'
  | 'unknown-client'
  | 'unknown-connection'
  | 'unknown-channel'
  | 'unknown-port'
  | 'wrong-state'
  | 'wrong-counterparty'
  | 'bad-ordering'
  | 'bad-version'
  | 'no-timeout'
  | 'timeout-passed'
  | 'timed-out'
  | 'not-timed-out'
  | 'out-of-order'
  | 'commitment-mismatch'
  | 'packet-received'
  | 'bad-proof'
  | 'too-many-messages';

export interface Write {
  readonly path: string;
  /** null deletes */
  readonly value: Uint8Array | null;
}

export type Outcome =
  | { readonly ok: true; readonly writes: readonly Write[]; readonly events: readonly IbcEvent[] }
  | { readonly ok: false; readonly reason: IbcRefusal; readonly detail: string };

const refuse = (reason: IbcRefusal, detail: string): Outcome => ({ ok: false, reason, detail });
const done = (writes: Write[], events: IbcEvent[]): Outcome => ({ ok: true, writes, events });

function connectionOf(host: HostView, id: string): ConnectionEnd | undefined {
  return readConnection(host.get(connectionPath(id)));
}

function channelOf(host: HostView, port: string, channel: string): ChannelEnd | undefined {
  return readChannel(host.get(channelPath(port, channel)));
}

const target = (c: ConnectionEnd): ProofTarget => ({
  clientId: c.clientId,
  counterpartyPrefix: c.counterpartyPrefix,
});

function counter(host: HostView, path: string): bigint {
  return readSequence(host.get(path)) ?? 0n;
}

function checkIds(...ids: [Parameters<typeof identifierProblem>[0], string][]): string | undefined {
  for (const [kind, id] of ids) {
    const problem = identifierProblem(kind, id);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** An OPEN channel on an OPEN connection, or why not. */
function openChannel(
  host: HostView,
  port: string,
  channel: string,
): { channel: ChannelEnd; connection: ConnectionEnd } | Outcome {
  return channelIn(host, port, channel, STATE.open);
}

const isOutcome = (x: object): x is Outcome => 'ok' in x;

const STATE_NAME: Readonly<Record<number, string>> = { 1: 'INIT', 2: 'TRYOPEN', 3: 'OPEN', 4: 'CLOSED' };

// ---------------------------------------------------------------------------------------------
// ICS-03 connection handshake

/** A new connection end under the next connection id. */
function newConnection(host: HostView, end: ConnectionEnd): Outcome {
  const n = counter(host, connectionCounterPath);
  const id = connectionId(n);
  return done(
    [
      { path: connectionCounterPath, value: encodeSequence(n + 1n) },
      { path: connectionPath(id), value: encodeConnection(end) },
    ],
    [{ kind: 'connection', connectionId: id, state: end.state }],
  );
}

function connOpenInit(
  host: HostView,
  cp: Counterparty,
  m: Extract<IbcMsg, { tag: 'connOpenInit' }>['value'],
): Outcome {
  const bad = checkIds(['client', m.clientId], ['client', m.counterpartyClientId]);
  if (bad !== undefined) return refuse('bad-identifier', bad);
  if (cp.latest(m.clientId) === undefined) return refuse('unknown-client', `no active client ${m.clientId}`);
  return newConnection(host, {
    state: STATE.init,
    clientId: m.clientId,
    counterpartyClientId: m.counterpartyClientId,
    counterpartyConnectionId: '',
    counterpartyPrefix: m.counterpartyPrefix,
    version: CONNECTION_VERSION,
  });
}

function connOpenTry(
  host: HostView,
  cp: Counterparty,
  m: Extract<IbcMsg, { tag: 'connOpenTry' }>['value'],
): Outcome {
  const bad = checkIds(
    ['client', m.clientId],
    ['client', m.counterpartyClientId],
    ['connection', m.counterpartyConnectionId],
  );
  if (bad !== undefined) return refuse('bad-identifier', bad);
  if (cp.latest(m.clientId) === undefined) return refuse('unknown-client', `no active client ${m.clientId}`);
  // what the counterparty must have stored at INIT: this host as its counterparty, unknown id
  const expected: ConnectionEnd = {
    state: STATE.init,
    clientId: m.counterpartyClientId,
    counterpartyClientId: m.clientId,
    counterpartyConnectionId: '',
    counterpartyPrefix: host.prefix,
    version: CONNECTION_VERSION,
  };
  const at: ProofTarget = { clientId: m.clientId, counterpartyPrefix: m.counterpartyPrefix };
  const proof = cp.membership(
    at,
    m.proofHeight,
    connectionPath(m.counterpartyConnectionId),
    encodeConnection(expected),
    m.proofInit,
  );
  if (proof !== undefined)
    return refuse('bad-proof', `connection ${m.counterpartyConnectionId} at INIT: ${proof}`);
  return newConnection(host, {
    state: STATE.tryOpen,
    clientId: m.clientId,
    counterpartyClientId: m.counterpartyClientId,
    counterpartyConnectionId: m.counterpartyConnectionId,
    counterpartyPrefix: m.counterpartyPrefix,
    version: CONNECTION_VERSION,
  });
}

/** The connection `id` of this host, in state `want`, or why not. */
function connectionIn(host: HostView, id: string, want: number): ConnectionEnd | Outcome {
  const conn = connectionOf(host, id);
  if (conn === undefined) return refuse('unknown-connection', `no connection ${id}`);
  if (conn.state !== want) return refuse('wrong-state', `connection ${id} is not at ${STATE_NAME[want]}`);
  return conn;
}

/**
 * ICS-03 step 3 or 4: the counterparty's end must be at `state`, naming this host's connection
 * `id` and client; then this end opens (step 3 learns the counterparty's connection id).
 */
function confirmConnection(
  host: HostView,
  cp: Counterparty,
  id: string,
  conn: ConnectionEnd,
  counterpartyId: string,
  state: number,
  proofHeight: bigint,
  proof: Uint8Array,
): Outcome {
  const expected: ConnectionEnd = {
    state,
    clientId: conn.counterpartyClientId,
    counterpartyClientId: conn.clientId,
    counterpartyConnectionId: id,
    counterpartyPrefix: host.prefix,
    version: CONNECTION_VERSION,
  };
  const why = cp.membership(
    target(conn),
    proofHeight,
    connectionPath(counterpartyId),
    encodeConnection(expected),
    proof,
  );
  if (why !== undefined)
    return refuse('bad-proof', `connection ${counterpartyId} at ${STATE_NAME[state]}: ${why}`);
  const end: ConnectionEnd = { ...conn, state: STATE.open, counterpartyConnectionId: counterpartyId };
  return done(
    [{ path: connectionPath(id), value: encodeConnection(end) }],
    [{ kind: 'connection', connectionId: id, state: STATE.open }],
  );
}

function connOpenAck(
  host: HostView,
  cp: Counterparty,
  m: Extract<IbcMsg, { tag: 'connOpenAck' }>['value'],
): Outcome {
  const bad = checkIds(['connection', m.connectionId], ['connection', m.counterpartyConnectionId]);
  if (bad !== undefined) return refuse('bad-identifier', bad);
  const conn = connectionIn(host, m.connectionId, STATE.init);
  if (isOutcome(conn)) return conn;
  return confirmConnection(
    host,
    cp,
    m.connectionId,
    conn,
    m.counterpartyConnectionId,
    STATE.tryOpen,
    m.proofHeight,
    m.proofTry,
  );
}

function connOpenConfirm(
  host: HostView,
  cp: Counterparty,
  m: Extract<IbcMsg, { tag: 'connOpenConfirm' }>['value'],
): Outcome {
  const bad = checkIds(['connection', m.connectionId]);
  if (bad !== undefined) return refuse('bad-identifier', bad);
  const conn = connectionIn(host, m.connectionId, STATE.tryOpen);
  if (isOutcome(conn)) return conn;
  return confirmConnection(
    host,
    cp,
    m.connectionId,
    conn,
    conn.counterpartyConnectionId,
    STATE.open,
    m.proofHeight,
    m.proofAck,
  );
}

// ---------------------------------------------------------------------------------------------
// ICS-04 channel handshake

/** A new channel end under the next channel id, its sequences starting at 1. */
function newChannel(host: HostView, port: string, end: ChannelEnd): Outcome {
  const n = counter(host, channelCounterPath);
  const id = channelId(n);
  return done(
    [
      { path: channelCounterPath, value: encodeSequence(n + 1n) },
      { path: channelPath(port, id), value: encodeChannel(end) },
      { path: nextSequenceSendPath(port, id), value: encodeSequence(1n) },
      { path: nextSequenceRecvPath(port, id), value: encodeSequence(1n) },
      { path: nextSequenceAckPath(port, id), value: encodeSequence(1n) },
    ],
    [{ kind: 'channel', port, channel: id, state: end.state }],
  );
}

const validOrdering = (o: number): boolean => o === ORDERING.unordered || o === ORDERING.ordered;

function chanOpenInit(host: HostView, m: Extract<IbcMsg, { tag: 'chanOpenInit' }>['value']): Outcome {
  const bad = checkIds(['port', m.port], ['connection', m.connectionId], ['port', m.counterpartyPort]);
  if (bad !== undefined) return refuse('bad-identifier', bad);
  if (!validOrdering(m.ordering)) return refuse('bad-ordering', `ordering ${m.ordering} is neither 0 nor 1`);
  if (connectionOf(host, m.connectionId) === undefined)
    return refuse('unknown-connection', `no connection ${m.connectionId}`);
  return newChannel(host, m.port, {
    state: STATE.init,
    ordering: m.ordering,
    counterpartyPort: m.counterpartyPort,
    counterpartyChannel: '',
    connection: m.connectionId,
    version: m.version,
  });
}

function chanOpenTry(
  host: HostView,
  cp: Counterparty,
  m: Extract<IbcMsg, { tag: 'chanOpenTry' }>['value'],
): Outcome {
  const bad = checkIds(
    ['port', m.port],
    ['connection', m.connectionId],
    ['port', m.counterpartyPort],
    ['channel', m.counterpartyChannel],
  );
  if (bad !== undefined) return refuse('bad-identifier', bad);
  if (!validOrdering(m.ordering)) return refuse('bad-ordering', `ordering ${m.ordering} is neither 0 nor 1`);
  const conn = connectionIn(host, m.connectionId, STATE.open);
  if (isOutcome(conn)) return conn;
  const expected: ChannelEnd = {
    state: STATE.init,
    ordering: m.ordering,
    counterpartyPort: m.port,
    counterpartyChannel: '',
    connection: conn.counterpartyConnectionId,
    version: m.version,
  };
  const proof = cp.membership(
    target(conn),
    m.proofHeight,
    channelPath(m.counterpartyPort, m.counterpartyChannel),
    encodeChannel(expected),
    m.proofInit,
  );
  if (proof !== undefined)
    return refuse('bad-proof', `channel ${m.counterpartyPort}/${m.counterpartyChannel} at INIT: ${proof}`);
  return newChannel(host, m.port, {
    state: STATE.tryOpen,
    ordering: m.ordering,
    counterpartyPort: m.counterpartyPort,
    counterpartyChannel: m.counterpartyChannel,
    connection: m.connectionId,
    version: m.version,
  });
}

/** The channel `port/channel` of this host, in state `want`, on an open connection, or why not. */
function channelIn(
  host: HostView,
  port: string,
  channel: string,
  want: number,
): { channel: ChannelEnd; connection: ConnectionEnd } | Outcome {
  const ch = channelOf(host, port, channel);
  if (ch === undefined) return refuse('unknown-channel', `no channel ${port}/${channel}`);
  if (ch.state !== want)
    return refuse('wrong-state', `channel ${port}/${channel} is not at ${STATE_NAME[want]}`);
  const conn = connectionIn(host, ch.connection, STATE.open);
  if (isOutcome(conn)) return conn;
  return { channel: ch, connection: conn };
}

/**
 * ICS-04 channel step 3 or 4: the counterparty's end `counterpartyChannel` must be at `state`,
 * naming this channel; then this end opens (step 3 learns the counterparty's channel id).
 */
function confirmChannel(
  cp: Counterparty,
  port: string,
  channel: string,
  at: { channel: ChannelEnd; connection: ConnectionEnd },
  counterpartyChannel: string,
  state: number,
  proofHeight: bigint,
  proof: Uint8Array,
): Outcome {
  const { channel: ch, connection: conn } = at;
  const expected: ChannelEnd = {
    state,
    ordering: ch.ordering,
    counterpartyPort: port,
    counterpartyChannel: channel,
    connection: conn.counterpartyConnectionId,
    version: ch.version,
  };
  const path = channelPath(ch.counterpartyPort, counterpartyChannel);
  const why = cp.membership(target(conn), proofHeight, path, encodeChannel(expected), proof);
  if (why !== undefined)
    return refuse(
      'bad-proof',
      `channel ${ch.counterpartyPort}/${counterpartyChannel} at ${STATE_NAME[state]}: ${why}`,
    );
  const end: ChannelEnd = { ...ch, state: STATE.open, counterpartyChannel };
  return done(
    [{ path: channelPath(port, channel), value: encodeChannel(end) }],
    [{ kind: 'channel', port, channel, state: STATE.open }],
  );
}

function chanOpenAck(
  host: HostView,
  cp: Counterparty,
  m: Extract<IbcMsg, { tag: 'chanOpenAck' }>['value'],
): Outcome {
  const bad = checkIds(['port', m.port], ['channel', m.channel], ['channel', m.counterpartyChannel]);
  if (bad !== undefined) return refuse('bad-identifier', bad);
  const at = channelIn(host, m.port, m.channel, STATE.init);
  if (isOutcome(at)) return at;
  return confirmChannel(
    cp,
    m.port,
    m.channel,
    at,
    m.counterpartyChannel,
    STATE.tryOpen,
    m.proofHeight,
    m.proofTry,
  );
}

function chanOpenConfirm(
  host: HostView,
  cp: Counterparty,
  m: Extract<IbcMsg, { tag: 'chanOpenConfirm' }>['value'],
): Outcome {
  const bad = checkIds(['port', m.port], ['channel', m.channel]);
  if (bad !== undefined) return refuse('bad-identifier', bad);
  const at = channelIn(host, m.port, m.channel, STATE.tryOpen);
  if (isOutcome(at)) return at;
  return confirmChannel(
    cp,
    m.port,
    m.channel,
    at,
    at.channel.counterpartyChannel,
    STATE.open,
    m.proofHeight,
    m.proofAck,
  );
}

// ---------------------------------------------------------------------------------------------
// ICS-04 packet flow

function sendPacket(
  host: HostView,
  cp: Counterparty,
  m: Extract<IbcMsg, { tag: 'sendPacket' }>['value'],
): Outcome {
  const bad = checkIds(['port', m.port], ['channel', m.channel]);
  if (bad !== undefined) return refuse('bad-identifier', bad);
  const open = openChannel(host, m.port, m.channel);
  if (isOutcome(open)) return open;
  if (m.timeoutHeight === 0n && m.timeoutTimestamp === 0n)
    return refuse('no-timeout', 'a packet needs a timeout height or timestamp');
  // ICS-04 sendPacket: refuse a timeout the counterparty has already passed, as far as the client knows
  const latest = cp.latest(open.connection.clientId);
  if (latest === undefined) return refuse('unknown-client', `no active client ${open.connection.clientId}`);
  if (timedOut(m, latest.height, latest.time))
    return refuse(
      'timeout-passed',
      `the counterparty is already at height ${latest.height}, time ${latest.time}`,
    );
  const sequence = readSequence(host.get(nextSequenceSendPath(m.port, m.channel)));
  if (sequence === undefined)
    return refuse('unknown-channel', `channel ${m.port}/${m.channel} has no send sequence`);
  const packet: Packet = {
    sequence,
    sourcePort: m.port,
    sourceChannel: m.channel,
    destinationPort: open.channel.counterpartyPort,
    destinationChannel: open.channel.counterpartyChannel,
    data: m.data,
    timeoutHeight: m.timeoutHeight,
    timeoutTimestamp: m.timeoutTimestamp,
  };
  return done(
    [
      { path: nextSequenceSendPath(m.port, m.channel), value: encodeSequence(sequence + 1n) },
      { path: commitmentPath(m.port, m.channel, sequence), value: packetCommitment(packet) },
    ],
    [{ kind: 'send', packet }],
  );
}

/** The channel a packet arrives on (at its destination) or whose commitment it answers (at its source). */
function packetChannel(host: HostView, port: string, channel: string, cpPort: string, cpChannel: string) {
  const bad = checkIds(['port', port], ['channel', channel]);
  if (bad !== undefined) return refuse('bad-identifier', bad);
  const open = openChannel(host, port, channel);
  if (isOutcome(open)) return open;
  if (open.channel.counterpartyPort !== cpPort || open.channel.counterpartyChannel !== cpChannel)
    return refuse(
      'wrong-counterparty',
      `channel ${port}/${channel} is connected to ${open.channel.counterpartyPort}/${open.channel.counterpartyChannel}, not ${cpPort}/${cpChannel}`,
    );
  return open;
}

function recvPacket(
  host: HostView,
  cp: Counterparty,
  modules: ReadonlyMap<string, PortModule>,
  m: Extract<IbcMsg, { tag: 'recvPacket' }>['value'],
): Outcome {
  const p = m.packet;
  const open = packetChannel(host, p.destinationPort, p.destinationChannel, p.sourcePort, p.sourceChannel);
  if (isOutcome(open)) return open;
  const module = modules.get(p.destinationPort);
  if (module === undefined)
    return refuse('unknown-port', `no application is bound to port ${p.destinationPort}`);
  if (timedOut(p, host.height, host.time))
    return refuse('timed-out', `packet ${p.sequence} timed out (height ${host.height}, time ${host.time})`);
  const writes: Write[] = [];
  // replay protection before the proof: a repeat is a cheap no-op
  if (open.channel.ordering === ORDERING.ordered) {
    const next = readSequence(host.get(nextSequenceRecvPath(p.destinationPort, p.destinationChannel)));
    if (next === undefined)
      return refuse(
        'unknown-channel',
        `channel ${p.destinationPort}/${p.destinationChannel} has no receive sequence`,
      );
    if (p.sequence < next)
      return done([], [{ kind: 'redundant', message: 'recvPacket', sequence: p.sequence }]);
    if (p.sequence > next)
      return refuse('out-of-order', `packet ${p.sequence} on an ordered channel expecting ${next}`);
    writes.push({
      path: nextSequenceRecvPath(p.destinationPort, p.destinationChannel),
      value: encodeSequence(next + 1n),
    });
  } else {
    const receipt = receiptPath(p.destinationPort, p.destinationChannel, p.sequence);
    if (host.get(receipt) !== undefined)
      return done([], [{ kind: 'redundant', message: 'recvPacket', sequence: p.sequence }]);
    writes.push({ path: receipt, value: RECEIPT });
  }
  const proof = cp.membership(
    target(open.connection),
    m.proofHeight,
    commitmentPath(p.sourcePort, p.sourceChannel, p.sequence),
    packetCommitment(p),
    m.proof,
  );
  if (proof !== undefined) return refuse('bad-proof', `packet ${p.sequence} commitment: ${proof}`);
  const acknowledgement = module.onRecv(p, host);
  writes.push({
    path: ackPath(p.destinationPort, p.destinationChannel, p.sequence),
    value: ackCommitment(acknowledgement),
  });
  return done(writes, [{ kind: 'recv', packet: p, acknowledgement }]);
}

/**
 * The channel a packet this host sent is answered on (acknowledged or timed out): OPEN, or CLOSED
 * by a timeout on an ordered channel. ibc-go answers acknowledgements on open channels only, so an
 * error acknowledgement in flight when an ordered channel closes leaves its escrow stuck; here the
 * proven acknowledgement still settles it (the commitment is still there, so it is answered once).
 */
function answeringChannel(
  host: HostView,
  p: Packet,
): { channel: ChannelEnd; connection: ConnectionEnd } | Outcome {
  const bad = checkIds(['port', p.sourcePort], ['channel', p.sourceChannel]);
  if (bad !== undefined) return refuse('bad-identifier', bad);
  const ch = channelOf(host, p.sourcePort, p.sourceChannel);
  if (ch === undefined) return refuse('unknown-channel', `no channel ${p.sourcePort}/${p.sourceChannel}`);
  if (ch.state !== STATE.open && ch.state !== STATE.closed)
    return refuse('wrong-state', `channel ${p.sourcePort}/${p.sourceChannel} is not open`);
  if (ch.counterpartyPort !== p.destinationPort || ch.counterpartyChannel !== p.destinationChannel)
    return refuse('wrong-counterparty', `channel ${p.sourcePort}/${p.sourceChannel} is connected elsewhere`);
  const conn = connectionOf(host, ch.connection);
  if (conn === undefined) return refuse('unknown-connection', `no connection ${ch.connection}`);
  return { channel: ch, connection: conn };
}

/** The stored commitment of a packet this host sent: undefined when gone (answered already). */
function sentCommitment(host: HostView, p: Packet): Uint8Array | undefined | Outcome {
  const stored = host.get(commitmentPath(p.sourcePort, p.sourceChannel, p.sequence));
  if (stored === undefined) return undefined;
  if (!bytesEqual(stored, packetCommitment(p)))
    return refuse('commitment-mismatch', `packet ${p.sequence} is not the packet this host sent`);
  return stored;
}

function acknowledgePacket(
  host: HostView,
  cp: Counterparty,
  m: Extract<IbcMsg, { tag: 'acknowledgePacket' }>['value'],
): Outcome {
  const p = m.packet;
  const open = answeringChannel(host, p);
  if (isOutcome(open)) return open;
  const sent = sentCommitment(host, p);
  if (sent === undefined)
    return done([], [{ kind: 'redundant', message: 'acknowledgePacket', sequence: p.sequence }]);
  if (sent instanceof Uint8Array === false) return sent;
  const writes: Write[] = [{ path: commitmentPath(p.sourcePort, p.sourceChannel, p.sequence), value: null }];
  if (open.channel.ordering === ORDERING.ordered) {
    const next = readSequence(host.get(nextSequenceAckPath(p.sourcePort, p.sourceChannel)));
    if (next === undefined)
      return refuse('unknown-channel', `channel ${p.sourcePort}/${p.sourceChannel} has no ack sequence`);
    if (p.sequence !== next)
      return refuse('out-of-order', `ack of packet ${p.sequence} on an ordered channel expecting ${next}`);
    writes.push({
      path: nextSequenceAckPath(p.sourcePort, p.sourceChannel),
      value: encodeSequence(next + 1n),
    });
  }
  const proof = cp.membership(
    target(open.connection),
    m.proofHeight,
    ackPath(p.destinationPort, p.destinationChannel, p.sequence),
    ackCommitment(m.acknowledgement),
    m.proof,
  );
  if (proof !== undefined) return refuse('bad-proof', `acknowledgement of packet ${p.sequence}: ${proof}`);
  return done(writes, [{ kind: 'ack', packet: p, acknowledgement: m.acknowledgement }]);
}

function timeoutPacket(
  host: HostView,
  cp: Counterparty,
  m: Extract<IbcMsg, { tag: 'timeoutPacket' }>['value'],
): Outcome {
  const p = m.packet;
  const found = answeringChannel(host, p);
  if (isOutcome(found)) return found;
  const { channel: ch, connection: conn } = found;
  const sent = sentCommitment(host, p);
  if (sent === undefined)
    return done([], [{ kind: 'redundant', message: 'timeoutPacket', sequence: p.sequence }]);
  if (sent instanceof Uint8Array === false) return sent;
  const proofTime = cp.consensusTime(conn.clientId, m.proofHeight);
  if (proofTime === undefined)
    return refuse('bad-proof', `client ${conn.clientId} has no consensus state at height ${m.proofHeight}`);
  if (!timeoutProven(p, m.proofHeight, proofTime))
    return refuse(
      'not-timed-out',
      `at height ${m.proofHeight} (time ${proofTime}) packet ${p.sequence} could still be received`,
    );
  const writes: Write[] = [{ path: commitmentPath(p.sourcePort, p.sourceChannel, p.sequence), value: null }];
  const events: IbcEvent[] = [{ kind: 'timeout', packet: p }];
  if (ch.ordering === ORDERING.ordered) {
    // the receiver's next expected sequence proves this packet was never received
    if (m.nextSequenceRecv > p.sequence)
      return refuse(
        'packet-received',
        `the counterparty expects ${m.nextSequenceRecv}: packet ${p.sequence} was received`,
      );
    const proof = cp.membership(
      target(conn),
      m.proofHeight,
      nextSequenceRecvPath(p.destinationPort, p.destinationChannel),
      encodeSequence(m.nextSequenceRecv),
      m.proof,
    );
    if (proof !== undefined) return refuse('bad-proof', `next receive sequence: ${proof}`);
    // ICS-04: a timeout on an ordered channel closes it (later packets can never arrive in order)
    if (ch.state !== STATE.closed) {
      writes.push({
        path: channelPath(p.sourcePort, p.sourceChannel),
        value: encodeChannel({ ...ch, state: STATE.closed }),
      });
      events.push({ kind: 'channel', port: p.sourcePort, channel: p.sourceChannel, state: STATE.closed });
    }
  } else {
    const proof = cp.absence(
      target(conn),
      m.proofHeight,
      receiptPath(p.destinationPort, p.destinationChannel, p.sequence),
      m.proof,
    );
    if (proof !== undefined) return refuse('bad-proof', `receipt of packet ${p.sequence} absent: ${proof}`);
  }
  return done(writes, events);
}

/** One message's outcome over `host`. */
export function handle(
  host: HostView,
  cp: Counterparty,
  modules: ReadonlyMap<string, PortModule>,
  msg: IbcMsg,
): Outcome {
  switch (msg.tag) {
    case 'connOpenInit':
      return connOpenInit(host, cp, msg.value);
    case 'connOpenTry':
      return connOpenTry(host, cp, msg.value);
    case 'connOpenAck':
      return connOpenAck(host, cp, msg.value);
    case 'connOpenConfirm':
      return connOpenConfirm(host, cp, msg.value);
    case 'chanOpenInit':
      return chanOpenInit(host, msg.value);
    case 'chanOpenTry':
      return chanOpenTry(host, cp, msg.value);
    case 'chanOpenAck':
      return chanOpenAck(host, cp, msg.value);
    case 'chanOpenConfirm':
      return chanOpenConfirm(host, cp, msg.value);
    case 'sendPacket':
      return sendPacket(host, cp, msg.value);
    case 'recvPacket':
      return recvPacket(host, cp, modules, msg.value);
    case 'acknowledgePacket':
      return acknowledgePacket(host, cp, msg.value);
    case 'timeoutPacket':
      return timeoutPacket(host, cp, msg.value);
  }
}

/** Most messages in one transaction (a limit on everything). */
export const MAX_MESSAGES = 64;

/**
 * Messages in order over one host view, each seeing the writes before it; all or nothing. The
 * result's writes are the last value of each path written (null: deleted), in first-write order.
 */
export function applyMessages(
  host: HostView,
  cp: Counterparty,
  modules: ReadonlyMap<string, PortModule>,
  msgs: readonly IbcMsg[],
): Outcome & { readonly index?: number } {
  if (msgs.length > MAX_MESSAGES)
    return {
      ok: false,
      reason: 'too-many-messages',
      detail: `at most ${MAX_MESSAGES} messages in one transaction`,
    };
  const written = new Map<string, Uint8Array | null>();
  const view: HostView = {
    height: host.height,
    time: host.time,
    prefix: host.prefix,
    get: (path) => {
      const mine = written.get(path);
      if (mine !== undefined) return mine ?? undefined;
      return host.get(path);
    },
  };
  const events: IbcEvent[] = [];
  for (let i = 0; i < msgs.length; i++) {
    const out = handle(view, cp, modules, msgs[i]!);
    if (!out.ok) return { ...out, index: i };
    for (const w of out.writes) written.set(w.path, w.value);
    events.push(...out.events);
  }
  return done(
    [...written].map(([path, value]) => ({ path, value })),
    events,
  );
}
