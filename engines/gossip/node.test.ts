import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../../props/config.ts';
import { seedState } from '../../runtime/random.ts';
import { SimKeyring } from '../../sim/signer.ts';
import { sha256, toHex } from '../../wire/commit.ts';
import { decode, encode } from '../../wire/schema.ts';
import { createSigner, verify as ed25519Verify, type Signer } from '../../wire/sign.ts';
import { matches, NOTHING } from './filter.ts';
import { type GossipMessage, GossipNetMessage, type Intent, type IntentBody, intentId } from './messages.ts';
import {
  admitIntents,
  checkSubmission,
  decodePeerMessage,
  type GossipConfig,
  type GossipEnv,
  type GossipState,
  greetPeer,
  heartbeat,
  initialState,
  learnFilter,
  onChain,
  onGraft,
  onIHave,
  onIWant,
  publish,
  type Step,
  scoreOf,
} from './node.ts';
import type { NetOut } from './ports.ts';
import { appendHop, checkRoute } from './route.ts';
import { filterOf, intentBody, SWAP } from './testing.ts';

const keyring = new SimKeyring();
const signers: Record<string, Signer> = {};
const signerOf = (name: string): Signer => {
  signers[name] ??= keyring.signer(name);
  return signers[name]!;
};
const envOf = (name: string, stillValid?: GossipEnv['stillValid']): GossipEnv => ({
  signer: signerOf(name),
  verify: keyring.verify,
  ...(stillValid === undefined ? {} : { stillValid }),
});

const ALL = filterOf([SWAP]);
const XY = filterOf([SWAP], { pair: 'X/Y' });

function stateOf(filter = ALL, params: GossipConfig['params'] = {}): GossipState {
  return initialState({ overlay: 'test', filter, params }, seedState('core-test'), 0);
}

/** `s` with peers that have announced their filters (keys from the keyring). */
function withPeers(
  s: GossipState,
  peers: Record<string, GossipState['filter']>,
  env: GossipEnv,
): GossipState {
  let st = s;
  for (const [peer, filter] of Object.entries(peers)) {
    st = greetPeer(st, peer, env).state;
    st = learnFilter(st, peer, signerOf(peer).publicKey, filter, env).state;
  }
  return st;
}

const read = (out: readonly NetOut[] | undefined, to?: string): GossipMessage[] =>
  (out ?? [])
    .filter((m) => to === undefined || m.to === to)
    .map((m) => decode(GossipNetMessage, m.bytes).message);

/** An intent as `from` would send it to `to` (origin `from`, or the route given). */
function sent(body: IntentBody, hops: readonly string[], to: string): Intent {
  let intent: Intent = { body, route: [] };
  const id = intentId(body);
  const path = [...hops, to];
  for (let i = 0; i < hops.length; i++)
    intent = appendHop(intent, id, signerOf(path[i]!), signerOf(path[i + 1]!).publicKey);
  return intent;
}

describe('filters', () => {
  it('match on the topic and every clause; a missing attribute fails its clause', () => {
    const big = filterOf([SWAP], { pair: 'X/Y', minSize: 100n });
    expect(matches(big, intentBody({ pair: 'X/Y', size: 100n }))).toBe(true);
    expect(matches(big, intentBody({ pair: 'X/Y', size: 99n }))).toBe(false);
    expect(matches(big, intentBody({ pair: 'Y/Z', size: 500n }))).toBe(false);
    expect(matches(big, intentBody({ pair: 'X/Y' }))).toBe(false);
    expect(matches(big, intentBody({ topic: 'other', pair: 'X/Y', size: 500n }))).toBe(false);
    expect(matches(ALL, intentBody({ topic: SWAP }))).toBe(true);
    expect(matches(NOTHING, intentBody())).toBe(false);
    const small = { topics: [SWAP], where: [{ key: 'size', op: { tag: 'atMost', value: 10n } }] } as const;
    expect(matches({ topics: [...small.topics], where: [...small.where] }, intentBody({ size: 10n }))).toBe(
      true,
    );
    expect(matches({ topics: [...small.topics], where: [...small.where] }, intentBody({ size: 11n }))).toBe(
      false,
    );
  });
});

describe('decoding peer bytes', () => {
  it('gives a typed reason for bad bytes or another overlay, and never throws', () => {
    const s = stateOf();
    expect(decodePeerMessage(s, Uint8Array.of(1, 2, 3))).toEqual({ ok: false, reason: 'undecodable' });
    const other = encode(GossipNetMessage, {
      overlay: 'other',
      message: { tag: 'ihave', value: { ids: [] } },
    });
    expect(decodePeerMessage(s, other)).toEqual({ ok: false, reason: 'wrong-overlay' });
    const good = encode(GossipNetMessage, {
      overlay: 'test',
      message: { tag: 'graft', value: { topics: [SWAP] } },
    });
    expect(decodePeerMessage(s, good)).toEqual({
      ok: true,
      message: { tag: 'graft', value: { topics: [SWAP] } },
    });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.nat(), (bytes, cut) => {
        const r1 = decodePeerMessage(s, bytes);
        const r2 = decodePeerMessage(s, good.subarray(0, cut % good.length));
        return (r1.ok || r1.reason === 'undecodable') && !r2.ok;
      }),
      propParams('gossip.decode-never-throws', 200),
    );
  });
});

describe('signed routes', () => {
  const body = intentBody({ pair: 'X/Y' });
  const id = intentId(body);
  const self = signerOf('me').publicKey;

  it('accept a route each hop signed for its neighbours, ending at the sender', () => {
    const intent = sent(body, ['a', 'b', 'c'], 'me');
    expect(intent.route.map((h) => toHex(h.node))).toEqual(
      ['a', 'b', 'c'].map((n) => toHex(signerOf(n).publicKey)),
    );
    expect(checkRoute(intent, id, signerOf('c').publicKey, self, keyring.verify)).toEqual({ ok: true });
  });

  it('refuse a reordered, cut, re-addressed or foreign route', () => {
    const intent = sent(body, ['a', 'b', 'c'], 'me');
    const c = signerOf('c').publicKey;
    const [a, b, last] = intent.route;
    const check = (route: Intent['route'], sender = c) =>
      checkRoute({ body, route }, id, sender, self, keyring.verify);
    expect(check([b!, a!, last!])).toEqual({ ok: false, reason: 'bad-route-signature' });
    expect(check([a!, last!])).toEqual({ ok: false, reason: 'bad-route-signature' });
    expect(check([])).toEqual({ ok: false, reason: 'empty-route' });
    expect(check(intent.route, signerOf('b').publicKey)).toEqual({ ok: false, reason: 'not-the-sender' });
    // addressed to someone else
    const toOther = sent(body, ['a', 'b', 'c'], 'other');
    expect(check(toOther.route)).toEqual({ ok: false, reason: 'bad-route-signature' });
    // the same route for another intent
    expect(
      checkRoute({ body: intentBody(), route: intent.route }, intentId(intentBody()), c, self, keyring.verify)
        .ok,
    ).toBe(false);
  });

  it('work with real ed25519 keys', () => {
    const alice = createSigner(sha256(Uint8Array.of(1)));
    const bob = createSigner(sha256(Uint8Array.of(2)));
    const hop = appendHop({ body, route: [] }, id, alice, bob.publicKey);
    expect(checkRoute(hop, id, alice.publicKey, bob.publicKey, ed25519Verify)).toEqual({ ok: true });
    expect(checkRoute(hop, id, alice.publicKey, alice.publicKey, ed25519Verify).ok).toBe(false);
  });
});

describe('the filter exchange', () => {
  const env = envOf('me');

  it("the first FILTER from a peer is answered with this node's own (its greeting may have been lost); later ones are not", () => {
    const s = greetPeer(stateOf(), 'a', env).state;
    const first = learnFilter(s, 'a', signerOf('a').publicKey, ALL, env);
    const answer = read(first.effects.sends, 'a').filter((m) => m.tag === 'filter');
    expect(answer).toHaveLength(1);
    if (answer[0]?.tag !== 'filter') throw new Error('expected a filter');
    expect(answer[0].value.node).toEqual(env.signer!.publicKey);
    const again = learnFilter(first.state, 'a', signerOf('a').publicKey, XY, env);
    expect(read(again.effects.sends, 'a').filter((m) => m.tag === 'filter')).toEqual([]);
    expect(again.state.peers.a?.filter).toEqual(XY);
  });
});

describe('intents from a peer', () => {
  const env = envOf('me');

  it('are pooled, delivered here and pushed to mesh peers that want them, with a hop signed for each', () => {
    let s = withPeers(stateOf(), { a: ALL, m1: ALL, m2: XY, m3: filterOf(['other']) }, env);
    s = onGraft(s, 'm1', [SWAP], 0).state;
    s = onGraft(s, 'm2', [SWAP], 0).state;
    expect(s.mesh[SWAP]).toEqual(['m1', 'm2']);
    const body = intentBody({ pair: 'Y/Z' });
    const step = admitIntents(s, 'a', [sent(body, ['o', 'a'], 'me')], 0, env);
    expect(step.effects.penalties).toEqual([]);
    expect(step.effects.delivered?.map((d) => d.body)).toEqual([body]);
    expect(step.state.poolCount).toBe(1);
    // m2 wants only X/Y: only m1 gets it, with the route extended by this node's hop
    const out = read(step.effects.sends);
    expect(step.effects.sends?.map((m) => m.to)).toEqual(['m1']);
    const fwd = out[0]!;
    if (fwd.tag !== 'intents') throw new Error('expected intents');
    const route = fwd.value.intents[0]!.route;
    expect(route).toHaveLength(3);
    expect(
      checkRoute(
        fwd.value.intents[0]!,
        intentId(body),
        env.signer!.publicKey,
        signerOf('m1').publicKey,
        keyring.verify,
      ),
    ).toEqual({ ok: true });
    // a duplicate changes nothing and costs nothing
    const again = admitIntents(step.state, 'm1', [sent(body, ['o', 'm1'], 'me')], 1, env);
    expect(again.effects.delivered).toEqual([]);
    expect(again.effects.penalties).toEqual([]);
  });

  it('outside the filter this node told the peer cost it score; dead ones by local state cost nothing', () => {
    const spentNote = sha256(Uint8Array.of(9));
    let s = withPeers(
      stateOf(XY),
      { a: ALL },
      envOf('me', (b) => b.payload[0] !== 0xee),
    );
    s = onChain(s, 10n, [spentNote]).state;
    const env2 = envOf('me', (b) => b.payload[0] !== 0xee);
    const invalidHere = intentBody({ pair: 'X/Y', nonce: 0xee });
    const dead = [
      intentBody({ pair: 'X/Y', expiry: 10n }),
      intentBody({ pair: 'X/Y', inputs: [spentNote] }),
      invalidHere,
    ];
    const step = admitIntents(
      s,
      'a',
      dead.map((b) => sent(b, ['a'], 'me')),
      0,
      env2,
    );
    expect(step.effects.penalties).toEqual([]);
    expect(step.state.poolCount).toBe(0);
    expect(scoreOf(step.state, 'a')).toBe(0);
    const outside = admitIntents(step.state, 'a', [sent(intentBody({ pair: 'Q/R' }), ['a'], 'me')], 0, env2);
    expect(outside.effects.penalties).toEqual([{ peer: 'a', reason: 'outside-filter' }]);
    expect(scoreOf(outside.state, 'a')).toBeLessThan(0);
    // a forged route is the sender's fault too
    const forged = sent(intentBody({ pair: 'X/Y', nonce: 5 }), ['b'], 'me');
    expect(admitIntents(s, 'a', [forged], 0, env2).effects.penalties).toEqual([
      { peer: 'a', reason: 'not-the-sender' },
    ]);
  });

  it('within the grace after this node changed its filter, intents the old one wanted cost nothing', async () => {
    const { adoptFilter } = await import('./node.ts');
    let s = withPeers(stateOf(ALL, { filterGrace: 5_000 }), { a: ALL }, env);
    s = adoptFilter(s, XY, 1_000, env).state;
    const old = sent(intentBody({ pair: 'Q/R' }), ['a'], 'me');
    expect(admitIntents(s, 'a', [old], 5_999, env).effects.penalties).toEqual([]);
    expect(admitIntents(s, 'a', [old], 6_000, env).effects.penalties).toEqual([
      { peer: 'a', reason: 'outside-filter' },
    ]);
  });
});

describe('the pool', () => {
  const env = envOf('me');
  const submit = (s: GossipState, body: IntentBody, to: string[] = []): Step | string => {
    const check = checkSubmission(s, { id: 'r', body, to }, 0, env);
    return check.ok ? publish(s, 'r', check, env) : check.reason;
  };

  it('an intent with a time limit: refused once past it or too far ahead, dropped at the first heartbeat after it', () => {
    const at = (now: number, expiresAt: bigint) => {
      const check = checkSubmission(
        stateOf(),
        { id: 'r', body: intentBody({ expiresAt }), to: [] },
        now,
        env,
      );
      return check.ok ? 'ok' : check.reason;
    };
    expect(at(1_000, 1_000n)).toBe('expired');
    expect(at(1_000, 1_001n)).toBe('ok');
    const week = 7 * 24 * 3_600_000;
    expect(at(1_000, BigInt(1_000 + week + 1))).toBe('expiry-too-far');
    const check = checkSubmission(
      stateOf(),
      { id: 'r', body: intentBody({ expiresAt: 5_000n }), to: [] },
      0,
      env,
    );
    if (!check.ok) throw new Error(check.reason);
    const pooled = publish(stateOf(), 'r', check, env).state;
    expect(pooled.poolCount).toBe(1);
    expect(heartbeat(pooled, 4_999).state.poolCount).toBe(1);
    const beat = heartbeat(pooled, 5_000);
    expect(beat.state.poolCount).toBe(0);
    expect(beat.state.poolBytes).toBe(0);
    expect(beat.effects.gone).toEqual([{ ids: [check.entry.id], reason: 'expired' }]);
  });

  it('is bounded: a full pool takes a newcomer only by evicting intents of lower fee', () => {
    let s = withPeers(stateOf(ALL, { maxIntents: 2 }), { a: ALL }, env);
    const remote = (nonce: number, fee: bigint) => sent(intentBody({ nonce, fee }), ['a'], 'me');
    s = admitIntents(s, 'a', [remote(1, 5n), remote(2, 7n)], 0, env).state;
    expect(s.poolCount).toBe(2);
    const low = admitIntents(s, 'a', [remote(3, 4n)], 0, env);
    expect(low.state.poolCount).toBe(2);
    expect(low.effects.delivered).toEqual([]);
    expect(low.effects.penalties).toEqual([]);
    const high = admitIntents(s, 'a', [remote(4, 9n)], 0, env);
    expect(high.effects.gone).toEqual([
      { ids: [intentId(intentBody({ nonce: 1, fee: 5n }))], reason: 'evicted' },
    ]);
    expect(
      Object.values(high.state.pool)
        .map((e) => e.intent.body.fee)
        .sort(),
    ).toEqual([7n, 9n]);
  });

  it('refuses duplicates, expired, too distant and spent intents from clients, with the reason', () => {
    const note = sha256(Uint8Array.of(1));
    let s = onChain(stateOf(ALL, { maxExpiryHorizon: 100n }), 5n, [note]).state;
    const ok = submit(
      s,
      intentBody({ nonce: 1 }).expiry > 0n ? intentBody({ nonce: 1, expiry: 50n }) : intentBody(),
    );
    if (typeof ok === 'string') throw new Error(ok);
    s = ok.state;
    expect(ok.effects.replies?.[0]).toMatchObject({ ok: true, reason: null });
    expect(submit(s, intentBody({ nonce: 1, expiry: 50n }))).toBe('duplicate');
    expect(submit(s, intentBody({ expiry: 5n }))).toBe('expired');
    expect(submit(s, intentBody({ expiry: 106n }))).toBe('expiry-too-far');
    expect(submit(s, intentBody({ expiry: 50n, inputs: [note] }))).toBe('spent');
    expect(submit(s, intentBody({ expiry: 50n, maxHops: 0 }))).toBe('no-hops');
    expect(submit(s, intentBody({ expiry: 50n, nonce: 2 }), ['nobody'])).toBe('unknown-peer');
  });

  it('drops expired intents and those whose input notes were spent, saying why', () => {
    const note = sha256(Uint8Array.of(7));
    let s = stateOf();
    for (const body of [
      intentBody({ nonce: 1, expiry: 10n }),
      intentBody({ nonce: 2, inputs: [note] }),
      intentBody({ nonce: 3 }),
    ]) {
      const r = submit(s, body);
      if (typeof r === 'string') throw new Error(r);
      s = r.state;
    }
    const step = onChain(s, 10n, [note]);
    expect(step.state.poolCount).toBe(1);
    expect(step.effects.gone).toEqual([
      { ids: [intentId(intentBody({ nonce: 1, expiry: 10n }))], reason: 'expired' },
      { ids: [intentId(intentBody({ nonce: 2, inputs: [note] }))], reason: 'spent' },
    ]);
  });

  it('sends a directed intent to the chosen peers only, never further than its hops allow', () => {
    let s = withPeers(stateOf(), { a: ALL, b: ALL, c: ALL }, env);
    for (const p of ['a', 'b', 'c']) s = onGraft(s, p, [SWAP], 0).state;
    const r = submit(s, intentBody({ maxHops: 1 }), ['b']);
    if (typeof r === 'string') throw new Error(r);
    expect(r.effects.sends?.map((m) => m.to)).toEqual(['b']);
    // not offered to anyone else later either
    const later = heartbeat(r.state, 1_000);
    expect(read(later.effects.sends).filter((m) => m.tag === 'ihave')).toEqual([]);
  });
});

describe('the mesh and lazy gossip', () => {
  const env = envOf('me');
  const peersOf = (n: number, filter = ALL) =>
    Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, filter]));

  it('the heartbeat grafts up to D when below Dlo and prunes down to D above Dhi', () => {
    let s = withPeers(stateOf(), peersOf(20), env);
    const hb = heartbeat(s, 1_000);
    expect(hb.state.mesh[SWAP]).toHaveLength(6);
    const grafted = (hb.effects.sends ?? []).filter((m) => read([m])[0]!.tag === 'graft').map((m) => m.to);
    expect(grafted.sort()).toEqual([...hb.state.mesh[SWAP]!].sort());
    for (let i = 0; i < 20; i++) s = onGraft(s, `p${i}`, [SWAP], 0).state;
    expect(s.mesh[SWAP]).toHaveLength(20);
    const pruned = heartbeat(s, 1_000);
    expect(pruned.state.mesh[SWAP]).toHaveLength(6);
    expect(read(pruned.effects.sends).filter((m) => m.tag === 'prune')).toHaveLength(14);
    // a pruned peer's GRAFT during its backoff is refused
    const out = pruned.state.peers;
    const victim = Object.keys(out).find((p) => !pruned.state.mesh[SWAP]!.includes(p))!;
    const regraft = onGraft(pruned.state, victim, [SWAP], 2_000);
    expect(regraft.state.mesh[SWAP]).not.toContain(victim);
    expect(read(regraft.effects.sends)[0]!.tag).toBe('prune');
  });

  it('a peer not in the mesh hears of recent ids (IHAVE), asks (IWANT) and is served', () => {
    let s = withPeers(stateOf(ALL, { D: 1, Dlo: 1, Dhi: 1, Dlazy: 20 }), peersOf(4), env);
    // from p3 while the mesh is empty: pushed to nobody
    const got = admitIntents(s, 'p3', [sent(intentBody({ nonce: 42 }), ['p3'], 'me')], 0, env);
    expect(got.effects.sends).toEqual([]);
    s = got.state;
    const hb = heartbeat(s, 1_000);
    const [meshPeer] = hb.state.mesh[SWAP]!;
    const told = (hb.effects.sends ?? []).filter((m) => read([m])[0]!.tag === 'ihave').map((m) => m.to);
    expect(told.sort()).toEqual(['p0', 'p1', 'p2', 'p3'].filter((p) => p !== meshPeer && p !== 'p3'));
    // the other side: an IHAVE of an unknown id gives an IWANT, once
    let other = withPeers(stateOf(), { me: ALL }, envOf(told[0]!));
    const id = intentId(intentBody({ nonce: 42 }));
    const ask = onIHave(other, 'me', [id], 1_000);
    expect(read(ask.effects.sends)).toEqual([{ tag: 'iwant', value: { ids: [id] } }]);
    other = ask.state;
    expect(onIHave(other, 'me', [id], 1_001).effects.sends).toEqual([]);
    const served = onIWant(hb.state, told[0]!, [id], env);
    const msg = read(served.effects.sends)[0]!;
    expect(msg.tag).toBe('intents');
    const pulled = admitIntents(
      other,
      'me',
      msg.tag === 'intents' ? msg.value.intents : [],
      1_002,
      envOf(told[0]!),
    );
    expect(pulled.effects.delivered?.map((d) => toHex(d.id))).toEqual([toHex(id)]);
    expect(pulled.effects.penalties).toEqual([]);
  });
});
