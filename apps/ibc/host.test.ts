import { describe, expect, it } from 'vitest';
import { encode } from '../../wire/schema.ts';
import { readChannel, STATE } from './ends.ts';
import type { IbcMsg } from './handlers.ts';
import type { HostEvent, HostMsg } from './host.ts';
import { ECHO } from './host-testing.ts';
import { connectInstances, relay, TestInstance } from './instance-testing.ts';
import type { Packet } from './packet.ts';
import { channelPath, commitmentPath, receiptPath } from './paths.ts';

const PORT = 'echo';
const ibc = (value: IbcMsg): HostMsg => ({ tag: 'ibc', value });

function ok(
  r: { ok: true; events: readonly HostEvent[] } | { ok: false; reason: string },
): readonly HostEvent[] {
  if (!r.ok) throw new Error(r.reason);
  return r.events;
}

/** Two instances with clients of each other, a connection and an unordered channel, over real proofs. */
function linked() {
  const modules = new Map([[PORT, ECHO]]);
  const a = new TestInstance('fractal-a', modules);
  const b = new TestInstance('fractal-b', modules);
  return { a, b, ...connectInstances(a, b, PORT, 'echo-1') };
}

function send(a: TestInstance, channel: string, data: number[], timeoutHeight: bigint): Packet {
  const events = ok(
    a.block([
      ibc({
        tag: 'sendPacket',
        value: { port: PORT, channel, data: Uint8Array.from(data), timeoutHeight, timeoutTimestamp: 0n },
      }),
    ]),
  );
  const e = events.find((x) => x.kind === 'send');
  if (e?.kind !== 'send') throw new Error('no send event');
  return e.packet;
}

const recv =
  (from: TestInstance, p: Packet) =>
  (h: bigint): HostMsg[] => [
    ibc({
      tag: 'recvPacket',
      value: {
        packet: p,
        proof: from.prove(commitmentPath(p.sourcePort, p.sourceChannel, p.sequence)),
        proofHeight: h,
      },
    }),
  ];

describe('the IBC host over real ledgers, headers and Merkle proofs', () => {
  it('opens a channel and carries a packet there and an acknowledgement back', () => {
    const { a, b, aChan, bChan } = linked();
    expect(readChannel(a.current(channelPath(PORT, aChan))?.value)?.state).toBe(STATE.open);
    expect(readChannel(b.current(channelPath(PORT, bChan))?.value)?.state).toBe(STATE.open);
    const p = send(a, aChan, [1, 2, 3], b.height + 50n);
    const got = ok(relay(b, a, recv(a, p)));
    const r = got.find((e) => e.kind === 'recv');
    expect(r).toMatchObject({ kind: 'recv', acknowledgement: { tag: 'result' } });
    expect(b.current(receiptPath(PORT, bChan, 1n))).toEqual({ version: 0n, value: Uint8Array.of(1) });
    const ackPathValue = b.prove(`acks/ports/${PORT}/channels/${bChan}/sequences/1`);
    expect(ackPathValue.length).toBeGreaterThan(0);
    ok(
      relay(a, b, (h) => [
        ibc({
          tag: 'acknowledgePacket',
          value: {
            packet: p,
            acknowledgement: { tag: 'result', value: p.data },
            proof: b.prove(`acks/ports/${PORT}/channels/${bChan}/sequences/1`),
            proofHeight: h,
          },
        }),
      ]),
    );
    expect(a.current(commitmentPath(PORT, aChan, 1n))).toBeUndefined();
    // answering it again is refused: every message of a transaction must take effect
    const twice = relay(a, b, (h) => [
      ibc({
        tag: 'acknowledgePacket',
        value: {
          packet: p,
          acknowledgement: { tag: 'result', value: p.data },
          proof: b.prove(`acks/ports/${PORT}/channels/${bChan}/sequences/1`),
          proofHeight: h,
        },
      }),
    ]);
    expect(!twice.ok && twice.reason).toMatch(/answered already/);
  });

  it('refuses a forged packet, a second delivery, created notes that differ, and a frozen client', () => {
    const { a, b, aChan } = linked();
    const p = send(a, aChan, [7], b.height + 50n);
    const forged = { ...p, data: Uint8Array.of(8) };
    const bad = relay(b, a, (h) => [
      ibc({
        tag: 'recvPacket',
        value: { packet: forged, proof: a.prove(commitmentPath(PORT, aChan, 1n)), proofHeight: h },
      }),
    ]);
    expect(bad).toMatchObject({ ok: false });
    expect(!bad.ok && bad.reason).toMatch(/bad-proof/);
    // the created notes must be exactly what the messages write: drop one and the predicate refuses
    const tampered = relay(b, a, recv(a, p), (outs) => outs.slice(1));
    expect(!tampered.ok && tampered.reason).toMatch(/not what the messages write/);
    ok(relay(b, a, recv(a, p)));
    const again = relay(b, a, recv(a, p));
    expect(!again.ok && again.reason).toMatch(/already exists|re-create/);
    // two headers of one height signed by A's validators: B's client of A freezes
    a.skip(1);
    const forkHeight = a.height;
    const fork = a.chain.equivocate(forkHeight);
    const frozen = b.block([
      {
        tag: 'client',
        value: {
          tag: 'submitMisbehaviour',
          value: {
            clientId: b.clientOfOther,
            misbehaviour: {
              first: a.chain.update(forkHeight, b.trustedOfOther),
              second: a.chain.update(fork, b.trustedOfOther),
            },
          },
        },
      },
    ]);
    expect(ok(frozen)[0]).toMatchObject({ kind: 'client-frozen' });
    const q = send(a, aChan, [9], b.height + 50n);
    const refused = b.block(recv(a, q)(b.trustedOfOther));
    expect(!refused.ok && refused.reason).toMatch(/client 07-fractal-0: frozen/);
  });

  it('times a packet out on a proof that the receipt is absent, and not before its height', () => {
    const { a, b, aChan, bChan } = linked();
    const p = send(a, aChan, [5], b.height + 3n);
    const timeout = (h: bigint): HostMsg[] => [
      ibc({
        tag: 'timeoutPacket',
        value: {
          packet: p,
          nextSequenceRecv: 0n,
          proof: b.prove(receiptPath(PORT, bChan, 1n)),
          proofHeight: h,
        },
      }),
    ];
    const early = relay(a, b, timeout);
    expect(!early.ok && early.reason).toMatch(/not-timed-out/);
    b.skip(4);
    const late = relay(b, a, recv(a, p));
    expect(!late.ok && late.reason).toMatch(/timed-out/);
    ok(relay(a, b, timeout));
    expect(a.current(commitmentPath(PORT, aChan, 1n))).toBeUndefined();
    expect(encode).toBeDefined();
  });
});
