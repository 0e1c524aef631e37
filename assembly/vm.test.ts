import { describe, expect, it } from 'vitest';
import { orderOf, settlementTx } from '../apps/swap/settlement.ts';
import { solveBatch } from '../apps/swap/solve.ts';
import { GAS, held, intentOf, solver, storeWith, users, X, Y } from '../apps/swap/testing.ts';
import { executeSerial } from '../engines/executor/block.ts';
import { nodeMultievaluate } from './vm.ts';

describe("the node's VM table", () => {
  it('runs the swap application: a two-party settlement is accepted, and a tampered one refused', () => {
    const a = held(users[0]!, X, 10n, 'a');
    const b = held(users[1]!, Y, 10n, 'b');
    const ia = intentOf(users[0]!, [a], { give: [X, 10n], want: [Y, 8n] });
    const ib = intentOf(users[1]!, [b], { give: [Y, 10n], want: [X, 8n] });
    const solverNotes = [held(solver, X, 5n, 'sx'), held(solver, Y, 5n, 'sy')];
    const solved = solveBatch([orderOf(ia), orderOf(ib)]);
    if (!solved.ok) throw new Error(solved.reason);
    expect(solved.settlement.fills).toHaveLength(2);
    const offers = new Map([
      [orderOf(ia).id, { intent: ia, notes: [a] }],
      [orderOf(ib).id, { intent: ib, notes: [b] }],
    ]);
    const built = settlementTx({
      settlement: solved.settlement,
      offers,
      solver: { secretKey: solver.secretKey, notes: solverNotes },
    });
    if (!built.ok) throw new Error(built.reason);
    const store = storeWith([a, b, ...solverNotes]);
    expect(executeSerial([built.tx], store, nodeMultievaluate, GAS).receipts[0]!.accepted).toBe(true);
    // the same settlement with user 1's intent signed by user 0 instead: swap-owner refuses it
    const forged = { ...ib, signature: ia.signature };
    const bad = settlementTx({
      settlement: solved.settlement,
      offers: new Map([...offers, [orderOf(ib).id, { intent: forged, notes: [b] }]]),
      solver: { secretKey: solver.secretKey, notes: solverNotes },
    });
    if (!bad.ok) throw new Error(bad.reason);
    expect(executeSerial([bad.tx], store, nodeMultievaluate, GAS).receipts[0]!.accepted).toBe(false);
  });
});

describe("the node's VM table runs the ICS-20 predicates", () => {
  it('accepts a signed voucher transfer and refuses a voucher made from nothing', async () => {
    const { voucherPredicate, VoucherValue } = await import('../apps/ibc/accounting.ts');
    const { declaredTx, ownerCommitment, registerTokenCode, signTx, defineToken } = await import(
      '../apps/token/index.ts'
    );
    const { NoteStore } = await import('../engines/executor/state.ts');
    const { MemoryStorage } = await import('../storage/memory.ts');
    const { noteKey } = await import('../engines/executor/notes.ts');
    const { encode } = await import('../wire/schema.ts');
    const owner = users[0]!;
    const voucher = voucherPredicate('fractal-b');
    const note = (amount: bigint, k: number) => ({
      provenance: [new TextEncoder().encode('fractal-a@transfer/channel-0')],
      application: voucher.commitment,
      owner: ownerCommitment(owner.publicKey),
      key: new Uint8Array(32).fill(k),
      value: encode(VoucherValue, { origin: new Uint8Array(32), asset: new Uint8Array(32).fill(1), amount }),
    });
    const store = new NoteStore(new MemoryStorage());
    registerTokenCode(store, defineToken(new Uint8Array(32).fill(9)), [owner.publicKey]);
    store.registerCode(voucher.fn);
    const held = note(10n, 1);
    store.putNotes([{ key: noteKey(held), note: held }]);
    const moved = signTx(declaredTx([held], [note(10n, 2)]), [owner.secretKey]);
    expect(executeSerial([moved], store, nodeMultievaluate, GAS).receipts[0]).toMatchObject({
      accepted: true,
    });
    const made = executeSerial([declaredTx([], [note(5n, 3)])], store, nodeMultievaluate, GAS).receipts[0];
    const { toHex } = await import('../wire/commit.ts');
    // refused by the voucher predicate itself (an unknown native would fail to evaluate instead)
    expect(made).toMatchObject({
      accepted: false,
      phase: 'validity',
      reason: 'predicate rejected the transaction',
      predicate: toHex(voucher.commitment),
    });
  });
});
