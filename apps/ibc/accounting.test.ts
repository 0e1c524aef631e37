import { describe, expect, it } from 'vitest';
import type { Note } from '../../engines/executor/notes.ts';
import { noteKey } from '../../engines/executor/notes.ts';
import { sha256 } from '../../wire/commit.ts';
import { encode } from '../../wire/schema.ts';
import { keyPairFromSeed } from '../../wire/sign.ts';
import { defineToken, ownerCommitment, tokenNote } from '../token/client.ts';
import { escrowPredicate, VoucherValue, voucherPredicate } from './accounting.ts';
import type { HostMsg } from './host.ts';
import { connectInstances, relay, TestInstance, type TokenNotes } from './instance-testing.ts';
import type { Acknowledgement, Packet } from './packet.ts';
import { ackPath, commitmentPath, receiptPath } from './paths.ts';
import { provenanceEntry, TRANSFER_PORT, TRANSFER_VERSION, TransferData } from './transfer.ts';

const enc = new TextEncoder();
const key = (label: string) => sha256(enc.encode(label));
const alice = keyPairFromSeed(key('alice'));
const bob = keyPairFromSeed(key('bob'));
const token = defineToken(keyPairFromSeed(key('authority')).publicKey);
const GOLD = new Uint8Array(32).fill(1);
const T = TRANSFER_PORT;

function setup() {
  const a = new TestInstance('fractal-a', new Map());
  const b = new TestInstance('fractal-b', new Map());
  const { aChan, bChan } = connectInstances(a, b, T, TRANSFER_VERSION);
  const aliceGold = tokenNote(token, {
    owner: alice.publicKey,
    asset: GOLD,
    amount: 150n,
    key: key('alice gold'),
  });
  a.ledger.notes.putNotes([{ key: noteKey(aliceGold), note: aliceGold }]);
  return { a, b, aChan, bChan, aliceGold };
}

const data = (over: Partial<TransferData> = {}): TransferData => ({
  origin: token.application,
  asset: GOLD,
  provenance: [],
  amount: 100n,
  sender: alice.publicKey,
  receiver: bob.publicKey,
  memo: '',
  ...over,
});

const sendMsg = (channel: string, d: TransferData, timeoutHeight: bigint): HostMsg => ({
  tag: 'ibc',
  value: {
    tag: 'sendPacket',
    value: { port: T, channel, data: encode(TransferData, d), timeoutHeight, timeoutTimestamp: 0n },
  },
});

function sent(r: ReturnType<TestInstance['block']>): Packet {
  if (!r.ok) throw new Error(r.reason);
  const e = r.events.find((x) => x.kind === 'send');
  if (e?.kind !== 'send') throw new Error('no send');
  return e.packet;
}

function received(r: ReturnType<TestInstance['block']>): Acknowledgement {
  if (!r.ok) throw new Error(r.reason);
  const e = r.events.find((x) => x.kind === 'recv');
  if (e?.kind !== 'recv') throw new Error('no recv');
  return e.acknowledgement;
}

const escrowNote = (chainId: string, channel: string, amount: bigint, label: string): Note => ({
  ...tokenNote(token, { owner: alice.publicKey, asset: GOLD, amount, key: key(label) }),
  owner: escrowPredicate(chainId, T, channel).commitment,
});

const voucherNote = (
  chainId: string,
  provenance: string[],
  owner: Uint8Array,
  amount: bigint,
  label: string,
): Note => ({
  provenance: provenance.map((p) => enc.encode(p)),
  application: voucherPredicate(chainId).commitment,
  owner: ownerCommitment(owner),
  key: key(label),
  value: encode(VoucherValue, { origin: token.application, asset: GOLD, amount }),
});

const recvMsgs =
  (from: TestInstance, p: Packet) =>
  (h: bigint): HostMsg[] => [
    {
      tag: 'ibc',
      value: {
        tag: 'recvPacket',
        value: {
          packet: p,
          proof: from.prove(commitmentPath(p.sourcePort, p.sourceChannel, p.sequence)),
          proofHeight: h,
        },
      },
    },
  ];

describe('ICS-20 accounting in the host predicate, over two instances', () => {
  it('A -> B escrows and mints a voucher with provenance; B -> A burns it and releases the escrow', () => {
    const { a, b, aChan, bChan, aliceGold } = setup();
    const change = tokenNote(token, { owner: alice.publicKey, asset: GOLD, amount: 50n, key: key('change') });
    const escrow = escrowNote(a.chainId, aChan, 100n, 'escrow 1');
    const send: TokenNotes = { inputs: [aliceGold], outputs: [escrow, change] };
    // the escrow must take exactly the amount, and the sender must pay exactly it
    const short = { inputs: [aliceGold], outputs: [escrowNote(a.chainId, aChan, 99n, 'escrow 1'), change] };
    const shortSend = a.block([sendMsg(aChan, data(), b.height + 50n)], undefined, short);
    expect(!shortSend.ok && shortSend.reason).toMatch(
      /transfer: escrow transfer\/channel-0 changes by 99, not 100/,
    );
    const p = sent(a.block([sendMsg(aChan, data(), b.height + 50n)], undefined, send));

    const entry = provenanceEntry('fractal-a', T, bChan);
    const voucher = voucherNote(b.chainId, [entry], bob.publicKey, 100n, 'bob voucher');
    const noMint = relay(b, a, recvMsgs(a, p));
    expect(!noMint.ok && noMint.reason).toMatch(/transfer: account/);
    const wrongProvenance = relay(b, a, recvMsgs(a, p), undefined, {
      inputs: [],
      outputs: [voucherNote(b.chainId, ['fractal-a@transfer/channel-9'], bob.publicKey, 100n, 'bob voucher')],
    });
    expect(!wrongProvenance.ok && wrongProvenance.reason).toMatch(
      /transfer: account .* changes by 0, not 100/,
    );
    expect(received(relay(b, a, recvMsgs(a, p), undefined, { inputs: [], outputs: [voucher] }))).toEqual({
      tag: 'result',
      value: Uint8Array.of(1),
    });

    // back home: bob's voucher is burnt on B and alice is paid from A's escrow
    const back = data({ provenance: [entry], sender: bob.publicKey, receiver: alice.publicKey });
    const q = sent(
      b.block([sendMsg(bChan, back, a.height + 50n)], undefined, { inputs: [voucher], outputs: [] }),
    );
    const home = tokenNote(token, { owner: alice.publicKey, asset: GOLD, amount: 100n, key: key('home') });
    const stolen = tokenNote(token, { owner: bob.publicKey, asset: GOLD, amount: 100n, key: key('home') });
    const toBob = relay(a, b, recvMsgs(b, q), undefined, { inputs: [escrow], outputs: [stolen] });
    expect(!toBob.ok && toBob.reason).toMatch(/transfer/);
    received(relay(a, b, recvMsgs(b, q), undefined, { inputs: [escrow], outputs: [home] }));
    expect(a.current(receiptPath(T, aChan, 1n))).toBeDefined();
  });

  it('a timeout pays the sender back out of escrow, and only the sender', () => {
    const { a, b, aChan, bChan, aliceGold } = setup();
    const escrow = escrowNote(a.chainId, aChan, 150n, 'escrow all');
    const p = sent(
      a.block([sendMsg(aChan, data({ amount: 150n }), b.height + 2n)], undefined, {
        inputs: [aliceGold],
        outputs: [escrow],
      }),
    );
    b.skip(3);
    const timeout = (h: bigint): HostMsg[] => [
      {
        tag: 'ibc',
        value: {
          tag: 'timeoutPacket',
          value: {
            packet: p,
            nextSequenceRecv: 0n,
            proof: b.prove(receiptPath(T, bChan, 1n)),
            proofHeight: h,
          },
        },
      },
    ];
    const refund = tokenNote(token, {
      owner: alice.publicKey,
      asset: GOLD,
      amount: 150n,
      key: key('refund'),
    });
    const toBob = { ...refund, owner: ownerCommitment(bob.publicKey) };
    const stolen = relay(a, b, timeout, undefined, { inputs: [escrow], outputs: [toBob] });
    expect(!stolen.ok && stolen.reason).toMatch(/transfer: account/);
    expect(relay(a, b, timeout, undefined, { inputs: [escrow], outputs: [refund] })).toMatchObject({
      ok: true,
    });
    expect(b.current(ackPath(T, bChan, 1n))).toBeUndefined();
  });
});
