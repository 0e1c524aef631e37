/**
 * ICS-04 packet flow between two hosts (issue 18) under a relay that delays, duplicates, reorders
 * and lies: random programs of sends, blocks, client updates, deliveries, acknowledgements and
 * timeouts with honest or forged packets, acknowledgements and proof claims. Proofs are the
 * model's (apps/ibc/host-testing.ts): sound by construction, so this checks the handlers' rules,
 * not the light client. After every step:
 * - each packet is received at most once, and never both received and timed out;
 * - a packet is answered on its sender (acknowledged or timed out) at most once, and an
 *   acknowledgement answers only a received packet, with the acknowledgement the receiver wrote;
 * - on an ordered channel packets are received in sequence, without gaps.
 * Then an honest relay runs until nothing is pending: every packet is received or timed out, and
 * every commitment is gone (liveness with one honest relay).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ORDERING, readSequence } from '../apps/ibc/ends.ts';
import type { IbcEvent, IbcMsg } from '../apps/ibc/handlers.ts';
import { ECHO, linkHosts, MODEL_PROOF, ModelHost, openChannel, tick } from '../apps/ibc/host-testing.ts';
import { type Acknowledgement, ackCommitment, type Packet } from '../apps/ibc/packet.ts';
import { commitmentPath, nextSequenceRecvPath, receiptPath } from '../apps/ibc/paths.ts';
import { planChannel } from '../apps/ibc/relay-plan.ts';
import { bytesEqual } from '../wire/types.ts';
import { propParams } from './config.ts';

const PORT = 'transfer';

type Lie = 'none' | 'data' | 'sequence' | 'proof' | 'height';

type Action =
  | { kind: 'send'; data: number; delta: number; byTime: boolean }
  | { kind: 'tick' }
  | { kind: 'sealA' }
  | { kind: 'sealB' }
  | { kind: 'learnA'; back: number }
  | { kind: 'learnB'; back: number }
  | { kind: 'recv'; pick: number; back: number; lie: Lie }
  | { kind: 'ack'; pick: number; back: number; lie: Lie }
  | { kind: 'timeout'; pick: number; back: number; lie: Lie };

const lie = fc.constantFrom<Lie>('none', 'none', 'none', 'data', 'sequence', 'proof', 'height');
// weighted so that blocks and client updates come often enough for deliveries to be provable
const action: fc.Arbitrary<Action> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('send' as const),
      data: fc.nat(3),
      delta: fc.integer({ min: 2, max: 12 }),
      byTime: fc.boolean(),
    }),
    weight: 2,
  },
  { arbitrary: fc.constant({ kind: 'tick' as const }), weight: 4 },
  { arbitrary: fc.constant({ kind: 'sealA' as const }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'sealB' as const }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('learnA' as const), back: fc.nat(2) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('learnB' as const), back: fc.nat(2) }), weight: 1 },
  {
    arbitrary: fc.record({ kind: fc.constant('recv' as const), pick: fc.nat(20), back: fc.nat(2), lie }),
    weight: 3,
  },
  {
    arbitrary: fc.record({ kind: fc.constant('ack' as const), pick: fc.nat(20), back: fc.nat(2), lie }),
    weight: 3,
  },
  {
    arbitrary: fc.record({ kind: fc.constant('timeout' as const), pick: fc.nat(20), back: fc.nat(2), lie }),
    weight: 3,
  },
);

interface World {
  readonly a: ModelHost;
  readonly b: ModelHost;
  readonly ch: { a: string; b: string };
  readonly ordering: number;
  readonly sent: Packet[];
}

function world(ordering: number): World {
  const modules = new Map([[PORT, ECHO]]);
  const a = new ModelHost('a', '07-fractal-0', modules);
  const b = new ModelHost('b', '07-fractal-0', modules);
  linkHosts(a, b);
  return { a, b, ch: openChannel(a, b, PORT, ordering), ordering, sent: [] };
}

/** The highest height at most `h` the host's client holds of the other, if any. */
function knownAtMost(host: ModelHost, h: bigint): bigint | undefined {
  let best: bigint | undefined;
  for (const k of host.known) if (k <= h && (best === undefined || k > best)) best = k;
  return best;
}

/** What the relay finds on b for packet p: the acknowledgement b wrote, if it received p. */
function ackOf(w: World, p: Packet): Acknowledgement | undefined {
  return ackOfSequence(w, p.sequence);
}

function ackOfSequence(w: World, sequence: bigint): Acknowledgement | undefined {
  for (const e of w.b.events)
    if (e.kind === 'recv' && e.packet.sequence === sequence) return e.acknowledgement;
  return undefined;
}

function forge(p: Packet, how: Lie): Packet {
  if (how === 'data') return { ...p, data: Uint8Array.of(...p.data, 9) };
  if (how === 'sequence') return { ...p, sequence: p.sequence + 1n };
  return p;
}

function step(w: World, act: Action): void {
  const { a, b } = w;
  switch (act.kind) {
    case 'send': {
      const timeoutHeight = act.byTime ? 0n : b.height + BigInt(act.delta);
      const timeoutTimestamp = act.byTime ? b.time + BigInt(act.delta) : 0n;
      const out = a.run([
        {
          tag: 'sendPacket',
          value: {
            port: PORT,
            channel: w.ch.a,
            data: Uint8Array.of(act.data),
            timeoutHeight,
            timeoutTimestamp,
          },
        },
      ]);
      if (out.ok) for (const e of out.events) if (e.kind === 'send') w.sent.push(e.packet);
      return;
    }
    case 'tick':
      tick(a, b);
      return;
    case 'sealA':
      a.seal();
      return;
    case 'sealB':
      b.seal();
      return;
    case 'learnA':
      a.learn(b.height - BigInt(act.back));
      return;
    case 'learnB':
      b.learn(a.height - BigInt(act.back));
      return;
  }
  const p = w.sent[act.pick % Math.max(1, w.sent.length)];
  if (p === undefined) return;
  const proof = act.lie === 'proof' ? Uint8Array.of(1, 2, 3) : MODEL_PROOF;
  if (act.kind === 'recv') {
    const h = knownAtMost(b, a.height - BigInt(act.back));
    if (h === undefined) return;
    const proofHeight = act.lie === 'height' ? h + 1n : h;
    b.run([{ tag: 'recvPacket', value: { packet: forge(p, act.lie), proof, proofHeight } }]);
    return;
  }
  const h = knownAtMost(a, b.height - BigInt(act.back));
  if (h === undefined) return;
  const proofHeight = act.lie === 'height' ? h + 1n : h;
  if (act.kind === 'ack') {
    const written = ackOf(w, p);
    const acknowledgement: Acknowledgement =
      act.lie === 'data' || written === undefined ? { tag: 'result', value: Uint8Array.of(42) } : written;
    a.run([
      {
        tag: 'acknowledgePacket',
        value: {
          packet: act.lie === 'sequence' ? forge(p, 'sequence') : p,
          acknowledgement,
          proof,
          proofHeight,
        },
      },
    ]);
    return;
  }
  // the receiver's next expected sequence in the state the proof height commits to
  const honestNext =
    readSequence(b.history.get(proofHeight - 1n)?.get(nextSequenceRecvPath(PORT, w.ch.b))) ?? 0n;
  const nextSequenceRecv = act.lie === 'sequence' ? p.sequence : honestNext;
  a.run([
    {
      tag: 'timeoutPacket',
      value: { packet: act.lie === 'data' ? forge(p, 'data') : p, nextSequenceRecv, proof, proofHeight },
    },
  ]);
}

/** The invariants, over every event so far. */
function check(w: World): void {
  const received = new Map<string, number>();
  const order: bigint[] = [];
  for (const e of w.b.events) {
    if (e.kind !== 'recv') continue;
    const k = e.packet.sequence.toString();
    received.set(k, (received.get(k) ?? 0) + 1);
    order.push(e.packet.sequence);
  }
  const answered = new Map<string, IbcEvent['kind'][]>();
  for (const e of w.a.events) {
    if (e.kind !== 'ack' && e.kind !== 'timeout') continue;
    const k = e.packet.sequence.toString();
    answered.set(k, [...(answered.get(k) ?? []), e.kind]);
    if (e.kind === 'ack') {
      const wrote = ackOf(w, e.packet);
      expect(wrote, `packet ${k} acknowledged on a but never received on b`).toBeDefined();
      expect(
        bytesEqual(ackCommitment(wrote!), ackCommitment(e.acknowledgement)),
        `ack of ${k} differs from b's`,
      ).toBe(true);
    }
  }
  for (const [k, n] of received) {
    expect(n, `packet ${k} received ${n} times`).toBe(1);
    expect(answered.get(k) ?? [], `packet ${k} received and timed out`).not.toContain('timeout');
  }
  for (const [k, kinds] of answered) expect(kinds.length, `packet ${k} answered as ${kinds}`).toBe(1);
  if (w.ordering === ORDERING.ordered) for (const [i, s] of order.entries()) expect(s).toBe(BigInt(i + 1));
}

/**
 * An honest relay (apps/ibc/relay-plan.ts) until nothing is pending on a; returns the rounds it
 * took (throws if it never ends).
 */
function drain(w: World): number {
  const { a, b } = w;
  for (let round = 0; round < 60; round++) {
    tick(a, b);
    tick(a, b);
    // the newest headers each side's client holds prove everything written before them
    const receivedOnB = (seq: bigint) =>
      w.ordering === ORDERING.ordered
        ? (readSequence(b.history.get(b.height - 1n)?.get(nextSequenceRecvPath(PORT, w.ch.b))) ?? 1n) > seq
        : (b.history.get(b.height - 1n)?.has(receiptPath(PORT, w.ch.b, seq)) ?? false);
    const plan = planChannel({
      source: { height: a.height, time: a.time },
      destination: { height: b.height, time: b.time },
      sent: w.sent,
      committed: (seq) => a.state.has(commitmentPath(PORT, w.ch.a, seq)),
      received: receivedOnB,
      acknowledgement: (seq) => (receivedOnB(seq) ? ackOfSequence(w, seq) : undefined),
      batch: 8,
    });
    const pending = w.sent.filter((p) => a.state.has(commitmentPath(PORT, w.ch.a, p.sequence)));
    if (pending.length === 0) {
      expect(plan).toEqual({ deliver: [], acknowledge: [], timeout: [] });
      return round;
    }
    // one message per transaction: a delivery the receiver refuses (out of order) holds up no other
    for (const p of plan.deliver)
      b.run([{ tag: 'recvPacket', value: { packet: p, proof: MODEL_PROOF, proofHeight: a.height } }]);
    const next = readSequence(b.history.get(b.height - 1n)?.get(nextSequenceRecvPath(PORT, w.ch.b))) ?? 0n;
    for (const { packet, acknowledgement } of plan.acknowledge)
      a.run([
        {
          tag: 'acknowledgePacket',
          value: { packet, acknowledgement, proof: MODEL_PROOF, proofHeight: b.height },
        },
      ]);
    for (const p of plan.timeout)
      a.run([
        {
          tag: 'timeoutPacket',
          value: { packet: p, nextSequenceRecv: next, proof: MODEL_PROOF, proofHeight: b.height },
        },
      ]);
    check(w);
  }
  const left = w.sent.filter((p) => a.state.has(commitmentPath(PORT, w.ch.a, p.sequence)));
  throw new Error(`packets still pending after 60 rounds: ${left.map((p) => p.sequence).join(', ')}`);
}

describe('ICS-04 packets under a faulty, lying relay (issue 18)', () => {
  it('exactly once, receipt and refund exclusive, acks truthful, ordered in sequence; an honest relay clears all', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(ORDERING.unordered, ORDERING.ordered),
        fc.array(action, { minLength: 10, maxLength: 120, size: 'large' }),
        (ordering, actions) => {
          const w = world(ordering);
          for (const act of actions) {
            step(w, act);
            check(w);
          }
          drain(w);
          for (const p of w.sent) {
            const got = ackOf(w, p) !== undefined;
            const refunded = w.a.events.some((e) => e.kind === 'timeout' && e.packet.sequence === p.sequence);
            expect(got !== refunded, `packet ${p.sequence}: received ${got}, refunded ${refunded}`).toBe(
              true,
            );
          }
        },
      ),
      propParams('ibc packets under a lying relay', 200),
    );
  });

  it('an unordered channel with a forged proof height or claim never changes the receiver', () => {
    const w = world(ORDERING.unordered);
    step(w, { kind: 'send', data: 1, delta: 30, byTime: false });
    const before = new Map(w.b.state);
    for (const lieKind of ['data', 'sequence', 'proof', 'height'] as const) {
      tick(w.a, w.b);
      tick(w.a, w.b);
      step(w, { kind: 'recv', pick: 0, back: 0, lie: lieKind });
    }
    expect(w.b.state).toEqual(before);
    const msg: IbcMsg = {
      tag: 'recvPacket',
      value: { packet: w.sent[0]!, proof: MODEL_PROOF, proofHeight: w.a.height },
    };
    expect(w.b.run([msg]).ok).toBe(true);
  });
});
