import { describe, expect, it } from 'vitest';
import { toHex } from '../../wire/commit.ts';
import { encode } from '../../wire/schema.ts';
import { keyPairFromSeed, sign } from '../../wire/sign.ts';
import {
  CONTROL_CHANNEL,
  Control,
  decodeControl,
  encodeControl,
  generateEphemeral,
  Handshake,
  type HandshakeOptions,
  type HandshakeResult,
  type HandshakeStep,
  Hello,
  LiveHandshake,
  MAX_HANDSHAKE_BYTES,
  PROTOCOL_VERSION,
  SecureChannel,
} from './protocol.ts';
import { seed } from './testing.ts';

function opts(
  label: string,
  role: 'initiator' | 'responder',
  o: Partial<HandshakeOptions> = {},
): HandshakeOptions {
  return {
    role,
    identity: seed(label),
    instance: 'inst',
    version: PROTOCOL_VERSION,
    listen: role === 'responder' ? 'ws://127.0.0.1:7001' : null,
    maxFrameBytes: 1024,
    ...o,
  };
}

function ok(step: HandshakeStep): { send?: Uint8Array; done?: HandshakeResult } {
  if (!step.ok) throw new Error(`unexpected failure ${step.reason}: ${step.detail}`);
  return step;
}

/** Runs both sides to completion. */
function run(i: Handshake, r: Handshake): { i: HandshakeResult; r: HandshakeResult } {
  const authI = ok(i.receive(r.hello)).send!;
  expect(ok(r.receive(i.hello))).toEqual({ ok: true }); // the responder waits for the initiator's proof
  const stepR = ok(r.receive(authI));
  const doneI = ok(i.receive(stepR.send!)).done!;
  return { i: doneI, r: stepR.done! };
}

describe('handshake', () => {
  it('authenticates both sides and agrees on a session', () => {
    const i = new Handshake(opts('a', 'initiator'));
    const r = new Handshake(opts('b', 'responder'));
    const { i: di, r: dr } = run(i, r);
    expect(di.peerId).toBe(toHex(keyPairFromSeed(seed('b')).publicKey));
    expect(dr.peerId).toBe(toHex(keyPairFromSeed(seed('a')).publicKey));
    expect(toHex(di.transcript)).toBe(toHex(dr.transcript));
    expect(di.listen).toBe('ws://127.0.0.1:7001');
    expect(dr.listen).toBeNull();
    expect(di.peerMaxFrameBytes).toBe(1024);
    // both directions work, and each direction has its own key
    const m1 = di.channel.sealFrame(3, new Uint8Array([1, 2, 3]));
    const o1 = dr.channel.open(m1);
    expect(o1.ok && [...o1.plaintext]).toEqual([3, 1, 2, 3]);
    const m2 = dr.channel.sealFrame(0, new Uint8Array([9]));
    const o2 = di.channel.open(m2);
    expect(o2.ok && [...o2.plaintext]).toEqual([0, 9]);
    expect(i.state).toBe('done');
  });

  it('fresh ephemeral keys and nonces give every session different keys', () => {
    const a = run(new Handshake(opts('a', 'initiator')), new Handshake(opts('b', 'responder')));
    const b = run(new Handshake(opts('a', 'initiator')), new Handshake(opts('b', 'responder')));
    expect(toHex(a.i.transcript)).not.toBe(toHex(b.i.transcript));
    const frame = a.i.channel.sealFrame(1, new Uint8Array([42]));
    expect(b.r.channel.open(frame)).toEqual({ ok: false, reason: 'undecodable' });
  });

  it('rejects a different instance or protocol version', () => {
    const i = new Handshake(opts('a', 'initiator'));
    const other = new Handshake(opts('b', 'responder', { instance: 'other' }));
    const s1 = i.receive(other.hello);
    expect(s1.ok === false && s1.reason).toBe('wrong-instance');
    const i2 = new Handshake(opts('a', 'initiator'));
    const v2 = new Handshake(opts('b', 'responder', { version: PROTOCOL_VERSION + 1 }));
    const s2 = i2.receive(v2.hello);
    expect(s2.ok === false && s2.reason).toBe('wrong-version');
    expect(i2.state).toBe('failed');
  });

  it('rejects garbage, oversize messages and unusable ephemeral keys', () => {
    const s1 = new Handshake(opts('a', 'initiator')).receive(new Uint8Array([1, 2, 3]));
    expect(s1.ok === false && s1.reason).toBe('undecodable');
    const s2 = new Handshake(opts('a', 'initiator')).receive(new Uint8Array(MAX_HANDSHAKE_BYTES + 1));
    expect(s2.ok === false && s2.reason).toBe('oversize-frame');
    const zero = encode(Hello, {
      version: PROTOCOL_VERSION,
      instance: 'inst',
      ephemeral: new Uint8Array(32),
      nonce: new Uint8Array(32),
      ext: new Uint8Array(0),
    });
    const s3 = new Handshake(opts('a', 'initiator')).receive(zero);
    expect(s3.ok === false && s3.reason).toBe('protocol');
  });

  it('rejects a signature that does not cover this transcript and role, on either side', () => {
    const kp = keyPairFromSeed(seed('m'));
    // signs a different message: a reflected or replayed signature looks like this
    const liar = {
      publicKey: kp.publicKey,
      sign: (msg: Uint8Array) => sign(kp.secretKey, msg.slice(0, msg.length - 1)),
    };
    // a lying initiator: the responder refuses it (and never answers)
    const r = new Handshake(opts('b', 'responder'));
    const li = new Handshake(opts('m', 'initiator', { identity: liar }));
    const authM = ok(li.receive(r.hello)).send!;
    ok(r.receive(li.hello));
    const s1 = r.receive(authM);
    expect(s1.ok === false && s1.reason).toBe('bad-signature');
    // a lying responder: the initiator refuses it
    const i = new Handshake(opts('a', 'initiator'));
    const lr = new Handshake(opts('m', 'responder', { identity: liar }));
    const authI = ok(i.receive(lr.hello)).send!;
    ok(lr.receive(i.hello));
    const authL = ok(lr.receive(authI)).send!;
    const s2 = i.receive(authL);
    expect(s2.ok === false && s2.reason).toBe('bad-signature');
  });

  it('a man in the middle swapping ephemeral keys cannot complete it', () => {
    const i = new Handshake(opts('a', 'initiator'));
    const r = new Handshake(opts('b', 'responder'));
    const m = new Handshake(opts('m', 'responder'));
    // i derived its keys with m's hello, r with i's: i's auth does not open at r
    const authI = ok(i.receive(m.hello)).send!;
    ok(r.receive(i.hello));
    const s = r.receive(authI);
    expect(s.ok === false && s.reason).toBe('undecodable');
  });

  it('auth is encrypted: identities do not appear in clear', () => {
    const i = new Handshake(opts('a', 'initiator'));
    const r = new Handshake(opts('b', 'responder'));
    const authI = ok(i.receive(r.hello)).send!;
    ok(r.receive(i.hello));
    const authR = ok(r.receive(authI)).send!;
    const pa = toHex(keyPairFromSeed(seed('a')).publicKey);
    const pb = toHex(keyPairFromSeed(seed('b')).publicKey);
    for (const m of [i.hello, r.hello, authI, authR]) {
      expect(toHex(m)).not.toContain(pa);
      expect(toHex(m)).not.toContain(pb);
    }
  });
});

describe('SecureChannel', () => {
  const key1 = new Uint8Array(32).fill(1);
  const key2 = new Uint8Array(32).fill(2);

  it('round-trips, rejects replays, reordering, tampering and truncation', () => {
    const tx = new SecureChannel(key1, key2);
    const rx = new SecureChannel(key2, key1);
    const f0 = tx.sealFrame(1, new Uint8Array([10, 11]));
    const f1 = tx.sealFrame(1, new Uint8Array([12]));
    const f2 = tx.sealFrame(1, new Uint8Array([13]));
    expect(rx.open(f0).ok).toBe(true);
    expect(rx.open(f0)).toEqual({ ok: false, reason: 'replay' }); // reused counter
    expect(rx.open(f2)).toEqual({ ok: false, reason: 'replay' }); // skipped one
    const flipped = f1.slice();
    flipped[9]! ^= 0x01; // in the ciphertext
    expect(rx.open(flipped)).toEqual({ ok: false, reason: 'undecodable' });
    const header = f1.slice();
    header[7]! ^= 0x02; // counter changed: no longer authenticates
    expect(rx.open(header)).toEqual({ ok: false, reason: 'undecodable' });
    expect(rx.open(f1.subarray(0, 10))).toEqual({ ok: false, reason: 'undecodable' });
    const r1 = rx.open(f1);
    expect(r1.ok && [...r1.plaintext]).toEqual([1, 12]);
    const r2 = rx.open(f2);
    expect(r2.ok && [...r2.plaintext]).toEqual([1, 13]);
    expect(rx.received).toBe(3);
    expect(tx.sent).toBe(3);
  });

  it('the ciphertext does not contain the plaintext', () => {
    const tx = new SecureChannel(key1, key2);
    const payload = new TextEncoder().encode('a very recognisable plaintext payload');
    const frame = tx.sealFrame(0, payload);
    expect(Buffer.from(frame).includes(Buffer.from(payload))).toBe(false);
    expect(frame.length).toBe(payload.length + 1 + 8 + 16);
  });
});

describe('control messages', () => {
  it('round-trip and reject garbage', () => {
    const msg: Control = {
      tag: 'peers',
      value: [{ address: 'ws://10.0.0.1:7001', publicKey: new Uint8Array(32).fill(7) }],
    };
    const back = decodeControl(encodeControl(msg));
    expect(back?.tag).toBe('peers');
    expect(decodeControl(encodeControl({ tag: 'ping', value: 5 }))).toEqual({ tag: 'ping', value: 5 });
    expect(decodeControl(new Uint8Array([0xff, 0x00]))).toBeUndefined();
    expect(CONTROL_CHANNEL).toBe(255);
    expect(Control.name.length).toBeGreaterThan(0);
  });
});

describe("the peer machine's values (LiveHandshake, SealedChannel)", () => {
  it('speak the same bytes as Handshake and SecureChannel, message for message', () => {
    const eI = generateEphemeral();
    const eR = generateEphemeral();
    const fixed = (label: string, role: 'initiator' | 'responder') =>
      opts(label, role, {
        ephemeral: role === 'initiator' ? eI : eR,
        nonce: new Uint8Array(32).fill(role === 'initiator' ? 1 : 2),
      });
    const i = new Handshake(fixed('a', 'initiator'));
    const r = new Handshake(fixed('b', 'responder'));
    const vi = LiveHandshake.start(fixed('a', 'initiator'));
    const vr = LiveHandshake.start(fixed('b', 'responder'));
    expect(toHex(vi.hello)).toBe(toHex(i.hello));
    expect(toHex(vr.hello)).toBe(toHex(r.hello));
    // the initiator's auth
    const authI = ok(i.receive(r.hello)).send!;
    const stepI = vi.handshake.receive(vr.hello);
    if (stepI.kind !== 'continue') throw new Error(stepI.kind);
    expect(toHex(stepI.send!)).toBe(toHex(authI));
    // the responder takes the hello, then proves itself in answer to the initiator's auth
    ok(r.receive(i.hello));
    const stepR1 = vr.handshake.receive(vi.hello);
    if (stepR1.kind !== 'continue') throw new Error(stepR1.kind);
    expect(stepR1.send).toBeUndefined();
    const doneR = ok(r.receive(authI));
    const stepR2 = stepR1.next.receive(stepI.send!);
    if (stepR2.kind !== 'proven') throw new Error(stepR2.kind);
    expect(toHex(stepR2.send!)).toBe(toHex(doneR.send!));
    expect(stepR2.proven.transcript).toBe(toHex(doneR.done!.transcript));
    const doneI = ok(i.receive(doneR.send!)).done!;
    const stepI2 = stepI.next.receive(stepR2.send!);
    if (stepI2.kind !== 'proven') throw new Error(stepI2.kind);
    expect(stepI2.proven.peerId).toBe(doneI.peerId);
    // frames: the same bytes each way, and each opens the other's
    const payload = new Uint8Array([1, 2, 3, 4]);
    const sealedV = stepI2.proven.channel.seal(7, payload);
    expect(toHex(sealedV.wire)).toBe(toHex(doneI.channel.sealFrame(7, payload)));
    const opened = stepR2.proven.channel.open(sealedV.wire);
    expect(opened.ok && [opened.channel, ...opened.payload]).toEqual([7, 1, 2, 3, 4]);
    const back = doneR.done!.channel.sealFrame(0, payload);
    const openedBack = sealedV.next.open(back);
    expect(openedBack.ok).toBe(true);
    // a value is not changed by use: opening the same frame with the old value again is fine,
    // with the new one it is a replay
    expect(stepR2.proven.channel.open(sealedV.wire).ok).toBe(true);
    if (!opened.ok) throw new Error('did not open');
    expect(opened.next.open(sealedV.wire)).toMatchObject({ ok: false, reason: 'replay' });
  });
});
