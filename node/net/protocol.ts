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

/** One direction pair of an established session: counter nonces, one key per direction. */
export class SecureChannel {
  #sendKey: Uint8Array;
  #recvKey: Uint8Array;
  #sendCounter = 0;
  #recvCounter = 0;

  constructor(sendKey: Uint8Array, recvKey: Uint8Array) {
    this.#sendKey = sendKey;
    this.#recvKey = recvKey;
  }

  get sent(): number {
    return this.#sendCounter;
  }

  get received(): number {
    return this.#recvCounter;
  }

  /** `counter ‖ seal(plaintext)` with the next send counter. */
  seal(plaintext: Uint8Array): Uint8Array {
    const header = counterBytes(this.#sendCounter++);
    const sealed = aead.seal(this.#sendKey, nonceOf(header), plaintext, header);
    const out = new Uint8Array(header.length + sealed.length);
    out.set(header, 0);
    out.set(sealed, header.length);
    return out;
  }

  /** A frame's plaintext: `channel ‖ payload`, sealed. */
  sealFrame(channel: number, payload: Uint8Array): Uint8Array {
    const plain = new Uint8Array(1 + payload.length);
    plain[0] = channel;
    plain.set(payload, 1);
    return this.seal(plain);
  }

  /** Opens the next message: a genuine frame with a counter other than the expected one (reused or
   * out of order) is `replay`; anything that does not authenticate is `undecodable`. */
  open(wire: Uint8Array): OpenResult {
    if (wire.length < 8 + TAG_BYTES) return { ok: false, reason: 'undecodable' };
    const header = wire.subarray(0, 8);
    const view = new DataView(header.buffer, header.byteOffset, 8);
    const counter = view.getUint32(0) * 2 ** 32 + view.getUint32(4);
    const plaintext = aead.open(this.#recvKey, nonceOf(header), wire.subarray(8), header);
    // a frame that authenticates under another counter is a genuine frame replayed or reordered
    if (counter !== this.#recvCounter)
      return { ok: false, reason: plaintext === undefined ? 'undecodable' : 'replay' };
    if (plaintext === undefined) return { ok: false, reason: 'undecodable' };
    this.#recvCounter++;
    return { ok: true, plaintext };
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

export type HandshakeFailure =
  | 'undecodable'
  | 'oversize-frame'
  | 'wrong-version'
  | 'wrong-instance'
  | 'protocol'
  | 'bad-signature';

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

/**
 * One side of the handshake. Send `hello` first; feed every message from the peer to `receive`
 * until it reports `done` (an established `SecureChannel`) or a failure.
 */
export class Handshake {
  readonly hello: Uint8Array;
  readonly role: Role;
  #state: 'hello' | 'auth' | 'done' | 'failed' = 'hello';
  readonly #signer: Signer;
  readonly #ephemeral: Ephemeral;
  readonly #o: HandshakeOptions;
  #transcript: Uint8Array | undefined;
  #channel: SecureChannel | undefined;
  #auth: Uint8Array | undefined;

  constructor(o: HandshakeOptions) {
    this.#o = o;
    this.role = o.role;
    this.#signer = o.identity instanceof Uint8Array ? createSigner(o.identity) : o.identity;
    this.#ephemeral = o.ephemeral ?? generateEphemeral();
    this.hello = encode(Hello, {
      version: o.version,
      instance: o.instance,
      ephemeral: this.#ephemeral.publicKey,
      nonce: o.nonce ?? new Uint8Array(randomBytes(32)),
      ext: new Uint8Array(0),
    });
  }

  get state(): 'hello' | 'auth' | 'done' | 'failed' {
    return this.#state;
  }

  receive(msg: Uint8Array): HandshakeStep {
    const step = this.#receive(msg);
    if (!step.ok) this.#state = 'failed';
    return step;
  }

  #receive(msg: Uint8Array): HandshakeStep {
    if (msg.length > MAX_HANDSHAKE_BYTES) {
      return { ok: false, reason: 'oversize-frame', detail: `handshake message of ${msg.length} bytes` };
    }
    switch (this.#state) {
      case 'hello':
        return this.#onHello(msg);
      case 'auth':
        return this.#onAuth(msg);
      default:
        return { ok: false, reason: 'protocol', detail: `message after the handshake ${this.#state}` };
    }
  }

  #onHello(msg: Uint8Array): HandshakeStep {
    const r = tryDecode(Hello, msg);
    if (!r.ok) return { ok: false, reason: 'undecodable', detail: `hello: ${r.error.message}` };
    const hello = r.value;
    if (hello.version !== this.#o.version) {
      return {
        ok: false,
        reason: 'wrong-version',
        detail: `peer speaks version ${hello.version}, we speak ${this.#o.version}`,
      };
    }
    if (hello.instance !== this.#o.instance) {
      return {
        ok: false,
        reason: 'wrong-instance',
        detail: `peer is on instance "${hello.instance}", we are on "${this.#o.instance}"`,
      };
    }
    const shared = x25519Shared(this.#ephemeral.privateKey, hello.ephemeral);
    if (shared === undefined) return { ok: false, reason: 'protocol', detail: 'unusable ephemeral key' };
    const initiator = this.role === 'initiator';
    const transcript = initiator ? transcriptHash(this.hello, msg) : transcriptHash(msg, this.hello);
    const keys = sessionKeys(shared, transcript);
    const channel = initiator ? new SecureChannel(keys.i2r, keys.r2i) : new SecureChannel(keys.r2i, keys.i2r);
    const auth = encode(Auth, {
      publicKey: this.#signer.publicKey,
      signature: this.#signer.sign(authMessage(this.role, transcript)),
      listen: this.#o.listen ?? null,
      maxFrameBytes: this.#o.maxFrameBytes,
    });
    this.#transcript = transcript;
    this.#channel = channel;
    this.#auth = auth;
    this.#state = 'auth';
    // the initiator proves itself first; the responder answers once it has checked the initiator
    return initiator ? { ok: true, send: channel.seal(auth) } : { ok: true };
  }

  #onAuth(msg: Uint8Array): HandshakeStep {
    const channel = this.#channel!;
    const transcript = this.#transcript!;
    const opened = channel.open(msg);
    if (!opened.ok)
      return {
        ok: false,
        reason: opened.reason === 'replay' ? 'protocol' : 'undecodable',
        detail: 'auth: does not open',
      };
    const r = tryDecode(Auth, opened.plaintext);
    if (!r.ok) return { ok: false, reason: 'undecodable', detail: `auth: ${r.error.message}` };
    const auth = r.value;
    const peerRole: Role = this.role === 'initiator' ? 'responder' : 'initiator';
    if (!verify(auth.publicKey, authMessage(peerRole, transcript), auth.signature)) {
      return { ok: false, reason: 'bad-signature', detail: 'the peer did not prove its identity' };
    }
    this.#state = 'done';
    const send = this.role === 'responder' ? channel.seal(this.#auth!) : undefined;
    return {
      ok: true,
      ...(send !== undefined ? { send } : {}),
      done: {
        peerKey: auth.publicKey,
        peerId: toHex(auth.publicKey),
        listen: auth.listen,
        peerMaxFrameBytes: auth.maxFrameBytes,
        channel,
        transcript,
        role: this.role,
      },
    };
  }
}
