import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../../props/config.ts';
import { EngineGraph } from '../../runtime/graph.ts';
import { Random } from '../../runtime/random.ts';
import { SimScheduler } from '../../runtime/scheduler.ts';
import { type FaultPlan, NO_FAULTS } from '../../sim/faults.ts';
import { SimNetwork } from '../../sim/network.ts';
import { sha256, toHex } from '../../wire/commit.ts';
import { decode, encode } from '../../wire/schema.ts';
import { verify as ed25519Verify, type Verifier } from '../../wire/sign.ts';
import { bareCommittedBlock } from '../../wire/testing.ts';
import { bytesEqual } from '../../wire/types.ts';
import { mempoolEngine } from './engine.ts';
import type { MempoolContext } from './machine.ts';
import { type MempoolMessage, MempoolNetMessage } from './messages.ts';
import type { MempoolConfig } from './node.ts';
import { batch, entries, has, poolSize } from './pool.ts';
import type { AdmitReply, NetOut, PeerPenalty } from './ports.ts';
import { deepFreeze, encryptedBody, epochKey, INSTANCE, keyOf, signedBytes } from './testing.ts';

const validators = [0, 1, 2].map((i) => keyOf(`validator-${i}`));
const KEY = epochKey();
const EPOCH = { epoch: 1n, publicKey: KEY.publicKey, threshold: 2, verificationKeys: [] };

const block = (height: bigint, txs: Uint8Array[]) => bareCommittedBlock(INSTANCE, height, txs);

const wire = (message: MempoolMessage, instance = INSTANCE) =>
  encode(MempoolNetMessage, { instance, message });

/** One mempool engine driven by hand (signatures checked by `verify`, ed25519 by default). */
function single(config: Partial<MempoolConfig> = {}, verify?: Verifier) {
  const scheduler = new SimScheduler(1);
  const g = new EngineGraph({ node: 'n0', scheduler, seed: 1, ...(verify === undefined ? {} : { verify }) });
  const mp = g.add('mempool', mempoolEngine, {
    instance: INSTANCE,
    validators: validators.map((v) => v.publicKey),
    ...config,
  });
  const replies: AdmitReply[] = [];
  const batches: Uint8Array[][] = [];
  const sent: NetOut[] = [];
  const penalties: PeerPenalty[] = [];
  g.observe(mp.out.admitted).subscribe((r) => replies.push(r));
  g.observe(mp.out.txs).subscribe((b) => batches.push(b));
  g.observe(mp.out.net).subscribe((m) => sent.push(m));
  g.observe(mp.out.penalty).subscribe((p) => penalties.push(p));
  g.start();
  g.send(mp.in.epochKey, EPOCH);
  let n = 0;
  const t = {
    g,
    mp,
    scheduler,
    replies,
    batches,
    sent,
    penalties,
    ctx: () => g.instance('mempool').context<MempoolContext>(),
    state: () => g.instance('mempool').stateString(),
    /** The pool's phase, from the context's mirror of it. */
    phase: () => {
      const c = g.instance('mempool').context<MempoolContext>();
      return c.size === 0 ? 'empty' : c.full ? 'full' : 'pooling';
    },
    /** Submits and processes it (and anything else due now; virtual time does not move). */
    submit(bytes: Uint8Array) {
      g.send(mp.in.submit, { id: `r${n++}`, bytes });
      scheduler.run({ maxTime: scheduler.now() });
      return replies[replies.length - 1]!;
    },
    net(peer: string, bytes: Uint8Array) {
      g.send(mp.in.net, { peer, bytes }, `net:${peer}`);
      scheduler.run({ maxTime: scheduler.now() });
    },
    /** Lets `ms` of virtual time pass (timers fire). */
    advance(ms: number) {
      scheduler.run({ maxTime: scheduler.now() + ms });
    },
    messagesTo(peer: string): MempoolMessage[] {
      return sent.filter((m) => m.to === peer).map((m) => decode(MempoolNetMessage, m.bytes).message);
    },
  };
  scheduler.run();
  return t;
}

describe('mempool engine', () => {
  it('replies to every submission, sends the batch when the head changes, and goes empty/pooling/full', () => {
    const t = single({ limits: { maxCount: 2 } });
    expect(t.phase()).toBe('empty');
    const a = signedBytes({ key: keyOf('a'), fee: 5n });
    const r1 = t.submit(a);
    expect(r1).toEqual({ id: 'r0', ok: true, hash: sha256(a), reason: null });
    expect(t.phase()).toBe('pooling');
    expect(t.submit(a)).toEqual({ id: 'r1', ok: false, hash: sha256(a), reason: 'duplicate' });
    expect(t.submit(Uint8Array.of(1))).toMatchObject({ ok: false, reason: 'undecodable' });
    const b = signedBytes({ key: keyOf('b'), fee: 9n });
    t.submit(b);
    expect(t.phase()).toBe('full');
    expect(t.ctx().size).toBe(2);
    expect(t.submit(signedBytes({ key: keyOf('c'), fee: 1n }))).toMatchObject({ reason: 'pool-full' });
    // the latest batch is the pool in priority order
    t.advance(100);
    expect(t.batches.at(-1)).toEqual([b, a]);
    t.g.send(t.mp.in.committed, block(1n, [b, a]));
    t.advance(100);
    expect(t.phase()).toBe('empty');
    expect(t.batches.at(-1)).toEqual([]);
    // the replay is refused
    expect(t.submit(a)).toMatchObject({ reason: 'replay' });
  });

  it('sends batches at a bounded rate: a burst gives one batch now and one when the interval ends', () => {
    const t = single({ batch: { interval: 100 } });
    const before = t.batches.length;
    for (let i = 0; i < 5; i++)
      t.g.send(t.mp.in.submit, { id: `b${i}`, bytes: signedBytes({ key: keyOf(i), fee: BigInt(i + 1) }) });
    t.scheduler.run();
    expect(t.batches.length - before).toBe(2);
    expect(t.batches.at(-1)).toHaveLength(5);
  });

  it('its statechart has the protocol: waiting, admission, gossip, recheck, reaping', () => {
    const t = single();
    const machine = t.g.describe().engines[0]!.machine as { states: Record<string, { states: object }> };
    expect(Object.keys(machine.states)).toEqual(['waiting', 'admission', 'gossip', 'recheck', 'reaping']);
    expect(Object.keys(machine.states.waiting!.states)).toEqual(['batchSent', 'batchDue']);
    expect(t.state()).toBe('waiting.batchSent');
  });

  it('gossip: announces admissions, serves requests, admits what it requested', () => {
    const t = single({ gossip: { peers: ['p1', 'p2'] } });
    const mine = signedBytes({ key: keyOf('m'), fee: 3n });
    t.submit(mine);
    t.advance(20);
    for (const p of ['p1', 'p2']) {
      expect(t.messagesTo(p)).toEqual([{ tag: 'announce', value: { hashes: [sha256(mine)] } }]);
    }
    // p1 asks for it (and for something unknown, which is ignored)
    t.net('p1', wire({ tag: 'request', value: { hashes: [sha256(mine), new Uint8Array(32)] } }));
    expect(t.messagesTo('p1').at(-1)).toEqual({ tag: 'envelopes', value: { envelopes: [mine] } });
    // p2 announces two envelopes; we ask for both, p2 sends them, both are admitted and re-announced to p1 only
    const x = signedBytes({ key: keyOf('x'), fee: 4n });
    const y = signedBytes({ key: keyOf('y'), fee: 5n });
    t.net('p2', wire({ tag: 'announce', value: { hashes: [sha256(x), sha256(y), sha256(mine)] } }));
    expect(t.messagesTo('p2').at(-1)).toEqual({ tag: 'request', value: { hashes: [sha256(x), sha256(y)] } });
    t.net('p2', wire({ tag: 'envelopes', value: { envelopes: [x, y] } }));
    expect(t.ctx().size).toBe(3);
    t.advance(20);
    expect(t.messagesTo('p1').at(-1)).toEqual({ tag: 'announce', value: { hashes: [sha256(x), sha256(y)] } });
    expect(t.messagesTo('p2').filter((m) => m.tag === 'announce')).toHaveLength(1);
    // a duplicated answer is harmless
    t.net('p2', wire({ tag: 'envelopes', value: { envelopes: [x] } }));
    expect(t.penalties).toEqual([]);
  });

  it('penalises undecodable messages, other instances, unrequested and bad relayed bodies', () => {
    const t = single();
    t.net('evil', Uint8Array.of(1, 2, 3));
    t.net('evil', wire({ tag: 'announce', value: { hashes: [] } }, 'other-instance'));
    const junk = signedBytes({ key: keyOf('j') });
    t.net('evil', wire({ tag: 'envelopes', value: { envelopes: [junk] } }));
    expect(t.ctx().size).toBe(0);
    // announced and requested, but the body is forged
    const forged = signedBytes({ key: keyOf('victim'), fee: 50n }, keyOf('evil'));
    t.net('evil', wire({ tag: 'announce', value: { hashes: [sha256(forged)] } }));
    t.net('evil', wire({ tag: 'envelopes', value: { envelopes: [forged] } }));
    expect(t.penalties).toEqual([
      { peer: 'evil', reason: 'undecodable' },
      { peer: 'evil', reason: 'wrong-instance' },
      { peer: 'evil', reason: 'unrequested' },
      { peer: 'evil', reason: 'relayed-bad-signature' },
    ]);
    expect(t.ctx().size).toBe(0);
    // it is not asked again
    const requests = t.messagesTo('evil').filter((m) => m.tag === 'request').length;
    t.net('evil', wire({ tag: 'announce', value: { hashes: [sha256(forged)] } }));
    expect(t.messagesTo('evil').filter((m) => m.tag === 'request')).toHaveLength(requests);
  });

  it('bounds what it serves to one peer per window', () => {
    const t = single({ gossip: { maxServePerWindow: 3, serveWindow: 1000 } });
    const all = Array.from({ length: 5 }, (_, i) => signedBytes({ key: keyOf(`s${i}`), fee: 2n }));
    for (const b of all) t.submit(b);
    t.net('greedy', wire({ tag: 'request', value: { hashes: all.map(sha256) } }));
    t.net('greedy', wire({ tag: 'request', value: { hashes: all.map(sha256) } }));
    const served = t.messagesTo('greedy').flatMap((m) => (m.tag === 'envelopes' ? m.value.envelopes : []));
    expect(served).toHaveLength(3);
  });

  it('bounds requests in flight per peer and re-asks another announcer after a timeout', () => {
    const t = single({ gossip: { maxInflightPerPeer: 2, requestTimeout: 500 } });
    const all = Array.from({ length: 4 }, (_, i) => signedBytes({ key: keyOf(`q${i}`), fee: 2n }));
    t.net('slow', wire({ tag: 'announce', value: { hashes: all.map(sha256) } }));
    const asked = t.messagesTo('slow').filter((m) => m.tag === 'request');
    expect(asked).toEqual([{ tag: 'request', value: { hashes: all.slice(0, 2).map(sha256) } }]);
    t.net('other', wire({ tag: 'announce', value: { hashes: all.slice(0, 1).map(sha256) } }));
    expect(t.messagesTo('other')).toEqual([]);
    t.advance(499);
    expect(t.messagesTo('other')).toEqual([]);
    t.advance(1);
    expect(t.messagesTo('other')).toEqual([{ tag: 'request', value: { hashes: [sha256(all[0]!)] } }]);
    // the slow peer's late answer is still welcome
    t.net('slow', wire({ tag: 'envelopes', value: { envelopes: [all[1]!] } }));
    expect(t.penalties).toEqual([]);
    expect(t.ctx().size).toBe(1);
  });

  it('property: random bytes from a peer give a penalty, never a crash or a change to the pool', () => {
    const t = single();
    const kept = signedBytes({ key: keyOf('kept') });
    t.submit(kept);
    const message = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc
        .array(fc.uint8Array({ minLength: 1, maxLength: 200 }), { minLength: 1, maxLength: 4 })
        .map((envelopes) => wire({ tag: 'envelopes', value: { envelopes } })),
      fc
        .uint8Array({ minLength: 2, maxLength: 300 })
        .map((b) => Uint8Array.of(...wire({ tag: 'announce', value: { hashes: [] } }).subarray(0, 1), ...b)),
    );
    fc.assert(
      fc.property(message, (bytes) => {
        const before = t.penalties.length;
        t.net('fuzzer', bytes);
        expect(t.g.instance('mempool').status).toBe('running');
        expect(t.g.instance('mempool').restarts).toBe(0);
        expect(t.penalties.length).toBe(before + 1);
        expect(t.ctx().size).toBe(1);
      }),
      propParams('mempool.net-garbage', 200),
    );
  });
});

describe('mempool engine: an immutable context', () => {
  const poison = keyOf('poison');
  /** ed25519, except that checking the poison key's signatures throws (a verifier that fails). */
  const flakyVerify: Verifier = (publicKey, message, signature) => {
    if (bytesEqual(publicKey, poison.publicKey)) throw new Error('verifier unavailable');
    return ed25519Verify(publicKey, message, signature);
  };

  /** Runs `act` as one step that throws, and checks that the engine restarted from exactly the context before. */
  function throwsAndChangesNothing(t: ReturnType<typeof single>, act: () => void): void {
    const inst = t.g.instance('mempool');
    const restarts = inst.restarts;
    const before = structuredClone(t.ctx());
    const state = t.state();
    const emitted = [t.replies.length, t.batches.length, t.sent.length, t.penalties.length];
    act();
    expect(inst.restarts).toBe(restarts + 1);
    expect(inst.status).toBe('running');
    expect(t.ctx()).toEqual(before);
    expect(t.state()).toBe(state);
    expect([t.replies.length, t.batches.length, t.sent.length, t.penalties.length]).toEqual(emitted);
  }

  it('a submission whose check throws is not admitted, gets no reply, and leaves the context as it was', () => {
    const t = single({}, flakyVerify);
    const kept = signedBytes({ key: keyOf('kept'), fee: 3n });
    t.submit(kept);
    t.advance(100);
    const bad = signedBytes({ key: poison, fee: 9n });
    throwsAndChangesNothing(t, () => t.submit(bad));
    expect(has(t.ctx().pool, toHex(sha256(bad)))).toBe(false);
    expect(has(t.ctx().pool, toHex(sha256(kept)))).toBe(true);
    // the engine goes on from there
    expect(t.submit(signedBytes({ key: keyOf('after'), fee: 2n }))).toMatchObject({ ok: true });
    expect(t.ctx().size).toBe(2);
  });

  it('pulled bodies: one admitted, the next one throws: neither is pooled and nothing is emitted', () => {
    const t = single({}, flakyVerify);
    const good = signedBytes({ key: keyOf('good'), fee: 4n });
    const bad = signedBytes({ key: poison, fee: 5n });
    t.net('peer', wire({ tag: 'announce', value: { hashes: [sha256(good), sha256(bad)] } }));
    t.advance(100);
    // the good body is admitted (the pool would have changed) before checking the bad one throws
    throwsAndChangesNothing(t, () =>
      t.net('peer', wire({ tag: 'envelopes', value: { envelopes: [good, bad] } })),
    );
    expect(has(t.ctx().pool, toHex(sha256(good)))).toBe(false);
    expect(t.ctx().size).toBe(0);
    // still in flight: the good body alone is welcome later
    t.net('peer', wire({ tag: 'envelopes', value: { envelopes: [good] } }));
    expect(t.ctx().size).toBe(1);
    expect(t.penalties).toEqual([]);
  });

  it('a committed block whose recheck throws after its first envelope left: the pool keeps it', () => {
    const t = single({}, flakyVerify);
    const ours = signedBytes({ key: keyOf('ours'), fee: 4n });
    t.submit(ours);
    t.advance(100);
    const foreign = signedBytes({ key: poison, fee: 5n });
    throwsAndChangesNothing(t, () => {
      t.g.send(t.mp.in.committed, block(1n, [ours, foreign]));
      t.advance(0);
    });
    expect(has(t.ctx().pool, toHex(sha256(ours)))).toBe(true);
    expect(t.ctx().pool.height).toBe(0n);
  });

  it('its context survives being deep-frozen across every kind of step', () => {
    const t = single({ limits: { maxCount: 3 }, gossip: { peers: ['p1'], requestTimeout: 50 } });
    const freeze = () => deepFreeze(t.ctx());
    freeze();
    const a = signedBytes({ key: keyOf('fa'), fee: 2n });
    const b = signedBytes({ key: keyOf('fb'), fee: 3n, nonce: 1n });
    const c = signedBytes({ key: keyOf('fc'), fee: 4n });
    expect(t.submit(a)).toMatchObject({ ok: true });
    freeze();
    expect(t.submit(a)).toMatchObject({ ok: false, reason: 'duplicate' });
    freeze();
    expect(t.submit(Uint8Array.of(7))).toMatchObject({ ok: false, reason: 'undecodable' });
    freeze();
    t.advance(30); // the batch, the announcement
    freeze();
    t.net('p1', wire({ tag: 'request', value: { hashes: [sha256(a)] } }));
    freeze();
    t.net('p1', wire({ tag: 'announce', value: { hashes: [sha256(b), sha256(c)] } }));
    freeze();
    t.net('p1', wire({ tag: 'envelopes', value: { envelopes: [b] } }));
    freeze();
    t.net('p1', Uint8Array.of(1, 2));
    freeze();
    t.advance(100); // c's request times out; announcements; the batch
    freeze();
    expect(t.submit(signedBytes({ key: keyOf('fd'), fee: 9n }))).toMatchObject({ ok: true });
    freeze();
    expect(t.submit(signedBytes({ key: keyOf('fe'), fee: 1n }))).toMatchObject({ reason: 'pool-full' });
    freeze();
    t.g.send(t.mp.in.committed, block(1n, [a]));
    t.advance(0);
    freeze();
    t.g.send(t.mp.in.epochKey, { ...EPOCH, epoch: 2n });
    t.advance(100);
    freeze();
    const inst = t.g.instance('mempool');
    expect(inst.restarts).toBe(0);
    expect(inst.status).toBe('running');
    expect(t.ctx().size).toBe(2);
    expect(t.ctx().pending).toBeNull();
    expect(t.batches.at(-1)).toHaveLength(2);
    expect(t.penalties).toEqual([{ peer: 'p1', reason: 'undecodable' }]);
  });
});

/** N mempools joined by the simulated network. */
function cluster(n: number, seed: number, plan: FaultPlan = NO_FAULTS) {
  const scheduler = new SimScheduler(seed);
  const network = new SimNetwork(scheduler, new Random(`net/${seed}`), plan);
  const ids = Array.from({ length: n }, (_, i) => `n${i}`);
  const penalties: PeerPenalty[] = [];
  const nodes = ids.map((id) => {
    const g = new EngineGraph({ node: id, scheduler, seed });
    const mp = g.add('mempool', mempoolEngine, {
      instance: INSTANCE,
      validators: validators.map((v) => v.publicKey),
      gossip: { peers: ids.filter((p) => p !== id) },
    });
    g.observe(mp.out.net).subscribe((m) => {
      if (m.to === '') network.broadcast(id, m.bytes);
      else network.send(id, m.to, m.bytes);
    });
    g.observe(mp.out.penalty).subscribe((p) => penalties.push(p));
    network.attach(id, (from, bytes) => g.send(mp.in.net, { peer: from, bytes }, `net:${from}`));
    g.start();
    g.send(mp.in.epochKey, EPOCH);
    const pool = () => g.instance('mempool').context<MempoolContext>().pool;
    return { id, g, mp, pool };
  });
  scheduler.run(); // every node knows the epoch key before clients submit
  return { scheduler, network, nodes, penalties };
}

describe('mempool gossip between engines', () => {
  it('property: three mempools converge to the same pool and the same batch (delays, reordering, duplicates)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.integer({ min: 1, max: 50 }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        (seed, maxDelay, duplicate) => {
          const c = cluster(3, seed, { ...NO_FAULTS, links: { drop: 0, duplicate, minDelay: 1, maxDelay } });
          const submitted: Uint8Array[] = [];
          c.nodes.forEach((node, i) => {
            for (let k = 0; k < 6; k++) {
              const key = keyOf(`user-${i}-${k % 3}`);
              const body =
                k % 2 === 0
                  ? encryptedBody(KEY.publicKey, key.publicKey, Uint8Array.of(i, k))
                  : ({ tag: 'plain', value: Uint8Array.of(i, k) } as const);
              const bytes = signedBytes({
                key,
                nonce: BigInt(k),
                fee: BigInt(1 + ((i * 7 + k * 3) % 5)),
                body,
              });
              submitted.push(bytes);
              node.g.send(node.mp.in.submit, { id: `${i}/${k}`, bytes });
            }
          });
          // a validator's shares body, fee 0
          const shares = signedBytes({
            key: validators[1]!,
            fee: 0n,
            body: { tag: 'shares', value: Uint8Array.of(7) },
          });
          c.nodes[2]!.g.send(c.nodes[2]!.mp.in.submit, { id: 'shares', bytes: shares });
          submitted.push(shares);
          c.scheduler.run({ maxTime: 60_000 });
          const want = submitted.map((b) => toHex(sha256(b))).sort();
          for (const node of c.nodes) {
            expect(
              entries(node.pool())
                .map((e) => e.hash)
                .sort(),
            ).toEqual(want);
          }
          const batches = c.nodes.map((node) => batch(node.pool(), 1000, 1 << 24).map(toHex));
          expect(batches[1]).toEqual(batches[0]);
          expect(batches[2]).toEqual(batches[0]);
          expect(batches[0]![0]).toBe(toHex(shares));
          expect(c.penalties).toEqual([]);
        },
      ),
      propParams('mempool.gossip-convergence', 15),
    );
  });

  it('a committed block empties every pool of its envelopes', () => {
    const c = cluster(2, 3);
    const a = signedBytes({ key: keyOf('ca'), fee: 2n });
    const b = signedBytes({ key: keyOf('cb'), fee: 3n });
    c.nodes[0]!.g.send(c.nodes[0]!.mp.in.submit, { id: '1', bytes: a });
    c.nodes[1]!.g.send(c.nodes[1]!.mp.in.submit, { id: '2', bytes: b });
    c.scheduler.run({ maxTime: 10_000 });
    expect(c.nodes.map((n) => poolSize(n.pool()))).toEqual([2, 2]);
    for (const n of c.nodes) n.g.send(n.mp.in.committed, block(1n, [b]));
    c.scheduler.run({ maxTime: 20_000 });
    expect(c.nodes.map((n) => entries(n.pool()).map((e) => e.hash))).toEqual([
      [toHex(sha256(a))],
      [toHex(sha256(a))],
    ]);
  });
});
