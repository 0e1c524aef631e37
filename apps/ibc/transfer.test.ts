import { describe, expect, it } from 'vitest';
import { encode } from '../../wire/schema.ts';
import { provenanceEntry, receiveKind, sendKind, TransferData, transferDataOf } from './transfer.ts';

const T = 'transfer';
const link = (sourceChannel: string, destinationChannel: string) => ({
  sourcePort: T,
  sourceChannel,
  destinationPort: T,
  destinationChannel,
});

describe('ICS-20 over provenance', () => {
  it('A -> B -> A returns the original asset; A -> B -> C -> A by another route does not', () => {
    // A's channel-0 <-> B's channel-3; B's channel-5 <-> C's channel-1; C's channel-2 <-> A's channel-7
    expect(sendKind([], 'b', T, 'channel-0')).toBe('escrow');
    const onB = receiveKind({ provenance: [] }, 'b', 'a', link('channel-0', 'channel-3'));
    expect(onB).toEqual({ kind: 'mint', provenance: ['a@transfer/channel-3'] });
    // back home over the channel it came by
    expect(sendKind(onB!.provenance, 'a', T, 'channel-3')).toBe('burn');
    expect(receiveKind({ provenance: onB!.provenance }, 'a', 'b', link('channel-3', 'channel-0'))).toEqual({
      kind: 'release',
      provenance: [],
    });
    // on to C, then to A by C's own channel
    expect(sendKind(onB!.provenance, 'c', T, 'channel-5')).toBe('escrow');
    const onC = receiveKind({ provenance: onB!.provenance }, 'c', 'b', link('channel-5', 'channel-1'));
    expect(onC).toEqual({ kind: 'mint', provenance: ['b@transfer/channel-1', 'a@transfer/channel-3'] });
    expect(sendKind(onC!.provenance, 'a', T, 'channel-2')).toBe('escrow');
    const backOnA = receiveKind({ provenance: onC!.provenance }, 'a', 'c', link('channel-2', 'channel-7'));
    expect(backOnA?.kind).toBe('mint');
    expect(backOnA?.provenance).toHaveLength(3);
  });

  it('an impostor claiming the same chain id over another channel does not unlock escrow', () => {
    // an impostor "b" on A's channel-9 sends a note it claims came from A over its channel-4
    const claim = { provenance: [provenanceEntry('a', T, 'channel-3')] };
    expect(receiveKind(claim, 'a', 'b', link('channel-4', 'channel-9'))?.kind).toBe('mint');
  });

  it('reads packet data; zero amounts and junk are not transfers', () => {
    const data: TransferData = {
      origin: new Uint8Array(32),
      asset: new Uint8Array(32).fill(1),
      provenance: [],
      amount: 5n,
      sender: new Uint8Array(32).fill(2),
      receiver: new Uint8Array(32).fill(3),
      memo: '',
    };
    expect(transferDataOf(encode(TransferData, data))).toEqual(data);
    expect(transferDataOf(encode(TransferData, { ...data, amount: 0n }))).toBeUndefined();
    expect(transferDataOf(Uint8Array.of(1, 2, 3))).toBeUndefined();
  });
});
