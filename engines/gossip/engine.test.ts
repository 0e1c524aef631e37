import { describe, expect, it } from 'vitest';
import { EngineGraph } from '../../runtime/graph.ts';
import { SimScheduler } from '../../runtime/scheduler.ts';
import { GossipOverlay, nodeName } from '../../sim/overlay.ts';
import { SimKeyring } from '../../sim/signer.ts';
import { toHex } from '../../wire/commit.ts';
import { decode, encode } from '../../wire/schema.ts';
import { gossipEngine } from './engine.ts';
import type { GossipContext } from './machine.ts';
import { type Filter, GossipNetMessage, type Intent, type IntentBody, intentId } from './messages.ts';
import type { DisconnectPeer, IntentReply, NetOut, PeerPenalty } from './ports.ts';
import { appendHop } from './route.ts';
import { filterOf, intentBody, SWAP } from './testing.ts';

const ALL = filterOf([SWAP]);
const XY = filterOf([SWAP], { pair: 'X/Y' });

/** One gossip engine driven by hand, its peers played by the test with keys from `keyring`. */
function single(filter: Filter = ALL) {
  const keyring = new SimKeyring();
  const scheduler = new SimScheduler(1);
  const g = new EngineGraph({
    node: 'me',
    scheduler,
    seed: 1,
    signer: keyring.signer('me'),
    verify: keyring.verify,
    freezeContexts: true,
  });
  const h = g.add('gossip', gossipEngine, { overlay: 'test', filter });
  const sent: NetOut[] = [];
  const replies: IntentReply[] = [];
  const penalties: PeerPenalty[] = [];
  const disconnects: DisconnectPeer[] = [];
  g.observe(h.out.net).subscribe((m) => sent.push(m));
  g.observe(h.out.submitted).subscribe((r) => replies.push(r));
  g.observe(h.out.penalty).subscribe((p) => penalties.push(p));
  g.observe(h.out.disconnect).subscribe((d) => disconnects.push(d));
  g.start();
  const now = () => scheduler.run({ maxTime: scheduler.now() });
  const frame = (message: GossipNetMessage['message']) =>
    encode(GossipNetMessage, { overlay: 'test', message });
  return {
    g,
    h,
    keyring,
    sent,
    replies,
    penalties,
    disconnects,
    run: now,
    ctx: () => g.instance('gossip').context<GossipContext>(),
    state: () => g.instance('gossip').stateString(),
    net(peer: string, bytes: Uint8Array) {
      g.send(h.in.net, { peer, bytes }, `net:${peer}`);
      now();
    },
    /** `peer` connects and says what it wants. */
    join(peer: string, wants: Filter) {
      g.send(h.in.peers, { peer, up: true });
      now();
      this.net(
        peer,
        frame({ tag: 'filter', value: { node: keyring.signer(peer).publicKey, filter: wants } }),
      );
    },
    /** `peer` sends intents it originated, signed for this node. */
    intents(peer: string, bodies: readonly IntentBody[]) {
      const me = keyring.signer('me').publicKey;
      const intents: Intent[] = bodies.map((body) =>
        appendHop({ body, route: [] }, intentId(body), keyring.signer(peer), me),
      );
      this.net(peer, frame({ tag: 'intents', value: { intents } }));
    },
    frame,
  };
}

describe('gossip engine', () => {
  it('its statechart has the protocol: idle, linking, reading, handling, scoring, publishing, heartbeat', () => {
    const t = single();
    const machine = t.g.describe().engines[0]!.machine as { states: Record<string, unknown> };
    expect(Object.keys(machine.states)).toEqual([
      'idle',
      'linking',
      'reading',
      'handling',
      'scoring',
      'publishing',
      'heartbeat',
    ]);
    expect(t.state()).toBe('idle');
  });

  it('greets a peer with its filter, and pushes its own intents to peers that want them', () => {
    const t = single();
    t.join('a', ALL);
    t.join('b', XY);
    // the greeting, and the answer to a's first FILTER
    const filters = (to: string) =>
      t.sent.filter((m) => m.to === to && decode(GossipNetMessage, m.bytes).message.tag === 'filter');
    expect(t.sent.filter((m) => m.to === 'a')).toHaveLength(2);
    expect(filters('a')).toHaveLength(2);
    t.g.send(t.h.in.submit, { id: 'r1', body: intentBody({ pair: 'Y/Z' }), to: [] });
    t.g.send(t.h.in.submit, { id: 'r2', body: intentBody({ pair: 'Y/Z' }), to: [] });
    t.g.send(t.h.in.submit, { id: 'r3', body: intentBody({ pair: 'X/Y', expiry: 0n }), to: [] });
    t.run();
    expect(t.replies.map((r) => [r.id, r.ok, r.reason])).toEqual([
      ['r1', true, null],
      ['r2', false, 'duplicate'],
      ['r3', false, 'expired'],
    ]);
    // a (all of swap) got it; b (X/Y only) did not
    expect(t.sent.filter((m) => m.to === 'a')).toHaveLength(3);
    expect(t.sent.filter((m) => m.to === 'b')).toHaveLength(2);
    expect(filters('b')).toHaveLength(2);
    expect(t.ctx().size).toBe(1);
  });

  it('bad bytes are a typed penalty, never a crash; a peer that keeps at it is disconnected and refused', () => {
    const t = single();
    t.join('evil', ALL);
    t.net('evil', Uint8Array.of(0xff, 0xff, 0xff));
    expect(t.penalties).toEqual([{ peer: 'evil', reason: 'undecodable' }]);
    expect(t.g.instance('gossip').status).toBe('running');
    for (let i = 0; i < 5; i++) t.net('evil', Uint8Array.of(i));
    expect(t.disconnects).toEqual([{ peer: 'evil', reason: 'score' }]);
    expect(t.ctx().peers.evil).toBeUndefined();
    // it comes back: refused while banned
    t.g.send(t.h.in.peers, { peer: 'evil', up: true });
    t.run();
    expect(t.disconnects.at(-1)).toEqual({ peer: 'evil', reason: 'banned' });
  });

  it('a peer flooding intents outside the filter it was told is disconnected; honest races are not', () => {
    const t = single(XY);
    t.join('flood', ALL);
    t.join('honest', ALL);
    // honest: expired at this node's height: dropped without penalty
    t.g.send(t.h.in.spent, { height: 100n, spent: [] });
    t.intents('honest', [intentBody({ pair: 'X/Y', expiry: 50n })]);
    expect(t.penalties).toEqual([]);
    for (let i = 0; i < 20 && t.disconnects.length === 0; i++)
      t.intents('flood', [intentBody({ pair: 'Q/R', nonce: i, expiry: 500n })]);
    expect(t.disconnects).toEqual([{ peer: 'flood', reason: 'score' }]);
    expect(t.penalties.every((p) => p.peer === 'flood' && p.reason === 'outside-filter')).toBe(true);
    expect(t.ctx().size).toBe(0);
  });

  it('drops pooled intents when their input notes are spent or they expire, and says so', () => {
    const t = single();
    const gone: string[] = [];
    t.g.observe(t.h.out.gone).subscribe((g) => gone.push(`${g.reason}:${g.ids.length}`));
    t.join('a', ALL);
    const note = new Uint8Array(32).fill(3);
    t.intents('a', [intentBody({ nonce: 1, inputs: [note] }), intentBody({ nonce: 2, expiry: 20n })]);
    expect(t.ctx().size).toBe(2);
    t.g.send(t.h.in.spent, { height: 10n, spent: [note] });
    t.g.send(t.h.in.spent, { height: 20n, spent: [] });
    t.run();
    expect(gone).toEqual(['spent:1', 'expired:1']);
    expect(t.ctx().size).toBe(0);
  });
});

describe('gossip over a simulated overlay', () => {
  it('directed intents reach the chosen peer only; undirected ones every node that wants them', () => {
    // a line g0 - g1 - g2 - g3, g3 wanting only X/Y
    const filters = [ALL, ALL, ALL, XY];
    const o = new GossipOverlay({
      seed: 3,
      filters,
      edges: [
        [0, 1],
        [1, 2],
        [2, 3],
      ],
      latency: 10,
    });
    o.runUntil(2_000);
    const directed = intentBody({ pair: 'X/Y', nonce: 1, maxHops: 1 });
    o.submit(1, directed, [nodeName(2)]);
    const yz = intentBody({ pair: 'Y/Z', nonce: 2 });
    const xy = intentBody({ pair: 'X/Y', nonce: 3 });
    o.submit(0, yz);
    o.submit(0, xy);
    o.runUntil(30_000);
    const got = (id: Uint8Array) => o.nodes.map((n) => n.delivered.has(toHex(id)));
    expect(got(intentId(directed))).toEqual([false, true, true, false]);
    expect(got(intentId(yz))).toEqual([true, true, true, false]);
    expect(got(intentId(xy))).toEqual([true, true, true, true]);
    expect(o.nodes.flatMap((n) => n.penalties)).toEqual([]);
    // the route g3 got: g0, g1, g2, each hop signed
    const route = o.context(3).pool[toHex(intentId(xy))]!.intent.route;
    expect(route.map((h) => toHex(h.node))).toEqual(
      [0, 1, 2].map((i) => toHex(o.keyring.signer(nodeName(i)).publicKey)),
    );
  });

  it('a filter change is announced; the new filter is honoured and nobody is penalised for the race', () => {
    const o = new GossipOverlay({
      seed: 4,
      filters: [ALL, ALL, XY],
      edges: [
        [0, 1],
        [1, 2],
      ],
      latency: 10,
    });
    o.runUntil(2_000);
    o.nodes[2]!.graph.send(o.nodes[2]!.gossip.in.filter, filterOf([SWAP], { pair: 'Y/Z' }));
    const yz = intentBody({ pair: 'Y/Z', nonce: 1 });
    o.submit(0, yz);
    o.runUntil(20_000);
    expect(o.nodes[2]!.delivered.has(toHex(intentId(yz)))).toBe(true);
    expect(o.nodes.flatMap((n) => n.penalties)).toEqual([]);
  });
});
