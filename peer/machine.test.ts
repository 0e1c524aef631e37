import { describe, expect, it } from 'vitest';
import { liteHandshake } from '../sim/handshake-lite.ts';
import { SimKeyring } from '../sim/signer.ts';
import { toHex } from '../wire/commit.ts';
import type { Signer } from '../wire/sign.ts';
import { CONTROL_CHANNEL, encodeControl } from './control.ts';
import {
  type Existing,
  type PeerEffect,
  type PeerInput,
  type PeerMachineEvent,
  type PeerPolicy,
  type PeerSnapshot,
  peerMachine,
  peerStateOf,
  startPeer,
  stepPeer,
} from './machine.ts';

const POLICY: PeerPolicy = {
  handshakeTimeoutMs: 1000,
  idleTimeoutMs: 3000,
  maxFrameBytes: 1000,
  framesPerSecond: 20,
  bytesPerSecond: 100_000,
  bytesBurst: 100_000,
  backoff: { initialMs: 100, maxMs: 1600 },
  banMs: 60_000,
  learnedMaxFailures: 3,
};

const keyring = new SimKeyring();
const A = keyring.signer('machine-test/a');
const B = keyring.signer('machine-test/b');
const C = keyring.signer('machine-test/c');
const id = (s: Signer) => toHex(s.publicKey);

/** Every transition id the machine has, to check that each step followed a drawn edge. */
function transitionIds(): Set<string> {
  const ids = new Set<string>();
  const visit = (n: {
    path: string[];
    transitions: Map<string, unknown[]>;
    always?: unknown[];
    states: Record<string, unknown>;
  }) => {
    const all = [...[...n.transitions.values()].flat(), ...(n.always ?? [])];
    for (let i = 0; i < all.length; i++) ids.add(`${['peer', ...n.path].join('.')}#${i}`);
    for (const c of Object.values(n.states)) visit(c as typeof n);
  };
  visit(peerMachine.root as never);
  return ids;
}
const DRAWN = transitionIds();

/** One machine driven by hand: every step's effects are kept, every taken transition checked. */
class Driver {
  snapshot: PeerSnapshot;
  effects: PeerEffect[] = [];
  readonly log: string[] = [];

  constructor(input: PeerInput) {
    this.snapshot = startPeer(input);
  }

  get state(): string {
    return peerStateOf(this.snapshot);
  }

  step(e: PeerMachineEvent): PeerEffect[] {
    const from = this.state;
    const r = stepPeer(this.snapshot, e);
    for (const t of r.taken) expect(DRAWN.has(t), t).toBe(true);
    this.snapshot = r.snapshot;
    this.effects = [...r.effects];
    this.log.push(`${from} -${e.type}-> ${this.state}`);
    return this.effects;
  }

  of<T extends PeerEffect['type']>(type: T): Extract<PeerEffect, { type: T }>[] {
    return this.effects.filter((e): e is Extract<PeerEffect, { type: T }> => e.type === type);
  }

  sent(): Uint8Array[] {
    return this.of('send').map((e) => e.bytes);
  }
}

function lite(
  role: 'initiator' | 'responder',
  signer: Signer,
  o: { instance?: string; nonce?: number } = {},
) {
  return liteHandshake({
    role,
    signer,
    verify: keyring.verify,
    instance: o.instance ?? 'test',
    version: 1,
    listen: role === 'initiator' ? 'addr-a' : 'addr-b',
    maxFrameBytes: 800,
    nonce: new Uint8Array(16).fill(o.nonce ?? (role === 'initiator' ? 1 : 2)),
  });
}

const link = (o: Partial<PeerInput['target']> = {}, signer = A): Driver =>
  new Driver({
    self: id(signer),
    policy: POLICY,
    target: { address: 'addr-b', persistent: true, ...o },
    seed: [11, 22, 33, 44],
  });
const inbound = (signer = B): Driver => new Driver({ self: id(signer), policy: POLICY });

const msg = (bytes: Uint8Array, now = 0): PeerMachineEvent => ({ type: 'message', now, bytes, binary: true });
const admit = (
  now = 0,
  existing: Existing = { kind: 'none' },
  o: { banned?: boolean; room?: boolean } = {},
) => ({ type: 'admission', now, banned: o.banned ?? false, existing, room: o.room ?? true }) as const;

/** Runs a dialler (a, at `out`) and a responder (b, at `inn`) up to both being admitted. */
function handshake(out: Driver, inn: Driver, now = 0, o: { outSigner?: Signer; inSigner?: Signer } = {}) {
  out.step({ type: 'dial', now, bannedUntil: 0, room: true });
  expect(out.state).toBe('dialing');
  inn.step({ type: 'accept', now, ...lite('responder', o.inSigner ?? B) });
  const helloB = inn.sent()[0]!;
  out.step({ type: 'socket-opened', now, ...lite('initiator', o.outSigner ?? A) });
  const helloA = out.sent()[0]!;
  inn.step(msg(helloA, now));
  expect(inn.state).toBe('handshaking.auth');
  out.step(msg(helloB, now));
  expect(out.state).toBe('handshaking.auth');
  const authA = out.sent()[0]!;
  inn.step(msg(authA, now));
  expect(inn.state).toBe('handshaking.admitting');
  return { authA };
}

/** Both ends open: a dialled link at a, an inbound connection at b. */
function openPair(now = 0): { out: Driver; inn: Driver } {
  const out = link();
  const inn = inbound();
  handshake(out, inn, now);
  inn.step(admit(now));
  expect(inn.state).toBe('open');
  const authB = inn.sent()[0]!;
  out.step(msg(authB, now));
  expect(out.state).toBe('handshaking.admitting');
  out.step(admit(now));
  expect(out.state).toBe('open');
  return { out, inn };
}

/** Carries every frame one end sends to the other, returning what the receiver did. */
function carry(from: Driver, to: Driver, now = 0): PeerEffect[] {
  const out: PeerEffect[] = [];
  for (const bytes of from.sent()) out.push(...to.step(msg(bytes, now)));
  return out;
}

describe('peer machine: opening a session', () => {
  it('a dialled link: dialing -> handshaking (hello, auth, admitting) -> open, both ends', () => {
    const out = link();
    const inn = inbound();
    out.step({ type: 'dial', now: 0, bannedUntil: 0, room: true });
    expect(out.effects).toEqual([
      { type: 'disarm', timer: 'redial' },
      { type: 'connect', address: 'addr-b', attempt: 0 },
      { type: 'arm', timer: 'handshake', at: POLICY.handshakeTimeoutMs },
    ]);
    handshake(out, inn, 0);
    // the responder proves nothing before it admits the initiator
    expect(inn.effects).toEqual([
      { type: 'disarm', timer: 'handshake' },
      { type: 'authenticated', peerId: id(A), listen: 'addr-a' },
    ]);
    inn.step(admit());
    expect(inn.of('up')).toEqual([
      { type: 'up', peerId: id(A), listen: 'addr-a', peerMaxFrameBytes: 800, replaces: 'none' },
    ]);
    // its answer leaves before anything else
    expect(inn.effects[0]!.type).toBe('send');
    out.step(msg(inn.sent()[0]!));
    expect(out.of('authenticated')).toEqual([{ type: 'authenticated', peerId: id(B), listen: 'addr-b' }]);
    out.step(admit());
    expect(out.state).toBe('open');
    expect(out.of('up')[0]).toMatchObject({ peerId: id(B), replaces: 'none' });
    expect(out.snapshot.context.link).toMatchObject({ upSince: 0, failures: 0, elsewhere: false });
  });

  it('frames and control messages both ways; a ping is answered, a pong keeps it alive', () => {
    const { out, inn } = openPair();
    out.step({ type: 'send', now: 1, channel: 3, payload: new Uint8Array([1, 2, 3]) });
    expect(carry(out, inn, 1)).toEqual([{ type: 'deliver', channel: 3, payload: new Uint8Array([1, 2, 3]) }]);
    inn.step({ type: 'send', now: 2, channel: 0, payload: new Uint8Array(0) });
    expect(carry(inn, out, 2)).toEqual([{ type: 'deliver', channel: 0, payload: new Uint8Array(0) }]);
    // ping at b, answered by a, the pong read by b
    inn.step({ type: 'ping-due', now: 2000 });
    expect(inn.state).toBe('open');
    const pong = carry(inn, out, 2000);
    expect(pong.map((e) => e.type)).toEqual(['send']);
    expect(carry(out, inn, 2001)).toEqual([]);
    expect(inn.snapshot.context.conn!.lastSeen).toBe(2001);
    // a peer list is passed on
    const entries = [{ address: 'ws://x:1', publicKey: C.publicKey }];
    out.step({
      type: 'send',
      now: 3,
      channel: CONTROL_CHANNEL,
      payload: encodeControl({ tag: 'peers', value: entries }),
    });
    expect(carry(out, inn, 3)).toEqual([{ type: 'peers', entries }]);
  });

  it('a frame larger than the peer accepts is dropped, not sent', () => {
    const { out } = openPair();
    out.step({ type: 'send', now: 1, channel: 1, payload: new Uint8Array(801) });
    expect(out.effects).toEqual([{ type: 'dropped', reason: 'oversize', limit: 800 }]);
    out.step({ type: 'send', now: 1, channel: 1, payload: new Uint8Array(800) });
    expect(out.of('send')).toHaveLength(1);
  });
});

describe('peer machine: refusals during the handshake', () => {
  it('another instance: refused without an offence, the link backs off', () => {
    const out = link();
    const inn = inbound();
    out.step({ type: 'dial', now: 0, bannedUntil: 0, room: true });
    inn.step({ type: 'accept', now: 0, ...lite('responder', B) });
    out.step({ type: 'socket-opened', now: 0, ...lite('initiator', A, { instance: 'other' }) });
    inn.step(msg(out.sent()[0]!));
    expect(inn.state).toBe('closed');
    expect(inn.of('close')[0]).toMatchObject({ reason: 'wrong-instance' });
    expect(inn.of('offence')).toEqual([]);
    out.step(msg(lite('responder', B).hello));
    expect(out.state).toBe('backoff');
    expect(out.of('close')[0]).toMatchObject({ reason: 'wrong-instance' });
    const redial = out.of('arm')[0]!;
    expect(redial.timer).toBe('redial');
    expect(redial.at).toBeGreaterThanOrEqual(50);
    expect(redial.at).toBeLessThanOrEqual(100);
  });

  it('garbage, a text message or a flood: an offence, banned (a link waits out the ban)', () => {
    const inn = inbound();
    inn.step({ type: 'accept', now: 0, ...lite('responder', B) });
    inn.step(msg(new Uint8Array([1, 2, 3])));
    expect(inn.state).toBe('banned');
    expect(inn.of('offence')).toEqual([{ type: 'offence', reason: 'undecodable' }]);

    const text = inbound();
    text.step({ type: 'accept', now: 0, ...lite('responder', B) });
    text.step({ type: 'message', now: 0, bytes: new Uint8Array([1]), binary: false });
    expect(text.of('close')[0]).toMatchObject({ reason: 'protocol', detail: 'text message' });

    const out = link();
    out.step({ type: 'dial', now: 0, bannedUntil: 0, room: true });
    out.step({ type: 'socket-opened', now: 0, ...lite('initiator', A) });
    out.step(msg(new Uint8Array([7, 7, 7])));
    expect(out.state).toBe('banned');
    // the address is not dialled before the ban ends
    expect(out.of('arm')).toEqual([{ type: 'arm', timer: 'redial', at: POLICY.banMs }]);
    out.step({ type: 'dial', now: POLICY.banMs - 1, bannedUntil: 0, room: true });
    expect(out.state).toBe('banned');
    out.step({ type: 'dial', now: POLICY.banMs, bannedUntil: 0, room: true });
    expect(out.state).toBe('dialing');

    // more frames in a second than the limit: flood
    const { out: sender, inn: receiver } = openPair();
    let delivered = 0;
    for (let i = 0; i <= POLICY.framesPerSecond; i++) {
      sender.step({ type: 'send', now: 0, channel: 1, payload: new Uint8Array([i]) });
      receiver.step(msg(sender.sent()[0]!, 0));
      delivered += receiver.of('deliver').length;
      if (receiver.state !== 'open') break;
    }
    expect(receiver.state).toBe('banned');
    expect(receiver.of('close')[0]).toMatchObject({ reason: 'flood', detail: 'more than 20 frames/s' });
    // the handshake's two messages took from the same bucket
    expect(delivered).toBe(POLICY.framesPerSecond - 2);
  });

  it('a forged auth: bad-signature, an offence of the unproven peer', () => {
    const out = link();
    const inn = inbound();
    // the auth names a's key but is signed with c's
    const forged: Signer = { publicKey: A.publicKey, sign: (m) => C.sign(m) };
    out.step({ type: 'dial', now: 0, bannedUntil: 0, room: true });
    inn.step({ type: 'accept', now: 0, ...lite('responder', B) });
    const helloB = inn.sent()[0]!;
    out.step({ type: 'socket-opened', now: 0, ...lite('initiator', forged) });
    inn.step(msg(out.sent()[0]!));
    out.step(msg(helloB));
    inn.step(msg(out.sent()[0]!));
    // the responder refused it before admitting anyone, and sent nothing
    expect(inn.state).toBe('banned');
    expect(inn.of('offence')).toEqual([{ type: 'offence', reason: 'bad-signature' }]);
    expect(inn.sent()).toEqual([]);
  });

  it('the handshake must finish in time', () => {
    const out = link();
    out.step({ type: 'dial', now: 0, bannedUntil: 0, room: true });
    out.step({ type: 'handshake-timeout', now: 1000 });
    expect(out.state).toBe('backoff');
    expect(out.of('close')[0]).toMatchObject({ reason: 'handshake-timeout' });
    expect(out.of('disarm')).toContainEqual({ type: 'disarm', timer: 'handshake' });
  });

  it('our own hello came back: both ends end as self, and the address is not dialled again', () => {
    const out = link();
    out.step({ type: 'dial', now: 0, bannedUntil: 0, room: true });
    out.step({ type: 'socket-opened', now: 0, ...lite('initiator', A) });
    out.step({ type: 'ourselves', now: 0 });
    expect(out.state).toBe('closed');
    expect(out.of('close')[0]).toMatchObject({ reason: 'self', detail: 'dialled our own address' });
    expect(out.of('forget')).toEqual([{ type: 'forget', reason: 'self' }]);
  });

  it('admission: ourselves, a pinned identity, a ban, a duplicate that loses, no room', () => {
    const cases: [string, () => Driver, PeerMachineEvent, string][] = [
      ['self', () => link({}, B), admit(), 'closed'],
      ['wrong-identity', () => link({ pinned: id(C) }), admit(), 'backoff'],
      ['banned', () => link(), admit(0, { kind: 'none' }, { banned: true }), 'backoff'],
      ['duplicate', () => link(), admit(0, { kind: 'open', rank: '' }), 'parked'],
      ['too-many-peers', () => link(), admit(0, { kind: 'none' }, { room: false }), 'backoff'],
    ];
    for (const [reason, make, admission, after] of cases) {
      const out = make();
      const inn = inbound();
      handshake(out, inn, 0);
      inn.step(admit());
      out.step(msg(inn.sent()[0]!));
      expect(out.state, reason).toBe('handshaking.admitting');
      out.step(admission);
      expect(out.of('close')[0]?.reason, reason).toBe(reason);
      expect(out.state, reason).toBe(after);
      expect(out.of('up'), reason).toEqual([]);
      // only an identity past the self and pin checks is named in the refusal
      const named = reason !== 'self' && reason !== 'wrong-identity';
      expect(out.of('close')[0]!.peer !== undefined, reason).toBe(named);
    }
  });

  it('duplicates: the connection dialled by the smaller key wins, on both ends alike', () => {
    // a dials b (rank a:t1) while an older connection b dialled exists (rank b:t0)
    const { out } = (() => {
      const o = link();
      const i = inbound();
      handshake(o, i, 0);
      i.step(admit());
      o.step(msg(i.sent()[0]!));
      return { out: o };
    })();
    const mine = out.snapshot.context.conn!.rank!;
    expect(mine.startsWith(`${id(A)}:`)).toBe(true);
    const theirs = `${id(B)}:00`;
    const r = stepPeer(out.snapshot, admit(0, { kind: 'open', rank: theirs }));
    const wins = mine < theirs;
    expect(peerStateOf(r.snapshot)).toBe(wins ? 'open' : 'parked');
    if (wins) expect(r.effects.find((e) => e.type === 'up')).toMatchObject({ replaces: 'open' });
  });
});

describe('peer machine: the session and its end', () => {
  it('a silent peer is dropped at the ping after the idle timeout; the link redials with backoff', () => {
    const { out } = openPair();
    out.step({ type: 'ping-due', now: 3000 });
    expect(out.state).toBe('open');
    out.step({ type: 'ping-due', now: 3001 });
    expect(out.state).toBe('backoff');
    expect(out.of('close')[0]).toMatchObject({ reason: 'timeout', detail: 'silent for 3001 ms' });
    expect(out.of('down')).toEqual([
      { type: 'down', reason: 'timeout', detail: 'silent for 3001 ms', orphan: false },
    ]);
  });

  it('penalised to the threshold: banned until the ban ends, then dialled again', () => {
    const { out, inn } = openPair();
    inn.step({ type: 'penalised', now: 5, reason: 'bad-vote', until: 60_005 });
    expect(inn.state).toBe('banned');
    expect(inn.of('down')).toEqual([
      { type: 'down', reason: 'penalised', detail: 'bad-vote', orphan: false },
    ]);
    out.step({ type: 'penalised', now: 5, reason: 'bad-vote', until: 60_005 });
    expect(out.of('arm')).toContainEqual({ type: 'arm', timer: 'redial', at: 60_005 });
    out.step({ type: 'dial', now: 60_005, bannedUntil: 0, room: true });
    expect(out.state).toBe('dialing');
  });

  it('an offence in session: the identity is named, banned', () => {
    const { inn } = openPair();
    inn.step(msg(new Uint8Array([0, 0, 0, 9, 1, 2])));
    expect(inn.state).toBe('banned');
    expect(inn.of('offence')).toEqual([{ type: 'offence', reason: 'replay', peer: id(A) }]);
    expect(inn.of('down')[0]).toMatchObject({ reason: 'replay' });
  });

  it('replaced by a duplicate: retiring delivers frames in flight, then stands by while connected elsewhere', () => {
    const { out, inn } = openPair();
    inn.step({ type: 'send', now: 1, channel: 2, payload: new Uint8Array([7]) });
    out.step({ type: 'replaced', now: 1 });
    expect(out.state).toBe('retiring');
    expect(out.effects).toEqual([{ type: 'retire', peer: id(B) }]);
    expect(carry(inn, out, 1)).toEqual([{ type: 'deliver', channel: 2, payload: new Uint8Array([7]) }]);
    out.step({ type: 'socket-closed', now: 2, clean: true, peerReason: 'duplicate', detail: 'duplicate' });
    expect(out.state).toBe('parked');
    expect(out.effects.filter((e) => e.type === 'down' || e.type === 'close')).toEqual([]);
    out.step({ type: 'peer-down', now: 10 });
    expect(out.state).toBe('backoff');
    expect(out.of('arm')[0]!.timer).toBe('redial');
  });

  it('replaced by the peer: the session is orphaned (its successor is due), the link stands by', () => {
    const { out } = openPair();
    out.step({ type: 'socket-closed', now: 1, clean: true, peerReason: 'duplicate', detail: 'duplicate' });
    expect(out.of('down')).toEqual([
      { type: 'down', reason: 'closed-by-peer', detail: 'duplicate', orphan: true },
    ]);
    expect(out.state).toBe('parked');
  });

  it('the peer refusing us as its own identity slows our redials to the slowest pace', () => {
    const out = link();
    out.step({ type: 'dial', now: 0, bannedUntil: 0, room: true });
    out.step({ type: 'socket-opened', now: 0, ...lite('initiator', A) });
    out.step({ type: 'socket-closed', now: 1, clean: true, peerReason: 'self', detail: 'self' });
    expect(out.state).toBe('backoff');
    expect(out.of('arm')[0]!.at).toBeGreaterThanOrEqual(1 + POLICY.backoff.maxMs / 2);
  });

  it('shutdown from any state ends in closed; an open session reports down', () => {
    const { out, inn } = openPair();
    out.step({ type: 'shutdown', now: 1 });
    expect(out.state).toBe('closed');
    expect(out.of('close')[0]).toMatchObject({ reason: 'shutdown' });
    expect(out.of('down')[0]).toMatchObject({ reason: 'shutdown' });
    const idle = link();
    idle.step({ type: 'shutdown', now: 0 });
    expect(idle.state).toBe('closed');
    inn.step({ type: 'replaced', now: 1 });
    inn.step({ type: 'shutdown', now: 1 });
    expect(inn.state).toBe('closed');
  });
});

describe('peer machine: the link between connections', () => {
  it('backoff doubles up to the cap, with jitter, and resets after a stable session', () => {
    const out = link();
    const delays: number[] = [];
    let now = 0;
    for (let i = 0; i < 7; i++) {
      out.step({ type: 'dial', now, bannedUntil: 0, room: true });
      out.step({ type: 'socket-closed', now, clean: false, peerReason: '', detail: 'refused' });
      expect(out.state).toBe('backoff');
      const at = out.of('arm')[0]!.at;
      delays.push(at - now);
      now = at;
    }
    delays.forEach((d, i) => {
      const cap = Math.min(POLICY.backoff.maxMs, POLICY.backoff.initialMs * 2 ** i);
      expect(d).toBeGreaterThanOrEqual(cap / 2);
      expect(d).toBeLessThanOrEqual(cap);
    });
    // a session that lasted long enough resets the attempts
    const { out: again } = openPair();
    again.step({ type: 'socket-closed', now: 10_000, clean: false, peerReason: '', detail: 'lost' });
    expect(again.snapshot.context.link!.attempts).toBe(1);
    expect(again.of('arm')[0]!.at - 10_000).toBeLessThanOrEqual(POLICY.backoff.initialMs);
  });

  it('the same seed gives the same redial times; another seed other ones', () => {
    const times = (seed: [number, number, number, number]) => {
      const d = new Driver({
        self: id(A),
        policy: POLICY,
        target: { address: 'x', persistent: true },
        seed,
      });
      const out: number[] = [];
      for (let i = 0; i < 5; i++) {
        d.step({ type: 'dial', now: i, bannedUntil: 0, room: true });
        d.step({ type: 'handshake-timeout', now: i });
        out.push(d.of('arm')[0]!.at);
      }
      return out;
    };
    expect(times([1, 2, 3, 4])).toEqual(times([1, 2, 3, 4]));
    expect(times([1, 2, 3, 4])).not.toEqual(times([5, 6, 7, 8]));
  });

  it('a learned address is forgotten after repeated failures or at once for a final reason', () => {
    const learned = link({ persistent: false });
    for (let i = 0; i < POLICY.learnedMaxFailures; i++) {
      learned.step({ type: 'dial', now: i, bannedUntil: 0, room: true });
      learned.step({ type: 'handshake-timeout', now: i });
    }
    expect(learned.state).toBe('closed');
    expect(learned.of('forget')).toEqual([{ type: 'forget', reason: 'failed' }]);
    // an offence there: forgotten, not waited out
    const offending = link({ persistent: false });
    offending.step({ type: 'dial', now: 0, bannedUntil: 0, room: true });
    offending.step({ type: 'socket-opened', now: 0, ...lite('initiator', A) });
    offending.step(msg(new Uint8Array([9])));
    expect(offending.state).toBe('closed');
    // no room for it: it stays idle; a configured address is dialled regardless
    const full = link({ persistent: false });
    full.step({ type: 'dial', now: 0, bannedUntil: 0, room: false });
    expect(full.state).toBe('idle');
    const configured = link();
    configured.step({ type: 'dial', now: 0, bannedUntil: 0, room: false });
    expect(configured.state).toBe('dialing');
  });

  it('the peer connected through another connection: no redial until that session goes down', () => {
    const out = link();
    out.step({ type: 'dial', now: 0, bannedUntil: 0, room: true });
    out.step({ type: 'handshake-timeout', now: 1 });
    expect(out.state).toBe('backoff');
    out.step({ type: 'peer-up', now: 2 });
    expect(out.state).toBe('parked');
    expect(out.effects).toEqual([{ type: 'disarm', timer: 'redial' }]);
    out.step({ type: 'peer-down', now: 3 });
    expect(out.state).toBe('backoff');
  });

  it('an identity ban known at dial time is waited out', () => {
    const out = link();
    out.step({ type: 'dial', now: 0, bannedUntil: 500, room: true });
    expect(out.state).toBe('banned');
    expect(out.effects).toEqual([{ type: 'arm', timer: 'redial', at: 500 }]);
  });
});
