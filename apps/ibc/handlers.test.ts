import { describe, expect, it } from 'vitest';
import { encode } from '../../wire/schema.ts';
import { ChannelEnd, ORDERING, readChannel, readSequence, STATE } from './ends.ts';
import type { IbcEvent, IbcMsg, Outcome } from './handlers.ts';
import { ECHO, linkHosts, MODEL_PROOF, ModelHost, openChannel, settle } from './host-testing.ts';
import { type Acknowledgement, ackCommitment, type Packet, packetCommitment } from './packet.ts';
import { ackPath, channelPath, commitmentPath, nextSequenceRecvPath, receiptPath } from './paths.ts';

const PORT = 'transfer';

function pair(ordering: number = ORDERING.unordered) {
  const modules = new Map([[PORT, ECHO]]);
  const a = new ModelHost('a', '07-fractal-0', modules);
  const b = new ModelHost('b', '07-fractal-0', modules);
  linkHosts(a, b);
  const ch = openChannel(a, b, PORT, ordering);
  return { a, b, ch };
}

function ok(o: Outcome): readonly IbcEvent[] {
  if (!o.ok) throw new Error(`${o.reason}: ${o.detail}`);
  return o.events;
}

function send(
  a: ModelHost,
  channel: string,
  data: number[],
  timeoutHeight: bigint,
  timeoutTimestamp = 0n,
): Packet {
  const events = ok(
    a.run([
      {
        tag: 'sendPacket',
        value: { port: PORT, channel, data: Uint8Array.from(data), timeoutHeight, timeoutTimestamp },
      },
    ]),
  );
  const e = events[0];
  if (e?.kind !== 'send') throw new Error('no send event');
  return e.packet;
}

const recv = (p: Packet, proofHeight: bigint, proof = MODEL_PROOF): IbcMsg => ({
  tag: 'recvPacket',
  value: { packet: p, proof, proofHeight },
});
const ack = (p: Packet, acknowledgement: Acknowledgement, proofHeight: bigint): IbcMsg => ({
  tag: 'acknowledgePacket',
  value: { packet: p, acknowledgement, proof: MODEL_PROOF, proofHeight },
});
const timeout = (p: Packet, proofHeight: bigint, nextSequenceRecv = 0n): IbcMsg => ({
  tag: 'timeoutPacket',
  value: { packet: p, nextSequenceRecv, proof: MODEL_PROOF, proofHeight },
});

describe('ICS-03/04 handshakes', () => {
  it('open a connection and a channel whose ends name each other', () => {
    const { a, b, ch } = pair();
    const endA = readChannel(a.state.get(channelPath(PORT, ch.a)));
    const endB = readChannel(b.state.get(channelPath(PORT, ch.b)));
    expect(endA).toMatchObject({ state: STATE.open, counterpartyPort: PORT, counterpartyChannel: ch.b });
    expect(endB).toMatchObject({ state: STATE.open, counterpartyPort: PORT, counterpartyChannel: ch.a });
  });

  it('refuse a try against a counterparty that never initialised, and a wrong prefix', () => {
    const modules = new Map([[PORT, ECHO]]);
    const a = new ModelHost('a', '07-fractal-0', modules);
    const b = new ModelHost('b', '07-fractal-0', modules);
    linkHosts(a, b);
    settle(a, b);
    const tryMsg = (prefix: Uint8Array): IbcMsg => ({
      tag: 'connOpenTry',
      value: {
        clientId: b.clientId,
        counterpartyClientId: a.clientId,
        counterpartyConnectionId: 'connection-0',
        counterpartyPrefix: prefix,
        proofInit: MODEL_PROOF,
        proofHeight: a.height,
      },
    });
    expect(b.run([tryMsg(a.prefix)])).toMatchObject({ ok: false, reason: 'bad-proof' });
    ok(
      a.run([
        {
          tag: 'connOpenInit',
          value: { clientId: a.clientId, counterpartyClientId: b.clientId, counterpartyPrefix: b.prefix },
        },
      ]),
    );
    settle(a, b);
    expect(b.run([tryMsg(b.prefix)])).toMatchObject({ ok: false, reason: 'bad-proof' });
    expect(b.run([tryMsg(a.prefix)]).ok).toBe(true);
  });

  it('refuse a step out of order and bad identifiers', () => {
    const { a, ch } = pair();
    expect(
      a.run([
        {
          tag: 'chanOpenAck',
          value: {
            port: PORT,
            channel: ch.a,
            counterpartyChannel: 'channel-9',
            proofTry: MODEL_PROOF,
            proofHeight: 1n,
          },
        },
      ]),
    ).toMatchObject({ ok: false, reason: 'wrong-state' });
    expect(
      a.run([
        {
          tag: 'sendPacket',
          value: {
            port: 'x',
            channel: ch.a,
            data: new Uint8Array(1),
            timeoutHeight: 99n,
            timeoutTimestamp: 0n,
          },
        },
      ]),
    ).toMatchObject({ ok: false, reason: 'bad-identifier' });
    expect(
      a.run([
        {
          tag: 'sendPacket',
          value: {
            port: PORT,
            channel: 'chan/0-xx',
            data: new Uint8Array(1),
            timeoutHeight: 99n,
            timeoutTimestamp: 0n,
          },
        },
      ]),
    ).toMatchObject({ ok: false, reason: 'bad-identifier' });
  });
});

describe('ICS-04 packets on an unordered channel', () => {
  it('send, receive and acknowledge: the receipt stays, the commitment goes', () => {
    const { a, b, ch } = pair();
    const p = send(a, ch.a, [7, 8], b.height + 100n);
    expect(a.state.get(commitmentPath(PORT, ch.a, 1n))).toEqual(packetCommitment(p));
    settle(a, b);
    const got = ok(b.run([recv(p, a.height)]));
    expect(got).toEqual([{ kind: 'recv', packet: p, acknowledgement: { tag: 'result', value: p.data } }]);
    expect(b.state.has(receiptPath(PORT, ch.b, 1n))).toBe(true);
    expect(b.state.get(ackPath(PORT, ch.b, 1n))).toEqual(ackCommitment({ tag: 'result', value: p.data }));
    settle(a, b);
    ok(a.run([ack(p, { tag: 'result', value: p.data }, b.height)]));
    expect(a.state.has(commitmentPath(PORT, ch.a, 1n))).toBe(false);
    expect(b.state.has(receiptPath(PORT, ch.b, 1n))).toBe(true);
  });

  it('a second delivery is a no-op, a forged packet or a wrong acknowledgement is refused', () => {
    const { a, b, ch } = pair();
    const p = send(a, ch.a, [1], b.height + 100n);
    settle(a, b);
    const forged = { ...p, data: Uint8Array.of(2) };
    expect(b.run([recv(forged, a.height)])).toMatchObject({ ok: false, reason: 'bad-proof' });
    expect(b.run([recv(p, a.height, Uint8Array.of(0))])).toMatchObject({ ok: false, reason: 'bad-proof' });
    expect(b.run([recv({ ...p, sourceChannel: 'channel-77' }, a.height)])).toMatchObject({
      ok: false,
      reason: 'wrong-counterparty',
    });
    ok(b.run([recv(p, a.height)]));
    expect(ok(b.run([recv(p, a.height)]))).toEqual([
      { kind: 'redundant', message: 'recvPacket', sequence: 1n },
    ]);
    settle(a, b);
    expect(a.run([ack(p, { tag: 'error', value: 'made up' }, b.height)])).toMatchObject({
      ok: false,
      reason: 'bad-proof',
    });
    expect(a.run([ack(forged, { tag: 'result', value: p.data }, b.height)])).toMatchObject({
      ok: false,
      reason: 'commitment-mismatch',
    });
    ok(a.run([ack(p, { tag: 'result', value: p.data }, b.height)]));
    expect(ok(a.run([ack(p, { tag: 'result', value: p.data }, b.height)]))[0]).toMatchObject({
      kind: 'redundant',
    });
  });

  it('times out: refused on the receiver after its timeout height, refunded on absence, never both', () => {
    const { a, b, ch } = pair();
    const p = send(a, ch.a, [5], b.height + 3n);
    settle(a, b);
    // b is at timeoutHeight - 1: the state after it could still change, so no timeout yet
    expect(a.run([timeout(p, b.height)])).toMatchObject({ ok: false, reason: 'not-timed-out' });
    settle(a, b);
    expect(b.run([recv(p, a.height)])).toMatchObject({ ok: false, reason: 'timed-out' });
    ok(a.run([timeout(p, b.height)]));
    expect(a.state.has(commitmentPath(PORT, ch.a, 1n))).toBe(false);
    expect(ok(a.run([timeout(p, b.height)]))[0]).toMatchObject({ kind: 'redundant' });
  });

  it('a received packet cannot be timed out; a timeout by timestamp follows block time', () => {
    const { a, b, ch } = pair();
    const p = send(a, ch.a, [5], b.height + 4n);
    settle(a, b);
    ok(b.run([recv(p, a.height)]));
    settle(a, b);
    settle(a, b);
    expect(a.run([timeout(p, b.height)])).toMatchObject({ ok: false, reason: 'bad-proof' });

    const q = send(a, ch.a, [6], 0n, b.time + 3n);
    settle(a, b);
    expect(b.run([recv(q, a.height)])).toMatchObject({ ok: false, reason: 'timed-out' });
    // b's newest header is older than the timeout: a block at that time could still receive it
    expect(a.run([timeout(q, b.height)])).toMatchObject({ ok: false, reason: 'not-timed-out' });
    settle(a, b);
    ok(a.run([timeout(q, b.height)]));
  });

  it('refuses a packet without a timeout, or one the counterparty already passed', () => {
    const { a, b, ch } = pair();
    const msg = (timeoutHeight: bigint): IbcMsg => ({
      tag: 'sendPacket',
      value: { port: PORT, channel: ch.a, data: Uint8Array.of(1), timeoutHeight, timeoutTimestamp: 0n },
    });
    expect(a.run([msg(0n)])).toMatchObject({ ok: false, reason: 'no-timeout' });
    expect(a.run([msg(b.height)])).toMatchObject({ ok: false, reason: 'timeout-passed' });
  });

  it('runs a list of messages all or nothing', () => {
    const { a, b, ch } = pair();
    const p = send(a, ch.a, [1], b.height + 100n);
    settle(a, b);
    const before = new Map(b.state);
    expect(b.run([recv(p, a.height), recv({ ...p, sequence: 2n }, a.height)])).toMatchObject({
      ok: false,
      index: 1,
    });
    expect(b.state).toEqual(before);
  });
});

describe('ICS-04 packets on an ordered channel', () => {
  it('delivers in sequence only, and a timeout closes the channel', () => {
    const { a, b, ch } = pair(ORDERING.ordered);
    const p1 = send(a, ch.a, [1], b.height + 100n);
    const p2 = send(a, ch.a, [2], b.height + 4n);
    settle(a, b);
    expect(b.run([recv(p2, a.height)])).toMatchObject({ ok: false, reason: 'out-of-order' });
    ok(b.run([recv(p1, a.height)]));
    expect(readSequence(b.state.get(nextSequenceRecvPath(PORT, ch.b)))).toBe(2n);
    settle(a, b);
    settle(a, b);
    expect(b.run([recv(p2, a.height)])).toMatchObject({ ok: false, reason: 'timed-out' });
    // the receiver expects 2: packet 1 was received and cannot be timed out
    expect(a.run([timeout(p1, b.height, 2n)])).toMatchObject({ ok: false });
    expect(a.run([timeout(p2, b.height, 3n)])).toMatchObject({ ok: false, reason: 'packet-received' });
    expect(a.run([timeout(p2, b.height, 1n)])).toMatchObject({ ok: false, reason: 'bad-proof' });
    ok(a.run([timeout(p2, b.height, 2n)]));
    const closed = readChannel(a.state.get(channelPath(PORT, ch.a)));
    expect(closed?.state).toBe(STATE.closed);
    expect(encode(ChannelEnd, closed!)).toBeInstanceOf(Uint8Array);
    expect(
      a.run([
        {
          tag: 'sendPacket',
          value: {
            port: PORT,
            channel: ch.a,
            data: Uint8Array.of(1),
            timeoutHeight: 999n,
            timeoutTimestamp: 0n,
          },
        },
      ]),
    ).toMatchObject({ ok: false, reason: 'wrong-state' });
  });
});
