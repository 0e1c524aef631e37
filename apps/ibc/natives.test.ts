import { describe, expect, it } from 'vitest';
import { executeSerial } from '../../engines/executor/block.ts';
import { DECLARED_INPUTS, DECLARED_OUTPUTS } from '../../engines/executor/natives.ts';
import { type Note, noteKey } from '../../engines/executor/notes.ts';
import type { Multievaluate } from '../../engines/executor/phases.ts';
import { NoteStore } from '../../engines/executor/state.ts';
import { MemoryStorage } from '../../storage/memory.ts';
import { multievaluate } from '../../vm/multievaluate.ts';
import { builtinNatives, nativeVm } from '../../vm/native.ts';
import { createVmTable } from '../../vm/table.ts';
import type { VirtualMachine } from '../../vm/types.ts';
import { sha256, toHex } from '../../wire/commit.ts';
import { encode } from '../../wire/schema.ts';
import { keyPairFromSeed } from '../../wire/sign.ts';
import {
  declaredTx,
  defineToken,
  ownerCommitment,
  ownerPredicate,
  registerTokenCode,
  signTx,
  tokenNatives,
  tokenNote,
} from '../token/index.ts';
import { escrowPredicate, VoucherValue, voucherPredicate } from './accounting.ts';
import { ibcPayload } from './host.ts';
import { ics20Natives } from './natives.ts';
import { TransferData } from './transfer.ts';

const registry = ics20Natives(
  tokenNatives(builtinNatives().register(DECLARED_INPUTS).register(DECLARED_OUTPUTS)),
);
const table = createVmTable([nativeVm(registry) as VirtualMachine<never>]);
const mev: Multievaluate = (fn, args, gas) => multievaluate(fn, args, gas, { table });
const GAS = 1_000_000;
const enc = new TextEncoder();
const key = (label: string) => sha256(enc.encode(label));
const [alice, bob, carol] = ['alice', 'bob', 'carol'].map((l) => keyPairFromSeed(key(l))) as [
  ReturnType<typeof keyPairFromSeed>,
  ReturnType<typeof keyPairFromSeed>,
  ReturnType<typeof keyPairFromSeed>,
];
const token = defineToken(keyPairFromSeed(key('authority')).publicKey);
const GOLD = new Uint8Array(32).fill(1);
const CHAIN = 'fractal-b';
const voucher = voucherPredicate(CHAIN);
const escrow = escrowPredicate(CHAIN, 'transfer', 'channel-0');

const voucherNote = (
  owner: Uint8Array,
  amount: bigint,
  label: string,
  provenance = ['fractal-a@transfer/channel-0'],
): Note => ({
  provenance: provenance.map((p) => enc.encode(p)),
  application: voucher.commitment,
  owner: ownerCommitment(owner),
  key: key(label),
  value: encode(VoucherValue, { origin: token.application, asset: GOLD, amount }),
});

function store(notes: readonly Note[]): NoteStore {
  const s = new NoteStore(new MemoryStorage());
  registerTokenCode(s, token, [alice.publicKey, bob.publicKey, carol.publicKey]);
  s.registerCode(voucher.fn);
  s.registerCode(escrow.fn);
  s.putNotes(notes.map((note) => ({ key: noteKey(note), note })));
  return s;
}

const run = (s: NoteStore, tx: ReturnType<typeof declaredTx>) =>
  executeSerial([tx], s, mev, GAS).receipts[0]!;

describe('the ICS-20 predicates on their own', () => {
  it('vouchers move between owners like tokens, with the owner signing', () => {
    const v = voucherNote(bob.publicKey, 100n, 'bob v');
    const tx = declaredTx(
      [v],
      [voucherNote(carol.publicKey, 60n, 'carol v'), voucherNote(bob.publicKey, 40n, 'bob change')],
    );
    expect(run(store([v]), signTx(tx, [bob.secretKey]))).toMatchObject({ accepted: true });
    expect(run(store([v]), tx)).toMatchObject({
      accepted: false,
      predicate: toHex(ownerPredicate(bob.publicKey).commitment),
    });
  });

  it('no voucher is minted, burnt or malformed without a transfer, whoever signs', () => {
    const v = voucherNote(bob.publicKey, 100n, 'bob v');
    const refuse = { accepted: false, predicate: toHex(voucher.commitment) };
    expect(run(store([]), declaredTx([], [voucherNote(bob.publicKey, 5n, 'made up')]))).toMatchObject(refuse);
    expect(
      run(store([v]), signTx(declaredTx([v], [voucherNote(bob.publicKey, 99n, 'less')]), [bob.secretKey])),
    ).toMatchObject(refuse);
    const bad = { ...voucherNote(bob.publicKey, 100n, 'bad'), value: Uint8Array.of(1, 2) };
    expect(run(store([v]), signTx(declaredTx([v], [bad]), [bob.secretKey]))).toMatchObject(refuse);
    const local = voucherNote(bob.publicKey, 100n, 'local', []);
    expect(run(store([v]), signTx(declaredTx([v], [local]), [bob.secretKey]))).toMatchObject(refuse);
  });

  it("escrow leaves only by a transfer; messages without the host's notes prove nothing", () => {
    const held = {
      ...tokenNote(token, { owner: alice.publicKey, asset: GOLD, amount: 100n, key: key('escrowed') }),
      owner: escrow.commitment,
    };
    const out = tokenNote(token, { owner: alice.publicKey, asset: GOLD, amount: 100n, key: key('out') });
    expect(run(store([held]), declaredTx([held], [out]))).toMatchObject({
      accepted: false,
      predicate: toHex(escrow.commitment),
    });
    // a made-up receive in the payload, with no host note in the transaction to check it
    const packet = {
      sequence: 1n,
      sourcePort: 'transfer',
      sourceChannel: 'channel-5',
      destinationPort: 'transfer',
      destinationChannel: 'channel-0',
      data: encode(TransferData, {
        origin: token.application,
        asset: GOLD,
        provenance: [],
        amount: 100n,
        sender: alice.publicKey,
        receiver: bob.publicKey,
        memo: '',
      }),
      timeoutHeight: 99n,
      timeoutTimestamp: 0n,
    };
    const payload = ibcPayload([
      {
        tag: 'ibc',
        value: { tag: 'recvPacket', value: { packet, proof: new Uint8Array(0), proofHeight: 1n } },
      },
    ]);
    const forged = declaredTx([], [voucherNote(bob.publicKey, 100n, 'forged')], payload);
    expect(run(store([]), forged)).toMatchObject({ accepted: false, predicate: toHex(voucher.commitment) });
  });
});
