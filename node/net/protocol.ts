/**
 * The transport protocol without sockets: handshake messages, key schedule, the encrypted frame
 * layer and control messages. `Handshake` is a pure state machine (bytes in, bytes out) that the
 * network drives over a WebSocket and tests drive by hand.
 *
 * Handshake (the dialler is the initiator I, the listener the responder R; hellos cross):
 *
 *   I → R   hello_I = { version, instance, ephemeral x25519 e_I, nonce_I (32 random bytes), ext }
 *   R → I   hello_R = { version, instance, e_R, nonce_R, ext }
 *           both: versions and instances must match
 *           th   = sha256("fractal/net/v1/transcript" ‖ len ‖ hello_I ‖ len ‖ hello_R)
 *           keys = HKDF-SHA256(ikm = X25519(e, e'), salt = th, info = "fractal/net/v1/keys", 64)
 *                  → k_IR ‖ k_RI (one ChaCha20-Poly1305 key per direction)
 *   I → R   seal(k_IR, #0, auth_I = { ed25519 pub A_I, sig_I, listen address?, max frame bytes })
 *           R verifies sig_I and decides (banned? ourselves? duplicate? full?) before answering
 *   R → I   seal(k_RI, #0, auth_R)      sig_X = Ed25519(A_X, "fractal/net/v1/auth/<role>" ‖ th)
 *
 * Each side signs the transcript hash (which covers both fresh nonces and ephemeral keys) under its
 * own role label, so a signature cannot be replayed in another session nor reflected back; the
 * auth messages travel encrypted, so identities are not visible to a passive observer. Since R
 * answers only after accepting I, a refused initiator never sees a completed handshake.
 *
 * Frames after the handshake: `counter (u64 big-endian) ‖ ChaCha20-Poly1305(k_dir, nonce =
 * 0x00000000 ‖ counter, aad = counter, channel (u8) ‖ payload)`. Counters start at 0 with the auth
 * message and go up by one per message in each direction; a receiver accepts only the next one.
 */
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { aead, KEY_BYTES, NONCE_BYTES, TAG_BYTES } from '../../crypto/aead.ts';
import type {
  HandshakeFailure,
  HandshakeReply,
  SessionChannel,
  SessionHandshake,
} from '../../peer/machine.ts';
import { sha256, toHex } from '../../wire/commit.ts';
import { encode, type Infer, s, tryDecode } from '../../wire/schema.ts';
import { createSigner, type Signer, verify } from '../../wire/sign.ts';

// the control channel's messages are the peer session's (the simulator's sessions carry them too)
export {
  CONTROL_CHANNEL,
  Control,
  decodeControl,
  encodeControl,
  MAX_APP_CHANNEL,
  MAX_PEX_ENTRIES,
  PeerAddress,
} from '../../peer/control.ts';

export const PROTOCOL_VERSION = 1;
/** Bytes an encrypted frame adds to its payload: counter, channel byte, tag. */
export const FRAME_OVERHEAD = 8 + 1 + TAG_BYTES;
/** Largest handshake message accepted (hello and auth are a few hundred bytes). */
export const MAX_HANDSHAKE_BYTES = 4096;
export const MAX_INSTANCE_BYTES = 128;

const utf8 = new TextEncoder();
const TRANSCRIPT_DOMAIN = utf8.encode('fractal/net/v1/transcript');
const KEYS_INFO = utf8.encode('fractal/net/v1/keys');
const AUTH_DOMAIN = {
  initiator: utf8.encode('fractal/net/v1/auth/initiator'),
  responder: utf8.encode('fractal/net/v1/auth/responder'),
};

// --- messages ----------------------------------------------------------------------------------

export const Hello = s.struct({
  version: s.u32(),
  instance: s.string({ max: MAX_INSTANCE_BYTES }),
  ephemeral: s.bytes({ length: 32 }),
  nonce: s.bytes({ length: 32 }),
  /** reserved for extensions; empty in version 1 and ignored */
  ext: s.bytes({ max: 1024 }),
});
export type Hello = Infer<typeof Hello>;

export const Auth = s.struct({
  publicKey: s.bytes({ length: 32 }),
  signature: s.bytes({ length: 64 }),
  /** where the sender accepts connections (`ws://host:port`), if it listens */
  listen: s.option(s.string({ max: 256 })),
  /** the largest frame payload the sender accepts */
  maxFrameBytes: s.u32(),
});
export type Auth = Infer<typeof Auth>;

// --- x25519 and the key schedule ------------------------------------------------------------------

const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

export interface Ephemeral {
  readonly publicKey: Uint8Array;
  readonly privateKey: KeyObject;
}

export function generateEphemeral(): Ephemeral {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  const der = publicKey.export({ format: 'der', type: 'spki' });
  return { publicKey: new Uint8Array(der.subarray(der.length - 32)), privateKey };
}

/** X25519(e, peer); undefined for a malformed or low-order peer key (an all-zero secret). */
export function x25519Shared(own: KeyObject, peer: Uint8Array): Uint8Array | undefined {
  if (peer.length !== 32) return undefined;
  try {
    const pub = createPublicKey({
      key: Buffer.concat([X25519_SPKI_PREFIX, peer]),
      format: 'der',
      type: 'spki',
    });
    const secret = new Uint8Array(diffieHellman({ privateKey: own, publicKey: pub }));
    let acc = 0;
    for (const b of secret) acc |= b;
    return acc === 0 ? undefined : secret;
  } catch {
    return undefined;
  }
}

/** For tests: an x25519 private key from 32 raw bytes. */
export function x25519PrivateKey(raw: Uint8Array): KeyObject {
  const prefix = Buffer.from('302e020100300506032b656e04220420', 'hex');
  return createPrivateKey({ key: Buffer.concat([prefix, raw]), format: 'der', type: 'pkcs8' });
}

function u32be(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function transcriptHash(helloInitiator: Uint8Array, helloResponder: Uint8Array): Uint8Array {
  return sha256(
    concat(
      TRANSCRIPT_DOMAIN,
      u32be(helloInitiator.length),
      helloInitiator,
      u32be(helloResponder.length),
      helloResponder,
    ),
  );
}

/** The two directional keys: initiator→responder, responder→initiator. */
export function sessionKeys(
  shared: Uint8Array,
  transcript: Uint8Array,
): { i2r: Uint8Array; r2i: Uint8Array } {
  const okm = new Uint8Array(hkdfSync('sha256', shared, transcript, KEYS_INFO, 2 * KEY_BYTES));
  return { i2r: okm.slice(0, KEY_BYTES), r2i: okm.slice(KEY_BYTES) };
}

export type Role = 'initiator' | 'responder';

/** What a side signs: its role label and the transcript hash. */
export function authMessage(role: Role, transcript: Uint8Array): Uint8Array {
  return concat(AUTH_DOMAIN[role], transcript);
}

// --- the encrypted frame layer --------------------------------------------------------------------

export type OpenResult =
  | { ok: true; plaintext: Uint8Array }
  | { ok: false; reason: 'undecodable' | 'replay' };

/** A channel's keys and counters: a value; sealing or opening gives the next one. */
export interface ChannelState {
  readonly sendKey: Uint8Array;
  readonly recvKey: Uint8Array;
  readonly sent: number;
  readonly received: number;
}

/** `counter ‖ seal(plaintext)` with the next send counter. */
export function sealWith(c: ChannelState, plaintext: Uint8Array): { next: ChannelState; wire: Uint8Array } {
  const header = counterBytes(c.sent);
  const sealed = aead.seal(c.sendKey, nonceOf(header), plaintext, header);
  const wire = new Uint8Array(header.length + sealed.length);
  wire.set(header, 0);
  wire.set(sealed, header.length);
  return { next: { ...c, sent: c.sent + 1 }, wire };
}

/** Opens the next message: a genuine frame with a counter other than the expected one (reused or
 * out of order) is `replay`; anything that does not authenticate is `undecodable`. A refused
 * message leaves the channel as it was. */
export function openWith(c: ChannelState, wire: Uint8Array): { next: ChannelState; result: OpenResult } {
  if (wire.length < 8 + TAG_BYTES) return { next: c, result: { ok: false, reason: 'undecodable' } };
  const header = wire.subarray(0, 8);
  const view = new DataView(header.buffer, header.byteOffset, 8);
  const counter = view.getUint32(0) * 2 ** 32 + view.getUint32(4);
  const plaintext = aead.open(c.recvKey, nonceOf(header), wire.subarray(8), header);
  // a frame that authenticates under another counter is a genuine frame replayed or reordered
  if (counter !== c.received)
    return { next: c, result: { ok: false, reason: plaintext === undefined ? 'undecodable' : 'replay' } };
  if (plaintext === undefined) return { next: c, result: { ok: false, reason: 'undecodable' } };
  return { next: { ...c, received: c.received + 1 }, result: { ok: true, plaintext } };
}

function framePlaintext(channel: number, payload: Uint8Array): Uint8Array {
  const plain = new Uint8Array(1 + payload.length);
  plain[0] = channel;
  plain.set(payload, 1);
  return plain;
}

/** One direction pair of an established session: counter nonces, one key per direction. */
export class SecureChannel {
  #c: ChannelState;

  constructor(sendKey: Uint8Array, recvKey: Uint8Array, sent = 0, received = 0) {
    this.#c = { sendKey, recvKey, sent, received };
  }

  get sent(): number {
    return this.#c.sent;
  }

  get received(): number {
    return this.#c.received;
  }

  /** `counter ‖ seal(plaintext)` with the next send counter. */
  seal(plaintext: Uint8Array): Uint8Array {
    const r = sealWith(this.#c, plaintext);
    this.#c = r.next;
    return r.wire;
  }

  /** A frame's plaintext: `channel ‖ payload`, sealed. */
  sealFrame(channel: number, payload: Uint8Array): Uint8Array {
    return this.seal(framePlaintext(channel, payload));
  }

  /** Opens the next message (see `openWith`). */
  open(wire: Uint8Array): OpenResult {
    const r = openWith(this.#c, wire);
    this.#c = r.next;
    return r.result;
  }
}

/** The channel as the peer session machine holds it (peer/machine.ts): frames are `channel ‖ payload`. */
export class SealedChannel implements SessionChannel {
  constructor(readonly state: ChannelState) {}

  seal(channel: number, payload: Uint8Array): { next: SessionChannel; wire: Uint8Array } {
    const r = sealWith(this.state, framePlaintext(channel, payload));
    return { next: new SealedChannel(r.next), wire: r.wire };
  }

  open(wire: Uint8Array): ReturnType<SessionChannel['open']> {
    const { next, result } = openWith(this.state, wire);
    if (!result.ok) {
      const detail = result.reason === 'replay' ? 'counter out of order' : 'frame does not decrypt';
      return { ok: false, reason: result.reason, detail };
    }
    const plain = result.plaintext;
    if (plain.length < 1) return { ok: false, reason: 'undecodable', detail: 'empty frame' };
    return { ok: true, next: new SealedChannel(next), channel: plain[0]!, payload: plain.subarray(1) };
  }
}

function counterBytes(n: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, Math.floor(n / 2 ** 32));
  v.setUint32(4, n >>> 0);
  return b;
}

function nonceOf(header: Uint8Array): Uint8Array {
  const nonce = new Uint8Array(NONCE_BYTES);
  nonce.set(header, NONCE_BYTES - 8);
  return nonce;
}

// --- the handshake ------------------------------------------------------------------------------

// why a handshake can fail: the peer session machine's word for it (peer/machine.ts)
export type { HandshakeFailure } from '../../peer/machine.ts';

export interface HandshakeResult {
  /** the peer's proven ed25519 public key */
  readonly peerKey: Uint8Array;
  readonly peerId: string;
  /** the listen address the peer advertised, as sent */
  readonly listen: string | null;
  readonly peerMaxFrameBytes: number;
  readonly channel: SecureChannel;
  /** the transcript hash: a session id both sides share */
  readonly transcript: Uint8Array;
  readonly role: Role;
}

/**
 * What to do after a message. With both `send` and `done` (the responder's last step), `send` is
 * the responder's auth: send it only when accepting the peer, and before anything else.
 */
export type HandshakeStep =
  | { ok: true; send?: Uint8Array; done?: HandshakeResult }
  | { ok: false; reason: HandshakeFailure; detail: string };

export interface HandshakeOptions {
  readonly role: Role;
  /** the node's ed25519 seed, or a signer */
  readonly identity: Uint8Array | Signer;
  readonly instance: string;
  readonly version: number;
  readonly listen?: string | null;
  readonly maxFrameBytes: number;
  /** for tests: fixed ephemeral key and nonce */
  readonly ephemeral?: Ephemeral;
  readonly nonce?: Uint8Array;
}

/** One side of the handshake as a value: what it sent, and what it learned so far. */
export interface HandshakeState {
  readonly o: HandshakeOptions;
  readonly signer: Signer;
  readonly ephemeral: Ephemeral;
  readonly hello: Uint8Array;
  readonly stage: 'hello' | 'auth' | 'done' | 'failed';
  readonly transcript?: Uint8Array;
  readonly channel?: ChannelState;
  /** our auth message, encoded (the responder seals it as its answer) */
  readonly auth?: Uint8Array;
}

/** A step of the handshake as values: `done.channel` is the channel's state. */
export type HandshakeStateStep =
  | { ok: true; send?: Uint8Array; done?: Omit<HandshakeResult, 'channel'> & { channel: ChannelState } }
  | { ok: false; reason: HandshakeFailure; detail: string };

/** The start of one side of the handshake: its state and its hello (fresh randomness unless given). */
export function startHandshake(o: HandshakeOptions): HandshakeState {
  const signer = o.identity instanceof Uint8Array ? createSigner(o.identity) : o.identity;
  const ephemeral = o.ephemeral ?? generateEphemeral();
  const hello = encode(Hello, {
    version: o.version,
    instance: o.instance,
    ephemeral: ephemeral.publicKey,
    nonce: o.nonce ?? new Uint8Array(randomBytes(32)),
    ext: new Uint8Array(0),
  });
  return { o, signer, ephemeral, hello, stage: 'hello' };
}

/** One message from the peer: the next state and what to do. */
export function receiveHandshake(
  h: HandshakeState,
  msg: Uint8Array,
): { next: HandshakeState; step: HandshakeStateStep } {
  const r = receiveStep(h, msg);
  return r.step.ok ? r : { next: { ...h, stage: 'failed' }, step: r.step };
}

function receiveStep(h: HandshakeState, msg: Uint8Array): { next: HandshakeState; step: HandshakeStateStep } {
  if (msg.length > MAX_HANDSHAKE_BYTES) {
    return {
      next: h,
      step: { ok: false, reason: 'oversize-frame', detail: `handshake message of ${msg.length} bytes` },
    };
  }
  switch (h.stage) {
    case 'hello':
      return onHello(h, msg);
    case 'auth':
      return onAuth(h, msg);
    default:
      return {
        next: h,
        step: { ok: false, reason: 'protocol', detail: `message after the handshake ${h.stage}` },
      };
  }
}

function onHello(h: HandshakeState, msg: Uint8Array): { next: HandshakeState; step: HandshakeStateStep } {
  const fail = (reason: HandshakeFailure, detail: string) => ({
    next: h,
    step: { ok: false, reason, detail } as const,
  });
  const r = tryDecode(Hello, msg);
  if (!r.ok) return fail('undecodable', `hello: ${r.error.message}`);
  const hello = r.value;
  if (hello.version !== h.o.version) {
    return fail('wrong-version', `peer speaks version ${hello.version}, we speak ${h.o.version}`);
  }
  if (hello.instance !== h.o.instance) {
    return fail('wrong-instance', `peer is on instance "${hello.instance}", we are on "${h.o.instance}"`);
  }
  const shared = x25519Shared(h.ephemeral.privateKey, hello.ephemeral);
  if (shared === undefined) return fail('protocol', 'unusable ephemeral key');
  const initiator = h.o.role === 'initiator';
  const transcript = initiator ? transcriptHash(h.hello, msg) : transcriptHash(msg, h.hello);
  const keys = sessionKeys(shared, transcript);
  const channel: ChannelState = initiator
    ? { sendKey: keys.i2r, recvKey: keys.r2i, sent: 0, received: 0 }
    : { sendKey: keys.r2i, recvKey: keys.i2r, sent: 0, received: 0 };
  const auth = encode(Auth, {
    publicKey: h.signer.publicKey,
    signature: h.signer.sign(authMessage(h.o.role, transcript)),
    listen: h.o.listen ?? null,
    maxFrameBytes: h.o.maxFrameBytes,
  });
  const next: HandshakeState = { ...h, transcript, channel, auth, stage: 'auth' };
  if (!initiator) return { next, step: { ok: true } };
  // the initiator proves itself first; the responder answers once it has checked the initiator
  const sealed = sealWith(channel, auth);
  return { next: { ...next, channel: sealed.next }, step: { ok: true, send: sealed.wire } };
}

function onAuth(h: HandshakeState, msg: Uint8Array): { next: HandshakeState; step: HandshakeStateStep } {
  const channel = h.channel!;
  const transcript = h.transcript!;
  const opened = openWith(channel, msg);
  if (!opened.result.ok)
    return {
      next: h,
      step: {
        ok: false,
        reason: opened.result.reason === 'replay' ? 'protocol' : 'undecodable',
        detail: 'auth: does not open',
      },
    };
  const r = tryDecode(Auth, opened.result.plaintext);
  if (!r.ok)
    return { next: h, step: { ok: false, reason: 'undecodable', detail: `auth: ${r.error.message}` } };
  const auth = r.value;
  const peerRole: Role = h.o.role === 'initiator' ? 'responder' : 'initiator';
  if (!verify(auth.publicKey, authMessage(peerRole, transcript), auth.signature)) {
    return {
      next: h,
      step: { ok: false, reason: 'bad-signature', detail: 'the peer did not prove its identity' },
    };
  }
  let after = opened.next;
  let send: Uint8Array | undefined;
  if (h.o.role === 'responder') {
    const sealed = sealWith(after, h.auth!);
    after = sealed.next;
    send = sealed.wire;
  }
  return {
    next: { ...h, channel: after, stage: 'done' },
    step: {
      ok: true,
      ...(send !== undefined ? { send } : {}),
      done: {
        peerKey: auth.publicKey,
        peerId: toHex(auth.publicKey),
        listen: auth.listen,
        peerMaxFrameBytes: auth.maxFrameBytes,
        channel: after,
        transcript,
        role: h.o.role,
      },
    },
  };
}

/**
 * One side of the handshake. Send `hello` first; feed every message from the peer to `receive`
 * until it reports `done` (an established `SecureChannel`) or a failure.
 */
export class Handshake {
  readonly hello: Uint8Array;
  readonly role: Role;
  #h: HandshakeState;

  constructor(o: HandshakeOptions) {
    this.#h = startHandshake(o);
    this.hello = this.#h.hello;
    this.role = o.role;
  }

  get state(): 'hello' | 'auth' | 'done' | 'failed' {
    return this.#h.stage;
  }

  receive(msg: Uint8Array): HandshakeStep {
    const { next, step } = receiveHandshake(this.#h, msg);
    this.#h = next;
    if (!step.ok) return step;
    if (step.done === undefined)
      return step.send === undefined ? { ok: true } : { ok: true, send: step.send };
    const c = step.done.channel;
    return {
      ...step,
      done: { ...step.done, channel: new SecureChannel(c.sendKey, c.recvKey, c.sent, c.received) },
    };
  }
}

/** The handshake as the peer session machine holds it (peer/machine.ts): a value per step. */
export class LiveHandshake implements SessionHandshake {
  constructor(readonly state: HandshakeState) {}

  /** A fresh side of the handshake (new ephemeral key and nonce) and its hello. */
  static start(o: HandshakeOptions): { handshake: LiveHandshake; hello: Uint8Array } {
    const state = startHandshake(o);
    return { handshake: new LiveHandshake(state), hello: state.hello };
  }

  receive(msg: Uint8Array): HandshakeReply {
    const { next, step } = receiveHandshake(this.state, msg);
    if (!step.ok) return { kind: 'refused', reason: step.reason, detail: step.detail };
    const send = step.send === undefined ? {} : { send: step.send };
    const done = step.done;
    if (done === undefined) return { kind: 'continue', next: new LiveHandshake(next), ...send };
    return {
      kind: 'proven',
      proven: {
        peerId: done.peerId,
        listen: done.listen,
        peerMaxFrameBytes: done.peerMaxFrameBytes,
        transcript: toHex(done.transcript),
        channel: new SealedChannel(done.channel),
      },
      ...send,
    };
  }
}
