/**
 * The simulator's handshake and channel for the peer session machine (peer/machine.ts): the live
 * protocol's shape (node/net/protocol.ts: hellos cross with the version, the instance and a fresh
 * nonce; the initiator proves its identity first by signing the transcript under its role label;
 * the responder answers only once it has admitted the initiator; frames carry a counter that must
 * go up by exactly one) without its cost: no key exchange and no encryption, since nothing in the
 * simulator eavesdrops. Identities are proven with the node's signer (the simulator's keyed hash,
 * or ed25519), so a node cannot claim another's identity here either.
 */
import type { HandshakeReply, ProvenPeer, SessionChannel, SessionHandshake } from '../peer/machine.ts';
import { sha256, toHex } from '../wire/commit.ts';
import { encode, s, tryDecode } from '../wire/schema.ts';
import type { Signer, Verifier } from '../wire/sign.ts';

const MAX_HANDSHAKE_BYTES = 4096;

const Hello = s.struct({
  version: s.u32(),
  instance: s.string({ max: 128 }),
  nonce: s.bytes({ length: 16 }),
});

const Auth = s.struct({
  publicKey: s.bytes({ length: 32 }),
  signature: s.bytes({ length: 64 }),
  listen: s.option(s.string({ max: 256 })),
  maxFrameBytes: s.u32(),
});

type Role = 'initiator' | 'responder';

const utf8 = new TextEncoder();
const AUTH_DOMAIN: Record<Role, Uint8Array> = {
  initiator: utf8.encode('fractal/sim/auth/initiator'),
  responder: utf8.encode('fractal/sim/auth/responder'),
};

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

export interface LiteOptions {
  readonly role: Role;
  readonly signer: Signer;
  readonly verify: Verifier;
  readonly instance: string;
  readonly version: number;
  /** the address peers dial us at (the node's id in the simulator) */
  readonly listen: string | null;
  readonly maxFrameBytes: number;
  /** 16 fresh bytes (from the simulator's seeded stream) */
  readonly nonce: Uint8Array;
}

// a payload keeps its identity across the simulated wire: a broadcast frame is one object at
// every receiver, as the simulator's oracles expect (they look at each frame object once)
const payloads = new WeakMap<Uint8Array, Uint8Array>();

/** A channel as a value: frames are `counter (u32 BE) ‖ channel (u8) ‖ payload`, in the clear. */
class LiteChannel implements SessionChannel {
  constructor(
    readonly sent: number,
    readonly received: number,
  ) {}

  seal(channel: number, payload: Uint8Array): { next: SessionChannel; wire: Uint8Array } {
    const wire = new Uint8Array(5 + payload.length);
    new DataView(wire.buffer).setUint32(0, this.sent);
    wire[4] = channel;
    wire.set(payload, 5);
    payloads.set(wire, payload);
    return { next: new LiteChannel(this.sent + 1, this.received), wire };
  }

  open(wire: Uint8Array): ReturnType<SessionChannel['open']> {
    if (wire.length < 5) return { ok: false, reason: 'undecodable', detail: 'frame shorter than its header' };
    const counter = new DataView(wire.buffer, wire.byteOffset, 4).getUint32(0);
    if (counter !== this.received) return { ok: false, reason: 'replay', detail: 'counter out of order' };
    const payload = payloads.get(wire) ?? wire.subarray(5);
    return { ok: true, next: new LiteChannel(this.sent, this.received + 1), channel: wire[4]!, payload };
  }
}

/** One side of the handshake, as a value. */
class LiteHandshake implements SessionHandshake {
  constructor(
    readonly o: LiteOptions,
    readonly hello: Uint8Array,
    /** the transcript, once the peer's hello is in */
    readonly transcript: Uint8Array | undefined,
  ) {}

  receive(msg: Uint8Array): HandshakeReply {
    if (msg.length > MAX_HANDSHAKE_BYTES)
      return {
        kind: 'refused',
        reason: 'oversize-frame',
        detail: `handshake message of ${msg.length} bytes`,
      };
    return this.transcript === undefined ? this.#onHello(msg) : this.#onAuth(msg, this.transcript);
  }

  #auth(transcript: Uint8Array): Uint8Array {
    const o = this.o;
    return encode(Auth, {
      publicKey: o.signer.publicKey,
      signature: o.signer.sign(concat(AUTH_DOMAIN[o.role], transcript)),
      listen: o.listen,
      maxFrameBytes: o.maxFrameBytes,
    });
  }

  #onHello(msg: Uint8Array): HandshakeReply {
    const r = tryDecode(Hello, msg);
    if (!r.ok) return { kind: 'refused', reason: 'undecodable', detail: `hello: ${r.error.message}` };
    const o = this.o;
    if (r.value.version !== o.version)
      return {
        kind: 'refused',
        reason: 'wrong-version',
        detail: `peer speaks version ${r.value.version}, we speak ${o.version}`,
      };
    if (r.value.instance !== o.instance)
      return {
        kind: 'refused',
        reason: 'wrong-instance',
        detail: `peer is on instance "${r.value.instance}", we are on "${o.instance}"`,
      };
    const initiator = o.role === 'initiator';
    const transcript = sha256(initiator ? concat(this.hello, msg) : concat(msg, this.hello));
    const next = new LiteHandshake(o, this.hello, transcript);
    // the initiator proves itself first (frame 0 of its direction); the responder waits for it
    return initiator
      ? { kind: 'continue', next, send: new LiteChannel(0, 0).seal(0, this.#auth(transcript)).wire }
      : { kind: 'continue', next };
  }

  #onAuth(msg: Uint8Array, transcript: Uint8Array): HandshakeReply {
    const opened = new LiteChannel(0, 0).open(msg);
    if (!opened.ok) return { kind: 'refused', reason: 'undecodable', detail: 'auth: does not open' };
    const r = tryDecode(Auth, opened.payload);
    if (!r.ok) return { kind: 'refused', reason: 'undecodable', detail: `auth: ${r.error.message}` };
    const auth = r.value;
    const peerRole: Role = this.o.role === 'initiator' ? 'responder' : 'initiator';
    if (!this.o.verify(auth.publicKey, concat(AUTH_DOMAIN[peerRole], transcript), auth.signature))
      return { kind: 'refused', reason: 'bad-signature', detail: 'the peer did not prove its identity' };
    const responder = this.o.role === 'responder';
    // frame 0 went each way in the handshake (the auths): the session's frames start at 1
    const channel = new LiteChannel(responder ? 0 : 1, 1);
    const reply = responder ? channel.seal(0, this.#auth(transcript)) : undefined;
    const proven: ProvenPeer = {
      peerId: toHex(auth.publicKey),
      listen: auth.listen,
      peerMaxFrameBytes: auth.maxFrameBytes,
      transcript: toHex(transcript),
      channel: reply?.next ?? channel,
    };
    return reply === undefined ? { kind: 'proven', proven } : { kind: 'proven', proven, send: reply.wire };
  }
}

/** A fresh side of the handshake and its hello. */
export function liteHandshake(o: LiteOptions): { handshake: SessionHandshake; hello: Uint8Array } {
  const hello = encode(Hello, { version: o.version, instance: o.instance, nonce: o.nonce });
  return { handshake: new LiteHandshake(o, hello, undefined), hello };
}
